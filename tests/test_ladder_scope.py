"""Host-scoped ladder levels, pure: the per-host plan, the per-group mass failure rule and the
per-host gates, one table row per rule of docs/fleet.md ("Per-node remediation").

The ladder is `tier` (environment-scoped), then `vm`, `converge` and `deploy` (host-scoped);
the fleet is web-1 .. web-5, each checked by `ping [web-N]` (@escalate.vm) and
`home [web-N]` (@escalate.deploy)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from escalator.ladder import decide
from escalator.ladder.model import LadderConfig, LadderState, Latch, Level
from escalator.results import ScenarioResult
from tests import builders

NOW = 1_800_000_000.0
HOUR = 3600.0
HOSTS = ("web-1", "web-2", "web-3", "web-4", "web-5")


def config(levels: tuple[tuple[str, str], ...] = (("tier", "environment"), ("vm", "host"),
                                                  ("converge", "host"), ("deploy", "host")),
           **overrides: object) -> LadderConfig:
    made = tuple(Level(i, ("/bin/true",), timeout=60.0, scope=scope,
                       cooldown=600.0 if i == "vm" else 0.0) for i, scope in levels)
    return LadderConfig(levels=made, **overrides)  # type: ignore[arg-type]


scenario = partial(builders.scenario, feature="F", file="features/f.feature", line=1)


def fleet(failing: dict[str, str] | None = None, hosts: tuple[str, ...] = HOSTS,
          group: str = "web") -> list[ScenarioResult]:
    """`ping [host]` and `home [host]` for each host; `failing` maps a host to the scenario
    that fails on it (ping, home or both)."""
    out = []
    for host in hosts:
        what = (failing or {}).get(host, "")
        for name, level in (("ping", "vm"), ("home", "deploy")):
            outcome = "failed" if name in what or what == "both" else "passed"
            out.append(scenario(f"{name} [{host}]", outcome, level, host=host, group=group))
    return out


PLAIN = [scenario(f"plain{i}", "passed") for i in range(3)]
TIER_DOWN = scenario("tier answers", "failed", "tier")
SITE_DOWN = scenario("site renders", "failed", "deploy")  # no host: a host-scoped level


def plan_of(*scenarios: ScenarioResult, cfg: LadderConfig | None = None,
            state: LadderState | None = None) -> tuple[tuple[str, str | None], ...] | None:
    cfg = cfg or config()
    obs = decide.observe(builders.run_of(*scenarios), cfg, state or LadderState("e"))
    plan = decide.make_plan(obs, cfg)
    return plan.sequence if plan is not None else None


def steps(*pairs: str) -> tuple[tuple[str, str | None], ...]:
    """'vm@web-2' is vm for web-2, 'tier' a level that runs once."""
    return tuple((p.split("@")[0], p.split("@")[1] if "@" in p else None) for p in pairs)


@pytest.mark.parametrize(("case", "scenarios", "expected"), [
    ("a node down: its own vm, converge and deploy, nothing for the others",
     [*PLAIN, *fleet({"web-2": "ping"})], steps("vm@web-2", "converge@web-2", "deploy@web-2")),
    ("each host from its own deepest level; one host after the other",
     [*PLAIN, *fleet({"web-2": "ping", "web-3": "home"})],
     steps("vm@web-2", "converge@web-2", "deploy@web-2", "deploy@web-3")),
    ("a host failing twice still gets each level once",
     [*PLAIN, *fleet({"web-4": "both"})], steps("vm@web-4", "converge@web-4", "deploy@web-4")),
    ("an environment-scoped level: once, then every host the run checked, failing hosts first",
     [*PLAIN, TIER_DOWN, *fleet({"web-3": "home"})],
     steps("tier", *(f"{level}@web-{n}" for n in (3, 1, 2, 4, 5)
                     for level in ("vm", "converge", "deploy")))),
    ("a failure that checked no host asks a host-scoped level of every host",
     [*PLAIN, SITE_DOWN, *fleet()], steps(*(f"deploy@{host}" for host in HOSTS))),
    ("a fleet scenario asking an environment-scoped level asks it once",
     [*PLAIN, *fleet(), scenario("tier [web-1]", "failed", "tier", host="web-1", group="web")],
     steps("tier", *(f"{level}@web-{n}" for n in (1, 2, 3, 4, 5)
                     for level in ("vm", "converge", "deploy")))),
    ("no host checked at all: a host-scoped level runs once, as one without scope would",
     [*PLAIN, SITE_DOWN], steps("deploy")),
])
def test_the_plan_per_host(case: str, scenarios: list[ScenarioResult],
                           expected: tuple[tuple[str, str | None], ...]) -> None:
    assert plan_of(*scenarios) == expected, case


def test_each_host_has_its_own_part_of_the_plan_with_what_it_was_made_for() -> None:
    cfg = config()
    obs = decide.observe(builders.run_of(*PLAIN, *fleet({"web-2": "both", "web-3": "home"})),
                         cfg, LadderState("e"))
    plan = decide.make_plan(obs, cfg)
    assert plan is not None
    assert [(h.host, h.groups, h.levels, [t.name for t in h.triggers],
             [t.name for t in h.subsumed]) for h in plan.hosts] == [
        ("web-2", ("web",), ("vm", "converge", "deploy"), ["ping [web-2]"], ["home [web-2]"]),
        ("web-3", ("web",), ("deploy",), ["home [web-3]"], [])]
    assert (plan.start, plan.levels) == ("vm", ("vm", "converge", "deploy"))
    assert plan.describe() == "vm > converge > deploy [web-2]; deploy [web-3]"
    assert plan.keys == {"features/f.feature::ping [web-2]", "features/f.feature::home [web-2]",
                         "features/f.feature::home [web-3]"}


def test_a_plan_without_host_scoped_levels_is_the_plan_of_before() -> None:
    cfg = config(levels=(("vm", "environment"), ("deploy", "environment")))
    obs = decide.observe(builders.run_of(*PLAIN, *fleet({"web-2": "ping"})), cfg,
                         LadderState("e"))
    plan = decide.make_plan(obs, cfg)
    assert plan is not None
    assert (plan.sequence, plan.hosts, plan.describe()) == (
        steps("vm", "deploy"), (), "vm > deploy")


def test_everything_from_the_first_environment_scoped_level_is_for_the_whole_environment(
        ) -> None:
    cfg = config(levels=(("vm", "host"), ("balancer", "environment"), ("smoke", "host")))
    failing = [*PLAIN, scenario("ping [web-2]", "failed", "vm", host="web-2", group="web"),
               scenario("ping [web-1]", "passed", "vm", host="web-1", group="web")]
    assert plan_of(*failing, cfg=cfg) == steps("vm@web-2", "balancer", "smoke@web-2",
                                               "smoke@web-1")


def test_a_latched_hosts_failures_do_not_act_and_no_cascade_touches_it() -> None:
    state = LadderState("e", host_latches=(Latch("cooldown", NOW - 60, "r1", host="web-2"),))
    cfg = config()
    obs = decide.observe(builders.run_of(*PLAIN, *fleet({"web-2": "ping"})), cfg, state)
    assert (obs.actionable, [(f.name, f.category) for f in obs.failing]) == (
        (), [("ping [web-2]", "latched")])
    assert decide.make_plan(obs, cfg) is None
    assert obs.nothing_because == ("did nothing because latched: ping [web-2] (host web-2 is "
                                   "latched: cooldown)")
    assert plan_of(*PLAIN, TIER_DOWN, *fleet(), state=state) == steps(
        "tier", *(f"{level}@web-{n}" for n in (1, 3, 4, 5) for level in ("vm", "converge",
                                                                     "deploy")))


# ---- mass failure: per group for fleet scenarios, environment-wide for the others ----------

@pytest.mark.parametrize(("case", "scenarios", "degraded"), [
    ("one dead node of five acts", [*PLAIN, *fleet({"web-2": "ping"})], None),
    ("two of five act", [*PLAIN, *fleet({"web-2": "ping", "web-4": "home"})], None),
    ("half the group pages",
     [*PLAIN, *fleet({"web-1": "ping", "web-2": "ping"}, hosts=HOSTS[:4])],
     "mass failure: 2 of 4 web hosts failing: web-1, web-2 (monitor or shared dependency)"),
    ("a host counts once, whatever fails on it",
     [*PLAIN, *fleet({"web-2": "both"})], None),
    ("one dead node of two acts: one failure is never mass failure",
     [*PLAIN, *fleet({"web-2": "ping"}, hosts=("web-1", "web-2"))], None),
    ("each group on its own: one dead node in each of two groups acts",
     [*PLAIN, *fleet({"web-1": "ping"}, hosts=("web-1", "web-2", "web-3")),
      *fleet({"db-1": "ping"}, hosts=("db-1", "db-2", "db-3"), group="db")], None),
    ("single-host groups: each dead node is its own group's one failure",
     [*fleet({"a-1": "ping"}, hosts=("a-1",), group="a"),
      *fleet({"b-1": "ping"}, hosts=("b-1",), group="b"),
      *fleet(hosts=("c-1",), group="c")], None),
    ("scenarios without a host keep the environment-wide rule among themselves",
     [scenario("plain0", "failed", "tier"), scenario("plain1", "failed", "tier"),
      scenario("plain2", "passed"), *fleet()],
     "mass failure: 2 of 3 scenarios failing (monitor or shared dependency)"),
    ("and a fleet does not dilute it: exactly half of them is not",
     [scenario("plain0", "failed", "tier"), scenario("plain1", "failed", "tier"),
      scenario("plain2", "passed"), scenario("plain3", "passed"), *fleet()], None),
])
def test_mass_failure_is_judged_per_group(case: str, scenarios: list[ScenarioResult],
                                          degraded: str | None) -> None:
    obs = decide.observe(builders.run_of(*scenarios), config(), LadderState("e"))
    assert obs.degraded == degraded, case
    assert (decide.make_plan(obs, config()) is None) == (degraded is not None), case


# ---- gates: per host, and the environment-wide budget over all -------------------------------

PLAN_2 = decide.make_plan(decide.observe(builders.run_of(*PLAIN, *fleet({"web-2": "ping"})),
                                         config(), LadderState("e")), config())
PLAN_23 = decide.make_plan(decide.observe(
    builders.run_of(*PLAIN, *fleet({"web-2": "ping", "web-3": "ping"})), config(),
    LadderState("e")), config())
TIER_PLAN = decide.make_plan(decide.observe(builders.run_of(*PLAIN, TIER_DOWN, *fleet()),
                                            config(), LadderState("e")), config())
VM_COOLING = (("vm", "web-2", NOW - 300),)


@pytest.mark.parametrize(("case", "plan", "state", "cfg", "verdict", "ran", "held"), [
    ("another host's cooldown holds nothing back",
     PLAN_2, LadderState("e", host_runs=(("vm", "web-3", NOW - 60),)), config(), "act",
     "vm > converge > deploy [web-2]", {}),
    ("the host's own cooldown: it latches, and nothing else is to run",
     PLAN_2, LadderState("e", host_runs=VM_COOLING), config(), "hold", "",
     {"web-2": "cooldown: level vm ran 5m ago, cooldown 10m"}),
    ("a host that may not act is left out; the others run",
     PLAN_23, LadderState("e", host_runs=VM_COOLING), config(), "act",
     "vm > converge > deploy [web-3]", {"web-2": "cooldown: level vm ran 5m ago, cooldown 10m"}),
    ("a host's own hourly budget",
     PLAN_2, LadderState("e", host_actions=(("web-2", NOW - 100),) * 2), config(
         host_actions_per_hour=4), "hold", "",
     {"web-2": "hourly budget: 2 actions for web-2 in the last hour, its plan needs 3, "
               "limit 4"}),
    ("a host's own loop breaker",
     PLAN_2, LadderState("e", host_engagements=(("web-2", NOW - 60),) * 3), config(), "hold",
     "", {"web-2": "loop breaker: 3 engagements for web-2 within 6h"}),
    ("other hosts' engagements are theirs",
     PLAN_2, LadderState("e", host_engagements=(("web-3", NOW - 60),) * 3), config(), "act",
     "vm > converge > deploy [web-2]", {}),
    ("the environment's loop breaker counts environment engagements: a host plan acts",
     PLAN_2, LadderState("e", engagements=(NOW - 60,) * 3), config(), "act",
     "vm > converge > deploy [web-2]", {}),
    ("and holds a plan with an environment-scoped level",
     TIER_PLAN, LadderState("e", engagements=(NOW - 60,) * 3), config(
         max_actions_per_hour=100), "latch", "", {}),
    ("the environment-wide budget bounds every host's actions together",
     PLAN_2, LadderState("e", actions=(NOW - 100,) * 4), config(), "latch", "", {}),
])
def test_gates_per_host(case: str, plan: object, state: LadderState, cfg: LadderConfig,
                        verdict: str, ran: str, held: dict[str, str]) -> None:
    decision = decide.gate(plan, state, cfg, NOW)  # type: ignore[arg-type]
    assert decision.verdict == verdict, (case, decision.reason)
    assert dict(decision.host_latches) == held, case
    if verdict == "act":
        assert decision.plan is not None and decision.plan.describe() == ran, case


def test_the_reasons_of_the_environment_gates() -> None:
    assert TIER_PLAN is not None and PLAN_2 is not None
    loop = decide.gate(TIER_PLAN, LadderState("e", engagements=(NOW - 60,) * 3),
                       config(max_actions_per_hour=100), NOW)
    budget = decide.gate(PLAN_2, LadderState("e", actions=(NOW - 100,) * 4), config(), NOW)
    assert (loop.reason, budget.reason) == (
        "loop breaker: 3 engagements within 6h",
        "hourly budget: 4 actions in the last hour, plan needs 3, limit 6")


def test_a_plan_left_without_a_host_keeps_its_other_triggers() -> None:
    assert PLAN_23 is not None
    narrowed = PLAN_23.without({"web-2"})
    assert narrowed is not None
    assert ([t.name for t in narrowed.triggers], narrowed.keys, narrowed.sequence) == (
        ["ping [web-3]"], {"features/f.feature::ping [web-3]"},
        steps("vm@web-3", "converge@web-3", "deploy@web-3"))
    assert narrowed.without({"web-3"}) is None


def test_prune_and_rebase_keep_the_per_host_counters_in_step() -> None:
    state = LadderState("e", host_actions=(("web-2", NOW - 7 * HOUR), ("web-2", NOW - 10)),
                        host_engagements=(("web-2", NOW - 7 * HOUR), ("web-3", NOW - 10)),
                        host_runs=(("vm", "web-2", NOW - 7 * HOUR), ("vm", "web-3", NOW - 10)),
                        clock=("boot-1", 100.0, NOW))
    pruned = decide.prune(state, config(), NOW)
    assert (pruned.host_actions, pruned.host_engagements, pruned.host_runs) == (
        (("web-2", NOW - 10),), (("web-3", NOW - 10),), (("vm", "web-3", NOW - 10),))
    # the wall clock stepped a day ahead while 60 s passed: every counter moves with it
    moved = decide.rebase(pruned, "boot-1", 160.0, NOW + 86400 + 60)
    assert (moved.host_actions, moved.host_runs) == (
        (("web-2", NOW + 86400 - 10),), (("vm", "web-3", NOW + 86400 - 10),))


def test_the_docs_host_scope_examples_are_valid_as_written(tmp_path: Path) -> None:
    """fleet.md's ladder and ladder.md's per-host snippet parse as they are written."""
    import re
    import tomllib

    from escalator.ladder.config import parse_ladder

    docs = Path(__file__).resolve().parent.parent / "docs"
    fleet = next(block for block in re.findall(r"```toml\n(.*?)```",
                                               (docs / "fleet.md").read_text(), flags=re.S)
                 if "[ladder]" in block)
    parsed = parse_ladder(tomllib.loads(fleet)["ladder"], tmp_path / "escalator.toml", tmp_path)
    assert [(level.id, level.scope) for level in parsed.levels] == [
        ("tier", "environment"), ("vm", "host"), ("converge", "host"), ("deploy", "host")]
    section = (docs / "ladder.md").read_text().split('## Per-host levels (`scope = "host"`)')[1]
    snippet = re.findall(r"```toml\n(.*?)```", section, flags=re.S)[0]
    parsed = parse_ladder(tomllib.loads("[ladder]\n" + snippet)["ladder"],
                          tmp_path / "escalator.toml", tmp_path)
    assert ([(level.id, level.scope) for level in parsed.levels],
            parsed.host_actions_per_hour, parsed.host_loop_engagements) == (
        [("tier", "environment"), ("vm", "host")], 3, 2)
