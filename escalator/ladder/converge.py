"""Converge: the ladder for an environment that is expected to be broken (new, or rebuilt).

`escalator converge -e ENV --within 2h` builds a `Converge` on an engine that holds the lock
and has recovered, and calls `run()`. Mass failure is expected here, so converge plans from the
deepest level that a failing scenario names, and from the first level when nothing exists yet
(no scenario passes: each fails or is unknown). It runs that plan with the engine's cascade (a
keeper per level, an fsynced intent before each, quiesce after each, the first failure stops
it), runs the checks after each level, so it can say which requirements turned green after
which level, and plans again from the new deepest failing level, until every scenario passes
`verify` runs in a row, the deadline passes, or `max_reconverge` new plans have run; then it
pages with what is still red. A level that starts before the deadline runs to its end (its own
timeout bounds it), so converge overruns `within` by one level's timeout at most. Host-scoped
levels run per host as in every plan (`planner`): when nothing exists yet, every level is for
the whole environment, so each host the checks name gets its own vm, converge and deploy (a
new datacenter); otherwise a failing host gets its own levels from its deepest failure.

Which rules hold, and why: converge is a person's decision for one environment, so the rules
that keep *automation* from acting on a broken monitor or repeating itself do not hold it back
(mass failure, the loop breaker, the hourly budget, cooldowns; `max_reconverge` and `within`
bound it instead). Its actions and level runs are still counted, so the automation after it
respects them. What keeps the environment safe holds as for every engagement: the lock (one
engine), the intent and the keeper (never two copies, crash safe), the audit log, maintenance
windows (inside one it runs nothing), a latch (it refuses until `ladder resume`), and an
unknown scenario never choosing a level.

Each run of the checks is stored (`record`) with `extra["origin"]` saying which converge and
after which level, so the deployment report can say what made each requirement green; each
level's effect is audited as `converge_progress`. Sequencing only, as the engine: it uses the
engine's observation, cascade and single ending (`Engine.guarded`, `Engine.end`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from escalator.durations import format_duration
from escalator.ladder import converge_text, decide, planner
from escalator.ladder.actions import ActionResult
from escalator.ladder.engine import FAILING, HEALTHY, Engagement, Engine
from escalator.ladder.model import LadderConfig, Observation, Plan
from escalator.ladder.plans import label
from escalator.ladder.resume import take_request
from escalator.results import RunResult
from escalator.timestamps import utc


def plan_for(run: RunResult, obs: Observation, config: LadderConfig) -> Plan | None:
    """The plan converge runs now: from the first level when nothing passes, else from the
    deepest level a failing scenario names. None when the run could not be made or no
    failure names a level (an unknown one never does)."""
    if run.errors or not run.scenarios or (obs.passed and not obs.actionable):
        return None
    return planner.plan(obs.actionable, config, obs.hosts, {host for host, _ in obs.held},
                        everything=obs.passed == 0)


def preview(engine: Engine) -> tuple[RunResult, Observation, Plan | None]:
    """The plan converge would run now, from one fresh run; writes nothing (`--dry-run`)."""
    run = engine._run_checks()
    engine._check_levels(run)
    obs = decide.observe(run, engine.config, decide.record(engine.state, run))
    return run, obs, plan_for(run, obs, engine.config)


class Converge:
    """One converge of one environment, `within` seconds at most; `record` stores each run of
    the checks, `say` tells the person watching (a line per plan and per level)."""

    def __init__(self, engine: Engine, within: float, record: Callable[[RunResult], None],
                 say: Callable[[str], None], max_reconverge: int | None = None) -> None:
        self.engine, self.within, self.record, self.say = engine, within, record, say
        self.max_reconverge = (engine.config.max_reconverge if max_reconverge is None
                               else max_reconverge)
        self.environment = engine.store.environment
        self.green: set[str] = set()  # the scenarios that passed in the latest run
        self.run_id, self.after = "", ""  # the level the latest run followed
        self.began = self.t0 = self.deadline = 0.0

    def run(self) -> Engagement:
        self.began, self.t0 = self.engine.env.now(), self.engine.env.monotonic()
        self.deadline = self.t0 + self.within
        take_request(self.engine)  # one filed while another engine held the lock
        return self.engine.guarded(self._converge)

    def late(self) -> bool:
        return self.engine.env.monotonic() >= self.deadline

    def _converge(self, run_id: str) -> Engagement:
        engine, self.run_id = self.engine, run_id
        latch = engine.state.latch
        if latch is not None:
            engine.store.audit("no_action", run_id, f"converge refused: latched: {latch.reason}")
            return engine.end(run_id, "latched", f"refused: the ladder is latched "
                              f"({latch.reason}); escalator ladder resume, once someone has "
                              "looked", FAILING)
        run, obs = self._observe()
        self.say(converge_text.start_line(self.environment, self.within, obs))
        if obs.green:
            return engine.end(run_id, "healthy", "all scenarios pass: nothing to converge",
                              HEALTHY)
        plans = 0
        while True:
            plan = plan_for(run, obs, engine.config)
            why = self._why_not(plan, plans, run, obs)
            if why is not None:
                return self._still_red(obs, why)
            assert plan is not None
            window = decide.active_window(engine.config, engine.env.now())
            if window is not None:
                reason = f"maintenance window until {utc(window.end)}" + (
                    f" ({window.reason})" if window.reason else "")
                engine.store.audit("would_run", run_id, reason, plan=list(plan.levels))
                return engine.end(run_id, "suppressed", reason, FAILING, plan)
            self._start(plan, plans, obs)
            engine._cascade(run_id, plan, after=self._after_level)
            plans += 1
            run, obs = self.latest
            if obs.green and self._verified():
                took = format_duration(round(engine.env.monotonic() - self.t0))
                reason = f"all {obs.total} scenarios pass after {plans} plan(s) in {took}"
                engine.store.audit("recovered", run_id, reason, converge=True)
                self.say(f"{self.environment}: converged: {reason}")
                return engine.end(run_id, "converged", reason, HEALTHY)
            run, obs = self.latest

    # -- the steps ----------------------------------------------------------------------------
    def _why_not(self, plan: Plan | None, plans: int, run: RunResult, obs: Observation
                 ) -> str | None:
        """Why no further plan runs, or None: it may."""
        if plan is None:
            return converge_text.nothing_to_plan(run, obs)
        if plans > self.max_reconverge:
            return f"still red after {plans} plan(s) (max_reconverge = {self.max_reconverge})"
        if self.late():
            return f"the deadline ({format_duration(self.within)}) passed"
        return None

    def _start(self, plan: Plan, plans: int, obs: Observation) -> None:
        """Audit the plan; the first one opens the engagement (counted, as the engine does)."""
        engine, run_id = self.engine, self.run_id
        reason = converge_text.plan_reason(obs, plan)
        engine.store.audit("planned", run_id, reason, verdict="act", start=plan.start,
                           plan=list(plan.levels), triggers=[t.name for t in plan.triggers],
                           subsumed=[t.name for t in plan.subsumed], reconverge=plans,
                           converge=True)
        engine.plan = plan
        engine.host_of.update(plan.host_of())
        if plans == 0:
            engine.open_engagement(run_id, plan, reason, "converge", converge=True)
        self.say(converge_text.plan_line(self.environment, plans + 1, plan, reason))

    def _after_level(self, level_id: str, host: str | None, result: ActionResult) -> bool:
        """After each level run and its quiesce: run the checks, say what turned green; stop
        the cascade once the deadline has passed."""
        name, on = label(level_id, host), {"host": host} if host else {}
        self.after = name
        before = set(self.green)
        _, obs = self._observe()
        turned, lost = _changes(obs, before)
        text = converge_text.progress(name, result, obs, turned, lost)
        self.engine.store.audit("converge_progress", self.run_id, text, level=level_id,
                                status=result.status, green=turned, red_again=lost,
                                passed=obs.passed, total=obs.total, **on)
        self.say(f"{self.environment}: {text}")
        if self.late():
            self.engine.store.audit("cascade_stopped", self.run_id, "converge deadline "
                                    f"({format_duration(self.within)}) passed after level "
                                    f"{name}", level=level_id, **on)
            return False
        return True

    def _verified(self) -> bool:
        """`verify` runs in a row all green, the one after the last level being the first."""
        config = self.engine.config
        for attempt in range(2, config.verify + 1):
            self.engine.env.sleep(config.retry_interval)
            before = set(self.green)
            _, obs = self._observe()
            self.engine.store.audit("verify", self.run_id, _counts(obs), attempt=attempt,
                                    green=obs.green, converge=True)
            if not obs.green:
                _, lost = _changes(obs, before)
                self.say(f"{self.environment}: verify {attempt} of {config.verify}: red "
                         f"again: {', '.join(lost) or _counts(obs)}")
                return False
        return True

    def _still_red(self, obs: Observation, why: str) -> Engagement:
        """The end without green: page with what is still red."""
        red = [name for _, name, letter in obs.outcomes if letter != "P"]
        reason = f"{why}; still red: {', '.join(red) or 'everything (no scenario ran)'}"
        self.say(f"{self.environment}: {converge_text.cut(reason)}")
        return self.engine.end(self.run_id, "still_red", reason, FAILING)  # pages it

    # -- observing ------------------------------------------------------------------------------
    def _observe(self) -> tuple[RunResult, Observation]:
        """Run the checks, store the run (saying which level it followed), observe it."""
        run = self.engine._run_checks()
        origin = {"kind": "converge", "run_id": self.run_id, "after": self.after,
                  "began": self.began}
        run = dataclasses.replace(run, extra={**run.extra, "origin": origin})
        self.record(run)
        obs = self.engine._observe(self.run_id, run)
        self.green = {key for key, _, letter in obs.outcomes if letter == "P"}
        self.latest = (run, obs)
        return run, obs


def _changes(obs: Observation, before: set[str]) -> tuple[list[str], list[str]]:
    """Names of the scenarios that turned green since `before` (keys), and those red again."""
    turned = [name for key, name, letter in obs.outcomes if letter == "P" and key not in before]
    lost = [name for key, name, letter in obs.outcomes if letter != "P" and key in before]
    return turned, lost


def _counts(obs: Observation) -> str:
    return f"{obs.passed} passed, {obs.failed} failed, {obs.unknown} unknown of {obs.total}"
