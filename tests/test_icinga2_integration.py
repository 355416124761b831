"""A real Icinga 2 runs the documented CheckCommand, a satellite zone runs the documented
shards, and `escalator check --host-results icinga2` gives each host of a fleet its own state.

The daemons run in the foreground from configs in a temporary tree (tests/servers/icinga2.py).
Every Icinga 2 definition comes from a ```icinga2 block of the docs, used as written except for
the project and virtualenv paths, host names, ports and the API password: what the docs show is
what these tests ran. A block whose first line is `// <node>: <path>` goes to that file of that
node. Results are read back through the REST API, TLS verified against the test CA.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet import FRESH, STALE, db_group, running_fleet
from tests.project import REPO, child_environ, make_project, run_cli
from tests.servers import icinga2 as ic
from tests.servers.http import serve
from tests.servers.sshd import available as sshd_available

pytestmark = [pytest.mark.servers, pytest.mark.skipif(ic.available() is not None,
                                                      reason=str(ic.available()))]

VENV_BIN = str(Path(sys.executable).parent)
PASSWORD = "fleet-api-secret-42"


def blocks(doc: str) -> list[str]:
    return re.findall(r"```icinga2\n(.*?)```", (REPO / "docs" / doc).read_text(), flags=re.S)


def placed(doc: str) -> dict[tuple[str, str], str]:
    """The blocks of `doc` that say where they go: `// <node>: <path>` -> text."""
    found = {}
    for text in blocks(doc):
        match = re.match(r"// (\w+): (\S+)", text)
        if match:
            found[(match.group(1), match.group(2))] = text
    return found


def deployed(text: str, project: Path) -> str:
    return text.replace("/srv/monitoring", str(project)).replace("/opt/escalator/bin", VENV_BIN)


def check_command(project: Path) -> str:
    """The CheckCommand object of integrations.md's block."""
    text = blocks("integrations.md")[0]
    match = re.search(r'^object CheckCommand "escalator" \{.*?^\}', text, flags=re.S | re.M)
    assert match is not None
    return deployed(match.group(0), project) + "\n"


def wait(what: str, probe: Callable[[], Any], timeout: float = 120.0, every: float = 0.5) -> Any:
    """Poll until `probe()` is truthy (generous: the machine is shared, CI slower still)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"Icinga 2 did not show {what} in {timeout}s (last: {last!r})")


def reschedule(instance: ic.Icinga, host: str) -> None:
    with contextlib.suppress(Exception):  # objects may still be on their way from the master
        instance.api("POST", "actions/reschedule-check",
                     json={"type": "Service", "filter": f'host.name=="{host}"', "force": True})


@pytest.fixture
def tree() -> Iterator[Path]:
    with ic.work_tree() as path:
        yield path


# ---- the CheckCommand of docs/integrations.md -------------------------------------------

WEB = """
    Feature: Web site
      Scenario: Home page welcomes
        When I go to "/"
        Then I should see "Welcome"

      @warning @escalate.redeploy
      Scenario: Home page says goodbye
        When I go to "/"
        Then I should see "Goodbye"
    """


def _results(instance: ic.Icinga, names: list[str], states: dict[str, int]
             ) -> dict[str, dict[str, Any]] | None:
    services = instance.services()
    results = {n: (services.get(n) or {}).get("last_check_result") for n in names}
    if all(r and r["exit_status"] == states[n] for n, r in results.items()):
        return results  # type: ignore[return-value]
    return None


def test_the_documented_check_command_runs_check_and_status(tree: Path) -> None:
    project = tree / "project"
    with serve() as base_url:
        make_project(project, {"web.feature": WEB}, {"base_url": base_url},
                     environment="production")
        master = ic.layout(tree, "icinga-master", "master", ic.make_ca())
        (master.work / "conf.d" / "escalator.conf").write_text(
            deployed(blocks("integrations.md")[0], project))
        (master.work / "conf.d" / "hosts.conf").write_text(
            'object Host "web1" { check_command = "dummy"; address = "127.0.0.1" }\n')
        with ic.running(master, child_environ()):
            names = ["web1!escalator-production", "web1!escalator-production-stored"]

            def both_warning() -> dict[str, dict[str, Any]] | None:
                reschedule(master, "web1")  # check_interval is 5m as documented: ask now
                return _results(master, names, {n: 1 for n in names})

            results = wait("both services WARNING", both_warning, every=2.0)
    check, stored = (results[n] for n in names)
    line1 = "ESCALATOR WARNING - 1 of 2 scenarios failing: Home page says goodbye"
    long = (r"WARNING Home page says goodbye \(features/web.feature:7\) @escalate.redeploy "
            r"@warning\n  Then I should see \"Goodbye\": 'Goodbye' not found in 64 B body of "
            + re.escape(base_url) + r"/ \(200, [0-9]+ ms\); body: 'Welcome All systems go.'")
    for result in (check, stored):  # (each run measures its own milliseconds)
        assert re.fullmatch(re.escape(line1) + r" ?\n" + long, result["output"]), result["output"]
    labels = [p.split("=")[0] for p in check["performance_data"]]
    assert labels == ["scenarios", "passed", "failed", "unknown", "time",
                      "'Home page welcomes response_time'",
                      "'Home page says goodbye response_time'"]


# ---- a satellite zone: docs/scaling.md ----------------------------------------------------

SHARDS = {
    "web.feature": """
        Feature: Web
          @web
          Scenario: Home page welcomes
            When I go to "/"
            Then I should see "Welcome"
        """,
    "network.feature": """
        Feature: Network
          @network
          Scenario: Loopback answers
            When I run 'true'
            Then it should exit '0'
        """,
    "export.feature": """
        Feature: Exports
          @slow @warning
          Scenario: Nightly export is fresh
            Then the file "export.csv" should have been modified within the last 1 hours
        """,
}


def _zones(text: str, master: ic.Icinga, satellite: ic.Icinga) -> str:
    for name, node in (("icinga-master", master), ("dc1-satellite", satellite)):
        text = text.replace(f'host = "{name}.example.com"; port = 5665',
                            f'host = "127.0.0.1"; port = {node.port}')
    return text


def test_a_satellite_zone_runs_the_documented_shards(tree: Path) -> None:
    docs = placed("scaling.md")
    assert set(docs) == {("master", "zones.conf"), ("satellite", "zones.conf"),
                         ("master", "zones.d/dc1/escalator.conf")}
    project = tree / "project"
    ca = ic.make_ca()
    master = ic.layout(tree, "icinga-master", "master", ca)
    satellite = ic.layout(tree, "dc1-satellite", "dc1", ca, accept_config=True)
    with serve() as base_url:
        make_project(project, SHARDS, {"base_url": base_url}, environment="production-dc1")
        stale = project / "export.csv"
        stale.write_text("id\n")
        old = time.time() - 3 * 3600
        import os

        os.utime(stale, (old, old))
        for (node, path), text in docs.items():
            instance = master if node == "master" else satellite
            target = instance.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(deployed(_zones(text, master, satellite), project))
        global_zone = master.work / "zones.d" / "global-templates" / "escalator.conf"
        global_zone.parent.mkdir(parents=True)
        global_zone.write_text(check_command(project))
        with ic.running(master, child_environ()), ic.running(satellite, child_environ()):
            names = [f"dc1-satellite!escalator-{shard}" for shard in ("web", "dns", "slow")]
            states = {names[0]: 0, names[1]: 0, names[2]: 1}

            def from_the_satellite() -> dict[str, dict[str, Any]] | None:
                reschedule(satellite, "dc1-satellite")
                return _results(master, names, states)

            results = wait("the shards' results on the master", from_the_satellite, every=2.0)
    assert {n: r["check_source"] for n, r in results.items()} == dict.fromkeys(names,
                                                                              "dc1-satellite")
    assert [r["output"].split("\n")[0].rstrip() for r in results.values()] == [
        "ESCALATOR web OK - 1 scenario passed",
        "ESCALATOR dns OK - 1 scenario passed",
        "ESCALATOR slow WARNING - 1 of 1 scenario failing: Nightly export is fresh",
    ]


# ---- each host's own state: docs/fleet.md, --host-results icinga2 -------------------------

BACKUP = """
    Feature: Backups
      @each.db
      Scenario: Backup is younger than a day
        Then the file "${backup_dir}/db.dump" on "${address}:${port}" should have been modified within the last 24 hours
    """  # noqa: E501 - a step is one line
LOCAL = """
    Feature: Web hosts
      @each.web
      Scenario: Web host answers
        When I run 'true'
        Then it should exit '0'
    """


@pytest.fixture(scope="module")
def fleet_master() -> Iterator[ic.Icinga]:
    """A master with docs/fleet.md's passive services and hosts db-1 ... db-5."""
    with ic.work_tree() as root:
        master = ic.layout(root, "icinga-master", "master", ic.make_ca())
        (fleet,) = blocks("fleet.md")
        (master.work / "conf.d" / "escalator-fleet.conf").write_text(
            fleet.replace('"change-me"', f'"{PASSWORD}"'))
        (master.work / "conf.d" / "hosts.conf").write_text("".join(
            f'object Host "db-{n}" {{ check_command = "dummy"; groups = [ "db" ] }}\n'
            for n in range(1, 6)))
        with ic.running(master, child_environ()):
            yield master


@pytest.fixture(scope="module")
def stale_fleet() -> Iterator[list[Any]]:
    reason = sshd_available()
    if reason:
        pytest.skip(reason)
    with running_fleet([FRESH, STALE, FRESH, STALE, FRESH]) as servers:
        yield servers


def _fleet_project(root: Path, servers: list[Any], master: ic.Icinga, ca: Path | None = None,
                   extra_group: str = "") -> Path:
    settings = (f'\n[host_results.icinga2]\nurl = "{master.url}"\nuser = "escalator"\n'
                f'password = {{ env = "ICINGA2_API_PASSWORD" }}\nca = "{ca or master.ca}"\n'
                'timeout = "20s"\n')
    return make_project(root, {"backup.feature": BACKUP, "web.feature": LOCAL},
                        {"ssh_user": servers[0].user},
                        config=db_group(servers) + extra_group + settings)


def test_each_host_shows_its_own_service_state_in_icinga(tmp_path: Path, stale_fleet: list[Any],
                                                         fleet_master: ic.Icinga) -> None:
    project = _fleet_project(tmp_path, stale_fleet, fleet_master, extra_group='web = ["db-1"]\n')
    out = run_cli(["check", "--host-results", "icinga2", "--label", "BACKUP", "-t", "not @x",
                   "features/backup.feature"], project, {"ICINGA2_API_PASSWORD": PASSWORD})
    assert out.code == 2, out
    assert "notice:" not in out.stdout
    assert out.line1.startswith("BACKUP CRITICAL - 2 of 5 scenarios failing: Backup is younger "
                                "than a day [db-2, db-4] | ")
    services = fleet_master.services()
    shown = {name: (attrs["state"], attrs["last_check_result"]["check_source"])
             for name, attrs in services.items()}
    assert shown == {f"db-{n}!Backup is younger than a day": (2.0 if n in (2, 4) else 0.0,
                                                            "escalator") for n in range(1, 6)}
    stale = services["db-2!Backup is younger than a day"]["last_check_result"]
    files = str(stale_fleet[1].files)
    assert stale["output"] == (
        'BACKUP CRITICAL - Then the file "${backup_dir}/db.dump" on "${address}:${port}" should '
        f"have been modified within the last 24 hours: {files}/db.dump on "
        f"127.0.0.3:{stale_fleet[1].port} was last modified 30.0 h ago, wanted within the last "
        "24 hours")
    assert [p.split("=")[0] for p in stale["performance_data"]] == [
        f"'ssh 127.0.0.3:{stale_fleet[1].port}'", f"'age {files}/db.dump'"]


def test_what_icinga_refuses_is_a_notice_and_the_verdict_stands(tmp_path: Path,
                                                                stale_fleet: list[Any],
                                                                fleet_master: ic.Icinga) -> None:
    # web-9 is no host of Icinga's; a wrong password is refused; a wrong CA is not trusted
    project = _fleet_project(tmp_path, stale_fleet, fleet_master,
                             extra_group='web = ["db-1", "web-9"]\n')
    args = ["check", "--host-results", "icinga2", "features/web.feature"]
    out = run_cli(args, project, {"ICINGA2_API_PASSWORD": PASSWORD})
    assert (out.code, out.stdout.splitlines()[1:]) == (0, [
        "Web host answers: all 2 web hosts passing",
        "notice: Icinga 2 did not take 2 of 2 host results: db-1!Web host answers: 404 No "
        "objects found.; web-9!Web host answers: 404 No objects found."])
    out = run_cli(args, project, {"ICINGA2_API_PASSWORD": "wrong-password-1"})
    assert out.code == 0
    assert out.stdout.splitlines()[-1] == (
        f"notice: host results not sent to Icinga 2 at {fleet_master.url} as escalator: 401 "
        "Unauthorized. Please check your user credentials.")
    other = tmp_path / "other-ca.pem"
    ic.make_ca().cert_pem.write_to_path(str(other))
    project = _fleet_project(tmp_path / "p2", stale_fleet, fleet_master, ca=other,
                             extra_group='web = ["db-1"]\n')
    out = run_cli(args, project, {"ICINGA2_API_PASSWORD": PASSWORD})
    assert out.code == 0
    assert re.fullmatch(r"notice: host results not sent to Icinga 2 at "
                        + re.escape(fleet_master.url) + r": .*certificate.*",
                        out.stdout.splitlines()[-1]), out.stdout
    out = run_cli(args, project, {})
    assert out.stdout.splitlines()[-1] == ("notice: host results not sent to Icinga 2: "
                                          "environment variable ICINGA2_API_PASSWORD is not set")
