"""The ladder's pure decisions, one table row per rule of docs/ladder.md and per failure mode of
research section 4 that needs no process: classification, plan, gates, flapping."""

from __future__ import annotations

from functools import partial

import pytest

from escalator.ladder import decide
from escalator.ladder.model import LadderConfig, LadderState, Latch, Level, Maintenance
from escalator.results import ScenarioResult
from tests import builders

LEVELS = ("iaas", "network", "tier", "vm", "converge", "deploy")
NOW = 1_800_000_000.0


def config(**overrides: object) -> LadderConfig:
    levels = tuple(Level(i, ("/bin/true",), timeout=60.0, cooldown=600.0 if i == "vm" else 0.0)
                   for i in LEVELS)
    return LadderConfig(levels=levels, **overrides)  # type: ignore[arg-type]


scenario = partial(builders.scenario, feature="F", file="features/f.feature", line=1)
run = builders.run_of


HEALTHY = [scenario(f"ok{i}", "passed") for i in range(4)]


@pytest.mark.parametrize(("case", "scenarios", "expected"), [
    ("a failure tagged with a level acts",
     [scenario("ping", "failed", "vm")], ("vm", "converge", "deploy")),
    ("smoke only: deploy alone",
     [scenario("smoke", "failed", "deploy")], ("deploy",)),
    ("deepest wins, each level once",
     [scenario("smoke", "failed", "deploy"), scenario("ping", "failed", "vm")],
     ("vm", "converge", "deploy")),
    ("the deepest level of all means the whole ladder",
     [scenario("account", "failed", "iaas")], LEVELS),
    ("unknown never acts", [scenario("ping", "unknown", "vm")], None),
    ("a failure without a level does not act", [scenario("ping", "failed")], None),
    ("a level the ladder lacks does not act", [scenario("ping", "failed", "nope")], None),
    ("passing scenarios do not act", [scenario("ping", "passed", "vm")], None),
])
def test_plan_from_one_run(case: str, scenarios: list[ScenarioResult],
                           expected: tuple[str, ...] | None) -> None:
    cfg = config()
    obs = decide.observe(run(*HEALTHY, *scenarios), cfg, LadderState("e"))
    plan = decide.make_plan(obs, cfg)
    assert (plan.levels if plan else None) == expected, case


def test_subsumed_failures_are_covered_by_the_cascade_and_targets_are_collected() -> None:
    cfg = config()
    obs = decide.observe(run(*HEALTHY, scenario("ping", "failed", "vm", ("target.web-1",)),
                             scenario("smoke", "failed", "deploy", ("@target.www",))),
                         cfg, LadderState("e"))
    plan = decide.make_plan(obs, cfg)
    assert plan is not None
    assert (plan.start, [t.name for t in plan.triggers], [t.name for t in plan.subsumed],
            plan.targets) == ("vm", ["ping"], ["smoke"], ("web-1", "www"))


@pytest.mark.parametrize(("case", "scenarios", "errors", "degraded"), [
    ("more than half failing is mass failure",
     [scenario("a", "failed", "vm"), scenario("b", "failed", "vm"), scenario("c", "passed")],
     (), "mass failure: 2 of 3 scenarios failing (monitor or shared dependency)"),
    ("exactly half is not",
     [scenario("a", "failed", "vm"), scenario("b", "passed")], (), None),
    ("one failing scenario of one is not mass failure",
     [scenario("a", "failed", "vm")], (), None),
    ("too many unknowns: the monitor is blind",
     [scenario("a", "unknown"), scenario("b", "unknown"), scenario("c", "failed", "vm")], (),
     "monitor blind: 2 of 3 scenarios unknown"),
    ("a run that could not be made",
     [scenario("a", "failed", "vm")], ("features/x.feature:3: parse error",),
     "the run could not be made: features/x.feature:3: parse error"),
    ("nothing ran", [], (), "no scenario ran"),
])
def test_a_broken_monitor_never_acts(case: str, scenarios: list[ScenarioResult],
                                     errors: tuple[str, ...], degraded: str | None) -> None:
    cfg = config()
    obs = decide.observe(run(*scenarios, errors=errors), cfg, LadderState("e"))
    assert obs.degraded == degraded, case
    if degraded:
        assert decide.make_plan(obs, cfg) is None


def test_mass_failure_threshold_is_configurable() -> None:
    cfg = config(max_failing_fraction=1.0)
    obs = decide.observe(run(scenario("a", "failed", "iaas"), scenario("b", "failed", "vm")),
                         cfg, LadderState("e"))
    plan = decide.make_plan(obs, cfg)
    assert obs.degraded is None and plan is not None and plan.levels == LEVELS


def history(flips: set[int]) -> str:
    """21 outcomes with a state change at each index in `flips` (1..20)."""
    out = "P"
    for i in range(1, 21):
        out += ("F" if out[-1] == "P" else "P") if i in flips else out[-1]
    return out


# Transition weights are 0.80 + 0.02*(i-1); percent = sum / 20 * 100.
AT_30 = {20, 19, 18, 4, 3, 2}  # 1.18+1.16+1.14+0.86+0.84+0.82 = 6.00 -> 30.0 %
BELOW_30 = {20, 19, 18, 4, 3, 1}  # 5.98 -> 29.9 %
AT_25 = {1, 9, 11, 14, 20}  # 0.80+0.96+1.00+1.06+1.18 = 5.00 -> 25.0 %
ABOVE_25 = {1, 10, 11, 14, 20}  # 5.02 -> 25.1 %


@pytest.mark.parametrize(("flips", "was", "percent", "flapping"), [
    (AT_30, False, 30.0, True),
    (BELOW_30, False, 29.9, False),
    (AT_25, True, 25.0, False),
    (ABOVE_25, True, 25.1, True),
    (ABOVE_25, False, 25.1, False),
    (set(), True, 0.0, False),
])
def test_flapping_matches_the_reference_algorithm_with_hysteresis(
        flips: set[int], was: bool, percent: float, flapping: bool) -> None:
    h = history(flips)
    assert decide.flap_percent(h) == pytest.approx(percent, abs=1e-9)
    assert decide.is_flapping(h, was) is flapping


def test_a_flapping_scenario_never_acts_and_histories_keep_21_outcomes() -> None:
    cfg, state = config(), LadderState("e")
    for letter in "PF" * 15:
        state = decide.record(state, run(scenario("ping", "passed" if letter == "P" else
                                                  "failed", "vm")))
    failing = run(*HEALTHY, scenario("ping", "failed", "vm"))
    state = decide.record(state, failing)
    obs = decide.observe(failing, cfg, state)
    assert len(state.history("features/f.feature::ping")) == 21
    assert (obs.flapping, obs.actionable, decide.make_plan(obs, cfg)) == (("ping",), (), None)


def test_fewer_than_21_samples_never_flap() -> None:
    assert decide.is_flapping("PF" * 10, False) is False


PLAN = decide.make_plan(decide.observe(run(*HEALTHY, scenario("ping", "failed", "vm")),
                                       config(), LadderState("e")), config())
HOUR = 3600.0


@pytest.mark.parametrize(("case", "state", "cfg", "verdict", "reason"), [
    ("nothing in the way", LadderState("e"), config(), "act", "run vm, converge, deploy"),
    ("a latched ladder does nothing",
     LadderState("e", latch=Latch("budget", NOW - 5)), config(), "latched", "latched: budget"),
    ("maintenance suppresses actions", LadderState("e"),
     config(maintenance=(Maintenance(NOW - 60, NOW + 60, "provider work"),)), "suppress",
     "maintenance window until 2027-01-15T08:01:00Z (provider work)"),
    ("a window that ended does not", LadderState("e"),
     config(maintenance=(Maintenance(NOW - 60, NOW, "over"),)), "act", "run vm, converge, deploy"),
    ("loop breaker: the limit of engagements within the window",
     LadderState("e", engagements=(NOW - 5 * HOUR, NOW - HOUR, NOW - 60)), config(), "latch",
     "loop breaker: 3 engagements within 6h"),
    ("engagements older than the window do not count",
     LadderState("e", engagements=(NOW - 7 * HOUR, NOW - HOUR, NOW - 60)), config(), "act",
     "run vm, converge, deploy"),
    ("hourly budget: the plan would exceed it",
     LadderState("e", actions=(NOW - 100,) * 4), config(), "latch",
     "hourly budget: 4 actions in the last hour, plan needs 3, limit 6"),
    ("the budget has room for exactly the plan",
     LadderState("e", actions=(NOW - 100,) * 3 + (NOW - 2 * HOUR,)), config(), "act",
     "run vm, converge, deploy"),
    ("a level of the plan is cooling down",
     LadderState("e", level_runs=(("vm", NOW - 300),)), config(), "latch",
     "cooldown: level vm ran 5m ago, cooldown 10m"),
    ("a cooldown that has passed",
     LadderState("e", level_runs=(("vm", NOW - 601),)), config(), "act",
     "run vm, converge, deploy"),
])
def test_gates(case: str, state: LadderState, cfg: LadderConfig, verdict: str,
               reason: str) -> None:
    assert PLAN is not None
    decision = decide.gate(PLAN, state, cfg, NOW)
    assert (decision.verdict, decision.reason) == (verdict, reason), case


def test_a_reconverge_is_not_a_new_engagement_for_the_loop_breaker() -> None:
    assert PLAN is not None
    state = LadderState("e", engagements=(NOW - 3, NOW - 2, NOW - 1))
    assert decide.gate(PLAN, state, config(), NOW, new_engagement=False).verdict == "act"


def test_prune_keeps_what_a_gate_can_still_see() -> None:
    state = LadderState("e", actions=(NOW - 7 * HOUR, NOW - 10),
                        engagements=(NOW - 7 * HOUR, NOW - 5 * HOUR),
                        level_runs=(("vm", NOW - 7 * HOUR), ("vm", NOW - 10)))
    pruned = decide.prune(state, config(), NOW)
    assert (pruned.actions, pruned.engagements, pruned.level_runs) == (
        (NOW - 10,), (NOW - 5 * HOUR,), (("vm", NOW - 10),))
