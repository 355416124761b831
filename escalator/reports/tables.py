"""Plain tables of the latest run (`summary.txt`, and `escalator report --table`), via tabulate.

Called by `escalator.reports.render_all`; pure. One table of every scenario in feature order,
then one line per scenario that is not passing, saying why.
"""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from escalator.formatters import cut, reason
from escalator.reports.html import ago, duration, utc
from escalator.reports.timeline import Row, rows
from escalator.results import Outcome
from escalator.state import HistoryEntry, StoredRun

HEADERS = ("State", "Scenario", "Location", "Since", "Duration", "Level")
NAME_WIDTH = 50


def render(stored: StoredRun, history: Sequence[HistoryEntry], now: float) -> str:
    """The summary text, ending in a newline."""
    run = stored.run
    table = rows(stored, history)
    failing = sum(1 for r in table if r.scenario.outcome is not Outcome.PASSED)
    lines = [
        f"Escalator: {stored.environment} is {run.status.name}, "
        f"{failing} of {len(table)} scenarios not passing",
        f"Last run stored {utc(stored.stored_at)} ({ago(stored.stored_at, now)}), "
        f"took {duration(run.duration)}",
        *(f"Error: {error}" for error in run.errors),
        "",
        tabulate([_cells(r, now) for r in table], headers=HEADERS, tablefmt="simple",
                 disable_numparse=True) if table else "No scenarios.",
    ]
    reasons = [f"{r.scenario.status.name} {r.scenario.name} ({r.scenario.location}): "
               f"{reason(r.scenario)}" for r in table if r.scenario.outcome is not Outcome.PASSED]
    if reasons:
        lines += ["", *reasons]
    return "\n".join(lines) + "\n"


def _cells(row: Row, now: float) -> list[str]:
    s = row.scenario
    since = ago(row.since, now) if row.since_known else f">= {ago(row.since, now)}"
    return [s.status.name, cut(s.name, NAME_WIDTH), s.location, since, duration(s.duration),
            s.level or ""]
