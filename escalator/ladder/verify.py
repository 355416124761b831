"""The end of an engagement that acted: verify the plans that ran, then recovered, a new plan
(re-converge), or latch.

Verify judges the scenarios the plans were made for (`watched`), per host too: a scenario of a
host's part of a plan is that host's. When, at the end, only hosts' own scenarios still fail,
those hosts latch and the environment does not; a scenario the environment's part was made
for (or a run that is not sound) latches the environment. An engagement whose plans are
verified green still ends `latched` when a host could not act in it (it latched) or a latched
host's scenarios fail. Called by the engine (`Engine._verify_and_end`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from escalator.exit_codes import ExitCode
from escalator.ladder import decide
from escalator.ladder.model import Observation

if TYPE_CHECKING:
    from escalator.ladder.engine import Engagement, Engine

HEALTHY, FAILING = ExitCode.OK, ExitCode.FAILING

def end(engine: Engine, run_id: str, watched: frozenset[str], plans: int,
        replan: bool = True) -> Engagement:
    """Verify; recovered, or re-converge while `replan` and `max_reconverge` allow, or
    latch (the hosts whose own scenarios still fail, else the environment)."""
    obs = _verify(engine, run_id, watched)
    if obs is None:
        engine.store.audit("recovered", run_id, f"{engine.config.verify} green runs")
        held = _held_hosts(engine)
        if held:  # what ran is green; a latched host that could not act still fails
            return engine.end(run_id, "latched", "verified green; latched " + "; ".join(
                f"{host}: {why}" for host, why in held.items()), FAILING)
        return engine.end(run_id, "recovered", "verified green", HEALTHY)
    window = decide.active_window(engine.config, engine.env.now())
    if window is not None:
        # Inside a window nothing latches or pages; the next run after it acts.
        reason = (f"verify failed inside a maintenance window: {obs.summary}; the next "
                  "run after the window acts")
        engine.store.audit("would_run", run_id, reason, window=window.reason)
        return engine.end(run_id, "suppressed", reason, FAILING)
    if replan and plans <= engine.config.max_reconverge:
        engine.store.audit("reconverge", run_id, f"verify failed: {obs.summary}",
                           attempt=plans)
        engine.tell(f"re-converge {plans} of {engine.config.max_reconverge}: a new plan from "
                    "a fresh run")
        return engine._settle_and_plan(run_id, plans, watched)
    reason = f"verify failed after {plans} plan(s): {obs.summary}"
    hosts = _still_failing_hosts(engine, obs, watched)
    if hosts:  # only hosts' own scenarios fail: those hosts latch, not the environment
        for host in hosts:
            engine.latch(run_id, reason, host=host)
        return engine.end(run_id, "latched", f"verify failed for {', '.join(hosts)} after "
                          f"{plans} plan(s): {obs.summary}", FAILING)
    engine.latch(run_id, reason)
    return engine.end(run_id, "latched", reason, FAILING)


def _held_hosts(engine: Engine) -> dict[str, str]:
    """Hosts latched in this engagement, and latched hosts whose scenarios fail in the
    latest run, with why."""
    held = dict(engine.held)
    failing = {f.host for f in engine.obs.of("latched")} if engine.obs is not None else set()
    held.update((latch.host, latch.reason) for latch in engine.state.host_latches
                if latch.host in failing)
    return held


def _still_failing_hosts(engine: Engine, obs: Observation, watched: frozenset[str]
                         ) -> list[str]:
    """The hosts whose plan parts' scenarios did not pass, when those are all that did
    not: [] when a scenario the environment's part was made for fails, or the run was
    not sound (those latch the environment)."""
    passed = {key for key, _, letter in obs.outcomes if letter == "P"}
    failing = watched - passed
    if obs.degraded is not None or not failing or not failing <= engine.host_of.keys():
        return []
    return list(dict.fromkeys(engine.host_of[key] for key in sorted(failing)))


def _verify(engine: Engine, run_id: str, watched: frozenset[str]) -> Observation | None:
    """None when in `verify` consecutive runs the plan's scenarios (`watched`) pass; else
    the first run in which they did not. Other failures are reported, not judged."""
    for attempt in range(1, engine.config.verify + 1):
        if attempt > 1:
            engine.env.sleep(engine.config.retry_interval)
        obs = engine._observe(run_id)
        ok, others = obs.verified(watched), list(obs.others(watched))
        reason = "green" if ok else obs.summary
        if ok and others:
            reason += f" (failing outside the plan: {', '.join(others)})"
        engine.store.audit("verify", run_id, reason, attempt=attempt, green=ok, others=others)
        engine.tell(f"verify {attempt} of {engine.config.verify}: {reason}")
        if not ok:
            return obs
    return None

