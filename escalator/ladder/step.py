"""One level of a cascade, with its record keeping: counted, intent fsynced, run by a keeper.

The order is what crash safety rests on: count the action, take a fresh level lock, write and
fsync the intent, fork the keeper (`keeper.start`) that runs the level and outlives the engine,
then wait for its answer. A stop signal that arrives meanwhile is noted (`stop.deferred`),
passed on to the keeper, which ends the level's group, and raised only once the interruption
is on record: the intent keeps `stopped_by`, and a level that is not idempotent latches (its
host only, for a host's level). Called by the cascade (`cascade.run`).

A host-scoped level runs for one host: it gets `ESCALATOR_HOST`, `ESCALATOR_GROUP` and
`ESCALATOR_ADDRESS`, is counted for that host (its budget, its cooldown) and for the
environment's budget, and its intent, audit records and result name the host.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from typing import TYPE_CHECKING

from escalator.durations import format_duration
from escalator.errors import EscalatorError
from escalator.ladder import keeper, stop
from escalator.ladder.actions import ActionResult
from escalator.ladder.config import shown_program
from escalator.ladder.model import Intent, LadderState, Level, Plan
from escalator.ladder.paging import interrupted_hint
from escalator.ladder.plans import label

if TYPE_CHECKING:
    from escalator.ladder.engine import Engine


HOST_VARIABLES = ("ESCALATOR_HOST", "ESCALATOR_GROUP", "ESCALATOR_ADDRESS")


def run_level(engine: Engine, run_id: str, plan: Plan, level_id: str,
              host: str | None = None) -> ActionResult:
    """Run `level_id` once, for `host` (a host-scoped level) or for the environment."""
    level, now, store = engine.config.level(level_id), engine.now(), engine.store
    part = plan.host(host) if host is not None else None
    group = " ".join(part.groups) if part is not None else ""
    environ = _environ(engine, run_id, plan, level_id)
    if host is not None:
        environ.update(ESCALATOR_HOST=host, ESCALATOR_GROUP=group,
                       ESCALATOR_ADDRESS=_address(engine, host, part.groups if part else ()))
    on = {"host": host} if host is not None else {}
    name = label(level_id, host)
    engine.running = name
    with stop.deferred():  # a stop signal is passed on to the keeper, never lost
        # Count first, then the level lock and the fsynced intent, then the keeper: a crash
        # can only over-count, and a level whose intent could not be written never starts.
        engine.save(counted(engine.state, level_id, host, now))
        lock = store.open_level_lock()
        try:
            intent = Intent(run_id, level_id, level.idempotent, now, timeout=level.timeout,
                            boot=engine.boot, mono=engine.env.monotonic(),
                            engine_pid=os.getpid(), targets=" ".join(plan.targets),
                            host=host or "", group=group)
            store.clear_result()
            store.write_intent(intent)
            store.audit("step_intent", run_id, f"running level {name}", level=level_id,
                        argv=list(level.run), plan=list(plan.levels), **on)
            kept = keeper.start(level, intent, store, environ=environ,
                                cwd=engine.config.base_dir, kill_grace=engine.config.kill_grace,
                                lock_fd=lock)
        except BaseException:
            store.drop_level_lock()
            raise
        finally:
            os.close(lock)  # the keeper and the level hold it now
        engine.tell(f"level {name} started: {shown_program(level.run, engine.config)} "
                    f"(timeout {format_duration(level.timeout)}"
                    f"{'' if level.idempotent else ', not idempotent'})")
        result, audited = kept.wait(engine.config.kill_grace)
        result = _stopped_meanwhile(result)
        store.drop_level_lock()
        if not audited:  # the keeper records its level itself; this is for when it could not
            store.audit("step_finished", run_id, f"level {name} {result.status}",
                        level=level_id, status=result.status, exit_code=result.exit_code,
                        duration=round(result.duration, 3), output=result.output,
                        error=result.error, **on)
        engine.add_step(run_id, level_id, result, host)
        engine.tell(_ended(name, result))
        if result.interrupted is not None:
            _stopped_during(engine, run_id, level, result)
        else:
            store.clear_intent()
            store.clear_result()
    stop.raise_pending()  # the engine was asked to stop: now that it is all on record
    engine.running = None
    return result


def _environ(engine: Engine, run_id: str, plan: Plan, level_id: str) -> dict[str, str]:
    """The level's environment: the engine's, without a host's variables it may have
    inherited, and the ladder's own (`ESCALATOR_ENV`, `_LEVEL`, `_PLAN`, `_RUN_ID`,
    `_TARGETS`)."""
    return {**{k: v for k, v in engine.env.environ.items() if k not in HOST_VARIABLES},
            "ESCALATOR_ENV": engine.state.environment,
            "ESCALATOR_LEVEL": level_id, "ESCALATOR_PLAN": " ".join(plan.levels),
            "ESCALATOR_RUN_ID": run_id, "ESCALATOR_TARGETS": " ".join(plan.targets)}


def _ended(name: str, result: ActionResult) -> str:
    """The phase line of a level that ended: how, after how long, its exit code and error."""
    return (f"level {name} {result.status} after {format_duration(round(result.duration, 3))}"
            + (f" (exit {result.exit_code})" if result.exit_code is not None else "")
            + (f": {result.error}" if result.error else ""))


def _address(engine: Engine, host: str, groups: tuple[str, ...]) -> str:
    """The address the checks used for `host` (its inventory's `address`, Ansible's
    `ansible_host`, else its name), read now through `engine.address_of`."""
    try:
        found = engine.address_of(host, groups) if engine.address_of is not None else None
    except EscalatorError as exc:  # the inventory cannot be read now: say so, go on
        engine.say(f"{engine.store.environment}: the address of {host} is unknown: {exc}")
        found = None
    return found or host


def counted(state: LadderState, level_id: str, host: str | None, now: float) -> LadderState:
    """`state` with one more level run: an action of the environment's budget, and a run of
    the level for the environment, or an action and a run for `host`."""
    if host is None:
        return state.with_(actions=(*state.actions, now),
                           level_runs=(*state.level_runs, (level_id, now)))
    return state.with_(actions=(*state.actions, now),
                       host_actions=(*state.host_actions, (host, now)),
                       host_runs=(*state.host_runs, (level_id, host, now)))


def _stopped_meanwhile(result: ActionResult) -> ActionResult:
    """A level that died of a signal while the engine was being stopped was stopped with it:
    under systemd's default KillMode every process of the service gets the SIGTERM, and the
    level may die of it before its keeper hears its own."""
    signum = stop.requested()
    if signum is None or result.ok or result.interrupted is not None or not result.started:
        return result
    if result.exit_code is None or result.exit_code >= 0:
        return result
    return replace(result, interrupted=signal.Signals(signum).name)


def _stopped_during(engine: Engine, run_id: str, level: Level, result: ActionResult) -> None:
    """The engine is being stopped and the level was killed: leave a record the next engine
    reads as an orderly stop; a level that is not idempotent latches now, saying what to check
    (the page waits for the next start: paging could outlast the service manager's patience)."""
    intent = engine.store.read_intent()
    if not result.started or intent is None:
        engine.store.clear_intent()
        return
    engine.store.write_intent(replace(intent, stopped_by=result.interrupted))
    if not level.idempotent and not engine.latched(intent.host):
        engine.latch(run_id, stopped_reason(level.id, str(result.interrupted)),
                     interrupted_hint(engine.store.environment, level.id,
                                      shown_program(level.run, engine.config), intent.targets,
                                      intent.host),
                     host=intent.host)


def stopped_reason(level: str, signal_name: str) -> str:
    """The latch after an orderly stop (systemctl stop or restart, ^C) cut a level short."""
    return (f"level {level} (not idempotent) was stopped by {signal_name} while it ran (an "
            "orderly stop of the engine, not a crash); it may have done part of its work")
