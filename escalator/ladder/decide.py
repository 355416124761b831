"""Pure ladder decisions: classify a run, plan from it, and gate the plan.

No clock, no files, no processes: every function takes the config, the state and `now` and
returns a value, so the engine stays a thin sequencer and the rules are table-tested
(tests/test_ladder_decide.py, tests/test_ladder_scope.py). The engine calls, in order:
`record` (histories and flapping), `observe` (what may act), `make_plan` (deepest wins, then
cascade, per scope: `planner`) and `gate` (maintenance, loop breaker, hourly budget, cooldowns,
per host for host-scoped levels); `rebase` when it loads the state (clock steps).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from escalator.durations import format_duration
from escalator.formatters import reason
from escalator.ladder import planner
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
from escalator.ladder.plans import HostPlan
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
    """Classify `run`: only failed, tagged, non-flapping scenarios may act (and a host-scoped
    level only for a host that is not latched), and none at all when the monitor itself
    looks broken (mass failure, too many unknowns, run errors)."""
    failed, unknown = run.count(Outcome.FAILED), run.count(Outcome.UNKNOWN)
    held = tuple((latch.host, latch.reason) for latch in state.host_latches)
    latched = {host for host, _ in held}
    actionable, failing = [], []
    for scenario in run.scenarios:
        if scenario.outcome is Outcome.PASSED:
            continue
        category = _category(scenario, config, state, latched)
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
                                      for s in run.scenarios),
                       hosts=tuple((s.host, s.group or "") for s in run.scenarios
                                   if s.host is not None), held=held)


def _category(scenario: ScenarioResult, config: LadderConfig, state: LadderState,
              held: set[str]) -> str:
    if scenario.outcome is not Outcome.FAILED:
        return "unknown"
    if scenario.key in state.flapping:
        return "flapping"
    if scenario.level is None or scenario.level not in config.level_ids:
        return "no_level"
    if scenario.host in held and config.per_host(scenario.level):
        return "latched"
    return "actionable"


def _failing(scenario: ScenarioResult, category: str) -> Failing:
    return Failing(key=scenario.key, name=scenario.name, location=scenario.location,
                   reason=reason(scenario), severity=scenario.severity.value,
                   category=category, runbook=scenario.runbook, level=scenario.level,
                   host=scenario.host)


def _degraded(run: RunResult, config: LadderConfig) -> tuple[str | None, str | None]:
    """(kind, reason) when the monitor itself looks broken; (None, None) otherwise."""
    total, unknown = len(run.scenarios), run.count(Outcome.UNKNOWN)
    if run.errors:
        return "run_error", f"the run could not be made: {run.errors[0]}"
    if total == 0:
        return "no_scenarios", "no scenario ran"
    mass = _mass_failure(run.scenarios, config.max_failing_fraction)
    if mass is not None:
        return "mass_failure", f"mass failure: {mass} (monitor or shared dependency)"
    if unknown > total * config.max_unknown_fraction:
        return "monitor_blind", f"monitor blind: {unknown} of {total} scenarios unknown"
    return None, None


def _mass_failure(scenarios: tuple[ScenarioResult, ...], fraction: float) -> str | None:
    """What fails en masse, or None. Scenarios without a host: more than `fraction` of them
    (and at least two). A fan-out group (`@each.<group>`): at least `fraction` of its hosts
    (and at least two), a host failing when any of its scenarios fails: one dead node acts,
    half the fleet pages. One failing scenario or host is never mass failure."""
    plain = [s for s in scenarios if s.host is None]
    failed = sum(1 for s in plain if s.outcome is Outcome.FAILED)
    if failed >= 2 and failed > len(plain) * fraction:
        return f"{failed} of {len(plain)} scenarios failing"
    groups: dict[str, dict[str, bool]] = {}
    for s in scenarios:
        if s.host is not None:
            hosts = groups.setdefault(s.group or "", {})
            hosts[s.host] = hosts.get(s.host, False) or s.outcome is Outcome.FAILED
    for group, hosts in groups.items():
        down = [host for host, failing in hosts.items() if failing]
        if len(down) >= 2 and len(down) >= len(hosts) * fraction:
            return (f"{len(down)} of {len(hosts)} {group or 'fan-out'} hosts failing: "
                    f"{', '.join(down)}")
    return None


def _trigger(scenario: ScenarioResult) -> Trigger:
    targets = tuple(tag.lstrip("@")[len("target."):] for tag in scenario.tags
                    if tag.lstrip("@").startswith("target."))
    return Trigger(key=scenario.key, name=scenario.name, level=scenario.level or "",
                   targets=targets, host=scenario.host, group=scenario.group)


def make_plan(observation: Observation, config: LadderConfig) -> Plan | None:
    """Deepest wins, then cascade: the deepest level any actionable failure needs and every
    level after it, each once, per host for host-scoped levels (`planner`). None when nothing
    may act (degraded or no actionable failure).
    """
    if observation.degraded or not observation.actionable:
        return None
    return planner.plan(observation.actionable, config, observation.hosts,
                        {host for host, _ in observation.held})


def active_window(config: LadderConfig, now: float) -> Maintenance | None:
    return next((w for w in config.maintenance if w.covers(now)), None)


def gate(plan: Plan, state: LadderState, config: LadderConfig, now: float,
         new_engagement: bool = True, wall: float | None = None) -> Decision:
    """May `plan` run now? First hit wins: latched, maintenance, loop breaker, the hosts'
    own gates, budget, cooldown.

    A host whose own loop breaker, budget or cooldown forbids its part is left out of the
    plan and latches (`host_latches`); the rest may act (`hold` when nothing is left). The
    environment's loop breaker counts engagements that ran a level for the environment, so it
    holds plans that have one; the hourly budget bounds every level run of every host. A
    re-converge inside an engagement passes `new_engagement=False`: it is not a new
    engagement for the loop breakers, but budgets and cooldowns still hold. Counters are
    judged at `now` (the engine's monotonic clock), maintenance windows at `wall` (the
    calendar).
    """
    if state.latch is not None:
        return Decision("latched", f"latched: {state.latch.reason}", plan)
    window = active_window(config, now if wall is None else wall)
    if window is not None:
        return Decision("suppress", f"maintenance window until {_iso(window.end)}"
                        + (f" ({window.reason})" if window.reason else ""), plan)
    recent = _since(state.engagements, now - config.loop_window)
    if new_engagement and plan.for_environment and recent >= config.loop_engagements:
        return Decision("latch", f"loop breaker: {recent} engagements within "
                        f"{_span(config.loop_window)}", plan)
    steps = Counter(host for _, host in plan.sequence)  # level runs per host
    held = tuple((part.host, why) for part in plan.hosts
                 if (why := _host_gate(part, steps[part.host], state, config, now,
                                       new_engagement)))
    rest = plan.without(host for host, _ in held) if held else plan
    if rest is None:
        return Decision("hold", "; ".join(f"{host}: {why}" for host, why in held), plan,
                        host_latches=held)
    needs = len(rest.sequence)
    spent = _since(state.actions, now - HOUR)
    if spent + needs > config.max_actions_per_hour:
        return Decision("latch", f"hourly budget: {spent} actions in the last hour, plan needs "
                        f"{needs}, limit {config.max_actions_per_hour}", plan)
    for level_id in dict.fromkeys(level for level, host in rest.sequence if host is None):
        level, last = config.level(level_id), state.last_run(level_id)
        if last is not None and last + level.cooldown > now:
            return Decision("latch", f"cooldown: level {level_id} ran {_span(now - last)} ago, "
                            f"cooldown {_span(level.cooldown)}", plan)
    what = rest.describe() if rest.hosts else ", ".join(rest.levels)
    return Decision("act", f"run {what}", rest, host_latches=held)


def _host_gate(part: HostPlan, needs: int, state: LadderState, config: LadderConfig,
               now: float, new_engagement: bool) -> str:
    """Why `part` (one host's `needs` level runs) may not run now, or "": its latch, its loop
    breaker, its hourly budget, its cooldowns."""
    host = part.host
    latch = state.host_latch(host)
    if latch is not None:
        return f"latched: {latch.reason}"
    recent = _since((t for on, t in state.host_engagements if on == host),
                    now - config.host_loop_window)
    if new_engagement and recent >= config.host_loop_engagements:
        return f"loop breaker: {recent} engagements for {host} within " \
               f"{_span(config.host_loop_window)}"
    spent = _since((t for on, t in state.host_actions if on == host), now - HOUR)
    if spent + needs > config.host_actions_per_hour:
        return (f"hourly budget: {spent} action{'s' * (spent != 1)} for {host} in the last "
                f"hour, its plan needs {needs}, limit {config.host_actions_per_hour}")
    for level_id in part.levels:
        level, last = config.level(level_id), state.last_run(level_id, host)
        if last is not None and last + level.cooldown > now:
            return (f"cooldown: level {level_id} ran {_span(now - last)} ago, cooldown "
                    f"{_span(level.cooldown)}")
    return ""


def prune(state: LadderState, config: LadderConfig, now: float) -> LadderState:
    """Drop counter entries no gate can see any more (keeps the state file small).

    The horizon is measured back from the newest entry, not from `now` alone: a clock that
    jumps ahead (and its run that acts on nothing) must not erase what the gates need once the
    clock is right again; entries age out as newer ones come.
    """
    keep = max(HOUR, config.loop_window, config.host_loop_window,
               *(level.cooldown for level in config.levels))
    newest = max(_counters(state), default=now)
    horizon = min(now, newest) - keep
    return state.with_(
        actions=tuple(t for t in state.actions if t >= horizon),
        engagements=tuple(t for t in state.engagements if t >= horizon),
        level_runs=tuple((lid, t) for lid, t in state.level_runs if t >= horizon),
        host_actions=tuple((h, t) for h, t in state.host_actions if t >= horizon),
        host_engagements=tuple((h, t) for h, t in state.host_engagements if t >= horizon),
        host_runs=tuple((lid, h, t) for lid, h, t in state.host_runs if t >= horizon),
    )


def _counters(state: LadderState) -> list[float]:
    """Every time a counter of `state` holds."""
    return [*state.actions, *state.engagements, *(t for _, t in state.level_runs),
            *(t for _, t in state.host_actions), *(t for _, t in state.host_engagements),
            *(t for _, _, t in state.host_runs)]


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
    shift = 0.0
    if state.clock is not None and boot and state.clock[0] == boot and mono >= state.clock[1]:
        shift = wall - (state.clock[2] + (mono - state.clock[1]))
        if abs(shift) <= JUMP:
            shift = 0.0
    if not shift and all(t <= wall for t in _counters(state)):
        return state

    def moved(t: float) -> float:
        return min(t + shift, wall)

    return state.with_(actions=tuple(moved(t) for t in state.actions),
                       engagements=tuple(moved(t) for t in state.engagements),
                       level_runs=tuple((lid, moved(t)) for lid, t in state.level_runs),
                       host_actions=tuple((h, moved(t)) for h, t in state.host_actions),
                       host_engagements=tuple((h, moved(t)) for h, t in state.host_engagements),
                       host_runs=tuple((lid, h, moved(t)) for lid, h, t in state.host_runs))


def _since(times: Iterable[float], start: float) -> int:
    return sum(1 for t in times if t > start)


def _span(seconds: float) -> str:
    return format_duration(max(seconds, 0.0))


def _iso(ts: float) -> str:
    return utc(ts)
