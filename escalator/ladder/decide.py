"""Pure ladder decisions: classify a run, plan from it, and gate the plan.

No clock, no files, no processes: every function takes the config, the state and `now` and
returns a value, so the engine stays a thin sequencer and the rules are table-tested
(tests/test_ladder_decide.py). The engine calls, in order: `record` (histories and flapping),
`observe` (what may act), `make_plan` (deepest wins, then cascade) and `gate` (maintenance,
loop breaker, hourly budget, cooldowns); `rebase` when it loads the state (clock steps).
"""

from __future__ import annotations

from collections.abc import Iterable

from escalator.durations import format_duration
from escalator.formatters import reason
from escalator.ladder.model import (
    Decision,
    Failing,
    LadderConfig,
    LadderState,
    Maintenance,
    Observation,
    Plan,
    Trigger,
)
from escalator.results import Outcome, RunResult, ScenarioResult
from escalator.timestamps import utc

HISTORY = 21  # outcomes kept per scenario: 20 transitions, as Nagios, Icinga and Sensu do
FLAP_HIGH = 30.0  # start flapping at or above this percent state change
FLAP_LOW = 25.0  # stop flapping at or below this (hysteresis)
HOUR = 3600.0
_LETTER = {Outcome.PASSED: "P", Outcome.FAILED: "F", Outcome.UNKNOWN: "U"}


def flap_percent(history: str) -> float | None:
    """Weighted percent state change over the last 21 outcomes; None below 21 samples.

    Newer transitions weigh more: 0.80 for the oldest, plus 0.02 per step (sensu-go).
    >>> flap_percent("PF" * 10 + "P")
    99.0
    >>> flap_percent("P" * 21)
    0.0
    >>> flap_percent("PF") is None
    True
    """
    if len(history) < HISTORY:
        return None
    recent = history[-HISTORY:]
    total = sum(0.80 + 0.02 * (i - 1) for i in range(1, HISTORY) if recent[i] != recent[i - 1])
    return round(total / 20 * 100, 6)


def is_flapping(history: str, was_flapping: bool) -> bool:
    """Hysteresis: flapping starts at FLAP_HIGH and lasts while above FLAP_LOW."""
    pct = flap_percent(history)
    if pct is None:
        return False
    return pct > FLAP_LOW if was_flapping else pct >= FLAP_HIGH


def record(state: LadderState, run: RunResult) -> LadderState:
    """`state` with each scenario's outcome appended to its history and flapping recomputed."""
    histories = dict(state.histories)
    flapping = set(state.flapping)
    for scenario in run.scenarios:
        history = (histories.get(scenario.key, "") + _LETTER[scenario.outcome])[-HISTORY:]
        histories[scenario.key] = history
        if is_flapping(history, scenario.key in flapping):
            flapping.add(scenario.key)
        else:
            flapping.discard(scenario.key)
    return state.with_(histories=tuple(sorted(histories.items())),
                       flapping=tuple(sorted(flapping)))


def observe(run: RunResult, config: LadderConfig, state: LadderState) -> Observation:
    """Classify `run`: only failed, tagged, non-flapping scenarios may act, and none at all
    when the monitor itself looks broken (mass failure, too many unknowns, run errors)."""
    failed, unknown = run.count(Outcome.FAILED), run.count(Outcome.UNKNOWN)
    actionable, failing = [], []
    for scenario in run.scenarios:
        if scenario.outcome is Outcome.PASSED:
            continue
        category = _category(scenario, config, state)
        failing.append(_failing(scenario, category))
        if category == "actionable":
            actionable.append(_trigger(scenario))
    kind, degraded = _degraded(run, config)
    return Observation(total=len(run.scenarios), passed=run.count(Outcome.PASSED),
                       failed=failed, unknown=unknown, actionable=tuple(actionable),
                       flapping=tuple(f.name for f in failing if f.category == "flapping"),
                       untagged=tuple(f.name for f in failing if f.category == "no_level"),
                       degraded=degraded, degraded_kind=kind, failing=tuple(failing),
                       outcomes=tuple((s.key, s.name, _LETTER[s.outcome])
                                      for s in run.scenarios))


def _category(scenario: ScenarioResult, config: LadderConfig, state: LadderState) -> str:
    if scenario.outcome is not Outcome.FAILED:
        return "unknown"
    if scenario.key in state.flapping:
        return "flapping"
    if scenario.level is None or scenario.level not in config.level_ids:
        return "no_level"
    return "actionable"


def _failing(scenario: ScenarioResult, category: str) -> Failing:
    return Failing(key=scenario.key, name=scenario.name, location=scenario.location,
                   reason=reason(scenario), severity=scenario.severity.value,
                   category=category, runbook=scenario.runbook, level=scenario.level)


def _degraded(run: RunResult, config: LadderConfig) -> tuple[str | None, str | None]:
    """(kind, reason) when the monitor itself looks broken; (None, None) otherwise."""
    total, failed = len(run.scenarios), run.count(Outcome.FAILED)
    unknown = run.count(Outcome.UNKNOWN)
    if run.errors:
        return "run_error", f"the run could not be made: {run.errors[0]}"
    if total == 0:
        return "no_scenarios", "no scenario ran"
    # One failing scenario is never "mass" failure, however small the suite.
    if failed >= 2 and failed > total * config.max_failing_fraction:
        return "mass_failure", (f"mass failure: {failed} of {total} scenarios failing "
                                "(monitor or shared dependency)")
    if unknown > total * config.max_unknown_fraction:
        return "monitor_blind", f"monitor blind: {unknown} of {total} scenarios unknown"
    return None, None


def _trigger(scenario: ScenarioResult) -> Trigger:
    targets = tuple(tag.lstrip("@")[len("target."):] for tag in scenario.tags
                    if tag.lstrip("@").startswith("target."))
    return Trigger(key=scenario.key, name=scenario.name, level=scenario.level or "",
                   targets=targets)


def make_plan(observation: Observation, config: LadderConfig) -> Plan | None:
    """Deepest wins, then cascade: the deepest level any actionable failure needs and every
    level after it, each once. None when nothing may act (degraded or no actionable failure).
    """
    if observation.degraded or not observation.actionable:
        return None
    start = min(config.position(t.level) for t in observation.actionable)
    triggers = tuple(t for t in observation.actionable if config.position(t.level) == start)
    subsumed = tuple(t for t in observation.actionable if config.position(t.level) > start)
    return Plan(start=config.level_ids[start - 1], levels=config.level_ids[start - 1:],
                triggers=triggers, subsumed=subsumed)


def active_window(config: LadderConfig, now: float) -> Maintenance | None:
    return next((w for w in config.maintenance if w.covers(now)), None)


def gate(plan: Plan, state: LadderState, config: LadderConfig, now: float,
         new_engagement: bool = True, wall: float | None = None) -> Decision:
    """May `plan` run now? First hit wins: latched, maintenance, loop breaker, budget, cooldown.

    A re-converge inside an engagement passes `new_engagement=False`: it is not a new
    engagement for the loop breaker, but budget and cooldowns still hold. Counters are judged
    at `now` (the engine's monotonic clock), maintenance windows at `wall` (the calendar).
    """
    if state.latch is not None:
        return Decision("latched", f"latched: {state.latch.reason}", plan)
    window = active_window(config, now if wall is None else wall)
    if window is not None:
        return Decision("suppress", f"maintenance window until {_iso(window.end)}"
                        + (f" ({window.reason})" if window.reason else ""), plan)
    recent = _since(state.engagements, now - config.loop_window)
    if new_engagement and recent >= config.loop_engagements:
        return Decision("latch", f"loop breaker: {recent} engagements within "
                        f"{_span(config.loop_window)}", plan)
    spent = _since(state.actions, now - HOUR)
    if spent + len(plan.levels) > config.max_actions_per_hour:
        return Decision("latch", f"hourly budget: {spent} actions in the last hour, plan needs "
                        f"{len(plan.levels)}, limit {config.max_actions_per_hour}", plan)
    for level_id in plan.levels:
        level, last = config.level(level_id), state.last_run(level_id)
        if last is not None and last + level.cooldown > now:
            return Decision("latch", f"cooldown: level {level_id} ran {_span(now - last)} ago, "
                            f"cooldown {_span(level.cooldown)}", plan)
    return Decision("act", f"run {', '.join(plan.levels)}", plan)


def prune(state: LadderState, config: LadderConfig, now: float) -> LadderState:
    """Drop counter entries no gate can see any more (keeps the state file small).

    The horizon is measured back from the newest entry, not from `now` alone: a clock that
    jumps ahead (and its run that acts on nothing) must not erase what the gates need once the
    clock is right again; entries age out as newer ones come.
    """
    keep = max(HOUR, config.loop_window, *(level.cooldown for level in config.levels))
    newest = max((*state.actions, *state.engagements, *(t for _, t in state.level_runs)),
                 default=now)
    horizon = min(now, newest) - keep
    return state.with_(
        actions=tuple(t for t in state.actions if t >= horizon),
        engagements=tuple(t for t in state.engagements if t >= horizon),
        level_runs=tuple((lid, t) for lid, t in state.level_runs if t >= horizon),
    )


JUMP = 5.0  # seconds the wall clock may drift from monotonic time before it counts as a step


def rebase(state: LadderState, boot: str, mono: float, wall: float) -> LadderState:
    """`state` with its counters in terms of the wall clock `wall`, whatever the clock did
    since the state was written.

    Within one boot (`state.clock` has the same boot id) the monotonic clock says how much time
    really passed, so a wall clock that stepped since (NTP, an operator, a clock that was
    wrong when the state was written) moves every counter with it. Without that record (another
    boot, an old file) a counter in the future counts as "now": it may only hold the ladder
    back, never free it.
    """
    counters = (state.actions, state.engagements, tuple(t for _, t in state.level_runs))
    shift = 0.0
    if state.clock is not None and boot and state.clock[0] == boot and mono >= state.clock[1]:
        shift = wall - (state.clock[2] + (mono - state.clock[1]))
        if abs(shift) <= JUMP:
            shift = 0.0
    if not shift and all(t <= wall for times in counters for t in times):
        return state

    def moved(t: float) -> float:
        return min(t + shift, wall)

    return state.with_(actions=tuple(moved(t) for t in state.actions),
                       engagements=tuple(moved(t) for t in state.engagements),
                       level_runs=tuple((lid, moved(t)) for lid, t in state.level_runs))


def _since(times: Iterable[float], start: float) -> int:
    return sum(1 for t in times if t > start)


def _span(seconds: float) -> str:
    return format_duration(max(seconds, 0.0))


def _iso(ts: float) -> str:
    return utc(ts)
