"""Fan-out (`@each.<group>`) against real servers on distinct loopback addresses: a fleet of
OpenSSH sshd (the backup monitor of docs/fleet.md) and of HTTP servers.

Each host's run is its own scenario in every output, named `<scenario> [<host>]`, with its
host and group as data; a fleet check is one line of the Nagios long output.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalator.results import RunResult
from tests.fleet import FRESH, STALE, db_group, running_fleet
from tests.project import make_project, run_cli
from tests.servers.http import serve
from tests.servers.sshd import Sshd, available

pytestmark = pytest.mark.servers

STEP = ('Then the file "${backup_dir}/db.dump" on "${address}:${port}" should have been '
        "modified within the last 24 hours")
BACKUP = f"""
    Feature: Backups
      @each.db
      Scenario: Backup is younger than a day
        {STEP}
    """


@pytest.fixture(scope="module")
def db_fleet() -> Iterator[list[Sshd]]:
    """Five sshd on 127.0.0.2-6; the backups of the second and fourth are stale."""
    reason = available()
    if reason:
        pytest.skip(reason)
    with running_fleet([FRESH, STALE, FRESH, STALE, FRESH]) as servers:
        yield servers


@pytest.fixture
def backup_project(tmp_path: Path, db_fleet: list[Sshd]) -> Path:
    return make_project(tmp_path, {"backup.feature": BACKUP},
                        {"ssh_user": db_fleet[0].user}, config=db_group(db_fleet))


def _stable(text: str, servers: list[Sshd]) -> str:
    """Ports, paths and timings made stable, so whole outputs can be compared."""
    for n, server in enumerate(servers, 1):
        text = text.replace(f"{server.host}:{server.port}", f"db{n}-address")
        text = text.replace(str(server.files), f"/files{n}")
    text = re.sub(r"=[0-9.]+(m?s)", r"=T\1", text)
    return re.sub(r"\b[0-9]+\.[0-9]+s\b", "T", text)


def test_backup_fleet_is_critical_naming_the_two_stale_hosts(backup_project: Path,
                                                             db_fleet: list[Sshd]) -> None:
    out = run_cli(["check", "--label", "BACKUP", "-j", "5"], backup_project)
    assert out.code == 2, out
    long_reason = ("  Then the file \"${backup_dir}/db.dump\" on \"${address}:${port}\" should "
                   "have been modified within the last 24 hours: /filesN/db.dump on "
                   "dbN-address was last modified 30.0 h ago, wanted within the last 24 hours")
    assert _stable(out.stdout, db_fleet).splitlines()[1:] == [
        "Backup is younger than a day: 2 of 5 db hosts failing: db-2, db-4",
        "CRITICAL Backup is younger than a day [db-2] (features/backup.feature:3)",
        long_reason.replace("N", "2"),
        "CRITICAL Backup is younger than a day [db-4] (features/backup.feature:3)",
        long_reason.replace("N", "4"),
    ]
    line1 = _stable(out.line1, db_fleet)
    assert line1.startswith("BACKUP CRITICAL - 2 of 5 scenarios failing: Backup is younger "
                            "than a day [db-2, db-4] | scenarios=5;;;0 passed=3;;;0 "
                            "failed=2;;;0 unknown=0;;;0 time=Ts;;50;0 "), line1
    ages = re.findall(r"'Backup is[^'\[]*\[(db-[0-9])\] age [^']*'=Ts;;~:86400", line1)
    assert ages == [f"db-{n}" for n in range(1, 6)], line1


def test_each_host_is_its_own_scenario_in_every_output(backup_project: Path,
                                                       db_fleet: list[Sshd]) -> None:
    out = run_cli(["run", "-f", "json", "-f", "pretty", "-o", "pretty.txt", "-f", "junit",
                   "-o", "junit.xml", "-f", "prometheus", "-o", "metrics.prom"], backup_project)
    assert out.code == 1, out
    run = RunResult.from_dict(out.json)
    assert [(s.name, s.host, s.group, s.outcome.value, s.check_name) for s in run.scenarios] == [
        (f"Backup is younger than a day [db-{n}]", f"db-{n}", "db",
         "failed" if n in (2, 4) else "passed", "Backup is younger than a day")
        for n in range(1, 6)]
    pretty = _stable((backup_project / "pretty.txt").read_text(), db_fleet)
    assert [line for line in pretty.splitlines() if line.startswith("  ")][:5] == [
        "  PASS  Backup is younger than a day [db-1]  T",
        "  FAIL  Backup is younger than a day [db-2]  T",
        "      Then the file \"${backup_dir}/db.dump\" on \"${address}:${port}\" should have "
        "been modified within the last 24 hours: /files2/db.dump on db2-address was last "
        "modified 30.0 h ago, wanted within the last 24 hours",
        "  PASS  Backup is younger than a day [db-3]  T",
        "  FAIL  Backup is younger than a day [db-4]  T",
    ]
    junit = (backup_project / "junit.xml").read_text()
    assert re.findall(r'<testcase classname="features.backup" name="([^"]+)"', junit) == [
        f"Backup is younger than a day [db-{n}]" for n in range(1, 6)]
    metrics = (backup_project / "metrics.prom").read_text()
    assert ('escalator_scenario_success{environment="test",feature="Backups",'
            'file="features/backup.feature",scenario="Backup is younger than a day [db-2]",'
            'host="db-2",group="db"} 0') in metrics
    stored = json.loads((backup_project / ".escalator" / "results" / "test.json").read_text())
    assert [(s["name"], s["host"], s["group"]) for s in stored["run"]["scenarios"]] == [
        (f"Backup is younger than a day [db-{n}]", f"db-{n}", "db") for n in range(1, 6)]


WEB = """
    @each.web
    Feature: Web fleet
      Scenario: Home page welcomes
        When I go to "/"
        Then I should see "Welcome"

      Scenario Outline: Status <code> answers
        When I go to "/status/<code>"
        Then the request should succeed

        Examples:
          | code |
          | 200  |
    """


@contextlib.contextmanager
def web_fleet(count: int) -> Iterator[list[str]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serve(host=f"127.0.0.{n}")) for n in range(2, 2 + count)]


def _web_group(urls: list[str], extra: str = "") -> str:
    hosts = ", ".join(f'{{ host = "web-{n}", base_url = "{url}" }}'
                      for n, url in enumerate(urls, 1))
    return f"[environments.test.groups]\nweb = [{hosts}{extra}]\n"


def test_feature_tag_fans_out_every_scenario_and_outline_row(tmp_path: Path) -> None:
    with web_fleet(3) as urls:
        root = make_project(tmp_path, {"web.feature": WEB}, {"base_url": "http://127.0.0.1:9/"},
                            config=_web_group(urls))
        out = run_cli(["run", "-f", "json", "-j", "4"], root)
    run = RunResult.from_dict(out.json)
    assert out.code == 0, out
    assert [(s.name, s.host, s.group) for s in run.scenarios] == [
        *((f"Home page welcomes [web-{n}]", f"web-{n}", "web") for n in (1, 2, 3)),
        *((f"Status 200 answers -- @1.1 [web-{n}]", f"web-{n}", "web") for n in (1, 2, 3)),
    ]
    # each run asked its own host: the measurement's URL is the host's base_url
    assert all(s.steps[0].status == "passed" for s in run.scenarios)


def test_one_hanging_host_is_cut_by_its_step_timeout_the_others_pass(tmp_path: Path) -> None:
    with web_fleet(3) as urls:
        urls[1] += "/hang?"  # "/" on web-2 becomes /hang: it never answers
        root = make_project(tmp_path, {"web.feature": WEB.replace("/status/", "/x/")},
                            config=_web_group(urls))
        out = run_cli(["check", "-t", "not @x", "--step-timeout", "1s", "-j", "3",
                       "features/web.feature:3"], root)
    assert out.code == 2, out
    assert out.line1.startswith("ESCALATOR CRITICAL - 1 of 3 scenarios failing: "
                                "Home page welcomes [web-2] | "), out.line1
    assert out.stdout.splitlines()[1] == "Home page welcomes: 1 of 3 web hosts failing: web-2"


def test_an_unknown_group_is_unknown_naming_file_line_and_the_known_groups(tmp_path: Path
                                                                           ) -> None:
    feature = BACKUP.replace("@each.db", "@each.dbs")
    root = make_project(tmp_path, {"backup.feature": feature},
                        config='[environments.test.groups]\ndb = ["db-1"]\nweb = ["web-1"]\n')
    out = run_cli(["check"], root)
    assert (out.code, re.sub(r"time=[0-9.]+m?s", "time=T", out.stdout)) == (3, (
        "ESCALATOR UNKNOWN - features/backup.feature:3: @each.dbs: no group 'dbs' in "
        "environment test (groups: db, web) | scenarios=1;;;0 passed=0;;;0 failed=0;;;0 "
        "unknown=1;;;0 time=T;;50;0\n"
        "UNKNOWN Backup is younger than a day (features/backup.feature:3)\n"
        "  @each.dbs: no group 'dbs' in environment test (groups: db, web)\n"
        "error: features/backup.feature:3: @each.dbs: no group 'dbs' in environment test "
        "(groups: db, web)\n"))


def test_a_scenario_fans_out_over_one_group(tmp_path: Path) -> None:
    feature = BACKUP.replace("@each.db", "@each.db @each.web")
    root = make_project(tmp_path, {"backup.feature": feature},
                        config='[environments.test.groups]\ndb = ["db-1"]\nweb = ["web-1"]\n')
    out = run_cli(["run", "-f", "progress"], root)
    assert out.code == 2
    assert ("features/backup.feature:3: two @each tags (@each.db, @each.web): a scenario fans "
            "out over one group") in out.stdout + out.stderr


def test_without_an_inventory_the_error_says_where_hosts_come_from(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"backup.feature": BACKUP})
    out = run_cli(["check"], root)
    assert out.code == 3
    assert out.line1.split(" | ")[0] == (
        "ESCALATOR UNKNOWN - features/backup.feature:3: @each.db: no group 'db': environment "
        "test has no hosts (give [environments.NAME.groups] or .inventory in escalator.toml)")
