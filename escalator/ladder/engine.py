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

With host-scoped levels a plan has a part per host (`plans`): a host that may not act latches
on its own (`latch(..., host=)`) while the others act, and a verify that fails in the end
latches the hosts whose scenarios still fail, or the environment when one of its own does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from escalator.durations import format_duration
from escalator.env import Env, boot_id
from escalator.errors import ConfigError, EscalatorError
from escalator.exit_codes import ExitCode
from escalator.ladder import cascade, decide, recovery, stop, verify
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
from escalator.ladder.plans import label
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
    host: str | None = None

    @property
    def label(self) -> str:
        return label(self.level, self.host)


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
        self.host_of: dict[str, str] = {}  # scenario key -> host, of the hosts' plan parts
        self.held: dict[str, str] = {}  # hosts latched in this engagement, and why
        # (host, groups) -> the address for ESCALATOR_ADDRESS (None: the host's name is used)
        self.address_of: Callable[[str, tuple[str, ...]], str | None] | None = None
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

    def resume(self, who: str, why: str, reset: bool = False,
               hosts: Collection[str] | None = None) -> bool:
        """Unlatch (every latch, or `hosts`' only), audited with who and why
        (`resume.unlatch`); False when nothing of it was latched."""
        return unlatch(self, who, why, reset, hosts)

    # -- one engagement ---------------------------------------------------------------------
    def engage(self, first: RunResult | None = None) -> Engagement:
        take_request(self)
        return self.guarded(lambda run_id: self._engage(run_id, first))

    def guarded(self, body: Callable[[str], Engagement]) -> Engagement:
        """Run `body` as one engagement with a new run id: a stop signal or an error that cuts
        it short still ends it through `end` (`interrupted`, `error`). Also used by converge."""
        self.steps, self.plan, self.running, self.obs = [], None, None, None
        self.host_of, self.held = {}, {}
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
                         subsumed=[t.name for t in plan.subsumed], reconverge=reconverge,
                         **_hosts_of(plan, decision))
        covered = ", ".join(t.name for t in plan.subsumed)
        self.tell(f"plan: {plan.describe()} for {', '.join(t.name for t in plan.triggers)}"
                  + (f"; {covered} covered by it" if covered else "")
                  + ("" if decision.acts else f"; {decision.verdict}: {decision.reason}"))
        if decision.verdict == "suppress":
            self.store.audit("would_run", run_id, decision.reason, plan=list(plan.levels))
            return self.end(run_id, "suppressed", decision.reason, FAILING, plan)
        for host, why in decision.host_latches:
            self.latch(run_id, why, host=host)
        if decision.verdict == "hold":
            return self.end(run_id, "latched", f"latched {decision.reason}", FAILING, plan)
        if not decision.acts:
            self.latch(run_id, decision.reason)
            return self.end(run_id, "latched", decision.reason, FAILING, plan)
        assert decision.plan is not None
        return self._act(run_id, decision, reconverge, watched | decision.plan.keys)

    def _act(self, run_id: str, decision: Decision, reconverge: int,
             watched: frozenset[str]) -> Engagement:
        plan = decision.plan
        assert plan is not None
        self.plan = plan
        self.host_of.update(plan.host_of())
        if reconverge == 0:
            self.open_engagement(run_id, plan, decision.reason)
        self._cascade(run_id, plan)
        return self._verify_and_end(run_id, watched, reconverge + 1)

    def open_engagement(self, run_id: str, plan: Plan, reason: str, command: str = "",
                        **audit: Any) -> None:
        """The first plan of an engagement acts: count it (for the environment's loop breaker
        when a level runs for the environment, for each host's when it runs for the host) and
        keep it as the last engagement (`command`: converge says it is one, also in `audit`)."""
        now = self.now()
        self.engaged = run_id
        hosts = [part.host for part in plan.hosts]
        last = {"plan": list(plan.levels), "run_id": run_id, "started": now, "steps": [],
                **({"command": command} if command else {}),
                **({"hosts": hosts} if hosts else {})}
        self.save(self.state.with_(
            engagements=(*self.state.engagements, now) if plan.for_environment
            else self.state.engagements,
            host_engagements=(*self.state.host_engagements, *((h, now) for h in hosts)),
            last_engagement=tuple(sorted(last.items()))))
        if hosts:
            audit.update(hosts=hosts, environment=plan.for_environment)
        self.store.audit("engaged", run_id, reason, plan=list(plan.levels), **audit)

    def _verify_and_end(self, run_id: str, watched: frozenset[str], plans: int,
                        replan: bool = True) -> Engagement:
        """Verify the plans that ran, re-converge or latch (`verify.end`)."""
        return verify.end(self, run_id, watched, plans, replan)

    # -- cascade ----------------------------------------------------------------------------
    def _cascade(self, run_id: str, plan: Plan, after: cascade.After | None = None) -> None:
        """Each level run of `plan` once, in order (`cascade.run`)."""
        cascade.run(self, run_id, plan, after)

    def add_step(self, run_id: str, level_id: str, result: ActionResult,
                 host: str | None = None) -> None:
        """A level that ran in this engagement, kept in its record as it goes."""
        self.steps.append(StepRecord(level_id, result.status, result.exit_code,
                                     result.duration, host))
        if self.engaged == run_id:
            self.save(self.state.with_(last_engagement=_merged(
                self.state.last_engagement, steps=[s.__dict__ for s in self.steps])))

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
        """Nothing may act on `obs`: `latched` when what fails is only latched hosts'."""
        reason = obs.nothing_because
        self.store.audit("no_action", run_id, reason)
        only_held = obs.degraded is None and bool(obs.of("latched")) and all(
            f.category in ("latched", "unknown") for f in obs.failing)
        return self.end(run_id, "latched" if only_held else "unactionable", reason, FAILING)

    def _still_latched(self, run_id: str) -> Engagement:
        latch = self.state.latch
        assert latch is not None
        self.store.audit("no_action", run_id, f"latched: {latch.reason}")
        return self.end(run_id, "latched", latch.reason, FAILING)

    def latch(self, run_id: str, reason: str, next_step: str = "", host: str = "") -> None:
        """Stop acting until a human resumes (for `host`: its host-scoped levels only); the
        page goes out when the engagement ends."""
        latch = Latch(reason, self.now(), run_id, next_step=next_step, host=host)
        if host:
            self.held[host] = reason
            self.save(self.state.with_(host_latches=(*(other for other in
                                                       self.state.host_latches
                                                       if other.host != host), latch)))
            self.store.audit("latched", run_id, reason, next_step=next_step, host=host)
            self.tell(f"latched {host}: {reason}")
            return
        self.save(self.state.with_(latch=latch))
        self.store.audit("latched", run_id, reason, next_step=next_step)
        self.tell(f"latched: {reason}")

    def latched(self, host: str = "") -> bool:
        """Whether the environment (or, given one, `host`) already is latched."""
        return self.state.latch is not None or (
            bool(host) and self.state.host_latch(host) is not None)

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


def _hosts_of(plan: Plan, decision: Decision) -> dict[str, Any]:
    """For the `planned` record of a plan with host parts: each host's levels, and the hosts
    that may not act now with why."""
    if not plan.hosts:
        return {}
    return {"hosts": {part.host: list(part.levels) for part in plan.hosts},
            **({"held": dict(decision.host_latches)} if decision.host_latches else {})}


def _merged(pairs: tuple[tuple[str, Any], ...], **changes: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted({**dict(pairs), **changes}.items()))


def _run_id(now: float) -> str:
    return f"{iso(now)[:19].replace('-', '').replace(':', '')}Z-{os.urandom(3).hex()}"

