"""What the report shows of the escalation ladder: its latch, a maintenance window, its deeds.

`escalator report` reads the ladder's state with the store's read-only `peek()` and its audit
log with `read_audit()` (escalator.ladder.store) and hands them to `view()`; pure from there.
The page draws the events as markers on every chart's time axis and says in a banner when the
ladder is latched or in a maintenance window (it will not act then), when its notifier fails
and when its watcher has stopped; `samples` gives the same as Prometheus series for
`metrics.prom` (`escalator_ladder_latched`, `escalator_watch_last_cycle_timestamp_seconds` ...).

>>> records = [{"ts": "2023-11-14T14:02:00.000000Z", "event": "engaged", "reason": "budget ok",
...             "data": {"plan": ["deploy", "restart"]}},
...            {"ts": "2023-11-14T14:02:40.000000Z", "event": "step_finished",
...             "data": {"level": "deploy", "status": "succeeded", "exit_code": 0,
...                      "duration": 38.0}}]
>>> for marker in events(records):
...     print(marker.kind, marker.label, "-", marker.detail)
engaged engaged - engaged: plan deploy, restart (budget ok)
level deploy - level deploy succeeded (exit 0) after 38s
>>> events(records)[1].at - events(records)[0].at   # a level is drawn where it started
2.0

A host-scoped level's run names its host, as a fan-out scenario does (`vm [web-2]`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escalator.durations import format_duration
from escalator.reports.charts import Marker

if TYPE_CHECKING:  # the ladder's values, handed in by `escalator report`
    from escalator.ladder.heartbeat import Heartbeat
    from escalator.ladder.model import Latch, Maintenance, NotifierHealth, Page

Sample = tuple[str, dict[str, str], float]  # as escalator.formatters.prometheus takes them


@dataclass(frozen=True)
class LevelRun:
    """A level that ran, when it ended and how (the deployment page: what made a requirement
    green is the level that ended between its last red run and its first green one)."""

    level: str
    ended: float
    status: str
    run_id: str = ""
    host: str | None = None  # a host-scoped level's host

    @property
    def label(self) -> str:
        return f"{self.level} [{self.host}]" if self.host else self.level


@dataclass(frozen=True)
class LadderView:
    """The ladder of one environment as the page shows it. `watcher_gone` says why its
    `escalator watch` is not there any more (judged by `escalator report`)."""

    latch: Latch | None = None
    window: Maintenance | None = None
    events: tuple[Marker, ...] = ()
    levels: tuple[LevelRun, ...] = ()
    notifier: NotifierHealth | None = None
    pages: tuple[Page, ...] = ()
    watcher: Heartbeat | None = None
    watcher_gone: str | None = None
    host_latches: tuple[Latch, ...] = ()  # hosts whose host-scoped levels are latched


def view(latch: Latch | None, window: Maintenance | None,
         records: Iterable[Mapping[str, Any]], **more: Any) -> LadderView:
    """`more`: notifier, pages, watcher, watcher_gone and host_latches, when the caller
    knows them."""
    records = list(records)
    return LadderView(latch, window, events(records), level_runs(records), **more)


def level_runs(records: Iterable[Mapping[str, Any]]) -> tuple[LevelRun, ...]:
    """Every level's end (`step_finished`) in the audit records, oldest first."""
    out = []
    for record in records:
        at, data = _time(record.get("ts")), record.get("data")
        if record.get("event") == "step_finished" and at is not None and isinstance(
                data, Mapping):
            out.append(LevelRun(str(data.get("level", "?")), at, str(data.get("status", "?")),
                                str(record.get("run_id") or ""),
                                str(data["host"]) if data.get("host") else None))
    return tuple(sorted(out, key=lambda run: run.ended))


def samples(environment: str, ladder: LadderView) -> list[Sample]:
    """The ladder's series for metrics.prom: latched (since when, and why as an info series;
    each latched host), the notifier failing, open pages, and the watcher's last cycle and
    whether it runs."""
    env = {"environment": environment}
    latch, health = ladder.latch, ladder.notifier
    out: list[Sample] = [("ladder_latched", env, 1.0 if latch else 0.0)]
    if latch is not None:
        out += [("ladder_latched_since_timestamp_seconds", env, round(latch.since, 3)),
                ("ladder_latch_info", {**env, "reason": latch.reason}, 1.0)]
    failing = health is not None and health.failing_since is not None
    out += [("ladder_host_latched", {**env, "host": held.host}, 1.0)
            for held in ladder.host_latches]
    out.append(("ladder_notifier_failing", env, 1.0 if failing else 0.0))
    if health is not None and health.failing_since is not None:
        out.append(("ladder_notifier_failing_since_timestamp_seconds", env,
                    round(health.failing_since, 3)))
    out.append(("ladder_open_pages", env, float(len(ladder.pages))))
    beat = ladder.watcher
    if beat is not None:
        if beat.last_cycle is not None:
            out.append(("watch_last_cycle_timestamp_seconds", env, round(beat.last_cycle, 3)))
        up = beat.stopped is None and ladder.watcher_gone is None
        out.append(("watch_up", env, 1.0 if up else 0.0))
    return out


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
    host = f" {data['host']}" if data.get("host") else ""  # a host's latch or resume
    if event == "engaged":
        plan = ", ".join(str(p) for p in data.get("plan", ()))
        return Marker(at, "engaged", "engaged", f"engaged: plan {plan}{why}")
    if event == "step_finished":
        level, status = str(data.get("level", "?")), str(data.get("status", "?"))
        level += f" [{data['host']}]" if data.get("host") else ""
        took = _seconds(data.get("duration"))
        kind = "level" if status == "succeeded" else "level-failed"
        code = f" (exit {data['exit_code']})" if data.get("exit_code") is not None else ""
        return Marker(at - took, kind, level,
                      f"level {level} {status}{code} after {format_duration(took)}")
    if event == "recovered":
        return Marker(at, "recovered", "recovered", f"recovered{why}")
    if event == "latched":
        return Marker(at, "latched", f"latched{host}", f"latched{host}: {reason}")
    if event == "resumed":
        return Marker(at, "resumed", f"resumed{host}",
                      f"resumed{host} by {actor or 'someone'}{why}")
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
