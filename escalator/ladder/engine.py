"""One engagement of the ladder, and the watch loop that repeats it.

Sequencing only: every judgement comes from `decide`, every file from `store`, every process from
`actions`. Called by the `escalate`, `watch` and `ladder` commands with the lock already held
(`store.lock`); `checks` runs the suite (in production `escalator.runner.run_suite`), and `env`
gives the clock and `sleep`, so tests drive whole engagements with a fake clock and scripted runs.

An engagement: observe -> confirm (`confirm` failing runs) -> settle -> fresh run -> plan ->
gate -> cascade (each level once, in order, quiesce after each; stop at the first failure) ->
verify (`verify` green runs) -> re-converge at most `max_reconverge` times -> latch and page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from escalator.env import Env
from escalator.errors import EscalatorError
from escalator.exit_codes import ExitCode
from escalator.ladder import decide
from escalator.ladder.actions import ActionResult, run_action
from escalator.ladder.model import (
    Decision,
    Intent,
    LadderConfig,
    LadderState,
    Latch,
    Observation,
    Plan,
)
from escalator.ladder.pager import Pager
from escalator.ladder.store import LadderStore, iso
from escalator.results import RunResult

HEALTHY, FAILING = ExitCode.OK, ExitCode.FAILING


@dataclass(frozen=True)
class StepRecord:
    level: str
    status: str
    exit_code: int | None
    duration: float


@dataclass(frozen=True)
class Engagement:
    """How an engagement ended: `verdict` in healthy, transient, self_healed, recovered,
    unactionable, suppressed, latched; `exit_code` 0 (healthy at the end) or 2."""

    run_id: str
    verdict: str
    reason: str
    exit_code: int
    plan: Plan | None = None
    steps: tuple[StepRecord, ...] = ()


class Engine:
    def __init__(self, config: LadderConfig, store: LadderStore, checks: Callable[[], RunResult],
                 env: Env, state: LadderState | None = None) -> None:
        self.config, self.store, self.checks, self.env = config, store, checks, env
        self.pager = Pager(config, store, env)
        self.state = store.load() if state is None else state
        self.steps: list[StepRecord] = []

    # -- start-up and operator requests -----------------------------------------------------
    def recover(self) -> None:
        """After (re)start: an intent record means the engine died while a level ran."""
        intent = self.store.read_intent()
        if intent is None:
            return
        self.store.audit("state_recovered", intent.run_id, f"level {intent.level} was running "
                         "when the engine stopped", level=intent.level, pid=intent.pid)
        if intent.idempotent:
            self.store.audit("step_interrupted", intent.run_id, f"level {intent.level} is "
                             "idempotent: it may run again", level=intent.level)
        elif self.state.latch is None:
            self._latch(intent.run_id, f"level {intent.level} (not idempotent) was interrupted "
                        "by an engine crash; its effect is unknown")
        self.store.clear_intent()

    def resume(self, who: str, why: str) -> bool:
        """Unlatch (audited with who and why); counters stay. False when nothing was latched."""
        latch = self.state.latch
        if latch is None:
            self.store.audit("resume_ignored", actor=who, reason=why)
            return False
        self.state = self.store.save(self.state.with_(latch=None))
        self.store.audit("resumed", latch.run_id, why, actor=who, latch=latch.reason)
        return True

    def _take_resume(self) -> None:
        request = self.store.take_resume()
        if request is not None:
            self.resume(str(request.get("who", "unknown")), str(request.get("why", "")))

    # -- one engagement ---------------------------------------------------------------------
    def engage(self, first: RunResult | None = None) -> Engagement:
        self._take_resume()
        self.steps = []
        run_id = _run_id(self.env.now())
        obs = self._observe(run_id, first)
        if self.state.latch is not None:
            return self._still_latched(run_id)
        if obs.green:
            return Engagement(run_id, "healthy", "all scenarios pass", HEALTHY)
        if decide.make_plan(obs, self.config) is None:
            return self._unactionable(run_id, obs)
        for attempt in range(2, self.config.confirm + 1):
            self.store.audit("suspected", run_id, f"failing run {attempt - 1} of "
                             f"{self.config.confirm}", failing=[t.name for t in obs.actionable])
            self.env.sleep(self.config.retry_interval)
            obs = self._observe(run_id)
            if decide.make_plan(obs, self.config) is None:
                return self._calm(run_id, obs, "transient", "not confirmed")
        self.store.audit("confirmed", run_id, f"settling {self.config.settle:g}s",
                         failing=[t.name for t in obs.actionable])
        return self._settle_and_plan(run_id, reconverge=0)

    def _settle_and_plan(self, run_id: str, reconverge: int) -> Engagement:
        self.env.sleep(self.config.settle)
        obs = self._observe(run_id)  # plans come from this fresh run only
        plan = decide.make_plan(obs, self.config)
        if plan is None:
            return self._calm(run_id, obs, "self_healed", "healed during settle")
        decision = decide.gate(plan, self.state, self.config, self.env.now(),
                               new_engagement=reconverge == 0)
        self.store.audit("planned", run_id, decision.reason, verdict=decision.verdict,
                         start=plan.start, plan=list(plan.levels),
                         triggers=[t.name for t in plan.triggers],
                         subsumed=[t.name for t in plan.subsumed], reconverge=reconverge)
        if decision.verdict == "suppress":
            self.store.audit("would_run", run_id, decision.reason, plan=list(plan.levels))
            return Engagement(run_id, "suppressed", decision.reason, FAILING, plan)
        if not decision.acts:
            self._latch(run_id, decision.reason, plan)
            return Engagement(run_id, "latched", decision.reason, FAILING, plan)
        return self._act(run_id, decision, reconverge)

    def _act(self, run_id: str, decision: Decision, reconverge: int) -> Engagement:
        plan = decision.plan
        assert plan is not None
        if reconverge == 0:
            now = self.env.now()
            self.state = self.store.save(self.state.with_(
                engagements=(*self.state.engagements, now),
                last_engagement=(("run_id", run_id), ("started", now),
                                 ("plan", list(plan.levels)))))
            self.store.audit("engaged", run_id, decision.reason, plan=list(plan.levels))
        self._cascade(run_id, plan)
        obs = self._verify(run_id)
        if obs is None:
            self.store.audit("recovered", run_id, f"{self.config.verify} green runs")
            return self._finish(run_id, "recovered", "verified green", HEALTHY, plan)
        if reconverge < self.config.max_reconverge:
            self.store.audit("reconverge", run_id, f"verify failed: {_summary(obs)}",
                             attempt=reconverge + 1)
            return self._settle_and_plan(run_id, reconverge + 1)
        reason = f"verify failed after {reconverge + 1} plan(s): {_summary(obs)}"
        self._latch(run_id, reason, plan)
        return self._finish(run_id, "latched", reason, FAILING, plan)

    # -- cascade and verify -----------------------------------------------------------------
    def _cascade(self, run_id: str, plan: Plan) -> None:
        for level_id in plan.levels:
            window = decide.active_window(self.config, self.env.now())
            if window is not None:
                self.store.audit("suppressed", run_id, "maintenance window began: cascade "
                                 f"stopped before {level_id}", window=window.reason)
                return
            result = self._run_level(run_id, plan, level_id)
            self.env.sleep(self.config.level(level_id).quiesce)
            if not result.ok:
                self.store.audit("cascade_stopped", run_id, f"level {level_id} "
                                 f"{result.status}", level=level_id)
                return

    def _run_level(self, run_id: str, plan: Plan, level_id: str) -> ActionResult:
        level, now = self.config.level(level_id), self.env.now()
        # Count first, then the fsynced intent, then exec: a crash can only over-count.
        self.state = self.store.save(self.state.with_(
            actions=(*self.state.actions, now), level_runs=(*self.state.level_runs,
                                                            (level_id, now))))
        self.store.write_intent(Intent(run_id, level_id, level.idempotent, now))
        self.store.audit("step_intent", run_id, f"running level {level_id}", level=level_id,
                         argv=list(level.run), plan=list(plan.levels))
        environ = {**self.env.environ, "ESCALATOR_ENV": self.state.environment,
                   "ESCALATOR_LEVEL": level_id, "ESCALATOR_PLAN": " ".join(plan.levels),
                   "ESCALATOR_RUN_ID": run_id, "ESCALATOR_TARGETS": " ".join(plan.targets)}
        intent = Intent(run_id, level_id, level.idempotent, now)

        def started(pid: int) -> None:
            # The pid tells an operator which process may still run after an engine crash.
            self.store.write_intent(replace(intent, pid=pid))

        result = run_action(level.run, timeout=level.timeout, environ=environ,
                            cwd=self.config.base_dir, kill_grace=self.config.kill_grace,
                            on_start=started)
        self.store.audit("step_finished", run_id, f"level {level_id} {result.status}",
                         level=level_id, status=result.status, exit_code=result.exit_code,
                         duration=round(result.duration, 3), output=result.output,
                         error=result.error)
        self.store.clear_intent()
        self.steps.append(StepRecord(level_id, result.status, result.exit_code,
                                     result.duration))
        return result

    def _verify(self, run_id: str) -> Observation | None:
        """None when `verify` consecutive runs are green; else the first run that was not."""
        for attempt in range(1, self.config.verify + 1):
            if attempt > 1:
                self.env.sleep(self.config.retry_interval)
            obs = self._observe(run_id)
            self.store.audit("verify", run_id, "green" if obs.green else _summary(obs),
                             attempt=attempt, green=obs.green)
            if not obs.green:
                return obs
        return None

    # -- endings ----------------------------------------------------------------------------
    def _calm(self, run_id: str, obs: Observation, verdict: str, why: str) -> Engagement:
        if obs.green:
            self.store.audit(verdict, run_id, why)
            return Engagement(run_id, verdict, why, HEALTHY)
        return self._unactionable(run_id, obs)

    def _unactionable(self, run_id: str, obs: Observation) -> Engagement:
        reason = _nothing_because(obs)
        self.store.audit("no_action", run_id, reason)
        if obs.degraded or obs.flapping or obs.untagged:
            self.pager.page("unactionable", run_id, reason, obs=obs)
        return Engagement(run_id, "unactionable", reason, FAILING)

    def _still_latched(self, run_id: str) -> Engagement:
        latch = self.state.latch
        assert latch is not None
        self.store.audit("no_action", run_id, f"latched: {latch.reason}")
        if not latch.paged:
            self._page_latch(run_id)
        return Engagement(run_id, "latched", latch.reason, FAILING)

    def _latch(self, run_id: str, reason: str, plan: Plan | None = None) -> None:
        latch = Latch(reason, self.env.now(), run_id)
        self.state = self.store.save(self.state.with_(latch=latch))
        self.store.audit("latched", run_id, reason)
        self._page_latch(run_id, plan)

    def _page_latch(self, run_id: str, plan: Plan | None = None) -> None:
        latch = self.state.latch
        assert latch is not None
        if self.pager.page("latched", run_id, latch.reason, plan=plan, since=latch.since):
            self.state = self.store.save(self.state.with_(
                latch=replace(latch, paged=True)))

    def _finish(self, run_id: str, verdict: str, reason: str, code: int,
                plan: Plan) -> Engagement:
        self.state = self.store.save(self.state.with_(last_engagement=(
            *self.state.last_engagement, ("verdict", verdict), ("ended", self.env.now()),
            ("steps", [s.__dict__ for s in self.steps]))))
        return Engagement(run_id, verdict, reason, code, plan, tuple(self.steps))

    # -- observing --------------------------------------------------------------------------
    def _observe(self, run_id: str, run: RunResult | None = None) -> Observation:
        if run is None:
            try:
                run = self.checks()
            except EscalatorError as exc:
                run = RunResult(scenarios=(), errors=(str(exc),))
        self.state = self.store.save(decide.prune(decide.record(self.state, run), self.config,
                                                  self.env.now()))
        obs = decide.observe(run, self.config, self.state)
        self.store.audit("observed", run_id, _summary(obs), passed=obs.passed,
                         failed=obs.failed, unknown=obs.unknown,
                         actionable=[f"{t.name} -> {t.level}" for t in obs.actionable])
        return obs

    def preview(self) -> tuple[Observation, Plan | None, Decision | None, LadderState]:
        """The plan the ladder would run now, from one fresh run; runs and writes nothing else
        (`escalate --dry-run`, `ladder plan`)."""
        try:
            run = self.checks()
        except EscalatorError as exc:
            run = RunResult(scenarios=(), errors=(str(exc),))
        state = decide.record(self.state, run)
        obs = decide.observe(run, self.config, state)
        plan = decide.make_plan(obs, self.config)
        decision = None if plan is None else decide.gate(plan, state, self.config,
                                                         self.env.now())
        return obs, plan, decision, state


def _run_id(now: float) -> str:
    return f"{iso(now)[:19].replace('-', '').replace(':', '')}Z-{os.urandom(3).hex()}"


def _summary(obs: Observation) -> str:
    text = f"{obs.passed} passed, {obs.failed} failed, {obs.unknown} unknown of {obs.total}"
    return f"{text}; {obs.degraded}" if obs.degraded else text


def _nothing_because(obs: Observation) -> str:
    if obs.degraded:
        return f"did nothing because {obs.degraded}"
    parts = []
    if obs.flapping:
        parts.append(f"flapping: {', '.join(obs.flapping)}")
    if obs.untagged:
        parts.append(f"no ladder level: {', '.join(obs.untagged)}")
    if obs.unknown:
        parts.append(f"{obs.unknown} unknown (the check could not be made)")
    return "did nothing because " + ("; ".join(parts) or "no failure may act")
