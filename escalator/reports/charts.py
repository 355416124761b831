"""Charts as inline SVG, made on the server: a measurement over time, and the runs' timeline.

Called by the page model (`escalator.reports.page`); pure, no I/O, no scripts, no external
references, so the page works from file:// and as a mail attachment. Every text that reaches the
SVG is escaped here. Every chart of a page shares one time `Axis`, so the ladder's markers (an
engagement, a level that ran, a recovery, a latch) stand at the same place on each; a marker's
`data-at` and a chart's `data-start`/`data-end` say where, for people and tests alike.

One SVG serves both sizes: the page shows it small with its labels hidden (CSS), and the
larger view on click shows the same drawing with labels (strokes do not scale). Only the points
that were not OK are drawn as dots with a tooltip; every value is also in the chart's `data-t`
(seconds after the axis' start), `data-v` and `data-s` (state letters) attributes, which the
page's script reads to say the value under the pointer in the larger view. That keeps a page of
a hundred charts of 200 runs well under 2 MB (bench/report.py).

>>> axis = Axis(0.0, 100.0)
>>> axis.x(0.0), axis.x(100.0)
(56.0, 588.0)
>>> svg = chart([Point(0.0, 40.0, Status.OK), Point(100.0, 900.0, Status.CRITICAL)], axis,
...             [Threshold(Status.CRITICAL, Limit.at_most(500))], [], unit="ms", ident="c1",
...             title="Home <b> response_time")
>>> "<b>" in svg, "Home &lt;b&gt; response_time" in svg
(False, True)
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from escalator.formatters.perfdata import Threshold
from escalator.limits import Limit
from escalator.status import Status

WIDTH, HEIGHT = 600, 170
TIMELINE_WIDTH = 1200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 24, 22
MAX_POINTS = 400
# Tick spacings to choose from, seconds: ~4 to 7 time labels on any span.
_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
          7 * 86400, 14 * 86400, 30 * 86400)
_UNIT_TEXT = {"ms": " ms", "s": " s", "us": " µs", "%": "%", "B": " B", "KB": " KB",
              "MB": " MB", "GB": " GB", "TB": " TB"}


Scale = Callable[[float], float]


@dataclass(frozen=True)
class Point:
    """One run's value of a measurement, and the scenario's state in that run; a value of NaN
    is a run that did not measure it (the line breaks there)."""

    at: float
    value: float
    status: Status


@dataclass(frozen=True)
class Marker:
    """Something the ladder did at `at`: `kind` styles it, `label` names it, `detail` explains."""

    at: float
    kind: str
    label: str
    detail: str


@dataclass(frozen=True)
class Axis:
    """The time span every chart of a page shares."""

    start: float
    end: float

    def x(self, at: float, total: float = WIDTH) -> float:
        """Where `at` is drawn in an SVG `total` units wide (the plot between the margins)."""
        width = total - LEFT - RIGHT
        if self.end <= self.start:
            return round(LEFT + width / 2, 2)
        return round(LEFT + (at - self.start) / (self.end - self.start) * width, 2)

    def covers(self, at: float) -> bool:
        return self.start <= at <= self.end


def chart(points: Sequence[Point], axis: Axis, limits: Sequence[Threshold],
          markers: Sequence[Marker], *, unit: str, ident: str, title: str) -> Markup:
    """The SVG of one measurement over the axis' span, with its limits and the markers."""
    shown = thin(points)
    low, high = _range([p.value for p in shown if math.isfinite(p.value)], limits)

    def y(value: float) -> float:
        span = HEIGHT - TOP - BOTTOM
        return round(TOP + span - (value - low) / (high - low) * span, 2)

    parts = [_frame(), *_value_ticks(low, high, unit, y), *_time_ticks(axis, HEIGHT)]
    parts += [_limit(limit, unit, y, low, high) for limit in limits]
    parts += _markers(markers, axis, TOP, HEIGHT - BOTTOM)
    parts += _line(shown, axis, y)
    parts += [_point(p, axis, y, unit) for p in shown
              if math.isfinite(p.value) and p.status is not Status.OK]
    measured = [p for p in shown if math.isfinite(p.value)]
    data = {"unit": _UNIT_TEXT.get(unit, f" {unit}" if unit else ""),
            "plot": f"{LEFT} {WIDTH - RIGHT}",
            "t": ",".join(f"{p.at - axis.start:.0f}" for p in measured),
            "v": ",".join(f"{p.value:.4g}" for p in measured),
            "s": "".join(p.status.name[0] for p in measured)}
    return _svg(parts, ident=ident, title=title, axis=axis, size=(WIDTH, HEIGHT), kind="chart",
                data=data)


def timeline(runs: Sequence[tuple[float, Status]], axis: Axis, markers: Sequence[Marker],
             *, ident: str = "timeline", title: str = "Runs and what the ladder did",
             total: int = TIMELINE_WIDTH) -> Markup:
    """A ribbon of the runs (one bar each, coloured by state) under the ladder's markers,
    `total` units wide (as wide as it is shown, so its labels read at the page's size)."""
    height, top, bar = 84, 24, 22
    width = min(12.0, max(1.5, (total - LEFT - RIGHT) / max(len(runs), 1) - 0.5))
    parts = [_frame(top, height - BOTTOM, total)]
    parts += [f'<rect class="run {status.name}" x="{axis.x(at, total) - width / 2:.2f}" '
              f'y="{top}" width="{width:.2f}" height="{bar}"><title>{_esc(_when(at))}: '
              f"{status.name}</title></rect>" for at, status in runs]
    parts += _time_ticks(axis, height, total)
    parts += _markers(markers, axis, top - 6, top + bar + 6, total)
    return _svg(parts, ident=ident, title=title, axis=axis, size=(total, height),
                kind="timeline")


def thin(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    """At most `limit` points: each run of consecutive points becomes its worst one.

    The worst is the one in the worst state, then the highest value, so a failure or a spike
    never disappears from a long history.

    >>> len(thin([Point(float(i), float(i), Status.OK) for i in range(1000)], 100))
    100
    """
    if len(points) <= limit:
        return list(points)
    size = math.ceil(len(points) / limit)
    return [max(points[i:i + size], key=_badness) for i in range(0, len(points), size)]


def _badness(point: Point) -> tuple[bool, int, float]:
    measured = math.isfinite(point.value)
    return measured, point.status.rank, point.value if measured else 0.0


def _svg(parts: list[str], *, ident: str, title: str, axis: Axis, size: tuple[int, int],
         kind: str, data: dict[str, str] | None = None) -> Markup:
    extra = "".join(f' data-{key}="{_esc(value)}"' for key, value in (data or {}).items())
    head = (f'<svg class="{kind}" data-chart="{_esc(ident)}" data-start="{axis.start:.3f}" '
            f'data-end="{axis.end:.3f}"{extra} viewBox="0 0 {size[0]} {size[1]}" role="img" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{_esc(title)}</title>')
    return Markup(head + "".join(parts) + "</svg>")  # every part was escaped where it was made


def _frame(top: float = TOP, bottom: float = HEIGHT - BOTTOM, total: int = WIDTH) -> str:
    return (f'<rect class="plot" x="{LEFT}" y="{top}" width="{total - LEFT - RIGHT}" '
            f'height="{bottom - top}"/>')


def _range(values: Sequence[float], limits: Sequence[Threshold]) -> tuple[float, float]:
    """The value span to draw: the data, 0, and every finite limit, so the limit is in view."""
    bounds = [v for t in limits for v in (t.limit.start, t.limit.end) if math.isfinite(v)]
    everything = [*values, *bounds, 0.0]
    low, high = min(everything), max(everything)
    if high <= low:
        high = low + 1.0
    return low, high + (high - low) * 0.08


def _value_ticks(low: float, high: float, unit: str, y: Scale) -> list[str]:
    """Three or four gridlines at round values, labelled with the unit."""
    step = _nice((high - low) / 3)
    first = math.ceil(low / step) * step
    out = []
    value = first
    while value <= high:
        at = y(value)
        out.append(f'<g class="tick"><line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{at}" '
                   f'y2="{at}"/><text class="label" x="{LEFT - 6}" y="{at}" dy="0.32em" '
                   f'text-anchor="end">{_esc(value_text(value, unit))}</text></g>')
        value = round(value + step, 12)
    return out


def _time_ticks(axis: Axis, height: int, total: int = WIDTH) -> list[str]:
    span = axis.end - axis.start
    if span <= 0:
        return []
    step = next((s for s in _STEPS if span / s <= 6), _STEPS[-1])
    pattern = "%H:%M" if span < 2 * 86400 else "%d %b"
    out = []
    at = math.ceil(axis.start / step) * step
    while at <= axis.end:
        out.append(f'<text class="label axis" data-at="{at}" x="{axis.x(at, total)}" '
                   f'y="{height - 6}" text-anchor="middle">'
                   f"{time.strftime(pattern, time.gmtime(at))}</text>")
        at += step
    return out


def _limit(threshold: Threshold, unit: str, y: Scale, low: float, high: float) -> str:
    """The alert zone shaded, its edges dashed, and what it means written at the right."""
    limit = threshold.limit
    top, bottom = (max(limit.start, low), min(limit.end, high)) if limit.inside else (None, None)
    edges = [v for v in (limit.start, limit.end) if math.isfinite(v) and low < v < high]
    if limit.inside and top is not None and bottom is not None:
        zones = [(bottom, top)]
    else:
        zones = [(high, limit.end)] if math.isfinite(limit.end) else []
        if math.isfinite(limit.start) and limit.start > low:
            zones.append((limit.start, low))
    level = threshold.level.name
    parts = [f'<rect class="zone {level}" x="{LEFT}" width="{WIDTH - LEFT - RIGHT}" '
             f'y="{y(upper)}" height="{max(0.0, y(lower) - y(upper)):.2f}"/>'
             for upper, lower in zones]
    for edge in edges:
        at = y(edge)
        parts.append(f'<line class="limit {level}" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                     f'y1="{at}" y2="{at}"/>')
    meaning = f"{level.lower()} {limit_text(limit, unit)}"
    label_at = y(edges[0]) if edges else TOP
    parts.append(f'<text class="label limit-text {level}" x="{WIDTH - RIGHT - 4}" '
                 f'y="{label_at - 4}" text-anchor="end">{_esc(meaning)}</text>')
    return f'<g class="limit-group" data-limit="{_esc(str(limit))}">{"".join(parts)}</g>'


def _markers(markers: Sequence[Marker], axis: Axis, top: float, bottom: float,
             total: int = WIDTH) -> list[str]:
    """A line per marker; one label per cluster of markers too close to label apart (an
    engagement, its level and the recovery are minutes apart on a day-long axis)."""
    shown = sorted((m for m in markers if axis.covers(m.at)), key=lambda m: m.at)
    parts = [f'<g class="marker {_esc(m.kind)}" data-at="{m.at:.3f}">'
             f'<title>{_esc(_when(m.at))}: {_esc(m.detail)}</title>'
             f'<line x1="{axis.x(m.at, total)}" x2="{axis.x(m.at, total)}" y1="{top}" '
             f'y2="{bottom}"/></g>' for m in shown]
    clusters: list[list[Marker]] = []
    for marker in shown:
        if clusters and axis.x(marker.at, total) - axis.x(clusters[-1][0].at, total) < 70:
            clusters[-1].append(marker)
        else:
            clusters.append([marker])
    for cluster in clusters:
        x = axis.x(cluster[0].at, total)
        anchor, dx = ("end", -3) if x > total * 0.75 else ("start", 3)
        if anchor == "end":
            x = axis.x(cluster[-1].at, total)
        text = " · ".join(dict.fromkeys(m.label for m in cluster))
        parts.append(f'<text class="label mlabel {_esc(cluster[0].kind)}" x="{x + dx}" '
                     f'y="{max(top - 5, 10)}" text-anchor="{anchor}">{_esc(text)}</text>')
    return parts


def _line(points: Sequence[Point], axis: Axis, y: Scale) -> list[str]:
    """One polyline per stretch of consecutive runs that measured (a gap breaks the line); a
    lone value between gaps is a dot."""
    out: list[str] = []
    stretch: list[tuple[float, float]] = []
    for point in [*points, Point(math.inf, math.nan, Status.OK)]:
        if math.isfinite(point.value):
            stretch.append((axis.x(point.at), y(point.value)))
            continue
        if len(stretch) > 1:
            coordinates = " ".join(f"{x:.1f},{y_:.1f}" for x, y_ in stretch)
            out.append(f'<polyline class="line" points="{coordinates}"/>')
        elif stretch:
            out.append(f'<circle class="pt lone" cx="{stretch[0][0]}" cy="{stretch[0][1]}" '
                       'r="2.5"/>')
        stretch = []
    return out


def _point(point: Point, axis: Axis, y: Scale, unit: str) -> str:
    state = point.status.name
    return (f'<circle class="pt {state}" cx="{axis.x(point.at)}" '
            f'cy="{y(point.value)}" r="3.5">'
            f"<title>{_esc(_when(point.at))}: {_esc(value_text(point.value, unit))} "
            f"({state})</title></circle>")


def value_text(value: float, unit: str) -> str:
    """A value with its unit, short: 41.25 ms, 1.5 s, 99.5%, 20.

    >>> value_text(41.25, "ms"), value_text(1500.0, "ms"), value_text(99.5, "%")
    ('41.2 ms', '1500 ms', '99.5%')
    """
    number = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if "e" in number:
        number = f"{value:.0f}" if abs(value) >= 1 else f"{value:.2g}"
    return number + _UNIT_TEXT.get(unit, f" {unit}" if unit else "")


def limit_text(limit: Limit, unit: str) -> str:
    """Where the limit alerts, as a person says it: '> 500 ms', '≥ 500 ms' (an `@` range
    alerts at its edge too), '< 14', 'inside 10 – 20'.

    >>> limit_text(Limit.at_most(500), "ms"), limit_text(Limit.below(500), "ms")
    ('> 500 ms', '≥ 500 ms')
    >>> limit_text(Limit.at_least(14), ""), limit_text(Limit(10, 20, inside=True), "s")
    ('< 14', 'inside 10 s – 20 s')
    """
    lower, upper = limit.bounds()
    if limit.inside and lower is None and upper is None:
        return f"inside {value_text(limit.start, unit)} – {value_text(limit.end, unit)}"
    edge = "=" if limit.inside else ""
    above = "" if upper is None else f">{edge} {value_text(upper, unit)}"
    below = "" if lower is None else f"<{edge} {value_text(lower, unit)}"
    return (" or ".join(t for t in (below, above) if t).replace(">=", "≥").replace("<=", "≤")
            or str(limit))


def _nice(raw: float) -> float:
    """A step of 1, 2 or 5 times a power of ten, at least `raw`."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)
