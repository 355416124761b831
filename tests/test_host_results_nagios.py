"""`escalator check --host-results nagios`: each host's result of a fleet check as a
PROCESS_SERVICE_CHECK_RESULT line in the Nagios command file.

Against the real Nagios 4 of tests/test_nagios_integration.py (same main config, run the same
way), with the passive services of docs/fleet.md's ```nagios block as written; and against
FIFOs this test holds itself, for what must not hang the check: no reader, a full pipe.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project import REPO, child_environ, make_project, run_cli
from tests.servers.group import stop_group
from tests.servers.icinga2 import work_tree
from tests.test_nagios_integration import BASE, MAIN, NAGIOS

LOCAL = """
    Feature: Hosts
      @each.db
      Scenario: Backup is younger than a day
        Then the file "${backup}" should have been modified within the last 24 hours
    """


def fleet_objects() -> str:
    text = (REPO / "docs" / "fleet.md").read_text()
    return "\n".join(re.findall(r"```nagios\n(.*?)```", text, flags=re.S))


def _project(root: Path, command_file: Path, timeout: str = "5s") -> Path:
    """Five hosts whose backups are local files; those of db-2 and db-4 are stale."""
    hosts = []
    now = time.time()
    (root / "backups").mkdir(parents=True)
    for n in range(1, 6):
        dump = root / "backups" / f"db-{n}.dump"
        dump.write_text("--\n")
        age = 30 * 3600 if n in (2, 4) else 60
        os.utime(dump, (now - age, now - age))
        hosts.append(f'{{ host = "db-{n}", backup = "{dump}" }}')
    config = (f"[environments.test.groups]\ndb = [{', '.join(hosts)}]\n\n"
              f'[host_results.nagios]\ncommand_file = "{command_file}"\ntimeout = "{timeout}"\n')
    return make_project(root / "project", {"backup.feature": LOCAL}, config=config)


def _services(status_dat: Path) -> dict[tuple[str, str], dict[str, str]]:
    try:
        text = status_dat.read_text()
    except FileNotFoundError:
        return {}
    out = {}
    for block in re.findall(r"^servicestatus \{\n(.*?)^\t\}", text, flags=re.S | re.M):
        fields = dict(line.strip().split("=", 1) for line in block.splitlines() if "=" in line)
        out[(fields["host_name"], fields["service_description"])] = fields
    return out


@pytest.fixture
def nagios() -> Iterator[Path]:
    """A real Nagios 4 with db-1 ... db-5 and fleet.md's passive services; yields its dir."""
    if not NAGIOS.exists():
        pytest.skip("nagios4-core is not installed")
    with work_tree() as root:
        n = root / "nagios"
        for sub in ("var/rw", "var/spool"):
            (n / sub).mkdir(parents=True)
        import pwd

        user = pwd.getpwuid(os.getuid()).pw_name
        main = MAIN.format(n=n, user=user, group=user if os.getuid() else "root")
        (n / "nagios.cfg").write_text(main + "check_external_commands=1\n")
        (n / "resource.cfg").write_text("$USER1$=/usr/lib/nagios/plugins\n")
        hosts = "".join(f"define host {{\n    host_name db-{i}\n    address 127.0.0.1\n"
                        "    check_command noop\n    max_check_attempts 1\n"
                        "    check_interval 300\n    check_period 24x7\n"
                        "    notification_period 24x7\n    contacts nobody\n"
                        "    hostgroups db\n}\n" for i in range(1, 6))
        (n / "objects.cfg").write_text(BASE.format() + fleet_objects() + hosts)
        verify = subprocess.run([str(NAGIOS), "-v", str(n / "nagios.cfg")], capture_output=True,
                                text=True, timeout=30)
        assert "Total Errors:   0" in verify.stdout, verify.stdout
        log = (root / "nagios.stdout").open("w")
        proc = subprocess.Popen([str(NAGIOS), str(n / "nagios.cfg")], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=child_environ())
        try:
            yield n
        finally:
            stop_group(proc)
            log.close()


def _wait(what: str, probe: object, timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()  # type: ignore[operator]
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"no {what} in {timeout}s")


@pytest.mark.servers
def test_nagios_shows_each_hosts_own_state(nagios: Path, tmp_path: Path) -> None:
    command_file = nagios / "var" / "rw" / "nagios.cmd"
    _wait("command file", command_file.exists)
    project = _project(tmp_path, command_file)
    out = run_cli(["check", "--host-results", "nagios", "--label", "BACKUP"], project)
    assert out.code == 2, out
    assert "notice:" not in out.stdout
    status = nagios / "var" / "status.dat"

    def all_five() -> dict[tuple[str, str], dict[str, str]] | None:
        found = _services(status)
        checked = {k: v for k, v in found.items() if v.get("last_check", "0") != "0"}
        return checked if len(checked) == 5 else None

    services = _wait("passive results in status.dat", all_five)
    assert isinstance(services, dict)
    service = "Backup is younger than a day"
    assert {host: services[(host, service)]["current_state"] for host, _ in services} == {
        "db-1": "0", "db-2": "2", "db-3": "0", "db-4": "2", "db-5": "0"}
    stale = services[("db-2", service)]
    dump = project.parent / "backups" / "db-2.dump"
    assert stale["plugin_output"] == (
        f'BACKUP CRITICAL - Then the file "${{backup}}" should have been modified within the '
        f"last 24 hours: {dump} was last modified 30.0 hours ago, wanted within the last 24 hours")
    assert re.fullmatch(r"file_age=108[0-9]{3}(\.[0-9]+)?s;;~:86400", stale["performance_data"]), \
        stale["performance_data"]
    assert services[("db-1", service)]["plugin_output"] == (
        "BACKUP OK - Backup is younger than a day")


@pytest.mark.parametrize("filled", [False, True])
def test_a_command_file_nobody_reads_costs_a_notice_not_a_hang(tmp_path: Path,
                                                               filled: bool) -> None:
    fifo = tmp_path / "nagios.cmd"
    os.mkfifo(fifo)
    project = _project(tmp_path, fifo, timeout="1s")
    reader = writer = None
    if filled:  # a reader that never reads, and a pipe already full
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            while True:
                os.write(writer, b"x" * 4096)
        except BlockingIOError:
            pass
    try:
        started = time.monotonic()
        out = run_cli(["check", "--host-results", "nagios"], project)
        took = time.monotonic() - started
    finally:
        for fd in (reader, writer):
            if fd is not None:
                os.close(fd)
    assert out.code == 2, out  # the verdict stands
    notice = (f"notice: Nagios took 0 of 5 host results from {fifo} within 1 s; the rest were "
              "not sent" if filled else
              f"notice: host results not sent to Nagios: {fifo}: no process reads it (is Nagios "
              "running?)")
    assert out.stdout.splitlines()[-1] == notice
    assert took < 50  # bounded by the 1 s budget, never by a blocked open or write


def test_host_results_need_their_table(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"backup.feature": LOCAL},
                           config='[environments.test.groups]\ndb = ["db-1"]\n')
    out = run_cli(["check", "--host-results", "nagios"], project)
    assert (out.code, out.stdout) == (3, "ESCALATOR UNKNOWN - --host-results nagios: give "
                                         "[host_results.nagios] in escalator.toml (see "
                                         "docs/fleet.md)\n")
