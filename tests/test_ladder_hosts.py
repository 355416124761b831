"""Whole engagements of a ladder with host-scoped levels, in-process: scripted fleet runs and a
fake clock drive the engine; the levels are real shell scripts that record the host they ran
for (tests/test_ladder_rig.py). The ladder is `tier` (environment), then `vm`, `converge` and
`deploy` (host); the fleet is web-1 .. web-5."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from escalator.ladder import render
from escalator.ladder.model import Intent, LadderState, Latch
from escalator.ladder.rebuild import counters_from_audit
from escalator.results import RunResult
from tests.builders import run_of, scenario
from tests.project import ladder_level, ladder_toml
from tests.test_ladder_rig import Rig

HOSTS = tuple(f"web-{n}" for n in range(1, 6))
LEVEL = """#!/bin/sh
echo "$ESCALATOR_LEVEL host=$ESCALATOR_HOST group=$ESCALATOR_GROUP \
address=$ESCALATOR_ADDRESS plan=[$ESCALATOR_PLAN]" >> "{log}"
{extra}
"""


def toml(vm_cooldown: str = "30m", **settings: object) -> str:
    values: dict[str, object] = {
        "settle": "30s", "confirm": 2, "verify": 2, "retry_interval": "10s",
        "max_reconverge": 0, "max_actions_per_hour": 20, "notify": ["ops/page.sh"]}
    values.update(settings)
    return ladder_toml(
        ladder_level("tier", timeout="10s", quiesce="5m"),
        ladder_level("vm", timeout="10s", quiesce="2m", cooldown=vm_cooldown, scope="host"),
        ladder_level("converge", timeout="10s", quiesce="1m", idempotent=True, scope="host"),
        ladder_level("deploy", timeout="10s", quiesce="30s", idempotent=True, scope="host"),
        **values)


def rig(tmp_path: Path, scripts: dict[str, str] | None = None, **settings: object) -> Rig:
    made = Rig(tmp_path, toml=toml(**settings))
    for name in ("tier", "vm", "converge", "deploy"):
        made.write_script(f"ops/{name}.sh", LEVEL.format(
            log=made.ran_log, extra=(scripts or {}).get(name, "")))
    return made


def fleet(down: tuple[str, ...] = (), broken: tuple[str, ...] = (), tier: str = "passed",
          smoke: str = "passed", others: str = "passed") -> RunResult:
    """`ping [host]` (@escalate.vm) fails on the hosts `down`, `home [host]`
    (@escalate.deploy) on the hosts `broken`; `tier answers` (@escalate.tier), `smoke`
    (@escalate.deploy, no host) and two other scenarios as given."""
    kw = {"feature": "F", "file": "features/f.feature", "line": 1}
    scenarios = [scenario("tier answers", tier, "tier", **kw),
                 scenario("smoke", smoke, "deploy", **kw),
                 *(scenario(f"other{i}", others, **kw) for i in range(2))]
    for host in HOSTS:
        scenarios += [
            scenario(f"ping [{host}]", "failed" if host in down else "passed", "vm",
                     host=host, group="web", **kw),
            scenario(f"home [{host}]", "failed" if host in broken else "passed", "deploy",
                     host=host, group="web", **kw)]
    return run_of(*scenarios)


GREEN = fleet()


def engine(made: Rig, *runs: RunResult):  # type: ignore[no-untyped-def]
    built = made.engine(*runs)
    built.address_of = lambda host, groups: f"10.0.0.{host[-1]}" if "web" in groups else None
    return built


def ran_for(made: Rig) -> list[str]:
    """'vm web-2' for each level run: the level and its host."""
    return [" ".join(line.split()[:2]).replace(" host=", " ").rstrip() for line in made.ran]


def test_a_node_down_rebuilds_that_node_and_nothing_else(tmp_path: Path) -> None:
    made = rig(tmp_path)
    down = fleet(down=("web-2",))
    result = engine(made, down, down, down, GREEN, GREEN).engage()
    assert (result.verdict, result.exit_code) == ("recovered", 0)
    assert made.ran == [
        f"{level} host=web-2 group=web address=10.0.0.2 plan=[vm converge deploy]"
        for level in ("vm", "converge", "deploy")]
    intents = [(r["data"]["level"], r["data"].get("host")) for r in made.audit("step_intent")]
    assert intents == [("vm", "web-2"), ("converge", "web-2"), ("deploy", "web-2")]
    finished = [r["reason"] for r in made.audit("step_finished")]
    assert finished == ["level vm [web-2] succeeded", "level converge [web-2] succeeded",
                        "level deploy [web-2] succeeded"]
    planned = next(made.audit("planned"))
    assert planned["data"]["hosts"] == {"web-2": ["vm", "converge", "deploy"]}
    state = made.store.load()
    assert (state.engagements, state.level_runs, [h for h, _ in state.host_engagements],
            [(lid, h) for lid, h, _ in state.host_runs], len(state.actions)) == (
        (), (), ["web-2"], [("vm", "web-2"), ("converge", "web-2"), ("deploy", "web-2")], 3)


def test_the_engagement_says_the_host_of_each_level(tmp_path: Path) -> None:
    made = rig(tmp_path)
    down = fleet(down=("web-2",))
    told: list[str] = []
    built = engine(made, down, down, down, GREEN, GREEN)
    built.progress = lambda text, detail: told.append(
        re.sub(r"after [0-9.]+m?s ", "after T ", text)) if not detail else None
    result = built.engage()
    assert [line for line in told if line.startswith(("plan", "level", "quiesce"))] == [
        "plan: vm > converge > deploy [web-2] for ping [web-2]",
        "level vm [web-2] started: ops/vm.sh (timeout 10s, not idempotent)",
        "level vm [web-2] succeeded after T (exit 0)",
        "quiesce: 2m after level vm [web-2]",
        "level converge [web-2] started: ops/converge.sh (timeout 10s)",
        "level converge [web-2] succeeded after T (exit 0)",
        "quiesce: 1m after level converge [web-2]",
        "level deploy [web-2] started: ops/deploy.sh (timeout 10s)",
        "level deploy [web-2] succeeded after T (exit 0)",
        "quiesce: 30s after level deploy [web-2]"]
    text = re.sub(r"  [0-9.]+m?s$", "  T", render.engagement_text("test", result), flags=re.M)
    assert text.splitlines()[1:] == [
        "level             status       exit  took",
        "----------------  ---------  ------  ------",
        "vm [web-2]        succeeded       0  T",
        "converge [web-2]  succeeded       0  T",
        "deploy [web-2]    succeeded       0  T"]


def test_two_hosts_one_after_the_other_each_from_its_own_deepest_level(tmp_path: Path) -> None:
    made = rig(tmp_path)
    run = fleet(down=("web-2",), broken=("web-4",))
    assert engine(made, run, run, run, GREEN, GREEN).engage().verdict == "recovered"
    assert ran_for(made) == ["vm web-2", "converge web-2", "deploy web-2", "deploy web-4"]


def test_an_environment_level_runs_once_then_every_hosts_levels(tmp_path: Path) -> None:
    made = rig(tmp_path)
    run = fleet(tier="failed", broken=("web-3",))
    assert engine(made, run, run, run, GREEN, GREEN).engage().verdict == "recovered"
    assert ran_for(made) == ["tier"] + [f"{level} web-{n}" for n in (3, 1, 2, 4, 5)
                                        for level in ("vm", "converge", "deploy")]
    assert made.ran[0] == "tier host= group= address= plan=[tier vm converge deploy]"
    state = made.store.load()
    assert (len(state.engagements), sorted(h for h, _ in state.host_engagements)) == (
        1, list(HOSTS))


def test_another_host_is_rebuilt_while_one_cools_down_and_that_one_latches_alone(
        tmp_path: Path) -> None:
    made = rig(tmp_path)
    web2, web3 = fleet(down=("web-2",)), fleet(down=("web-3",))
    assert engine(made, web2, web2, web2, GREEN, GREEN).engage().verdict == "recovered"
    made.clock.sleep(300)
    assert engine(made, web3, web3, web3, GREEN, GREEN).engage().verdict == "recovered"
    made.clock.sleep(300)
    both = fleet(down=("web-2", "web-4"))
    web2_only = fleet(down=("web-2",))
    result = engine(made, both, both, both, web2_only, web2_only).engage()
    assert ran_for(made)[-3:] == ["vm web-4", "converge web-4", "deploy web-4"]
    assert (result.verdict, result.exit_code, result.reason) == (
        "latched", 2, "verified green; latched web-2: cooldown: level vm ran 18m40s ago, "
        "cooldown 30m")
    state = made.store.load()
    assert state.latch is None
    assert [(latch.host, latch.reason) for latch in state.host_latches] == [
        ("web-2", "cooldown: level vm ran 18m40s ago, cooldown 30m")]
    page = made.pages[-1]
    assert (page["event"], page["host"], page["dedup_key"], page["summary"]) == (
        "latched", "web-2", f"escalator/test/latched/web-2/{int(state.host_latches[0].since)}",
        "test: latched web-2: cooldown: level vm ran 18m40s ago, cooldown 30m")
    assert [s["name"] for s in page["scenarios"]] == ["ping [web-2]"]  # type: ignore[index]
    assert page["next_step"] == (
        "find out why (escalator ladder history -e test); when it is safe to act again: "
        "escalator ladder resume -e test --host web-2 --reason TEXT")
    # web-2 stays latched: its failure acts no more, web-5's does
    again = fleet(down=("web-2", "web-5"))
    after = fleet(down=("web-2",))
    made.clock.sleep(3600)
    result = engine(made, again, again, again, after, after).engage()
    assert ran_for(made)[-3:] == ["vm web-5", "converge web-5", "deploy web-5"]
    assert result.verdict == "latched" and len(made.pages) == 1  # paged once


def test_a_latched_hosts_failure_alone_pages_nothing_new_and_runs_nothing(
        tmp_path: Path) -> None:
    made = rig(tmp_path)
    made.store.save(LadderState("test", host_latches=(
        Latch("cooldown", made.clock.now() - 60, "r1", host="web-2"),)))
    result = engine(made, fleet(down=("web-2",))).engage()
    assert (result.verdict, result.exit_code, made.ran) == ("latched", 2, [])
    assert result.reason == ("did nothing because latched: ping [web-2] (host web-2 is "
                             "latched: cooldown)")
    assert [p["dedup_key"] for p in made.pages] == [
        f"escalator/test/latched/web-2/{int(made.clock.now() - 60)}"]


def test_resume_of_one_host_releases_it_and_resolves_its_page(tmp_path: Path) -> None:
    made = rig(tmp_path)
    since = made.clock.now() - 60
    made.store.save(LadderState("test", host_latches=(
        Latch("cooldown", since, "r1", host="web-2"), Latch("budget", since, "r1", host="web-3")),
        host_actions=(("web-2", since), ("web-3", since))))
    for host, why in (("web-2", "cooldown"), ("web-3", "budget")):
        made.store.audit("latched", "r1", why, host=host)
    engine(made, fleet(down=("web-2", "web-3"))).engage()  # pages both
    built = engine(made)
    assert built.resume("alice", "disk replaced", reset=True, hosts=["web-2"]) is True
    state = made.store.load()
    assert ([latch.host for latch in state.host_latches], state.host_actions) == (
        ["web-3"], (("web-3", since),))
    resumed = next(made.audit("resumed"))
    assert (resumed["data"]["host"], resumed["data"]["cleared"]) == (
        "web-2", {"engagements": 0, "actions": 1})
    assert [(p["event"], p["dedup_key"]) for p in made.pages[2:]] == [
        ("resolved", f"escalator/test/latched/web-2/{int(since)}")]
    assert built.resume("bob", "web-9?", hosts=["web-9"]) is False
    # rebuilt from the audit log alone: the same latches and counters
    rebuilt = counters_from_audit(made.store.read_audit(), "test")
    assert [latch.host for latch in rebuilt.host_latches] == ["web-3"]


def test_a_failed_level_stops_its_host_and_the_others_go_on(tmp_path: Path) -> None:
    made = rig(tmp_path, scripts={"vm": 'if [ "$ESCALATOR_HOST" = web-2 ]; then exit 3; fi'})
    run = fleet(down=("web-2", "web-3"))
    web2 = fleet(down=("web-2",))
    result = engine(made, run, run, run, web2).engage()
    assert ran_for(made) == ["vm web-2", "vm web-3", "converge web-3", "deploy web-3"]
    stopped = next(made.audit("cascade_stopped"))
    assert (stopped["reason"], stopped["data"]) == (
        "level vm [web-2] failed: no further level for web-2", {"level": "vm", "host": "web-2"})
    # verify: web-3 is green, web-2 is not: web-2 latches, the environment does not
    assert (result.verdict, result.reason) == (
        "latched", "verify failed for web-2 after 1 plan(s): 13 passed, 1 failed, 0 unknown "
        "of 14")
    state = made.store.load()
    assert (state.latch, [latch.host for latch in state.host_latches]) == (None, ["web-2"])


def test_a_failure_without_a_host_that_stays_latches_the_environment(tmp_path: Path) -> None:
    made = rig(tmp_path)
    smoke = fleet(smoke="failed")
    result = engine(made, smoke, smoke, smoke, smoke).engage()
    assert ran_for(made) == [f"deploy {host}" for host in HOSTS]
    assert result.verdict == "latched"
    state = made.store.load()
    assert state.latch is not None and state.host_latches == ()


def test_half_the_group_down_pages_and_runs_nothing(tmp_path: Path) -> None:
    made = rig(tmp_path)
    result = engine(made, fleet(down=("web-1", "web-2", "web-3"))).engage()
    assert (result.verdict, result.exit_code, made.ran) == ("unactionable", 2, [])
    assert result.reason == ("did nothing because mass failure: 3 of 5 web hosts failing: "
                             "web-1, web-2, web-3 (monitor or shared dependency)")
    assert [(p["event"], p["dedup_key"]) for p in made.pages] == [
        ("unactionable", "escalator/test/mass_failure")]


def test_each_hosts_loop_breaker_is_its_own(tmp_path: Path) -> None:
    made = rig(tmp_path, vm_cooldown="0s", max_actions_per_hour=100)
    for host in ("web-2", "web-2", "web-2", "web-3"):
        down = fleet(down=(host,))
        assert engine(made, down, down, down, GREEN, GREEN).engage().verdict == "recovered"
        made.clock.sleep(600)
    down = fleet(down=("web-2",))
    result = engine(made, down, down, down).engage()
    assert (result.verdict, result.reason) == (
        "latched", "latched web-2: loop breaker: 3 engagements for web-2 within 6h")
    assert len(made.ran) == 12 and made.store.load().latch is None


def test_an_interrupted_host_level_latches_that_host_only(tmp_path: Path) -> None:
    made = rig(tmp_path)
    made.store.write_intent(Intent("r1", "vm", idempotent=False, started=1.0, host="web-2",
                                   group="web"))
    built = engine(made)
    built.recover()
    state = built.state
    assert state.latch is None
    assert [(latch.host, latch.reason, latch.next_step) for latch in state.host_latches] == [
        ("web-2", "level vm (not idempotent) was interrupted by an engine crash; its effect "
         "is unknown", "check what level vm (ops/vm.sh) did to web-2 before it was cut short "
         "(its output: escalator ladder history -e test); finish or undo it by hand, then: "
         "escalator ladder resume -e test --host web-2 --reason TEXT")]
    recovered = next(made.audit("state_recovered"))
    assert (recovered["reason"], recovered["data"]["host"]) == (
        "level vm [web-2] was running when the engine stopped; how it ended is unknown",
        "web-2")
    down = fleet(down=("web-2", "web-3"))
    web2 = fleet(down=("web-2",))
    result = engine(made, down, down, down, web2, web2).engage()
    assert ran_for(made) == ["vm web-3", "converge web-3", "deploy web-3"]
    assert result.verdict == "latched"


def test_ladder_status_plan_and_history_show_the_host(tmp_path: Path) -> None:
    made = rig(tmp_path)
    both = fleet(down=("web-2",), broken=("web-4",))
    built = engine(made, both)
    obs, plan, decision, state = built.preview()
    text = render.plan_text("test", made.config, obs, plan, decision, state.latch)
    assert text == (
        "test: plan from level vm (12 passed, 2 failed, 0 unknown of 14)\n"
        "  #  level     host    run              timeout    quiesce    idempotent\n"
        "---  --------  ------  ---------------  ---------  ---------  ------------\n"
        "  1  vm        web-2   ops/vm.sh        10s        2m         no\n"
        "  2  converge  web-2   ops/converge.sh  10s        1m         yes\n"
        "  3  deploy    web-2   ops/deploy.sh    10s        30s        yes\n"
        "  4  deploy    web-4   ops/deploy.sh    10s        30s        yes\n"
        "needed by: ping [web-2] (@escalate.vm)\n"
        "covered by the cascade: home [web-4] (@escalate.deploy)\n"
        "now: act (run vm > converge > deploy [web-2]; deploy [web-4])\n")
    engine(made, both, both, both, GREEN, GREEN).engage()
    made.clock.sleep(60)
    web2 = fleet(down=("web-2",))
    engine(made, web2, web2, web2).engage()  # vm [web-2] cooling down: web-2 latches
    status = render.status_text("test", made.config, made.store.load(), made.clock.now())
    lines = status.splitlines()
    assert lines[1] == "state                     ready; latched for 1 host: web-2"
    assert [line for line in lines if line.startswith(("latched host", "next step"))] == [
        "latched host web-2        since 2027-01-15 08:06:30Z: cooldown: level vm ran 5m50s "
        "ago, cooldown 30m",
        "next step web-2           find out why (escalator ladder history -e test); when it "
        "is safe to act again: escalator ladder resume -e test --host web-2 --reason TEXT"]
    tables = status.split("\n\n", 1)[1]
    assert tables == (
        "level             last run              cooldown    may run\n"
        "----------------  --------------------  ----------  --------------------------\n"
        "tier              -                     none        ready\n"
        "vm [web-2]        2027-01-15 08:00:40Z  30m         until 2027-01-15 08:30:40Z\n"
        "converge [web-2]  2027-01-15 08:02:40Z  none        ready\n"
        "deploy [web-2]    2027-01-15 08:03:40Z  none        ready\n"
        "deploy [web-4]    2027-01-15 08:04:10Z  none        ready\n"
        "\n"
        "host    actions in the last hour    engagements in 6h    state\n"
        "------  --------------------------  -------------------  -------\n"
        "web-2   3 of 20                     1 of 3               LATCHED\n"
        "web-4   1 of 20                     1 of 3               ready\n")
    history = render.history_text(made.store.read_audit())
    assert [re.split(r"\s{2,}", line)[3] for line in history.splitlines()
            if " step_finished " in line or " latched " in line] == [
        "vm [web-2]", "converge [web-2]", "deploy [web-2]", "deploy [web-4]", "web-2"]


def test_a_schema_1_state_file_is_read_and_saved_as_schema_2(tmp_path: Path) -> None:
    made = rig(tmp_path)
    made.store.directory.mkdir(parents=True)
    made.store.state_path.write_text(json.dumps({
        "schema": 1, "environment": "test", "generation": 4, "latch": None,
        "actions": [made.clock.now() - 60], "engagements": [made.clock.now() - 60],
        "level_runs": [["vm", made.clock.now() - 60]], "histories": {}, "flapping": [],
        "last_engagement": {}, "pages": [], "notifier": {}, "clock": None}))
    state = made.store.load()
    assert (state.latch, state.actions, state.level_runs, state.host_runs, state.generation) == (
        None, (made.clock.now() - 60,), (("vm", made.clock.now() - 60),), (), 4)
    made.store.save(state)
    assert json.loads(made.store.state_path.read_text())["schema"] == 2


def test_the_reports_markers_name_the_host(tmp_path: Path) -> None:
    from escalator.reports.ladder_view import events, level_runs

    made = rig(tmp_path)
    down = fleet(down=("web-2",))
    engine(made, down, down, down, GREEN, GREEN).engage()
    made.clock.sleep(60)
    engine(made, down, down, down).engage()  # vm [web-2] cools down: web-2 latches
    records = made.store.read_audit()
    # (a level is drawn where it started: a hair before its engagement on this fake clock)
    assert [(m.kind, m.label) for m in events(records) if m.kind != "engaged"] == [
        ("level", "vm [web-2]"), ("level", "converge [web-2]"),
        ("level", "deploy [web-2]"), ("recovered", "recovered"), ("latched", "latched web-2")]
    assert [run.label for run in level_runs(records)] == [
        "vm [web-2]", "converge [web-2]", "deploy [web-2]"]


def test_converge_builds_a_new_datacenter_every_host_through_its_levels(tmp_path: Path) -> None:
    from escalator.ladder.converge import Converge

    made = rig(tmp_path)
    nothing = fleet(down=HOSTS, broken=HOSTS, tier="failed", smoke="failed", others="failed")
    said: list[str] = []
    built = engine(made, nothing, *([GREEN] * 17))
    result = Converge(built, 7200.0, lambda run: None, said.append).run()
    assert (result.verdict, result.exit_code) == ("converged", 0)
    assert ran_for(made) == ["tier"] + [f"{level} {host}" for host in HOSTS
                                        for level in ("vm", "converge", "deploy")]
    assert said[1] == ("test: plan 1: tier, then vm > converge > deploy [web-1, web-2, web-3, "
                       "web-4, web-5] (nothing exists: no scenario passes (14 failed, 0 "
                       "unknown of 14): the whole ladder)")
    assert [line.split(" (")[0] for line in said[2:6]] == [
        "test: after level tier", "test: after level vm [web-1]",
        "test: after level converge [web-1]", "test: after level deploy [web-1]"]
    progress = [r["data"].get("host") for r in made.audit("converge_progress")]
    assert progress == [None] + [host for host in HOSTS for _ in range(3)]


def test_a_lost_or_corrupt_state_file_is_rebuilt_per_host_from_the_audit_log(
        tmp_path: Path) -> None:
    made = rig(tmp_path)
    down = fleet(down=("web-2",))
    engine(made, down, down, down, GREEN, GREEN).engage()
    made.clock.sleep(60)
    engine(made, down, down, down).engage()  # web-2 latches: its vm cools down
    saved = made.store.load()
    made.store.state_path.write_text('{"schema": 2, "envir')
    rebuilt = made.store.load()
    assert rebuilt.latch is not None  # a corrupt file latches the environment, as ever
    assert rebuilt.latch.reason.startswith("corrupt state file (kept as ")
    assert ((rebuilt.actions, rebuilt.engagements, rebuilt.level_runs, rebuilt.host_actions,
             rebuilt.host_engagements, rebuilt.host_runs) ==
            (saved.actions, saved.engagements, saved.level_runs, saved.host_actions,
             saved.host_engagements, saved.host_runs))
    assert [(h.host, h.reason) for h in rebuilt.host_latches] == [
        (h.host, h.reason) for h in saved.host_latches]
    status = render.status_text("test", made.config, saved, made.clock.now())
    assert "vm > converge > deploy [web-2] (recovered)" in status


def test_converge_dry_run_shows_the_hosts_of_each_level(tmp_path: Path) -> None:
    from escalator.ladder import converge_text
    from escalator.ladder.converge import preview

    made = rig(tmp_path)
    run, obs, plan = preview(engine(made, fleet(down=("web-2",), broken=("web-4",))))
    assert converge_text.plan_text("test", made.config, run, obs, plan, 3600.0, 1) == (
        "test: converge plan from level vm: deepest failing level vm, named by ping [web-2]\n"
        "  #  level     hosts         timeout    quiesce    failing scenarios\n"
        "---  --------  ------------  ---------  ---------  -------------------\n"
        "  1  vm        web-2         10s        2m         ping [web-2]\n"
        "  2  converge  web-2         10s        1m         -\n"
        "  3  deploy    web-2, web-4  10s        30s        home [web-4]\n"
        "then: the checks after each level; plans again from the deepest failing level at "
        "most 1 more time(s) within 1h, until every scenario passes\n")


def test_the_report_shows_the_latched_hosts_in_a_banner_and_the_metrics(
        tmp_path: Path) -> None:
    import lxml.html

    from escalator.state import ResultStore
    from tests.project import run_cli

    (tmp_path / "escalator.toml").write_text(
        '[environments.prod]\n\n[ladder]\n[[ladder.level]]\nid = "vm"\nrun = ["true"]\n'
        'scope = "host"\n')
    ResultStore(tmp_path / ".escalator").save(replace(fleet(down=("web-2",)),
                                                      environment="prod"))
    ladder = made_store(tmp_path)
    ladder.save(LadderState("prod", host_latches=(
        Latch("cooldown: level vm ran 5m ago, cooldown 30m", 1_800_000_000.0, "r1",
              host="web-2"),)))
    assert run_cli(["report", "-e", "prod"], tmp_path).code == 0
    doc = lxml.html.fromstring((tmp_path / "reports" / "index.html").read_text())
    banners = {b.get("id"): " ".join(b.text_content().split()) for b in doc.find_class("banner")}
    assert banners == {"ladder-hosts-latched": (
        "The ladder is latched for 1 host: web-2 since 2027-01-15 08:00:00 UTC (cooldown: "
        "level vm ran 5m ago, cooldown 30m). It runs no level for it until someone who has "
        'looked says so: escalator ladder resume -e prod --host HOST --reason "..."')}
    metrics = (tmp_path / "reports" / "metrics.prom").read_text()
    assert 'escalator_ladder_host_latched{environment="prod",host="web-2"} 1' in metrics
    assert 'escalator_ladder_latched{environment="prod"} 0' in metrics


def made_store(root: Path):  # type: ignore[no-untyped-def]
    from escalator.ladder.store import LadderStore, ladder_dir

    return LadderStore(ladder_dir(root / ".escalator", "prod"), "prod")


def test_a_resume_request_for_one_host_is_applied_by_the_running_engine(tmp_path: Path) -> None:
    made = rig(tmp_path)
    made.store.save(LadderState("test", host_latches=(
        Latch("cooldown", made.clock.now() - 60, "r1", host="web-2"),
        Latch("budget", made.clock.now() - 60, "r1", host="web-3"))))
    built = engine(made, GREEN)
    web2 = built.state.host_latch("web-2")
    assert web2 is not None
    made.store.request_resume("bob", "fixed web-2", web2)  # `ladder resume --host web-2`
    assert built.engage().verdict == "healthy"
    assert [latch.host for latch in made.store.load().host_latches] == ["web-3"]
    assert [(r["actor"], r["data"]["host"]) for r in made.audit("resumed")] == [
        ("bob", "web-2")]


def test_ladder_resume_host_on_the_command_line(tmp_path: Path) -> None:
    from tests.project import run_cli

    made = rig(tmp_path)
    (tmp_path / "escalator.toml").write_text("[environments.test]\n" + toml())
    made.store.save(LadderState("test", host_latches=(
        Latch("cooldown", made.clock.now() - 60, "r1", host="web-2"),)))
    out = run_cli(["ladder", "resume", "-e", "test", "--host", "web-9", "--reason", "x"],
                  tmp_path, environ={"USER": "alice"})
    assert (out.code, out.stdout) == (0, "test: web-9 is not latched: nothing to resume\n")
    out = run_cli(["ladder", "resume", "-e", "test", "--reason", "all done"], tmp_path,
                  environ={"USER": "alice"})
    assert (out.code, out.stdout) == (0, (
        "test: resumed web-2; kept: its loop breaker (0 of 3 engagements in 6h), its hourly "
        "budget (0 of 20 actions in the last hour), its cooldowns\n"))
    assert made.store.load().host_latches == ()
