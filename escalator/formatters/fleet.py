"""Fleet checks: the runs of one `@each.<group>` scenario over its hosts, seen together.

Pure. The Nagios format (`escalator.formatters.nagios`) prints one line per fleet check in the
long output and names a fleet's failing hosts together on line 1. Results say their host and
group as data (`ScenarioResult.host`, `.group`), so nothing here parses names.

>>> from escalator.results import Outcome, ScenarioResult
>>> def run(host, outcome):
...     return ScenarioResult("Backups", "f.feature", 3, f"Backup is fresh [{host}]",
...                           Outcome(outcome), host=host, group="db")
>>> checks = fleet_checks([run("db-1", "passed"), run("db-7", "failed"), run("db-9", "unknown")])
>>> summary_line(checks[0])
'Backup is fresh: 1 of 3 db hosts failing: db-7, 1 unknown: db-9'
>>> host_names([f"db-{n}" for n in range(1, 9)], 5)
'db-1, db-2, db-3, db-4, db-5 and 3 more'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from escalator.formatters import tally
from escalator.results import Outcome, ScenarioResult

_HOSTS_SHOWN = 20


@dataclass(frozen=True)
class FleetCheck:
    """One fan-out scenario (or outline row) and its result on each host, in run order."""

    name: str
    group: str
    results: tuple[ScenarioResult, ...]

    def hosts(self, outcome: Outcome) -> list[str]:
        return [s.host or "" for s in self.results if s.outcome is outcome]


def fleet_checks(scenarios: Iterable[ScenarioResult]) -> list[FleetCheck]:
    """The fan-out results grouped by the scenario they ran, in order of first appearance."""
    grouped: dict[tuple[str, int, str, str], list[ScenarioResult]] = {}
    for s in scenarios:
        if s.host is not None and s.group is not None:
            grouped.setdefault((s.file, s.line, s.check_name, s.group), []).append(s)
    return [FleetCheck(name, group, tuple(results))
            for (_, _, name, group), results in grouped.items()]


def summary_line(check: FleetCheck, shown: int = _HOSTS_SHOWN) -> str:
    """"Backup is fresh: 3 of 40 db hosts failing: db-7, db-12, db-31" (or "all ... passing")."""
    total, failed = len(check.results), check.hosts(Outcome.FAILED)
    unknown = check.hosts(Outcome.UNKNOWN)
    hosts = f"{check.group} host" if total == 1 else f"{check.group} hosts"
    if not failed and not unknown:
        return f"{check.name}: {'the' if total == 1 else 'all'} {total} {hosts} passing"
    return f"{check.name}: " + tally(f"{total} {hosts}", len(failed), host_names(failed, shown),
                                     len(unknown), host_names(unknown, shown))


def host_names(hosts: Sequence[str], shown: int) -> str:
    listed = ", ".join(hosts[:shown])
    more = len(hosts) - min(len(hosts), shown)
    return listed + (f" and {more} more" if more else "")
