"""Each scenario of the latest run beside its past: since when it is in its state, and a strip.

The HTML and table renderers of `escalator.reports` read these rows; they come from the
latest `StoredRun` and the compact `HistoryEntry` list of `escalator.state`. Pure.

>>> from escalator.results import Outcome, RunResult, ScenarioResult
>>> from pathlib import Path
>>> from escalator.state import HistoryEntry, StoredRun
>>> def run(outcome):
...     return RunResult(scenarios=(ScenarioResult("Web", "w.feature", 3, "Home", outcome),))
>>> past = [HistoryEntry.of(run(o), t) for o, t in
...         [(Outcome.PASSED, 100.0), (Outcome.FAILED, 200.0), (Outcome.FAILED, 300.0)]]
>>> row = rows(StoredRun(run(Outcome.FAILED), 300.0, "default", Path("x")), past)[0]
>>> row.since, row.since_known, [t.status.name for t in row.strip]
(200.0, True, ['OK', 'CRITICAL', 'CRITICAL'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from escalator.results import ScenarioResult
from escalator.state import HistoryEntry, StoredRun
from escalator.status import Status

STRIP_WIDTH = 30


@dataclass(frozen=True)
class Tick:
    """One past run in a scenario's strip; status None when the scenario did not run then."""

    stored_at: float
    status: Status | None

    @property
    def label(self) -> str:
        """What the run said: the state's name, or that the scenario did not run then.

        (OK is 0: a template that tests the status for truth calls every pass "did not run".)
        """
        return "did not run" if self.status is None else self.status.name

    @property
    def css(self) -> str:
        return "NONE" if self.status is None else self.status.name


@dataclass(frozen=True)
class Row:
    """A scenario of the latest run with its past.

    `since_known` is False when the state reaches back past the oldest run kept in history:
    the scenario has been in it since `since` at least.
    """

    scenario: ScenarioResult
    since: float
    since_known: bool
    strip: tuple[Tick, ...]


def rows(stored: StoredRun, history: Sequence[HistoryEntry], width: int = STRIP_WIDTH
         ) -> list[Row]:
    """One row per scenario of the stored run, in the run's (feature file) order."""
    # A run that overlapped may have appended after the stored latest: it is not this one's past.
    past = [entry for entry in history if entry.stored_at <= stored.stored_at]
    return [_row(scenario, stored.stored_at, past, width) for scenario in stored.run.scenarios]


def _row(scenario: ScenarioResult, stored_at: float, past: Sequence[HistoryEntry],
         width: int) -> Row:
    since, known = _since(scenario, stored_at, past)
    strip = tuple(Tick(e.stored_at, _status(e, scenario.key)) for e in past[-width:])
    return Row(scenario, since, known, strip)


def _since(scenario: ScenarioResult, stored_at: float, past: Sequence[HistoryEntry]
           ) -> tuple[float, bool]:
    since = stored_at
    for entry in reversed(past):
        if _status(entry, scenario.key) is not scenario.status:
            return since, True
        since = entry.stored_at
    return since, False


def _status(entry: HistoryEntry, key: str) -> Status | None:
    mark = entry.mark(key)
    return mark.status if mark is not None else None
