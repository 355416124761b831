"""Inventories: groups in escalator.toml, Ansible inventory files (INI, YAML, group_vars/,
host_vars/), and commands that print hosts; what each host's scenario sees as variables, and
errors that name the file and key, or the command."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from escalator.errors import ConfigError
from escalator.inventory import InventoryError
from escalator.inventory.ansible import hosts_of, read_file
from escalator.inventory.ansible_formats import read_json
from escalator.results import RunResult
from escalator.runner.fanout import Fleet
from tests.project import make_project, run_cli

# Prints what a fan-out scenario sees: ${host}, ${group}, ${address} and a host variable.
SHOW = """
    Feature: Fleet
      @each.db
      Scenario: Variables
        When I run 'echo ${host} ${group} ${address} ${role}'
        Then it should exit '0'
    """


def _seen(root: Path, *args: str) -> list[str]:
    out = run_cli(["run", "-f", "json", *args], root)
    assert out.code == 0, out
    run = RunResult.from_dict(out.json)
    return [s.name for s in run.scenarios]


def _vars(root: Path) -> dict[str, dict[str, str]]:
    from escalator.commands.common import load_run_options
    from escalator.env import Env

    options = load_run_options(_args(), Env(cwd=root))
    inventory = options.config.environments["test"].inventory
    fleet = Fleet(inventory, "test")
    return {h.name: h.scenario_variables("db") for h in fleet.hosts("db")}


def _args() -> object:
    import argparse

    from escalator.commands.common import add_run_arguments

    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser.parse_args([])


INI = """
    # the database fleet
    [db]
    db-[01:03].example.com role=primary
    db-backup ansible_host=127.0.0.9 ansible_port=2222 role="standby one"

    [db:vars]
    role=replica
    backup_dir=/var/backups

    [europe:children]
    db

    [europe:vars]
    backup_dir=/srv/backups
    region=eu
    """


def _project(tmp_path: Path, inventory: str, name: str, files: dict[str, str] | None = None
             ) -> Path:
    root = make_project(tmp_path, {"fleet.feature": SHOW},
                        config=f'[environments.test.inventory]\nansible = "inv/{name}"\n')
    for path, text in {name: inventory, **(files or {})}.items():
        target = root / "inv" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    return root


def test_ansible_ini_ranges_host_and_group_variables_child_groups(tmp_path: Path) -> None:
    root = _project(tmp_path, INI, "hosts")
    found = _vars(root)
    assert list(found) == ["db-01.example.com", "db-02.example.com", "db-03.example.com",
                           "db-backup"]
    assert found["db-02.example.com"] == {
        "role": "primary", "backup_dir": "/var/backups", "region": "eu",
        "address": "db-02.example.com", "host": "db-02.example.com", "group": "db"}
    # host variables over the child group's over the parent's; ansible_host is the address
    assert found["db-backup"] == {
        "role": "standby one", "backup_dir": "/var/backups", "region": "eu",
        "ansible_host": "127.0.0.9", "ansible_port": "2222", "address": "127.0.0.9",
        "host": "db-backup", "group": "db"}


def test_ansible_yaml_with_group_vars_and_host_vars(tmp_path: Path) -> None:
    yaml_text = """
        all:
          vars:
            role: any
          children:
            europe:
              vars: {region: eu, role: europe}
              children:
                db:
                  hosts:
                    db-1:
                    db-[2:3]:
                      port: 2222
                    db-9:2200:
    """
    files = {"group_vars/all.yml": "backup_dir: /var/backups\n",
             "group_vars/db/main.yml": "role: replica\nflags: [a, b]\nenabled: true\n",
             "host_vars/db-3.yaml": "role: primary\n"}
    root = _project(tmp_path, yaml_text, "hosts.yml", files)
    found = _vars(root)
    assert list(found) == ["db-1", "db-2", "db-3", "db-9"]
    assert found["db-1"] == {"role": "replica", "region": "eu", "backup_dir": "/var/backups",
                             "flags": '["a", "b"]', "enabled": "true", "address": "db-1",
                             "host": "db-1", "group": "db"}
    assert (found["db-2"]["port"], found["db-3"]["role"], found["db-9"]["ansible_port"]) == \
        ("2222", "primary", "2200")
    # and a run fans out over them, each with its own variables in the step
    assert _seen(root) == [f"Variables [{h}]" for h in found]


def test_a_command_printing_ansible_json_is_an_inventory(tmp_path: Path) -> None:
    listing = {"_meta": {"hostvars": {"db-2": {"role": "primary"}}},
               "all": {"children": ["ungrouped", "db"]},
               "db": {"hosts": ["db-1", "db-2"], "vars": {"role": "replica"}}}
    script = tmp_path / "list.py"
    script.write_text(f"import json\nprint(json.dumps({listing!r}))\n")
    root = make_project(tmp_path / "p", {"fleet.feature": SHOW}, config=(
        f'[environments.test.inventory]\ncommand = ["python3", "{script}", "--list"]\n'))
    assert {h: v["role"] for h, v in _vars(root).items()} == {"db-1": "replica",
                                                             "db-2": "primary"}


def test_a_group_from_a_command_runs_without_a_shell_in_the_project(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"fleet.feature": SHOW}, config=(
        '[environments.test.groups]\n'
        'db = { command = ["sh", "hosts.sh", "$HOME;x"], header_lines = 1 }\n'))
    # the script runs in the project directory; "$HOME;x" arrives as one word, unexpanded
    (root / "hosts.sh").write_text('echo "Node Address"\necho "# comment"\n'
                                   'echo "db-a role=primary arg=$1"\necho\n'
                                   'echo "db-b 10.0.0.2 role=x"\n')
    found = _vars(root)
    assert {h: (v["role"], v.get("arg")) for h, v in found.items()} == {
        "db-a": ("primary", "$HOME;x"), "db-b": ("x", None)}
    assert _seen(root) == ["Variables [db-a]", "Variables [db-b]"]


@pytest.mark.parametrize(("command", "expected"), [
    ('["sh", "-c", "echo no way >&2; exit 3"]',
     "escalator.toml: environments.test.groups.db: the command 'sh -c echo no way >&2; exit 3' "
     "exited 3: no way"),
    ('["sleep", "30"], timeout = "500ms"',
     "escalator.toml: environments.test.groups.db: the command 'sleep 30' did not finish within "
     "0.5 s and was killed"),
    ('["/nonexistent/hosts"]',
     "escalator.toml: environments.test.groups.db: the command '/nonexistent/hosts' cannot "
     "start: /nonexistent/hosts is not an executable program here"),
    ('["true"]', "group 'db': escalator.toml: environments.test.groups.db: the command printed "
     "no hosts"),
])
def test_a_failing_host_command_is_an_unknown_run_naming_the_command(
        tmp_path: Path, command: str, expected: str) -> None:
    root = make_project(tmp_path, {"fleet.feature": SHOW},
                        config=f"[environments.test.groups]\ndb = {{ command = {command} }}\n")
    out = run_cli(["check"], root)
    assert out.code == 3
    # the scenario that fans out is UNKNOWN with the reason; the run says it too
    assert out.stdout.splitlines()[1:] == [
        "UNKNOWN Variables (features/fleet.feature:3)", f"  @each.db: {expected}",
        f"error: features/fleet.feature:3: @each.db: {expected}"]


@pytest.mark.parametrize(("config", "expected"), [
    ('[environments.test.groups]\ndb = []\n',
     "environments.test.groups.db: empty group (give at least one host, or remove it)"),
    ('[environments.test.groups]\ndb = ["db-1", { host = "db-2", port = [1] }]\n',
     "environments.test.groups.db[1].port: expected a string, number or boolean (secrets "
     'belong to the environment, as { env = "VARIABLE" })'),
    ('[environments.test.groups]\ndb = ["db-1", "db-1"]\n',
     "environments.test.groups.db[1]: host 'db-1' is listed twice"),
    ('[environments.test.groups]\ndb = [{ host = "db-1", group = "x" }]\n',
     "environments.test.groups.db[0].group: ${group} is set by the fan-out; choose another name"),
    ('[environments.test.groups]\ndb = ["db 1"]\n',
     "environments.test.groups.db[0]: expected a host name without spaces, got 'db 1'"),
    ('[environments.test.groups]\n"db.x" = ["db-1"]\n',
     'environments.test.groups."db.x": a group name is letters, digits, _ and - (it is used '
     "as @each.<group>)"),
    ('[environments.test.groups]\ndb = { command = "list-hosts" }\n',
     'environments.test.groups.db.command: expected the command as a list of words, e.g. '
     '["consul-hosts", "db"] (no shell)'),
    ('[environments.test.groups]\ndb = { command = ["x"], timeot = "1s" }\n',
     "environments.test.groups.db.timeot: unknown key (known: command, header_lines, timeout)"),
    ('[environments.test.inventory]\nansible = "a.ini"\ncommand = ["x"]\n',
     'environments.test.inventory: give one of ansible = "FILE" (INI or YAML) or command = '
     "[ARGV] (prints JSON as `ansible-inventory --list` does)"),
    ('[environments.test]\ngroups = "db"\n',
     'environments.test.groups: expected a table of groups, e.g. web = ["web-1", "web-2"]'),
])
def test_bad_inventory_config_names_the_file_and_key(tmp_path: Path, config: str,
                                                    expected: str) -> None:
    root = make_project(tmp_path, {"fleet.feature": SHOW}, config=config)
    if config.startswith("[environments.test]"):
        (root / "escalator.toml").write_text(config)
    out = run_cli(["check"], root)
    assert (out.code, out.stdout) == (3, f"ESCALATOR UNKNOWN - {root}/escalator.toml: "
                                         f"{expected}\n")


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("hosts", "[db]\ndb-1 role\n", "hosts:2: expected key=value after the host name, got 'role'"),
    ("hosts", "[db:hostz]\ndb-1\n", "hosts:1: unknown section kind :hostz (known: :hosts, :vars, "
     ":children)"),
    ("hosts", "[db]\ndb-[9:a]\n", "hosts:2: bad range [9:a] in host pattern 'db-[9:a]'"),
    ("hosts.yml", "all:\n  hostz: {}\n", "hosts.yml: all.hostz: unknown key (known: children, "
     "hosts, vars)"),
    ("hosts.yml", "all: [\n", "hosts.yml:2: invalid YAML: expected the node content, but found "
     "'<stream end>'"),
    ("hosts.yml", "db:\n  hosts:\n    db-1: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n",
     "hosts.yml: Ansible Vault is not read here; use inventory.command = "
     '["ansible-inventory", "-i", "FILE", "--list"] with a vault password'),
])
def test_bad_ansible_inventories_name_the_file_and_line_or_key(tmp_path: Path, name: str,
                                                              text: str, expected: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(InventoryError) as caught:
        read_file(tmp_path / name)
    assert str(caught.value) == f"{tmp_path}/{expected}"


def test_an_inventory_error_stops_the_run_as_unknown(tmp_path: Path) -> None:
    root = _project(tmp_path, "[db]\ndb-1 role\n", "hosts")
    out = run_cli(["check"], root)
    assert out.code == 3
    assert out.stdout.splitlines()[3] == (
        f"error: features/fleet.feature:3: @each.db: {root}/inv/hosts:2: expected key=value "
        "after the host name, got 'role'")


def test_all_and_ungrouped_as_ansible_defines_them() -> None:
    tree = read_json(json.dumps({"db": ["db-1"], "all": {"hosts": ["lonely"]}}), "x")
    assert [h.name for h in hosts_of(tree, "all", None)] == ["db-1", "lonely"]
    assert [h.name for h in hosts_of(tree, "ungrouped", None)] == ["lonely"]


def test_config_parsing_reads_and_runs_nothing(tmp_path: Path) -> None:
    # `escalator status` loads the config: an inventory is only resolved by a fan-out run
    root = make_project(tmp_path, {"fleet.feature": SHOW}, config=(
        '[environments.test.inventory]\nansible = "missing.yml"\n'
        '[environments.test.groups]\nweb = { command = ["/nonexistent"] }\n'))
    out = run_cli(["status", "--max-age", "1h"], root)
    assert out.stdout.startswith("ESCALATOR UNKNOWN - no stored result")
    with pytest.raises(ConfigError):
        from escalator.config import parse_config

        parse_config({"environments": {"x": {"groups": {"db": "db-1"}}}}, Path("e.toml"))
