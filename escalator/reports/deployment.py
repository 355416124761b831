"""The deployment view (`deployment.html`): the living document of an environment's integration
points while a team brings it up. Every requirement, when it first turned green here, what
made it green, and which are still red (with why, and since when).

`escalator.reports.render_all` calls `render(stored, history, now, ladder)`; `build` is the pure
model behind it. Everything comes from the stored history and the ladder's audit log:

- a run a deploy gate stored (`run --until-green`, history origin `gate`) made green what it
  saw pass: "deploy <name>", at the gate's start plus the time the scenario took to pass;
- a run converge stored after a level (origin `converge`, `after` the level) made green what
  passed in it: "level <id> (converge)";
- any other run that is a scenario's first pass after a red one: the last ladder level that
  ended between the two (`LadderView.levels`), or "no recorded action";
- a scenario that passed the first time it was checked: "green at its first check".

>>> from pathlib import Path
>>> from escalator.results import Outcome, RunResult, ScenarioResult
>>> from escalator.state import HistoryEntry, StoredRun
>>> def run(*outcomes, **extra):
...     return RunResult(tuple(ScenarioResult("Env", "e.feature", n, name, o) for n, (name, o)
...                            in enumerate(zip(("Net", "App"), outcomes), 1)), extra=extra)
>>> P, F = Outcome.PASSED, Outcome.FAILED
>>> past = [HistoryEntry.of(run(F, F), 100.0),
...         HistoryEntry.of(run(P, F, origin={"kind": "converge", "after": "network"}), 160.0),
...         HistoryEntry.of(run(P, P, origin={"kind": "gate", "by": "shop 1.4", "began": 200.0},
...                             green_after={"e.feature::App": 42.5}), 300.0)]
>>> view = build(StoredRun(run(P, P), 300.0, "staging", Path("x")), past, now=400.0)
>>> for r in view.requirements:
...     print(r.scenario.name, r.first_green, r.cause)
Net 160.0 level network (converge)
App 242.5 deploy shop 1.4
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from escalator.durations import format_duration
from escalator.formatters import reason
from escalator.reports.html import environment
from escalator.reports.ladder_view import LadderView, LevelRun
from escalator.reports.timeline import Row, rows
from escalator.results import Outcome, ScenarioResult
from escalator.state import HistoryEntry, ScenarioMark, StoredRun

FIRST, LEVEL, DEPLOY, UNKNOWN = "first", "level", "deploy", "unknown"


@dataclass(frozen=True)
class Requirement:
    """One scenario: its latest verdict (`row`), and its first turn to green, if any.

    `kind` is what made it green: first (it passed its first check), level, deploy, unknown
    (nothing on record), or "" while it never was.
    """

    row: Row
    first_green: float | None = None
    cause: str = ""
    kind: str = ""

    @property
    def scenario(self) -> ScenarioResult:
        return self.row.scenario

    @property
    def green(self) -> bool:
        return self.scenario.outcome is Outcome.PASSED

    @property
    def reason(self) -> str:
        return "" if self.green else reason(self.scenario)


@dataclass(frozen=True)
class Milestone:
    """Requirements that one cause turned green, in the order they did, from `at` on."""

    at: float
    cause: str
    kind: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Deployment:
    stored: StoredRun
    now: float
    began: float  # the first run on record for this environment
    requirements: tuple[Requirement, ...]
    milestones: tuple[Milestone, ...]

    @property
    def green(self) -> int:
        return sum(1 for r in self.requirements if r.green)

    @property
    def red(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.green]

    def into(self, at: float) -> str:
        """How long after the first run on record `at` is, to the second ("+4m12s")."""
        seconds = round(max(0.0, at - self.began))
        return f"+{format_duration(seconds)}" if seconds else "+0s"


def build(stored: StoredRun, history: Sequence[HistoryEntry], now: float,
          ladder: LadderView | None = None) -> Deployment:
    levels = (ladder or LadderView()).levels
    past = [entry for entry in history if entry.stored_at <= stored.stored_at]
    if not past or past[-1].stored_at != stored.stored_at:
        past.append(HistoryEntry.of(stored.run, stored.stored_at))
    requirements = tuple(_requirement(row, past, levels) for row in rows(stored, past))
    began = min(_start(entry) for entry in past)
    return Deployment(stored, now, began, requirements, _milestones(requirements))


def render(stored: StoredRun, history: Sequence[HistoryEntry], now: float,
           ladder: LadderView | None = None) -> str:
    view = build(stored, history, now, ladder)
    return environment().get_template("deployment.html.j2").render(
        view=view, stored=stored, now=now, run=stored.run)


def _requirement(row: Row, past: Sequence[HistoryEntry], levels: Sequence[LevelRun]
                 ) -> Requirement:
    last_red: HistoryEntry | None = None
    for entry in past:
        mark = entry.mark(row.scenario.key)
        if mark is None:
            continue
        if mark.outcome is not Outcome.PASSED:
            last_red = entry
            continue
        cause, kind = _cause(entry, last_red, levels)
        return Requirement(row, _green_at(entry, mark), cause, kind)
    return Requirement(row)


def _green_at(entry: HistoryEntry, mark: ScenarioMark) -> float:
    """When a scenario's first passing run saw it pass: a gate knows to the round."""
    began = entry.origin.get("began")
    if entry.origin.get("kind") == "gate" and isinstance(began, float) \
            and mark.green_after is not None:
        return began + mark.green_after
    return entry.stored_at


def _cause(entry: HistoryEntry, last_red: HistoryEntry | None, levels: Sequence[LevelRun]
           ) -> tuple[str, str]:
    """What made a scenario green in `entry`, its first passing run after `last_red`."""
    kind, after, by = (entry.origin.get(k) for k in ("kind", "after", "by"))
    if kind == "gate":
        return (f"deploy {by}" if by else "the deploy gate"), DEPLOY
    if kind == "converge" and after:
        return f"level {after} (converge)", LEVEL
    if last_red is None:
        return "green at its first check", FIRST
    ended = [run for run in levels if last_red.stored_at < run.ended <= entry.stored_at]
    if ended:
        return f"level {ended[-1].label}", LEVEL
    return "no recorded action", UNKNOWN


def _start(entry: HistoryEntry) -> float:
    began = entry.origin.get("began")
    starts = [t for t in (entry.started, began) if isinstance(t, float) and t > 0]
    return min(starts, default=entry.stored_at)


def _milestones(requirements: Sequence[Requirement]) -> tuple[Milestone, ...]:
    """The turns to green in time order, those of one cause in a row together."""
    turned = sorted((r for r in requirements if r.first_green is not None),
                    key=lambda r: r.first_green or 0.0)
    out: list[Milestone] = []
    for r in turned:
        assert r.first_green is not None
        if out and out[-1].cause == r.cause:
            last = out[-1]
            out[-1] = Milestone(last.at, last.cause, last.kind, (*last.names, r.scenario.name))
        else:
            out.append(Milestone(r.first_green, r.cause, r.kind, (r.scenario.name,)))
    return tuple(out)
