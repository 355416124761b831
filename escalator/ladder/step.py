"""One level of a cascade, with its record keeping: counted, intent fsynced, run by a keeper.

The order is what crash safety rests on: count the action, take a fresh level lock, write and
fsync the intent, fork the keeper (`keeper.start`) that runs the level and outlives the engine,
then wait for its answer. A stop signal that arrives meanwhile is noted (`stop.deferred`),
passed on to the keeper, which ends the level's group, and raised only once the interruption
is on record: the intent keeps `stopped_by`, and a level that is not idempotent latches. Called
by the engine's cascade.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

from escalator.ladder import keeper, stop
from escalator.ladder.actions import ActionResult
from escalator.ladder.model import Intent, Latch, Level, Plan

if TYPE_CHECKING:
    from escalator.ladder.engine import Engine


def run_level(engine: Engine, run_id: str, plan: Plan, level_id: str) -> ActionResult:
    level, now, store = engine.config.level(level_id), engine.now(), engine.store
    environ = {**engine.env.environ, "ESCALATOR_ENV": engine.state.environment,
               "ESCALATOR_LEVEL": level_id, "ESCALATOR_PLAN": " ".join(plan.levels),
               "ESCALATOR_RUN_ID": run_id, "ESCALATOR_TARGETS": " ".join(plan.targets)}
    engine.running = level_id
    with stop.deferred():  # a stop signal is passed on to the keeper, never lost
        # Count first, then the level lock and the fsynced intent, then the keeper: a crash
        # can only over-count, and a level whose intent could not be written never starts.
        engine.save(engine.state.with_(actions=(*engine.state.actions, now),
                                       level_runs=(*engine.state.level_runs, (level_id, now))))
        lock = store.open_level_lock()
        try:
            intent = Intent(run_id, level_id, level.idempotent, now, timeout=level.timeout,
                            boot=engine.boot, mono=engine.env.monotonic(),
                            engine_pid=os.getpid())
            store.clear_result()
            store.write_intent(intent)
            store.audit("step_intent", run_id, f"running level {level_id}", level=level_id,
                        argv=list(level.run), plan=list(plan.levels))
            kept = keeper.start(level, intent, store, environ=environ,
                                cwd=engine.config.base_dir, kill_grace=engine.config.kill_grace,
                                lock_fd=lock)
        except BaseException:
            store.drop_level_lock()
            raise
        finally:
            os.close(lock)  # the keeper and the level hold it now
        result, audited = kept.wait(engine.config.kill_grace)
        store.drop_level_lock()
        if not audited:  # the keeper records its level itself; this is for when it could not
            store.audit("step_finished", run_id, f"level {level_id} {result.status}",
                        level=level_id, status=result.status, exit_code=result.exit_code,
                        duration=round(result.duration, 3), output=result.output,
                        error=result.error)
        engine.add_step(run_id, level_id, result)
        if result.interrupted is not None:
            _stopped_during(engine, run_id, level, result)
        else:
            store.clear_intent()
            store.clear_result()
    stop.raise_pending()  # the engine was asked to stop: now that it is all on record
    engine.running = None
    return result


def _stopped_during(engine: Engine, run_id: str, level: Level, result: ActionResult) -> None:
    """The engine is being stopped and the keeper has killed the level: leave a record the
    next engine reads as an orderly stop; a level that is not idempotent latches now (the page
    waits for the next start: paging could outlast the service manager's patience)."""
    intent = engine.store.read_intent()
    if not result.started or intent is None:
        engine.store.clear_intent()
        return
    engine.store.write_intent(replace(intent, stopped_by=result.interrupted))
    if not level.idempotent and engine.state.latch is None:
        reason = (f"level {level.id} (not idempotent) was stopped by {result.interrupted} "
                  "while it ran; its effect is unknown")
        engine.save(engine.state.with_(latch=Latch(reason, engine.now(), run_id)))
        engine.store.audit("latched", run_id, reason)
