"""Fleet checks in the Nagios output, whole: the failing hosts named together on line 1, one
summary line per fleet check, a block per failing host; and each host as a passive result."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

from escalator.formatters import FormatOptions, render
from escalator.formatters.host_results import host_results
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, ScenarioResult, StepResult
from tests import builders

TEXT = ('the file "/var/backups/db.dump" on "${address}" should have been modified within the '
        "last 24 hours")
WHY = ("/var/backups/db.dump on {host}:22 was last modified 52.3 h ago, wanted within the last 24 "
       "hours")
run_of = partial(builders.run_of, duration=4.2, timeout=50.0)


def backup(n: int, failing: bool) -> ScenarioResult:
    host = f"db-{n}"
    steps = (StepResult("Then", TEXT, 5, "failed", error=WHY.format(host=host)),) \
        if failing else ()
    return builders.scenario(f"Backup is younger than a day [{host}]",
                             "failed" if failing else "passed", feature="Backups",
                             file="features/backup.feature", line=4, host=host, group="db",
                             steps=steps)


def test_three_of_forty_on_the_brink() -> None:
    run = run_of(*(backup(n, n in (7, 12, 31)) for n in range(1, 41)),
                 builders.scenario("Home page welcomes"))
    assert render("nagios", run, FormatOptions(label="BACKUP")) == (
        "BACKUP CRITICAL - 3 of 41 scenarios failing: Backup is younger than a day [db-7, db-12, "
        "db-31] | scenarios=41;;;0 passed=38;;;0 failed=3;;;0 unknown=0;;;0 time=4.2s;;50;0\n"
        "Backup is younger than a day: 3 of 40 db hosts failing: db-7, db-12, db-31\n"
        + "".join(
            f"CRITICAL Backup is younger than a day [db-{n}] (features/backup.feature:4)\n"
            f"  Then {TEXT}: {WHY.format(host=f'db-{n}')}\n" for n in (7, 12, 31)))


def test_a_passing_fleet_says_how_many_hosts_it_checked() -> None:
    run = run_of(*(backup(n, False) for n in range(1, 6)))
    assert render("nagios", run) == (
        "ESCALATOR OK - 5 scenarios passed | scenarios=5;;;0 passed=5;;;0 failed=0;;;0 "
        "unknown=0;;;0 time=4.2s;;50;0\n"
        "Backup is younger than a day: all 5 db hosts passing\n")


def test_unknown_hosts_and_many_failing_ones() -> None:
    scenarios = [backup(n, n > 2) for n in range(1, 31)]
    scenarios[0] = replace(scenarios[0], outcome=Outcome.UNKNOWN, reason="no route")
    line = render("nagios", run_of(*scenarios)).splitlines()[1]
    assert line == ("Backup is younger than a day: 28 of 30 db hosts failing: "
                    + ", ".join(f"db-{n}" for n in range(3, 23)) + " and 8 more, "
                    "1 unknown: db-1")


def test_each_host_as_a_passive_result() -> None:
    failing = replace(backup(7, True), runbook="https://wiki.example.com/backups",
                      measurements=(Measurement("age /var/backups/db.dump", 188280.0, "s",
                                                Limit.at_most(86400, start=-math.inf)),))
    results = host_results([failing, backup(8, False), builders.scenario("Home")], "BACKUP")
    assert [(r.host, r.service, r.status.name, r.plugin_output()) for r in results] == [
        ("db-7", "Backup is younger than a day", "CRITICAL",
         f"BACKUP CRITICAL - Then {TEXT}: {WHY.format(host='db-7')} | "
         "'age /var/backups/db.dump'=188280s;;~:86400\nrunbook: https://wiki.example.com/backups"),
        ("db-8", "Backup is younger than a day", "OK",
         "BACKUP OK - Backup is younger than a day"),
    ]
