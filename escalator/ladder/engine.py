"""One engagement of the ladder, and the watch loop that repeats it.

Sequencing only: every judgement comes from `decide`, every file from `store`, every level run
from `step` (which hands it to a keeper process that outlives the engine), the aftermath of an
engine that is gone from `recovery`, every page from `pager` (at the end of each engagement), a
human's resume from `resume`. Called by the `escalate`, `watch` and `ladder` commands with the
lock already held (`store.lock`); `checks` runs the suite (in production
`escalator.runner.run_suite`), `record` stores each run for `status` and `report`, and `env`
gives the clock and `sleep`, so tests drive whole engagements with a fake clock and scripted
runs. `progress` hears one line per phase as it happens (`escalate` and `watch` print them).

An engagement: observe -> confirm (`confirm` failing runs) -> settle -> fresh run -> plan ->
gate -> cascade (each level once, in order, quiesce after each; stop at the first failure) ->
verify (`verify` runs in which the plan's scenarios pass) -> re-converge at most
`max_reconverge` times -> latch and page. Every engagement returns through `end`, which
records the verdict and the levels that ran. Counters are kept on `now()`: the wall clock at
start advanced by monotonic time, so a clock step inside the process changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from escalator.durations import format_duration
from escalator.env import Env, boot_id
from escalator.errors import ConfigError, EscalatorError
from escalator.exit_codes import ExitCode
from escalator.ladder import decide, recovery, step, stop
from escalator.ladder.actions import ActionResult
from escalator.ladder.model import (
    Decision,
    LadderConfig,
    LadderState,
    Latch,
    Observation,
    Plan,
)
from escalator.ladder.pager import page_round
from escalator.ladder.resume import take_request, unlatch
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
    unactionable, suppressed, latched, interrupted (the engine was stopped), crashed (found
    open after a restart), error; `exit_code` 0 (healthy at the end) or 2."""

    run_id: str
    verdict: str
    reason: str
    exit_code: int
    plan: Plan | None = None
    steps: tuple[StepRecord, ...] = ()


class Engine:
    def __init__(self, config: LadderConfig, store: LadderStore, checks: Callable[[], RunResult],
                 env: Env, state: LadderState | None = None,
                 record: Callable[[RunResult], None] | None = None) -> None:
        self.config, self.store, self.checks, self.env = config, store, checks, env
        self.record = record  # keeps every run for `status` and `report` (ResultStore)
        self.boot, self._wall0, self._mono0 = boot_id(), env.now(), env.monotonic()
        loaded = store.load() if state is None else state
        self.state = decide.rebase(loaded, self.boot, self._mono0, self._wall0)
        self.steps: list[StepRecord] = []
        self.engaged: str | None = None  # the run id of an engagement that acted, until its end
        self.plan: Plan | None = None
        self.running: str | None = None  # the level whose process runs now
        self.obs: Observation | None = None  # the latest observation of this engagement
        self.say: Callable[[str], None] = lambda text: None  # notes for the operator (stderr)
        # One line per phase as it happens (`escalate`, `watch`); detail=True only with -v.
        self.progress: Callable[[str, bool], None] = lambda text, detail: None

    def tell(self, text: str, detail: bool = False) -> None:
        self.progress(text, detail)

    def now(self) -> float:
        """Ladder time: the wall clock when this engine started, advanced by monotonic time."""
        return self._wall0 + (self.env.monotonic() - self._mono0)

    def save(self, state: LadderState) -> None:
        """Store `state` with the clock record that lets the next engine re-base it."""
        self.state = self.store.save(state.with_(clock=(self.boot, self.env.monotonic(),
                                                        self.now())))

    # -- start-up and operator requests -----------------------------------------------------
    def recover(self) -> None:
        """After (re)start: outlive or stop a level whose engine is gone, settle it (an
        idempotent level may run again, another one latches) and close its engagement."""
        recovery.recover(self)

    def resume(self, who: str, why: str, reset: bool = False) -> bool:
        """Unlatch, audited with who and why (`resume.unlatch`); False when not latched."""
        return unlatch(self, who, why, reset)

    # -- one engagement ---------------------------------------------------------------------
    def engage(self, first: RunResult | None = None) -> Engagement:
        take_request(self)
        return self.guarded(lambda run_id: self._engage(run_id, first))

    def guarded(self, body: Callable[[str], Engagement]) -> Engagement:
        """Run `body` as one engagement with a new run id: a stop signal or an error that cuts
        it short still ends it through `end` (`interrupted`, `error`). Also used by converge."""
        self.steps, self.plan, self.running, self.obs = [], None, None, None
        run_id = _run_id(self.now())
        try:
            return body(run_id)
        except stop.Stopped as stopped:
            where = f" while level {self.running} ran" if self.running else ""
            reason = f"stopped by {stopped.name}{where}"
            try:
                stopped.engagement = self.end(run_id, "interrupted", reason, FAILING)
            except Exception:  # stopping wins over a record that cannot be written
                stopped.engagement = Engagement(run_id, "interrupted", reason, FAILING,
                                                self.plan, tuple(self.steps))
            raise
        except Exception as exc:
            if self.engaged == run_id:
                try:
                    self.end(run_id, "error", f"{type(exc).__name__}: {exc}", FAILING)
                except Exception:  # the disk that failed the engagement fails its record too
                    self.engaged = None
            raise

    def _engage(self, run_id: str, first: RunResult | None) -> Engagement:
        obs = self._observe(run_id, first)
        if self.state.latch is not None:
            return self._still_latched(run_id)
        if obs.green:
            return self.end(run_id, "healthy", "all scenarios pass", HEALTHY)
        if decide.make_plan(obs, self.config) is None:
            return self._unactionable(run_id, obs)
        for attempt in range(2, self.config.confirm + 1):
            failing = [t.name for t in obs.actionable]
            self.store.audit("suspected", run_id, f"failing run {attempt - 1} of "
                             f"{self.config.confirm}", failing=failing)
            self.tell(f"confirm: failing run {attempt - 1} of {self.config.confirm} "
                      f"({', '.join(failing)}); next run in "
                      f"{format_duration(self.config.retry_interval)}")
            self.env.sleep(self.config.retry_interval)
            obs = self._observe(run_id)
            if decide.make_plan(obs, self.config) is None:
                return self._calm(run_id, obs, "transient", "not confirmed")
        failing = [t.name for t in obs.actionable]
        self.store.audit("confirmed", run_id, f"settling {self.config.settle:g}s",
                         failing=failing)
        self.tell(f"confirmed: {', '.join(failing)}")
        return self._settle_and_plan(run_id, reconverge=0, watched=frozenset())

    def _settle_and_plan(self, run_id: str, reconverge: int,
                         watched: frozenset[str]) -> Engagement:
        self.tell(f"settle: {format_duration(self.config.settle)}, then the run that makes "
                  "the plan")
        self.env.sleep(self.config.settle)
        obs = self._observe(run_id)  # plans come from this fresh run only
        plan = decide.make_plan(obs, self.config)
        if plan is None and reconverge == 0:
            self.tell(f"plan: none ({obs.summary})")
            return self._calm(run_id, obs, "self_healed", "healed during settle")
        if plan is None:
            # A verify failed, and now nothing may act: the plans that ran get a verdict of
            # their own, judged on their own scenarios.
            self.store.audit("nothing_to_replan", run_id, obs.nothing_because)
            return self._verify_and_end(run_id, watched, reconverge, replan=False)
        decision = decide.gate(plan, self.state, self.config, self.now(),
                               new_engagement=reconverge == 0, wall=self.env.now())
        self.store.audit("planned", run_id, decision.reason, verdict=decision.verdict,
                         start=plan.start, plan=list(plan.levels),
                         triggers=[t.name for t in plan.triggers],
                         subsumed=[t.name for t in plan.subsumed], reconverge=reconverge)
        covered = ", ".join(t.name for t in plan.subsumed)
        self.tell(f"plan: {' > '.join(plan.levels)} for "
                  f"{', '.join(t.name for t in plan.triggers)}"
                  + (f"; {covered} covered by it" if covered else "")
                  + ("" if decision.acts else f"; {decision.verdict}: {decision.reason}"))
        if decision.verdict == "suppress":
            self.store.audit("would_run", run_id, decision.reason, plan=list(plan.levels))
            return self.end(run_id, "suppressed", decision.reason, FAILING, plan)
        if not decision.acts:
            self.latch(run_id, decision.reason)
            return self.end(run_id, "latched", decision.reason, FAILING, plan)
        return self._act(run_id, decision, reconverge, watched | plan.keys)

    def _act(self, run_id: str, decision: Decision, reconverge: int,
             watched: frozenset[str]) -> Engagement:
        plan = decision.plan
        assert plan is not None
        self.plan = plan
        if reconverge == 0:
            now = self.now()
            self.engaged = run_id
            self.save(self.state.with_(
                engagements=(*self.state.engagements, now),
                last_engagement=(("plan", list(plan.levels)), ("run_id", run_id),
                                 ("started", now), ("steps", []))))
            self.store.audit("engaged", run_id, decision.reason, plan=list(plan.levels))
        self._cascade(run_id, plan)
        return self._verify_and_end(run_id, watched, reconverge + 1)

    def _verify_and_end(self, run_id: str, watched: frozenset[str], plans: int,
                        replan: bool = True) -> Engagement:
        obs = self._verify(run_id, watched)
        if obs is None:
            self.store.audit("recovered", run_id, f"{self.config.verify} green runs")
            return self.end(run_id, "recovered", "verified green", HEALTHY)
        window = decide.active_window(self.config, self.env.now())
        if window is not None:
            # Inside a window nothing latches or pages; the next run after it acts.
            reason = (f"verify failed inside a maintenance window: {obs.summary}; the next "
                      "run after the window acts")
            self.store.audit("would_run", run_id, reason, window=window.reason)
            return self.end(run_id, "suppressed", reason, FAILING)
        if replan and plans <= self.config.max_reconverge:
            self.store.audit("reconverge", run_id, f"verify failed: {obs.summary}",
                             attempt=plans)
            self.tell(f"re-converge {plans} of {self.config.max_reconverge}: a new plan from "
                      "a fresh run")
            return self._settle_and_plan(run_id, plans, watched)
        reason = f"verify failed after {plans} plan(s): {obs.summary}"
        self.latch(run_id, reason)
        return self.end(run_id, "latched", reason, FAILING)

    # -- cascade and verify -----------------------------------------------------------------
    def _cascade(self, run_id: str, plan: Plan,
                 after: Callable[[str, ActionResult], bool] | None = None) -> None:
        """Each level of `plan` once, in order, quiesce after each; stop at the first that
        fails, or when `after(level, result)` (converge: it observes) says so."""
        for level_id in plan.levels:
            window = decide.active_window(self.config, self.env.now())
            if window is not None:
                why = f"maintenance window began: cascade stopped before {level_id}"
                self.store.audit("suppressed", run_id, why, window=window.reason)
                self.tell(why)
                return
            result = step.run_level(self, run_id, plan, level_id)
            quiesce = self.config.level(level_id).quiesce
            if quiesce:
                self.tell(f"quiesce: {format_duration(quiesce)} after level {level_id}")
            self.env.sleep(quiesce)
            go_on = after is None or after(level_id, result)
            if not result.ok:
                why = f"level {level_id} {result.status}"
                self.store.audit("cascade_stopped", run_id, why, level=level_id)
                self.tell(f"cascade stopped: {why}; verify")
                return
            if not go_on:
                return

    def add_step(self, run_id: str, level_id: str, result: ActionResult) -> None:
        """A level that ran in this engagement, kept in its record as it goes."""
        self.steps.append(StepRecord(level_id, result.status, result.exit_code,
                                     result.duration))
        if self.engaged == run_id:
            self.save(self.state.with_(last_engagement=_merged(
                self.state.last_engagement, steps=[s.__dict__ for s in self.steps])))

    def _verify(self, run_id: str, watched: frozenset[str]) -> Observation | None:
        """None when in `verify` consecutive runs the plan's scenarios (`watched`) pass; else
        the first run in which they did not. Other failures are reported, not judged."""
        for attempt in range(1, self.config.verify + 1):
            if attempt > 1:
                self.env.sleep(self.config.retry_interval)
            obs = self._observe(run_id)
            ok, others = obs.verified(watched), list(obs.others(watched))
            reason = "green" if ok else obs.summary
            if ok and others:
                reason += f" (failing outside the plan: {', '.join(others)})"
            self.store.audit("verify", run_id, reason, attempt=attempt, green=ok, others=others)
            self.tell(f"verify {attempt} of {self.config.verify}: {reason}")
            if not ok:
                return obs
        return None

    # -- endings ----------------------------------------------------------------------------
    def end(self, run_id: str, verdict: str, reason: str, code: int,
             plan: Plan | None = None) -> Engagement:
        """The one way out of an engagement. One that acted gets its verdict and the levels
        that ran recorded (state and audit `ended`); the others are audited where they end."""
        plan = plan or self.plan
        result = Engagement(run_id, verdict, reason, code, plan, tuple(self.steps))
        if self.engaged == run_id:
            self.engaged = None
            levels = [s.__dict__ for s in self.steps]
            last = self.state.last_engagement
            self.save(self.state.with_(last_engagement=_merged(
                last, verdict=verdict, reason=reason, ended=self.now(), steps=levels)))
            self.store.audit("ended", run_id, reason, verdict=verdict, levels=levels,
                             plan=list(plan.levels) if plan else dict(last).get("plan", []))
        page_round(self, run_id, verdict, self.obs, plan, reason)
        return result

    def _calm(self, run_id: str, obs: Observation, verdict: str, why: str) -> Engagement:
        if obs.green:
            self.store.audit(verdict, run_id, why)
            return self.end(run_id, verdict, why, HEALTHY)
        return self._unactionable(run_id, obs)

    def _unactionable(self, run_id: str, obs: Observation) -> Engagement:
        reason = obs.nothing_because
        self.store.audit("no_action", run_id, reason)
        return self.end(run_id, "unactionable", reason, FAILING)

    def _still_latched(self, run_id: str) -> Engagement:
        latch = self.state.latch
        assert latch is not None
        self.store.audit("no_action", run_id, f"latched: {latch.reason}")
        return self.end(run_id, "latched", latch.reason, FAILING)

    def latch(self, run_id: str, reason: str, next_step: str = "") -> None:
        """Stop acting until a human resumes; the page goes out when the engagement ends."""
        self.save(self.state.with_(latch=Latch(reason, self.now(), run_id,
                                               next_step=next_step)))
        self.store.audit("latched", run_id, reason, next_step=next_step)
        self.tell(f"latched: {reason}")

    # -- observing --------------------------------------------------------------------------
    def _observe(self, run_id: str, run: RunResult | None = None) -> Observation:
        """Observe `run`, or a fresh run of the checks, stored as `run` and `check` store
        theirs (a run handed in is its caller's to store)."""
        if run is None:
            run = self._run_checks()
            self._keep(run)
        self._check_levels(run)
        self.save(decide.prune(decide.record(self.state, run), self.config, self.now()))
        obs = self.obs = decide.observe(run, self.config, self.state)
        self.store.audit("observed", run_id, obs.summary, passed=obs.passed,
                         failed=obs.failed, unknown=obs.unknown,
                         actionable=[f"{t.name} -> {t.level}" for t in obs.actionable])
        self.tell("observed: " + obs.summary + "".join(
            f"\n  {f.name} ({f.location}): {f.reason}" for f in obs.failing), detail=True)
        return obs

    def _run_checks(self) -> RunResult:
        try:
            return self.checks()
        except EscalatorError as exc:
            return RunResult(scenarios=(), errors=(str(exc),))

    def _keep(self, run: RunResult) -> None:
        """Store the run as `run` and `check` do; a store that fails costs a note, never the
        engagement (the ladder's own state is what its decisions rest on)."""
        if self.record is None:
            return
        try:
            self.record(run)
        except OSError as exc:
            self.store.audit("store_failed", reason=f"the run could not be stored: {exc}")
            self.say(f"{self.store.environment}: the run could not be stored: {exc}")

    def _check_levels(self, run: RunResult) -> None:
        """An `@escalate.` tag naming no level is a configuration error: refuse, don't page."""
        for scenario in run.scenarios:
            if scenario.level and scenario.level not in self.config.level_ids:
                raise ConfigError(f"{scenario.file}:{scenario.line}: @escalate.{scenario.level}: "
                                  f"no such ladder level (levels: "
                                  f"{', '.join(self.config.level_ids)})")

    def preview(self) -> tuple[Observation, Plan | None, Decision | None, LadderState]:
        """The plan the ladder would run now, from one fresh run; runs and writes nothing else
        (`escalate --dry-run`, `ladder plan`)."""
        run = self._run_checks()
        self._check_levels(run)
        state = decide.record(self.state, run)
        obs = decide.observe(run, self.config, state)
        plan = decide.make_plan(obs, self.config)
        decision = None if plan is None else decide.gate(plan, state, self.config, self.now(),
                                                         wall=self.env.now())
        return obs, plan, decision, state


def _merged(pairs: tuple[tuple[str, Any], ...], **changes: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted({**dict(pairs), **changes}.items()))


def _run_id(now: float) -> str:
    return f"{iso(now)[:19].replace('-', '').replace(':', '')}Z-{os.urandom(3).hex()}"

