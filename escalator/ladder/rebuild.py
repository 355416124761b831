"""The ladder's counters, latches and open pages as the audit log tells them: what a lost or
corrupt state file is rebuilt from (`LadderStore.load`), so neither resets the budget, frees a
latch nobody resumed, nor pages again.

Pure: audit records in, a `LadderState` out. Counted are `step_intent` (an action, a level run
for the environment or for a host), `engaged` (an engagement for the environment unless it
says otherwise, and one for each of its `hosts`), `latched` and `resumed` (the environment's,
or a host's when the record names one; `reset_counters` clears what the resume cleared) and
the pages sent, resolved and dropped.
"""

from __future__ import annotations

from typing import Any

from escalator.ladder.model import LadderState, Latch, Page
from escalator.timestamps import AUDIT, parse_utc

REASON_CHARS = 300  # a latch reason is shown in tables and pages
_COUNTED = frozenset({"step_intent", "engaged", "latched", "resumed", "notify_sent",
                      "notify_resolved", "notify_dropped"})


def counters_from_audit(records: list[dict[str, Any]], environment: str,
                        now: float | None = None) -> LadderState:
    """Counters, open pages and latches nobody resumed (the environment's and the hosts'),
    rebuilt from the audit log, so a lost or corrupt state file never resets the budget nor
    pages again; a time in the future counts as `now`."""
    counts = _Counts()
    pages: dict[str, Page] = {}
    for record in records:
        event = record.get("event")
        ts = _parse_iso(record.get("ts")) if event in _COUNTED else None
        if ts is None:
            continue
        ts = ts if now is None else min(ts, now)
        data = record.get("data")
        data = data if isinstance(data, dict) else {}
        if event in ("notify_sent", "notify_resolved", "notify_dropped"):
            _page_record(pages, event, ts, record, data)
        else:
            counts.take(str(event), ts, record, data)
    return LadderState(environment, latch=counts.latch, actions=tuple(counts.actions),
                       engagements=tuple(counts.engagements), level_runs=tuple(counts.runs),
                       pages=tuple(pages.values()),
                       host_latches=tuple(counts.host_latches.values()),
                       host_actions=tuple(counts.host_actions),
                       host_engagements=tuple(counts.host_engagements),
                       host_runs=tuple(counts.host_runs))


class _Counts:
    """The counters and latches as the audit records tell them, one record at a time."""

    def __init__(self) -> None:
        self.actions: list[float] = []
        self.engagements: list[float] = []
        self.runs: list[tuple[str, float]] = []
        self.latch: Latch | None = None
        self.host_latches: dict[str, Latch] = {}
        self.host_actions: list[tuple[str, float]] = []
        self.host_engagements: list[tuple[str, float]] = []
        self.host_runs: list[tuple[str, str, float]] = []

    def take(self, event: str, ts: float, record: dict[str, Any], data: dict[str, Any]) -> None:
        host = str(data.get("host") or "")
        if event == "step_intent":
            self.actions.append(ts)
            level = str(data.get("level"))
            if host:
                self.host_actions.append((host, ts))
                self.host_runs.append((level, host, ts))
            else:
                self.runs.append((level, ts))
        elif event == "engaged":
            if data.get("environment", True) is not False:  # records before hosts: always
                self.engagements.append(ts)
            hosts = data.get("hosts")
            self.host_engagements += [(str(h), ts) for h in hosts or ()
                                      if isinstance(hosts, list)]
        elif event == "latched":
            latch = Latch(str(record.get("reason", ""))[:REASON_CHARS], ts,
                          str(record.get("run_id", "")),
                          next_step=str(data.get("next_step") or ""), host=host)
            if host:
                self.host_latches[host] = latch
            else:
                self.latch = latch
        else:  # resumed; --reset-counters cleared the loop breaker and the budget
            self._resumed(host, data.get("reset_counters") is True)

    def _resumed(self, host: str, reset: bool) -> None:
        if not host:
            self.latch = None
            if reset:
                self.actions, self.engagements = [], []
            return
        self.host_latches.pop(host, None)
        if reset:
            self.host_actions = [(h, t) for h, t in self.host_actions if h != host]
            self.host_engagements = [(h, t) for h, t in self.host_engagements if h != host]


def _page_record(pages: dict[str, Page], event: str, ts: float, record: dict[str, Any],
                 data: dict[str, Any]) -> None:
    """An open page as the audit tells it: sent (again), or resolved."""
    if not isinstance(data.get("dedup_key"), str):
        return
    key = data["dedup_key"]
    if event != "notify_sent":
        pages.pop(key, None)
        return
    earlier = pages.get(key)
    pages[key] = Page(key, str(data.get("kind", "")), earlier.since if earlier else ts, ts,
                      str(record.get("run_id", "")))


def _parse_iso(text: Any) -> float | None:
    return parse_utc(text, AUDIT)
