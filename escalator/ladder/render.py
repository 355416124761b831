"""Text for people: the plan, the ladder's status, its history, an engagement's outcome.

Pure functions from values to strings (tables by tabulate); only the commands write them out.
A level run for one host is named `<level> [<host>]` everywhere, as a fan-out scenario is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tabulate import tabulate

from escalator.durations import format_duration
from escalator.ladder import decide
from escalator.ladder.config import shown_program
from escalator.ladder.engine import Engagement
from escalator.ladder.model import (
    Decision,
    Intent,
    LadderConfig,
    LadderState,
    Latch,
    Level,
    Maintenance,
    Observation,
    Page,
    Plan,
)
from escalator.ladder.paging import resume_hint
from escalator.ladder.plans import label
from escalator.timestamps import TABLE, utc

HISTORY_EVENTS = ("engaged", "planned", "step_finished", "recovered", "latched", "resumed",
                  "self_healed", "transient", "would_run", "reconverge", "state_recovered",
                  "state_corrupt", "no_action", "ended", "step_interrupted", "level_orphaned",
                  "level_killed", "state_rebuilt", "resume_ignored", "io_error", "suppressed",
                  "cascade_stopped", "notify_sent", "notify_failed", "notify_suppressed",
                  "notify_skipped", "notify_resolved", "notify_dropped", "watch_started",
                  "watch_stopped", "store_failed", "converge_progress")


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return utc(ts, TABLE)


def plan_text(environment: str, config: LadderConfig, obs: Observation, plan: Plan | None,
              decision: Decision | None, latch: Latch | None = None) -> str:
    """What the ladder would do now, from one fresh run (`ladder plan`, `escalate --dry-run`).

    >>> cfg = LadderConfig(levels=(Level("deploy", ("ops/deploy.sh",), 300.0, 30.0),))
    >>> print(plan_text("prod", cfg, Observation(3, 3, 0, 0), None, None), end="")
    prod: nothing to do (3 passed, 0 failed, 0 unknown of 3)
    >>> print(plan_text("prod", cfg, Observation(3, 3, 0, 0), None, None,
    ...                 Latch("hourly budget", 1_800_000_000.0)), end="")
    prod: LATCHED since 2027-01-15 08:00:00Z: hourly budget
    prod: it runs no level until: escalator ladder resume -e prod --reason TEXT
    prod: nothing to do (3 passed, 0 failed, 0 unknown of 3)
    """
    counts = f"{obs.passed} passed, {obs.failed} failed, {obs.unknown} unknown of {obs.total}"
    head = ""
    if latch is not None:
        head = (f"{environment}: LATCHED since {when(latch.since)}: {latch.reason}\n"
                f"{environment}: it runs no level until: escalator ladder resume -e "
                f"{environment} --reason TEXT\n")
    if plan is None or decision is None:
        why = f"; {obs.degraded}" if obs.degraded else ""
        if not obs.green and not obs.degraded:
            why = "; no failure may act"
        return f"{head}{environment}: nothing to do ({counts}{why})\n"
    lines = [f"{environment}: plan from level {plan.start} ({counts})", _plan_table(plan, config),
             "needed by: " + _names(plan.triggers)]
    if plan.subsumed:
        lines.append("covered by the cascade: " + _names(plan.subsumed))
    lines += [f"latches now: {host}: {why}" for host, why in decision.host_latches]
    lines.append(f"now: {decision.verdict} ({decision.reason})")
    return head + "\n".join(lines) + "\n"


def _plan_table(plan: Plan, config: LadderConfig) -> str:
    """One row per level run; with a `host` column when a level runs for hosts."""
    if not plan.hosts:
        rows = [_plan_row(i, config.level(lid), config) for i, lid in enumerate(plan.levels, 1)]
        return tabulate(rows, headers=("#", "level", "run", "timeout", "quiesce", "idempotent"))
    rows = [_plan_row(i, config.level(lid), config, host or "-")
            for i, (lid, host) in enumerate(plan.sequence, 1)]
    return tabulate(rows, headers=("#", "level", "host", "run", "timeout", "quiesce",
                                   "idempotent"))


def _plan_row(index: int, level: Level, config: LadderConfig, *host: str) -> tuple[Any, ...]:
    quiesce = format_duration(level.quiesce) if level.quiesce else "none"
    return (index, level.id, *host, _argv(level.run, config), format_duration(level.timeout),
            quiesce, "yes" if level.idempotent else "no")


def _argv(argv: tuple[str, ...], config: LadderConfig) -> str:
    """The argv as written in the config: paths under the project shown relative to it."""
    return " ".join((shown_program(argv, config), *argv[1:]))


def _names(triggers: Iterable[Any]) -> str:
    return ", ".join(f"{t.name} (@escalate.{t.level})" for t in triggers)


def status_text(environment: str, config: LadderConfig, state: LadderState, now: float,
                pending: dict[str, Any] | None = None, intent: Intent | None = None,
                watcher: str = "-") -> str:
    """The latch (and a resume request waiting for it), a maintenance window, the counters
    against their limits, the level in flight, the pages and the notifier, the watcher, and
    each level's cooldown."""
    latch = state.latch
    window = decide.active_window(config, now)
    spent = sum(1 for t in state.actions if t > now - decide.HOUR)
    recent = sum(1 for t in state.engagements if t > now - config.loop_window)
    summary = [("environment", environment), ("state", _state(latch, window, state))]
    if latch is not None:
        summary += [("latched because", latch.reason), ("latched since", when(latch.since)),
                    ("next step", latch.next_step or resume_hint(environment, latch))]
    for held in state.host_latches:
        summary += [(f"latched host {held.host}", f"since {when(held.since)}: {held.reason}"),
                    (f"next step {held.host}", held.next_step or resume_hint(environment, held))]
    if window is not None and latch is not None:
        summary.append(("maintenance", _window(window)))
    if pending is not None:
        at = pending.get("at")
        reset = " (and clear the counters)" if pending.get("reset_counters") else ""
        summary.append(("resume requested", f"by {pending.get('who', '?')} at "
                        f"{when(at if isinstance(at, int | float) else None)}{reset}: "
                        f"{pending.get('why', '')}"))
    summary += [
        ("actions in the last hour", f"{spent} of {config.max_actions_per_hour}"),
        (f"engagements in {format_duration(config.loop_window)}",
         f"{recent} of {config.loop_engagements}"),
        ("last engagement", _last(dict(state.last_engagement))),
    ]
    if intent is not None:
        summary.append(("level in flight", _in_flight(intent)))
    summary += [("notifier", _notifier(config, state)),
                *(("open page", _page(page)) for page in state.pages),
                ("watcher", watcher)]
    levels = []
    for level in config.levels:
        for host in _cooled_hosts(level, state):
            last = state.last_run(level.id, host)
            until = last + level.cooldown if last is not None else None
            levels.append((label(level.id, host), when(last),
                           format_duration(level.cooldown) if level.cooldown else "none",
                           "ready" if until is None or until <= now else f"until {when(until)}"))
    return (tabulate(summary, tablefmt="plain") + "\n\n"
            + tabulate(levels, headers=("level", "last run", "cooldown", "may run")) + "\n"
            + _hosts_table(config, state, now))


def _cooled_hosts(level: Level, state: LadderState) -> list[str | None]:
    """A row for the level itself (its runs for the environment), then one for each host it
    ran for (a host-scoped level's cooldown is the host's)."""
    hosts = sorted({host for lid, host, _ in state.host_runs if lid == level.id})
    if level.per_host and hosts and state.last_run(level.id) is None:
        return [*hosts]
    return [None, *hosts]


def _hosts_table(config: LadderConfig, state: LadderState, now: float) -> str:
    """Each host's own counters against its limits, for the hosts that have any."""
    hosts = sorted({h for h, _ in (*state.host_actions, *state.host_engagements)}
                   | {latch.host for latch in state.host_latches})
    if not hosts:
        return ""
    window = format_duration(config.host_loop_window)
    rows = [(host, f"{_count(state.host_actions, host, now - decide.HOUR)} of "
                   f"{config.host_actions_per_hour}",
             f"{_count(state.host_engagements, host, now - config.host_loop_window)} of "
             f"{config.host_loop_engagements}",
             "LATCHED" if state.host_latch(host) else "ready") for host in hosts]
    return "\n" + tabulate(rows, headers=("host", "actions in the last hour",
                                          f"engagements in {window}", "state")) + "\n"


def _count(pairs: tuple[tuple[str, float], ...], host: str, since: float) -> int:
    return sum(1 for h, t in pairs if h == host and t > since)


def _state(latch: Latch | None, window: Maintenance | None, state: LadderState) -> str:
    if latch is not None:
        return "LATCHED"
    if window is not None:
        return "MAINTENANCE: " + _window(window)
    held = [held.host for held in state.host_latches]
    if held:
        return f"ready; latched for {len(held)} host{'s' * (len(held) > 1)}: {', '.join(held)}"
    return "ready"


def _window(window: Maintenance) -> str:
    why = f" ({window.reason})" if window.reason else ""
    return f"window until {when(window.end)}{why}: no level runs, nothing pages"


def _notifier(config: LadderConfig, state: LadderState) -> str:
    health = state.notifier
    if config.webhook is None and not config.notify:
        return "none configured (pages are only audited)"
    if health.failing_since is not None:
        return f"FAILING since {when(health.failing_since)}: {health.error}"
    if health.last_ok is None:
        return "ok (nothing sent yet)"
    return f"ok (last page taken {when(health.last_ok)})"


def _page(page: Page) -> str:
    sent = f"sent {when(page.sent)}" if page.sent is not None else "NOT DELIVERED yet"
    if page.retry and page.sent is not None:
        sent += ", the repeat NOT DELIVERED yet"
    return f"{page.kind} since {when(page.since)}, {sent}: {page.key}"


def _last(last: dict[str, Any]) -> str:
    if not last:
        return "-"
    plan = " > ".join(last.get("plan", []))
    hosts = last.get("hosts")
    if isinstance(hosts, list) and hosts:
        plan += f" [{', '.join(str(host) for host in hosts)}]"
    return f"{last.get('run_id', '?')} at {when(last.get('started'))}: {plan} " \
           f"({last.get('verdict', 'running')})"


def _in_flight(intent: Intent) -> str:
    text = f"{label(intent.level, intent.host)} since {when(intent.started)}"
    if intent.pid is not None:
        text += f", pid {intent.pid}"
    if intent.stopped_by:
        return text + f", stopped by {intent.stopped_by}: the next engine settles it"
    return text


def history_text(records: list[dict[str, Any]], limit: int = 50) -> str:
    """Engagements and actions from the audit log, newest last."""
    rows = []
    for record in records:
        if record.get("event") not in HISTORY_EVENTS:
            continue
        data = record.get("data") or {}
        level = label(str(data.get("level", "")), data.get("host") or None).strip() if \
            data.get("level") else str(data.get("host") or "")
        rows.append((str(record.get("ts", ""))[:19].replace("T", " "), record.get("run_id", ""),
                     record.get("event", ""), level,
                     _cut(str(record.get("reason", "")), 70), record.get("actor", "")))
    if not rows:
        return "no engagements recorded\n"
    return tabulate(rows[-limit:], headers=("time (UTC)", "run", "event", "level", "detail",
                                            "actor")) + "\n"


def engagement_text(environment: str, result: Engagement) -> str:
    """One line of verdict, then the levels that ran."""
    line = f"{environment}: {result.verdict} - {result.reason} (run {result.run_id})"
    if not result.steps:
        return line + "\n"
    rows = [(s.label, s.status, "-" if s.exit_code is None else s.exit_code,
             format_duration(s.duration)) for s in result.steps]
    return line + "\n" + tabulate(rows, headers=("level", "status", "exit", "took")) + "\n"


def resume_text(environment: str, config: LadderConfig, state: LadderState, now: float,
                reset: bool, latches: tuple[Latch, ...] = ()) -> str:
    """What a resume of `latches` (the environment's when none is given) cleared and kept,
    from the state before it. The next failure latches again at once when a kept counter is
    at its limit: say so."""
    text = "" if latches and all(latch.host for latch in latches) else \
        _resumed_environment(environment, config, state, now, reset)
    for latch in latches:
        if latch.host:
            text += _resumed_host(environment, config, state, now, reset, latch.host)
    return text


def _resumed_host(environment: str, config: LadderConfig, state: LadderState, now: float,
                  reset: bool, host: str) -> str:
    spent = _count(state.host_actions, host, now - decide.HOUR)
    recent = _count(state.host_engagements, host, now - config.host_loop_window)
    loop = (f"its loop breaker ({recent} of {config.host_loop_engagements} engagements in "
            f"{format_duration(config.host_loop_window)})")
    budget = (f"its hourly budget ({spent} of {config.host_actions_per_hour} actions in the "
              "last hour)")
    if reset:
        return f"{environment}: resumed {host}; cleared: {loop}, {budget}; kept: its cooldowns\n"
    full = recent >= config.host_loop_engagements or spent >= config.host_actions_per_hour
    warning = "; at a limit, so its next failure latches it again at once" if full else ""
    return f"{environment}: resumed {host}; kept: {loop}, {budget}, its cooldowns{warning}\n"


def _resumed_environment(environment: str, config: LadderConfig, state: LadderState,
                         now: float, reset: bool) -> str:
    spent = sum(1 for t in state.actions if t > now - decide.HOUR)
    recent = sum(1 for t in state.engagements if t > now - config.loop_window)
    window = format_duration(config.loop_window)
    loop = f"loop breaker ({recent} of {config.loop_engagements} engagements in {window})"
    budget = f"hourly budget ({spent} of {config.max_actions_per_hour} actions in the last hour)"
    if reset:
        return (f"{environment}: resumed; cleared: {loop}, {budget}; kept: the cooldowns\n")
    full = recent >= config.loop_engagements or spent >= config.max_actions_per_hour
    warning = "; at a limit, so the next failure latches again at once" if full else ""
    return (f"{environment}: resumed; kept: {loop}, {budget}, the cooldowns{warning} "
            "(--reset-counters clears the loop breaker and the budget)\n")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
