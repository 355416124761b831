"""Page a human, once per problem, and resolve the page when the problem is gone.

At the end of each engagement (`Engine.end`) and after a resume, `page_round` asks `paging`
which problems to page (new ones, ones due again after `repage`, ones not delivered yet) and
which open pages to resolve, sends them through the configured notifier (the `notify` argv,
which gets the page as JSON on stdin, or the built-in webhook) and keeps the open pages and
the notifier's health in the ladder state, so a restart neither repeats nor forgets a page.
Fail open: a notifier that fails is audited (`notify_failed`), shows in `ladder status`, the
report and the metrics, and is retried at the next run; it never changes what the ladder does.
Inside a maintenance window nothing is sent (`notify_suppressed`): the first run after it does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from escalator.durations import format_duration
from escalator.ladder import decide, paging
from escalator.ladder.actions import run_action
from escalator.ladder.model import NotifierHealth, Observation, Page, Plan
from escalator.ladder.paging import Problem
from escalator.ladder.plans import label
from escalator.redact import redact_value

if TYPE_CHECKING:
    from escalator.ladder.engine import Engine

NOTIFY_TIMEOUT = 30.0
QUIET = frozenset({"suppressed", "interrupted", "crashed", "error"})  # verdicts that page nothing


def page_round(engine: Engine, run_id: str, verdict: str, obs: Observation | None,
               plan: Plan | None, reason: str = "") -> None:
    """Send what this engagement's end calls for: the latch, the problems nothing may act on
    or what a converge left red, and the resolves of open pages whose problem is gone."""
    if verdict in QUIET:
        return
    environment, state = engine.store.environment, engine.state
    # every latch is a problem (the environment's, each host's); a latched ladder pages
    # nothing else
    firing = tuple(paging.latch_problem(latch, environment, obs, plan)
                   for latch in state.latches)
    if state.latch is None and obs is not None and verdict == "unactionable":
        firing += paging.problems_of(obs, environment)
    elif state.latch is None and obs is not None and verdict == "still_red":
        firing += (paging.still_red(obs, environment, reason),)
    present = paging.present_keys(state.pages, firing, obs, environment)
    now = engine.now()
    todo = paging.plan_round(state.pages, firing, present, now, engine.config.repage)
    if not todo.send and not todo.resolve:
        return
    window = decide.active_window(engine.config, engine.env.now())
    if window is not None:
        engine.store.audit("notify_suppressed", run_id, "maintenance window" + (
            f" ({window.reason})" if window.reason else ""),
            keys=[p.key for p in todo.send] + [p.key for p in todo.resolve])
        return
    for problem in todo.send:
        _trigger(engine, run_id, problem, plan)
    for page in todo.resolve:
        _resolve(engine, run_id, page, obs)


def _trigger(engine: Engine, run_id: str, problem: Problem, plan: Plan | None) -> None:
    now, state = engine.now(), engine.state
    page = state.page(problem.key)
    since = problem.since or (page.since if page is not None else now)
    body = paging.payload(problem, engine.store.environment, run_id, since, did(engine),
                          plan)
    repeat = page is not None and page.sent is not None
    error = _deliver(engine, run_id, body)
    summary = paging.headline(problem.kind, problem.reason, problem.host)
    sent = now if error is None else (page.sent if page is not None else None)
    record = Page(problem.key, problem.kind, since, sent, run_id, summary, problem.severity,
                  retry=error is not None)
    pages = (*(p for p in state.pages if p.key != problem.key), record)
    latch, held = state.latch, state.host_latches
    if error is None and problem.kind == "latched":
        if latch is not None and not problem.host:
            latch = replace(latch, paged=True)
        held = tuple(replace(h, paged=True) if h.host == problem.host else h for h in held)
    engine.save(engine.state.with_(pages=pages, latch=latch, host_latches=held))
    if error is None:
        engine.store.audit("notify_sent", run_id, f"{problem.kind}: paged" + (
            f" again (open since {format_duration(round(now - since))})" if repeat else ""),
            dedup_key=problem.key, kind=problem.kind)
        engine.tell(f"paged: {summary} ({problem.key})")


def _resolve(engine: Engine, run_id: str, page: Page, obs: Observation | None) -> None:
    if page.sent is None:  # never delivered: nothing to close at the pager
        engine.save(engine.state.with_(pages=tuple(p for p in engine.state.pages
                                                   if p.key != page.key)))
        engine.store.audit("notify_dropped", run_id, f"{page.kind}: gone before it could be "
                           "paged", dedup_key=page.key, kind=page.kind)
        return
    why = ("the ladder was resumed" if page.kind == "latched"
           else "no longer seen" + (f" ({obs.passed} of {obs.total} scenarios pass)"
                                    if obs is not None else ""))
    body = paging.resolved_payload(page, engine.store.environment, run_id, engine.now(), why)
    if _deliver(engine, run_id, body) is None:
        engine.save(engine.state.with_(pages=tuple(p for p in engine.state.pages
                                                   if p.key != page.key)))
        engine.store.audit("notify_resolved", run_id, f"{page.kind}: resolved ({why})",
                           dedup_key=page.key, kind=page.kind)
        engine.tell(f"resolved: {page.summary} ({page.key})")


def _deliver(engine: Engine, run_id: str, body: dict[str, Any]) -> str | None:
    """Hand `body` to the notifier; None when it took it, else why not (audited, and kept
    as the notifier's health)."""
    config, store = engine.config, engine.store
    body = redact_value(body, store.secrets)
    if config.webhook is None and not config.notify:
        store.audit("notify_skipped", run_id, "no notify command configured", page=body)
        return None
    details: dict[str, Any] = {}
    if config.webhook is not None:
        from escalator.ladder import webhook

        error = webhook.post(config.webhook, body, engine.env.environ, engine.env.sleep)
    else:
        result = run_action(config.notify, timeout=NOTIFY_TIMEOUT,
                            environ=dict(engine.env.environ), cwd=config.base_dir,
                            stdin=json.dumps(body).encode(), kill_grace=config.kill_grace,
                            secrets=store.secrets)
        error = None if result.ok else f"notifier {result.status}"
        details = {"exit_code": result.exit_code, "output": result.output,
                   "error": result.error}
    _health(engine, error)
    if error is not None:
        store.audit("notify_failed", run_id, error, dedup_key=body["dedup_key"],
                    page_event=body["event"], **details)
        engine.say(f"{store.environment}: the notifier failed: {error}")
    return error


def _health(engine: Engine, error: str | None) -> None:
    now, health = engine.now(), engine.state.notifier
    if error is None:
        fresh = NotifierHealth(last_ok=now)
    else:
        fresh = replace(health, failing_since=health.failing_since or now,
                        error=redact_value(error, engine.store.secrets))
    if fresh != health:
        engine.save(engine.state.with_(notifier=fresh))


def did(engine: Engine) -> str:
    """What the ladder did about it, in one line, for the page."""
    if engine.steps:
        return "ran " + ", ".join(f"{s.label} ({s.status}"
                                  + (f", exit {s.exit_code})" if s.exit_code not in (0, None)
                                     else ")") for s in engine.steps)
    last = dict(engine.state.last_engagement)
    ran = [label(str(s.get("level")), s.get("host")) for s in last.get("steps") or []
           if isinstance(s, dict)]
    if last.get("verdict") and ran:
        return (f"no level ran now; its last engagement ({last.get('run_id', '?')}) ran "
                f"{', '.join(ran)} and ended {last['verdict']}")
    return "no level ran: the ladder does not act on this"
