"""The living document's content, before it is HTML: features, scenarios, availability, charts.

`escalator.reports.html.render` calls `build(...)` and hands the `Page` to its template; pure.
Everything is computed from the stored latest run, the stored history and the ladder's view:
since-when and the strip (`timeline.rows`), availability over 24 h / 7 d / 30 d (all stored
history), and a chart per measurement over the last `drawn` runs, every chart on one time axis
with the ladder's markers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from escalator.formatters.perfdata import limits
from escalator.reports import DRAWN_RUNS, availability, charts
from escalator.reports.availability import Share
from escalator.reports.ladder_view import LadderView
from escalator.reports.timeline import Row, rows
from escalator.results import Measurement, ScenarioResult
from escalator.state import HistoryEntry, StoredRun

CHARTS_PER_SCENARIO = 8


@dataclass(frozen=True)
class ChartView:
    """One measurement of one scenario: its latest value, its limits and its chart."""

    ident: str
    name: str
    latest: str
    limit: str
    svg: Markup


@dataclass(frozen=True)
class ScenarioView:
    row: Row
    shares: tuple[Share, ...]
    last_failure: float | None
    charts: tuple[ChartView, ...]

    @property
    def scenario(self) -> ScenarioResult:
        return self.row.scenario


@dataclass(frozen=True)
class FeatureView:
    name: str
    file: str
    shares: tuple[Share, ...]
    scenarios: tuple[ScenarioView, ...]


@dataclass(frozen=True)
class Page:
    stored: StoredRun
    now: float
    features: tuple[FeatureView, ...]
    shares: tuple[Share, ...]
    axis: charts.Axis
    timeline: Markup
    ladder: LadderView
    oldest: float

    @property
    def scenarios(self) -> list[ScenarioView]:
        return [s for feature in self.features for s in feature.scenarios]


def build(stored: StoredRun, history: Sequence[HistoryEntry], now: float,
          ladder: LadderView | None = None, drawn: int = DRAWN_RUNS) -> Page:
    ladder = ladder or LadderView()
    past = _past(stored, history)
    shown = past[-drawn:] if drawn > 0 else past[-1:]
    axis = _axis(shown, ladder, now)
    views = [_scenario(row, past, shown, axis, ladder, now) for row in rows(stored, history)]
    return Page(stored, now, _by_feature(views, past, now), availability.run_shares(past, now),
                axis, charts.timeline([(e.stored_at, e.status) for e in shown], axis,
                                      ladder.events), ladder, past[0].stored_at)


def _past(stored: StoredRun, history: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """The history up to the stored run, which is in it unless the history was lost."""
    past = [entry for entry in history if entry.stored_at <= stored.stored_at]
    if not past or past[-1].stored_at != stored.stored_at:
        past.append(HistoryEntry.of(stored.run, stored.stored_at))
    return past


def _axis(shown: Sequence[HistoryEntry], ladder: LadderView, now: float) -> charts.Axis:
    start, end = shown[0].stored_at, shown[-1].stored_at
    # A latch or a level after the last run belongs on the page too.
    later = [m.at for m in ladder.events if end < m.at <= now]
    return charts.Axis(start, max([end, *later]))


def _scenario(row: Row, past: Sequence[HistoryEntry], shown: Sequence[HistoryEntry],
              axis: charts.Axis, ladder: LadderView, now: float) -> ScenarioView:
    key = row.scenario.key
    views = tuple(_chart(row.scenario, name, shown, axis, ladder)
                  for name in _measured(row.scenario, shown))
    return ScenarioView(row, availability.scenario_shares(key, past, now),
                        availability.last_failure(key, past), views)


def _measured(scenario: ScenarioResult, shown: Sequence[HistoryEntry]) -> list[str]:
    """The latest run's measurements first, then any the scenario measured before (a run that
    fails early measures less: its chart must not vanish exactly then)."""
    names = dict.fromkeys(m.name for m in scenario.measurements)
    for entry in reversed(shown):
        mark = entry.mark(scenario.key)
        if mark is not None:
            names.update(dict.fromkeys(name for name, _ in mark.values if name not in names))
    return list(names)[:CHARTS_PER_SCENARIO]


def _chart(scenario: ScenarioResult, name: str, shown: Sequence[HistoryEntry],
           axis: charts.Axis, ladder: LadderView) -> ChartView:
    latest = next((m for m in scenario.measurements if m.name == name), None)
    unit = latest.uom if latest is not None else ""
    bounds = limits(scenario, latest) if latest is not None else ()
    points = [_point(entry, scenario.key, name) for entry in shown]
    ident = "c-" + hashlib.sha1(f"{scenario.key}\0{name}".encode()).hexdigest()[:10]
    svg = charts.chart(points, axis, bounds, ladder.events, unit=unit, ident=ident,
                       title=f"{scenario.name}: {name}")
    text = " or ".join(f"{b.level.name.lower()} {charts.limit_text(b.limit, unit)}"
                       for b in bounds)
    return ChartView(ident, name, _latest(latest), text, svg)


def _point(entry: HistoryEntry, key: str, name: str) -> charts.Point:
    mark = entry.mark(key)
    if mark is None:
        return charts.Point(entry.stored_at, math.nan, entry.status)  # did not run: a gap
    value = mark.value(name)
    return charts.Point(entry.stored_at, math.nan if value is None else value, mark.status)


def _latest(measurement: Measurement | None) -> str:
    if measurement is None or measurement.value is None or not math.isfinite(measurement.value):
        return "–"
    return charts.value_text(measurement.value, measurement.uom)


def _by_feature(views: list[ScenarioView], past: Sequence[HistoryEntry], now: float
                ) -> tuple[FeatureView, ...]:
    groups: dict[tuple[str, str], list[ScenarioView]] = {}
    for view in views:
        groups.setdefault((view.scenario.file, view.scenario.feature), []).append(view)
    return tuple(FeatureView(feature, file,
                             availability.group_shares([v.scenario.key for v in members],
                                                       past, now), tuple(members))
                 for (file, feature), members in groups.items())
