"""A plan's level runs, in order, each once, with its quiet period after it.

Called by the engine (`Engine._cascade`) for an engagement and by converge. One level runs at a
time, whatever its host: the levels of different hosts run one after the other, never side by
side, so every guarantee of one level (its fsynced intent, its keeper, its level lock, never
two copies) holds as it is, and what the ladder did stays simple to read. A maintenance window
that begins stops the cascade before its next level.

A failed level stops what depends on it: an environment-scoped one stops the cascade; a
host's level stops that host's remaining levels while the other hosts go on (their failures
are their own), and no environment-scoped level runs after a host's failed one (it may need
every host). The engine then verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from escalator.durations import format_duration
from escalator.ladder import decide, step
from escalator.ladder.actions import ActionResult
from escalator.ladder.plans import Plan, Step, label

if TYPE_CHECKING:
    from escalator.ladder.engine import Engine

After = Callable[[str, "str | None", ActionResult], bool]


def run(engine: Engine, run_id: str, plan: Plan, after: After | None = None) -> None:
    """Each level run of `plan` once, in order, quiesce after each; `after(level, host,
    result)` (converge: it observes) may stop it by returning False."""
    stopped: list[str] = []  # hosts whose level failed
    sequence = plan.sequence
    for index, (level_id, host) in enumerate(sequence):
        if host is not None and host in stopped:
            continue
        if host is None and stopped:
            _stop(engine, run_id, f"level {level_id} not run after the failure for "
                  f"{', '.join(stopped)}", level_id, None)
            return
        window = decide.active_window(engine.config, engine.env.now())
        if window is not None:
            why = f"maintenance window began: cascade stopped before {label(level_id, host)}"
            engine.store.audit("suppressed", run_id, why, window=window.reason)
            engine.tell(why)
            return
        result = step.run_level(engine, run_id, plan, level_id, host)
        quiesce = engine.config.level(level_id).quiesce
        if quiesce:
            engine.tell(f"quiesce: {format_duration(quiesce)} after level "
                        f"{label(level_id, host)}")
        engine.env.sleep(quiesce)
        go_on = after is None or after(level_id, host, result)
        if not result.ok and host is None:
            _stop(engine, run_id, f"level {level_id} {result.status}", level_id, None)
            return
        if not result.ok:
            stopped.append(str(host))
            _stop(engine, run_id, f"level {label(level_id, host)} {result.status}", level_id,
                  host, more=_goes_on(sequence[index + 1:], stopped))
        if not go_on:
            return


def _goes_on(rest: tuple[Step, ...], stopped: list[str]) -> bool:
    """Whether another host's level comes next (before any level for the environment)."""
    for _, host in rest:
        if host is None:
            return False
        if host not in stopped:
            return True
    return False


def _stop(engine: Engine, run_id: str, why: str, level_id: str, host: str | None,
          more: bool = False) -> None:
    data = {"level": level_id} if host is None else {"level": level_id, "host": host}
    if host is not None:
        why += f": no further level for {host}"
    engine.store.audit("cascade_stopped", run_id, why, **data)
    engine.tell(f"cascade stopped: {why}" + ("; the other hosts go on" if more else
                                              "; verify"))
