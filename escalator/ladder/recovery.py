"""What an engine that is gone left behind, settled when the next one starts.

An intent record means a level ran when its engine stopped. Its keeper (`keeper`) normally
ends it at its timeout and records how it ended; while any process of the level lives
(`procs.LevelProcesses`: the keeper, the level's process group, any holder of the level lock)
the new engine waits, at most for what is left of the level's timeout plus the kill grace (on
the monotonic clock, from the level's start), then stops them (SIGTERM, `kill_grace`, SIGKILL);
it never starts a second copy. Then: a level the engine stopped itself (`stopped_by`) is audited
as `step_interrupted`, one found after a crash as `state_recovered` (with the end its keeper
recorded, if any); an idempotent level may run again, any other latches: the engagement that
ran it never verified it (a host's level latches that host only). An engagement left open (no
verdict) is closed as `crashed`, with the levels that ran. Called by `Engine.recover`, with the
environment's lock held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from escalator.durations import format_duration
from escalator.ladder.config import shown_program
from escalator.ladder.keeper import result_of
from escalator.ladder.model import Intent
from escalator.ladder.paging import interrupted_hint
from escalator.ladder.plans import label
from escalator.ladder.procs import LevelProcesses
from escalator.ladder.step import stopped_reason

if TYPE_CHECKING:
    from escalator.ladder.engine import Engine

POLL = 0.25  # how often to look whether a level of a gone engine has ended
SLACK = 2.0  # seconds beyond timeout and kill grace for the keeper to end the level itself


def recover(engine: Engine) -> None:
    intent = engine.store.read_intent()
    ended = None
    if intent is not None:
        _outlive(engine, intent)
        ended = engine.store.read_result(intent)
        _settle(engine, intent, ended)
        engine.store.clear_intent()
        engine.store.clear_result()
    _close_open_engagement(engine, intent, ended)


def _outlive(engine: Engine, intent: Intent) -> None:
    """Wait for the level's processes to end (bounded by its timeout), then stop them."""
    if intent.boot and intent.boot != engine.boot:
        return  # the machine rebooted since: nothing of that level runs
    if engine.store.read_result(intent) is not None:
        return  # its keeper saw it end: what it left in the background is its own business
    level = LevelProcesses(intent.pid, intent.pid_start, engine.store.level_lock)
    if not level.busy():
        return
    env, store = engine.env, engine.store
    timeout = intent.timeout
    if timeout is None:
        known = intent.level in engine.config.level_ids
        timeout = engine.config.level(intent.level).timeout if known else 0.0
    elapsed = env.monotonic() - intent.mono if intent.mono is not None else 0.0
    wait = max(0.0, timeout - elapsed) + engine.config.kill_grace + SLACK
    pids = level.pids()
    reason = (f"level {label(intent.level, intent.host)} of an engine that is gone still "
              f"runs (pids "
              f"{' '.join(map(str, pids)) or 'unknown'}): waiting for it, at most "
              f"{format_duration(round(wait, 1))}")
    store.audit("level_orphaned", intent.run_id, reason, level=intent.level, pids=pids,
                pid=intent.pid)
    engine.say(f"{store.environment}: {reason}")
    deadline = env.monotonic() + wait
    while level.busy() and env.monotonic() < deadline:
        env.sleep(min(POLL, max(0.0, deadline - env.monotonic())))
    if not level.busy():
        return
    pids = level.pids()
    gone = level.stop(engine.config.kill_grace, env.sleep, env.monotonic)
    what = "were stopped" if gone else "could not be stopped"
    store.audit("level_killed", intent.run_id, f"level {label(intent.level, intent.host)} "
                f"outlived its timeout: its processes {what}", level=intent.level, pids=pids,
                stopped=gone, **_on(intent))
    if not gone and engine.state.latch is None:
        engine.latch(intent.run_id, f"processes of level {intent.level} could not be stopped "
                     f"(pids {' '.join(map(str, level.pids()))})")


def _settle(engine: Engine, intent: Intent, ended: dict[str, Any] | None) -> None:
    store, level, name, on = engine.store, intent.level, label(intent.level, intent.host), \
        _on(intent)
    if intent.stopped_by:
        reason = stopped_reason(level, intent.stopped_by)
        store.audit("step_interrupted", intent.run_id, f"level {name} was stopped by "
                    f"{intent.stopped_by} while it ran (an orderly stop of the engine)",
                    level=level, signal=intent.stopped_by, **on)
    else:
        reason = (f"level {level} (not idempotent) was interrupted by an engine crash; its "
                  "effect is unknown")
        how = (f"; its keeper recorded it {_status(ended)}" if ended is not None
               else "; how it ended is unknown")
        store.audit("state_recovered", intent.run_id, f"level {name} was running when the "
                    f"engine stopped{how}", level=level, pid=intent.pid,
                    status=_status(ended) if ended else None, **on)
        if intent.idempotent:
            store.audit("step_interrupted", intent.run_id, f"level {name} is idempotent: it "
                        "may run again", level=level, **on)
    if not intent.idempotent and not engine.latched(intent.host):
        known = level in engine.config.level_ids
        program = shown_program(engine.config.level(level).run, engine.config) if known \
            else "its program"
        engine.latch(intent.run_id, reason,
                     interrupted_hint(store.environment, level, program, intent.targets,
                                      intent.host), host=intent.host)


def _on(intent: Intent) -> dict[str, str]:
    """The host of a host-scoped level, for its audit records."""
    return {"host": intent.host} if intent.host else {}


def _status(ended: dict[str, Any] | None) -> str:
    return "interrupted" if ended is None else result_of(ended).status


def _close_open_engagement(engine: Engine, intent: Intent | None,
                           ended: dict[str, Any] | None) -> None:
    from escalator.ladder.engine import FAILING, StepRecord

    last = dict(engine.state.last_engagement)
    if not last or "verdict" in last:
        return
    run_id = str(last.get("run_id", ""))
    steps = []
    for step in last.get("steps") or []:
        if isinstance(step, dict):
            steps.append(StepRecord(str(step.get("level")), str(step.get("status")),
                                    step.get("exit_code"), float(step.get("duration") or 0.0),
                                    step.get("host") or None))
    if intent is not None and intent.run_id == run_id and not intent.stopped_by:
        steps.append(StepRecord(intent.level, _status(ended),
                                None if ended is None else ended.get("exit_code"),
                                0.0 if ended is None else float(ended.get("duration") or 0),
                                intent.host or None))
    engine.steps, engine.engaged = steps, run_id
    engine.end(run_id, "crashed", "the engine stopped before the engagement ended", FAILING)
