"""Whole engagements in-process: scripted runs and a fake clock drive the engine; the levels
and the pager are real shell scripts that record what ran (tests/test_ladder_rig.py)."""

from __future__ import annotations

from pathlib import Path

from escalator.ladder.model import Intent
from tests.test_ladder_rig import GREEN, Rig, state_of

PING = state_of(ping="F")
SMOKE = state_of(smoke="F")
BOTH = state_of(ping="F", smoke="F")
FULL = ["vm plan=[vm converge deploy] targets=[ping-1] env=test",
        "converge plan=[vm converge deploy] targets=[ping-1] env=test",
        "deploy plan=[vm converge deploy] targets=[ping-1] env=test"]


def test_all_green_does_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(GREEN).engage()
    assert (result.verdict, result.exit_code, rig.ran, rig.pages) == ("healthy", 0, [], [])


def test_transient_blip_is_not_confirmed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(PING, GREEN).engage()
    assert (result.verdict, result.exit_code, rig.ran) == ("transient", 0, [])
    assert rig.events() == ["observed", "suspected", "observed", "transient"]
    assert rig.clock.sleeps == [10.0]


def test_failure_that_heals_during_settle_ends_with_nothing_done(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(PING, PING, GREEN).engage()
    assert (result.verdict, result.exit_code, rig.ran) == ("self_healed", 0, [])
    assert rig.clock.sleeps == [10.0, 30.0]


def test_deep_failure_runs_that_level_and_the_rest_once_each_in_order(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(BOTH, BOTH, BOTH, GREEN, GREEN).engage()
    assert (result.verdict, result.exit_code) == ("recovered", 0)
    assert rig.ran == [line.replace("targets=[ping-1]", "targets=[ping-1 smoke-1]")
                       for line in FULL]
    # confirm retry, settle, quiesce after each level, the pause between verify runs
    assert rig.clock.sleeps == [10.0, 30.0, 120.0, 60.0, 30.0, 10.0]
    assert [s.status for s in result.steps] == ["succeeded"] * 3
    planned = next(rig.audit("planned"))
    assert (planned["data"]["triggers"], planned["data"]["subsumed"]) == (["ping"], ["smoke"])


def test_smoke_failure_runs_deploy_only(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage()
    assert (result.verdict, rig.ran) == (
        "recovered", ["deploy plan=[deploy] targets=[smoke-1] env=test"])


def test_the_plan_comes_from_the_run_after_settle(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(SMOKE, SMOKE, PING, GREEN, GREEN).engage()
    assert result.plan is not None and result.plan.levels == ("vm", "converge", "deploy")
    assert rig.ran == FULL


def test_a_failed_level_stops_the_cascade_and_goes_to_verify(tmp_path: Path) -> None:
    rig = Rig(tmp_path, scripts={"vm": "exit 3"}, toml=_toml(max_reconverge=0))
    result = rig.engine(PING, PING, PING, PING).engage()
    assert (result.verdict, result.exit_code, rig.ran) == ("latched", 2, FULL[:1])
    assert [(s.level, s.status, s.exit_code) for s in result.steps] == [("vm", "failed", 3)]
    assert rig.events()[-8:] == ["step_intent", "step_finished", "cascade_stopped",
                                 "observed", "verify", "latched", "ended", "notify_sent"]
    assert [p["event"] for p in rig.pages] == ["latched"]
    assert rig.pages[0]["reason"] == ("verify failed after 1 plan(s): 5 passed, 1 failed, "
                                      "0 unknown of 6")


def test_exit_0_is_not_recovery_one_reconverge_then_latch_and_page_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(cooldown="0s"))
    engine = rig.engine(PING, PING, PING, PING, PING, GREEN, PING)
    result = engine.engage()
    assert (result.verdict, result.exit_code) == ("latched", 2)
    assert rig.ran == FULL + FULL
    assert len(rig.pages) == 1 and rig.pages[0]["dedup_key"] == (
        f"escalator/test/latched/{int(engine.state.latch.since)}")  # type: ignore[union-attr]
    assert [r["data"]["green"] for r in rig.audit("verify")] == [False, True, False]


def test_a_reconverge_blocked_by_a_cooldown_latches(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(PING, PING, PING, PING, PING).engage()
    assert (result.verdict, rig.ran) == ("latched", FULL)
    assert result.reason == "cooldown: level vm ran 4m ago, cooldown 30m"


def test_latched_ladder_does_nothing_pages_once_until_resumed(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_reconverge=0))
    rig.engine(PING, PING, PING, PING).engage()
    again = rig.engine(PING).engage()
    assert (again.verdict, again.exit_code, rig.ran, len(rig.pages)) == ("latched", 2, FULL, 1)
    engine = rig.engine()
    assert engine.resume("alice", "replaced the disk") is True
    resumed = next(rig.audit("resumed"))
    assert (resumed["actor"], resumed["reason"]) == ("alice", "replaced the disk")
    assert len(engine.state.actions) == 3  # counters survive the resume


def test_resume_request_from_another_process_is_applied_at_the_next_engagement(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_reconverge=0))
    engine = rig.engine(PING, PING, PING, PING, GREEN)
    engine.engage()
    assert engine.state.latch is not None
    rig.store.request_resume("bob", "fixed by hand", engine.state.latch)
    assert engine.engage().verdict == "healthy"
    assert [r["actor"] for r in rig.audit("resumed")] == ["bob"]


def test_counters_survive_a_restart(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(cooldown="0s", max_actions_per_hour=5))
    rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage()
    rig.clock.sleep(60)
    # A new engine (a restart) on the same files: 1 action spent, the plan needs 3: ok.
    rig.engine(PING, PING, PING, GREEN, GREEN).engage()
    result = rig.engine(PING, PING, PING).engage()
    assert result.reason == ("hourly budget: 4 actions in the last hour, plan needs 3, limit 5")
    assert len(rig.ran) == 4


def test_loop_breaker_latches_a_fix_that_keeps_failing_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(cooldown="0s", max_actions_per_hour=100))
    for _ in range(3):
        assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
        rig.clock.sleep(600)
    result = rig.engine(SMOKE, SMOKE, SMOKE).engage()
    assert (result.verdict, result.reason) == ("latched", "loop breaker: 3 engagements "
                                               "within 6h")
    assert (len(rig.ran), len(rig.pages)) == (3, 1)


def test_maintenance_suppresses_actions_and_the_failure_is_handled_after(tmp_path: Path) -> None:
    start, end = "2027-01-15T08:00:00Z", "2027-01-15T09:00:00Z"
    rig = Rig(tmp_path, toml=_toml() + f"""
[[ladder.maintenance]]
start = {start}
end = {end}
reason = "provider maintenance"
""")
    result = rig.engine(SMOKE, SMOKE, SMOKE).engage()
    assert (result.verdict, result.exit_code, rig.ran, rig.pages) == ("suppressed", 2, [], [])
    assert next(rig.audit("would_run"))["data"]["plan"] == ["deploy"]
    rig.clock.sleep(3600)
    assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
    assert rig.ran == ["deploy plan=[deploy] targets=[smoke-1] env=test"]


def test_mass_failure_pages_and_never_acts(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(state_of(ping="F", smoke="F", extra="FFPP")).engage()
    assert (result.verdict, result.exit_code, rig.ran) == ("unactionable", 2, [])
    assert result.reason == ("did nothing because mass failure: 4 of 6 scenarios failing "
                             "(monitor or shared dependency)")
    assert [p["event"] for p in rig.pages] == ["unactionable"]


def test_unknown_never_acts(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(state_of(ping="U")).engage()
    assert (result.verdict, result.reason, rig.ran) == (
        "unactionable", "did nothing because 1 unknown (the check could not be made)", [])


def test_interrupted_non_idempotent_level_latches_and_pages(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.store.write_intent(Intent("r1", "vm", idempotent=False, started=1.0))
    engine = rig.engine(PING)
    engine.recover()
    assert engine.state.latch is not None
    assert engine.state.latch.reason == ("level vm (not idempotent) was interrupted by an "
                                         "engine crash; its effect is unknown")
    assert (engine.engage().verdict, rig.ran, len(rig.pages)) == ("latched", [], 1)
    assert rig.store.read_intent() is None


def test_interrupted_idempotent_level_may_run_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.store.write_intent(Intent("r1", "deploy", idempotent=True, started=1.0))
    engine = rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN)
    engine.recover()
    assert (engine.state.latch, engine.engage().verdict) == (None, "recovered")
    assert "step_interrupted" in rig.events()


def test_corrupt_state_latches_and_keeps_the_counters(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(cooldown="0s"))
    rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage()
    rig.store.state_path.write_text('{"schema": 1, "envir')
    engine = rig.engine(GREEN)
    assert engine.state.latch is not None
    assert engine.state.latch.reason.startswith("corrupt state file (kept as state.json.corrupt-")
    assert (len(engine.state.actions), len(engine.state.engagements)) == (1, 1)
    assert engine.engage().verdict == "latched"
    assert list(rig.store.directory.glob("state.json.corrupt-*"))


def test_secrets_never_reach_the_audit_log(tmp_path: Path) -> None:
    rig = Rig(tmp_path, scripts={"deploy": "echo token=hunter2-secret"},
              secrets=("hunter2-secret",))
    rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage()
    text = rig.store.audit_path.read_text()
    assert "hunter2-secret" not in text and "token=***" in text


def test_preview_plans_without_acting_or_writing_state(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    engine = rig.engine(BOTH)
    _, plan, decision, _ = engine.preview()
    assert plan is not None and decision is not None
    assert (plan.levels, decision.verdict, rig.ran) == (("vm", "converge", "deploy"), "act", [])
    assert not rig.store.state_path.exists()


def _toml(cooldown: str = "30m", max_reconverge: int = 1, max_actions_per_hour: int = 6) -> str:
    from tests.test_ladder_rig import DEFAULT_TOML

    return (DEFAULT_TOML.replace('cooldown = "30m"', f'cooldown = "{cooldown}"')
            .replace("max_reconverge = 1", f"max_reconverge = {max_reconverge}")
            .replace("max_actions_per_hour = 6", f"max_actions_per_hour = {max_actions_per_hour}"))


def test_a_window_that_begins_during_the_cascade_stops_it_before_the_next_level(
        tmp_path: Path) -> None:
    # The engagement starts at 08:00:00; vm's quiesce (2m) runs into a window from 08:01.
    rig = Rig(tmp_path, toml=_toml() + """
[[ladder.maintenance]]
start = 2027-01-15T08:01:00Z
end = 2027-01-15T09:00:00Z
""")
    result = rig.engine(PING, PING, PING, PING, PING).engage()
    assert rig.ran == FULL[:1]
    assert next(rig.audit("suppressed"))["reason"] == ("maintenance window began: cascade "
                                                       "stopped before converge")
    # verify still runs and fails; the re-converge plan is suppressed too, nothing latches
    assert (result.verdict, rig.pages) == ("suppressed", [])


def test_a_hung_level_times_out_and_stops_the_cascade(tmp_path: Path) -> None:
    rig = Rig(tmp_path, scripts={"vm": "sleep 60"},
              toml=_toml(max_reconverge=0).replace('timeout = "10s"', 'timeout = "1s"', 1))
    result = rig.engine(PING, PING, PING, PING).engage()
    assert [(s.level, s.status, s.exit_code) for s in result.steps] == [("vm", "timeout", None)]
    assert rig.ran == FULL[:1]


def test_a_pager_that_is_down_is_audited_and_the_latch_holds(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_reconverge=0))
    rig.write_script("ops/page.sh", "#!/bin/sh\necho pager unreachable\nexit 7\n")
    rig.engine(PING, PING, PING, PING).engage()
    failed = next(rig.audit("notify_failed"))
    assert (failed["reason"], failed["data"]["output"]) == ("notifier failed",
                                                            "pager unreachable\n")
    engine = rig.engine(PING)
    assert engine.state.latch is not None and engine.state.latch.paged is False
    assert engine.engage().verdict == "latched"
    assert len(list(rig.audit("notify_failed"))) == 2  # paging is retried, acting is not
    assert rig.ran == FULL
