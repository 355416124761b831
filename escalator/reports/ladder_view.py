"""What the report shows of the escalation ladder: its latch, a maintenance window, its deeds.

`escalator report` reads the ladder's state with the store's read-only `peek()` and its audit
log with `read_audit()` (escalator.ladder.store) and hands them to `view()`; pure from there.
The page draws the events as markers on every chart's time axis and says in a banner when the
ladder is latched or in a maintenance window (it will not act then).

>>> records = [{"ts": "2023-11-14T14:02:00.000000Z", "event": "engaged", "reason": "budget ok",
...             "data": {"plan": ["deploy", "restart"]}},
...            {"ts": "2023-11-14T14:02:40.000000Z", "event": "step_finished",
...             "data": {"level": "deploy", "status": "ok", "exit_code": 0, "duration": 38.0}}]
>>> for marker in events(records):
...     print(marker.kind, marker.label, "-", marker.detail)
engaged engaged - engaged: plan deploy, restart (budget ok)
level deploy - level deploy ok (exit 0) after 38s
>>> events(records)[1].at - events(records)[0].at   # a level is drawn where it started
2.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escalator.durations import format_duration
from escalator.reports.charts import Marker

if TYPE_CHECKING:  # the ladder's values, handed in by `escalator report`
    from escalator.ladder.model import Latch, Maintenance


@dataclass(frozen=True)
class LevelRun:
    """A level that ran, when it ended and how (the deployment page: what made a requirement
    green is the level that ended between its last red run and its first green one)."""

    level: str
    ended: float
    status: str
    run_id: str = ""


@dataclass(frozen=True)
class LadderView:
    """The ladder of one environment as the page shows it."""

    latch: Latch | None = None
    window: Maintenance | None = None
    events: tuple[Marker, ...] = ()
    levels: tuple[LevelRun, ...] = ()


def view(latch: Latch | None, window: Maintenance | None,
         records: Iterable[Mapping[str, Any]]) -> LadderView:
    records = list(records)
    return LadderView(latch, window, events(records), level_runs(records))


def level_runs(records: Iterable[Mapping[str, Any]]) -> tuple[LevelRun, ...]:
    """Every level's end (`step_finished`) in the audit records, oldest first."""
    out = []
    for record in records:
        at, data = _time(record.get("ts")), record.get("data")
        if record.get("event") == "step_finished" and at is not None and isinstance(
                data, Mapping):
            out.append(LevelRun(str(data.get("level", "?")), at, str(data.get("status", "?")),
                                str(record.get("run_id") or "")))
    return tuple(sorted(out, key=lambda run: run.ended))


def events(records: Iterable[Mapping[str, Any]]) -> tuple[Marker, ...]:
    """The audit records a person wants on a chart, as markers, oldest first."""
    out = []
    for record in records:
        at = _time(record.get("ts"))
        data = record.get("data")
        marker = _marker(str(record.get("event")), at, str(record.get("reason") or ""),
                         data if isinstance(data, Mapping) else {},
                         str(record.get("actor") or "")) if at is not None else None
        if marker is not None:
            out.append(marker)
    return tuple(sorted(out, key=lambda m: m.at))


def _marker(event: str, at: float, reason: str, data: Mapping[str, Any], actor: str
            ) -> Marker | None:
    why = f" ({reason})" if reason else ""
    if event == "engaged":
        plan = ", ".join(str(p) for p in data.get("plan", ()))
        return Marker(at, "engaged", "engaged", f"engaged: plan {plan}{why}")
    if event == "step_finished":
        level, status = str(data.get("level", "?")), str(data.get("status", "?"))
        took = _seconds(data.get("duration"))
        kind = "level" if status == "ok" else "level-failed"
        code = f" (exit {data['exit_code']})" if data.get("exit_code") is not None else ""
        return Marker(at - took, kind, level,
                      f"level {level} {status}{code} after {format_duration(took)}")
    if event == "recovered":
        return Marker(at, "recovered", "recovered", f"recovered{why}")
    if event == "latched":
        return Marker(at, "latched", "latched", f"latched: {reason}")
    if event == "resumed":
        return Marker(at, "resumed", "resumed", f"resumed by {actor or 'someone'}{why}")
    if event == "would_run":
        return Marker(at, "suppressed", "suppressed", f"would have acted{why}")
    return None


def _seconds(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0


def _time(text: Any) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None
