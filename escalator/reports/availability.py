"""Availability: the share of passing runs over the last 24 h, 7 d and 30 d of stored history.

Called by the page model (`escalator.reports.page`) and the overview; pure. A scenario counts
the runs it ran in; a feature counts the runs in which any of its scenarios ran, and passed
when every one that ran passed; an environment counts every run, passed when all passed.
History covers what the store kept (it rotates by size): a window longer than that says so.

>>> from escalator.results import Outcome, RunResult, ScenarioResult
>>> from escalator.state import HistoryEntry
>>> def run(outcome):
...     return RunResult(scenarios=(ScenarioResult("Web", "w.feature", 3, "Home", outcome),))
>>> past = [HistoryEntry.of(run(o), t) for o, t in
...         [(Outcome.PASSED, 0.0), (Outcome.FAILED, 3600.0), (Outcome.PASSED, 7200.0)]]
>>> day = scenario_shares("w.feature::Home", past, now=7200.0)[0]
>>> day.label, day.passed, day.runs, day.text, day.partial
('24 h', 2, 3, '66.6%', True)
>>> last_failure("w.feature::Home", past)
3600.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from escalator.durations import format_duration
from escalator.state import HistoryEntry
from escalator.status import Status

WINDOWS = (("24 h", 86400.0), ("7 d", 7 * 86400.0), ("30 d", 30 * 86400.0))

# What one run says about the thing measured: True passed, False did not, None did not run.
Verdict = Callable[[HistoryEntry], bool | None]


@dataclass(frozen=True)
class Share:
    """Passing runs out of runs in one window; `covered` seconds of it are in stored history."""

    label: str
    seconds: float
    passed: int
    runs: int
    covered: float

    @property
    def partial(self) -> bool:
        """True when the stored history does not reach back over the whole window."""
        return self.covered < self.seconds

    @property
    def ratio(self) -> float | None:
        return self.passed / self.runs if self.runs else None

    @property
    def text(self) -> str:
        """'99.9%': rounded down, so one failure among thousands never shows as 100%."""
        if self.ratio is None:
            return "–"
        return f"{math.floor(self.ratio * 1000) / 10:g}%"

    @property
    def level(self) -> str:
        """A state name to colour the figure by: all passed OK, above 99% WARNING, else CRITICAL.
        """
        if self.ratio is None:
            return "NONE"
        return "OK" if self.ratio == 1 else "WARNING" if self.ratio >= 0.99 else "CRITICAL"

    @property
    def title(self) -> str:
        if not self.runs:
            return f"{self.label}: no run in stored history"
        note = (f"; stored history covers {format_duration(round(self.covered))} of it"
                if self.partial else "")
        return f"{self.label}: {self.passed} of {self.runs} runs passed{note}"


def shares(history: Sequence[HistoryEntry], now: float, verdict: Verdict
           ) -> tuple[Share, ...]:
    """One Share per window, from the runs stored up to `now`."""
    past = [(e.stored_at, verdict(e)) for e in history if e.stored_at <= now]
    oldest = past[0][0] if past else now
    out = []
    for label, seconds in WINDOWS:
        inside = [v for at, v in past if at > now - seconds and v is not None]
        out.append(Share(label, seconds, sum(inside), len(inside),
                         min(seconds, max(0.0, now - oldest))))
    return tuple(out)


def scenario_shares(key: str, history: Sequence[HistoryEntry], now: float
                    ) -> tuple[Share, ...]:
    def verdict(entry: HistoryEntry) -> bool | None:
        mark = entry.mark(key)
        return None if mark is None else mark.status is Status.OK

    return shares(history, now, verdict)


def group_shares(keys: Collection[str], history: Sequence[HistoryEntry], now: float
                 ) -> tuple[Share, ...]:
    """A feature's shares: a run passed when every one of `keys` that ran in it passed."""
    def verdict(entry: HistoryEntry) -> bool | None:
        marks = [m for m in (entry.mark(k) for k in keys) if m is not None]
        return all(m.status is Status.OK for m in marks) if marks else None

    return shares(history, now, verdict)


def run_shares(history: Sequence[HistoryEntry], now: float) -> tuple[Share, ...]:
    """An environment's shares: a run passed when its state was OK."""
    return shares(history, now, lambda entry: entry.status is Status.OK)


def last_failure(key: str, history: Sequence[HistoryEntry]) -> float | None:
    """When the scenario last did not pass (failed or unknown) in stored history."""
    for entry in reversed(history):
        mark = entry.mark(key)
        if mark is not None and mark.status is not Status.OK:
            return entry.stored_at
    return None
