"""The ladder never forgets a latch or a counter, and its verdicts say what happened: resume
requests, damaged files (real files), clock jumps (fake clocks), verify judged on the plan's
scenarios, maintenance windows, unknown levels and absent level programs, secrets at the cut.

Levels are the rig's real shell scripts (tests/test_ladder_rig.py); the commands run in-process.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from escalator.cli import main
from escalator.env import Env
from escalator.ladder.actions import TAIL_BYTES
from escalator.ladder.store import LadderStore
from escalator.results import Outcome, RunResult, ScenarioResult, Severity
from escalator.state import ResultStore
from tests.test_ladder_commands import cli
from tests.test_ladder_engine import FULL, PING, SMOKE, _toml
from tests.test_ladder_process import project
from tests.test_ladder_rig import DEFAULT_TOML, GREEN, START, Clock, Rig, state_of

DAY, HOUR = 86400.0, 3600.0
UNRELATED = state_of(extra="FPPP")  # other0 (no ladder level, e.g. a @warning) fails
SMOKE_AND_UNRELATED = state_of(smoke="F", extra="FPPP")


class JumpClock(Clock):
    """A wall clock that can be stepped (NTP, an operator) while monotonic time goes on."""

    def __init__(self) -> None:
        super().__init__()
        self.mono = 1000.0

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.mono += seconds

    def jump(self, seconds: float) -> None:
        self.t += seconds


def jumping_rig(root: Path, toml: str) -> Rig:
    rig = Rig(root, toml=toml)
    rig.clock = clock = JumpClock()
    rig.env = Env(environ=rig.env.environ, cwd=root, now=clock.now, monotonic=clock.monotonic,
                  sleep=clock.sleep)
    rig.store = LadderStore(rig.store.directory, "test", now=clock.now)
    return rig


def with_config(rig: Rig, toml: str = DEFAULT_TOML) -> Path:
    """The rig's ladder as an escalator.toml, so the `ladder` commands see the same files."""
    (rig.root / "escalator.toml").write_text("[environments.test]\n" + toml)
    return rig.root


# -- resume requests --------------------------------------------------------------------------

def test_a_resume_filed_while_nothing_is_latched_never_releases_a_later_latch(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_reconverge=0))
    root = with_config(rig, _toml(max_reconverge=0))
    with rig.store.lock("watch"):  # a running watch holds the lock
        assert cli(["ladder", "resume", "-e", "test", "--reason", "just in case"], root) == (
            0, "test: not latched: nothing to resume\n", "")
    engine = rig.engine(PING, PING, PING, PING, PING)
    assert engine.engage().verdict == "latched"
    again = engine.engage()
    assert (again.verdict, rig.ran, len(rig.pages)) == ("latched", FULL, 1)
    assert "resumed" not in rig.events()


def test_a_pending_resume_shows_in_status_and_applies_only_to_its_latch(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_reconverge=0))
    root = with_config(rig, _toml(max_reconverge=0))
    engine = rig.engine(PING, PING, PING, PING, GREEN)
    assert engine.engage().verdict == "latched"
    with rig.store.lock("watch"):
        code, out, _ = cli(["ladder", "resume", "-e", "test", "--reason", "disk swapped"], root)
        assert code == 0 and out.startswith("test: resume requested by alice")
        status = cli(["ladder", "status", "-e", "test"], root)[1]
    assert "resume requested          by alice at 2027-01-15 08:00:00Z: disk swapped\n" in status
    assert engine.engage().verdict == "healthy"  # applied: it was filed for this very latch
    assert [r["actor"] for r in rig.audit("resumed")] == ["alice"]
    assert rig.store.take_resume() is None


def test_a_request_for_a_latch_that_is_gone_is_dropped(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_reconverge=0, cooldown="0s"))
    engine = rig.engine(PING, PING, PING, PING, GREEN, PING, PING, PING, PING, PING)
    assert engine.engage().verdict == "latched"
    latch = engine.state.latch
    assert latch is not None
    rig.store.request_resume("bob", "first fix", latch)
    assert engine.engage().verdict == "healthy"
    rig.store.request_resume("bob", "stale copy of the same request", latch)
    rig.clock.sleep(2 * HOUR)
    assert engine.engage().verdict == "latched"  # a new latch: the old request must not apply
    assert engine.engage().verdict == "latched"
    ignored = list(rig.audit("resume_ignored"))
    assert [r["reason"] for r in ignored] == ["stale copy of the same request"]


# -- damaged files ----------------------------------------------------------------------------

DEPLOY_COOLDOWN = DEFAULT_TOML.replace('quiesce = "30s"\nidempotent = true',
                                       'quiesce = "30s"\ncooldown = "1d"\nidempotent = true')


def test_corrupt_state_and_a_damaged_audit_line_latch_and_keep_every_counter(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=DEPLOY_COOLDOWN)
    assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
    lines = rig.store.audit_path.read_bytes().splitlines(keepends=True)
    lines.insert(2, b'{"ts": "2027-01-15T08:00:00.000000Z", "event": "obs\xff\xfe\n')
    rig.store.audit_path.write_bytes(b"".join(lines))
    rig.store.state_path.write_text('{"schema": 1, "envir')
    engine = rig.engine(SMOKE, SMOKE, SMOKE)
    latch = engine.state.latch
    assert latch is not None and latch.reason.startswith("corrupt state file (kept as state.json")
    assert latch.reason.endswith("; audit.jsonl: 1 damaged line skipped (line 3)")
    assert (len(engine.state.actions), engine.state.last_run("deploy")) == (1, START + 40.0)
    assert engine.resume("alice", "state restored by hand") is True
    result = engine.engage()
    assert (result.verdict, result.reason) == ("latched", "cooldown: level deploy ran 1m20s ago, "
                                                          "cooldown 1d")
    assert rig.ran == ["deploy plan=[deploy] targets=[smoke-1] env=test"]


def test_a_lost_state_file_is_rebuilt_from_the_audit_log(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=DEPLOY_COOLDOWN)
    assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
    rig.store.state_path.unlink()
    result = rig.engine(SMOKE, SMOKE, SMOKE).engage()
    assert (result.verdict, len(rig.ran)) == ("latched", 1)
    assert result.reason.startswith("cooldown: level deploy ran ")
    assert "state_rebuilt" in rig.events()


def test_history_skips_and_reports_damaged_lines(tmp_path: Path) -> None:
    root = project(tmp_path)
    store = LadderStore(root / ".escalator" / "ladder" / "test", "test", now=lambda: START)
    store.audit("planned", "r1", "run deploy")
    with store.audit_path.open("ab") as log:
        log.write(b"\xff\x00 not json\n")
    store.audit("latched", "r1", "verify failed")
    assert cli(["ladder", "history", "-e", "test"], root) == (0, """\
time (UTC)           run    event    level    detail         actor
-------------------  -----  -------  -------  -------------  -------
2027-01-15 08:00:00  r1     planned           run deploy     engine
2027-01-15 08:00:00  r1     latched           verify failed  engine
audit.jsonl: 1 damaged line skipped (line 2)
""", "")


# -- clock jumps ------------------------------------------------------------------------------

TIGHT = DEFAULT_TOML.replace('quiesce = "30s"\nidempotent = true',
                             'quiesce = "30s"\ncooldown = "2h"\nidempotent = true').replace(
    "max_actions_per_hour = 6", "max_actions_per_hour = 1")


def test_counters_survive_a_healthy_run_with_the_clock_days_ahead(tmp_path: Path) -> None:
    rig = jumping_rig(tmp_path, TIGHT)
    assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
    rig.clock.jump(3 * DAY)
    assert rig.engine(GREEN).engage().verdict == "healthy"  # a restart while the clock is off
    rig.clock.jump(-3 * DAY)
    rig.clock.sleep(1)
    result = rig.engine(SMOKE, SMOKE, SMOKE).engage()
    assert (result.verdict, result.reason) == (
        "latched", "hourly budget: 1 actions in the last hour, plan needs 1, limit 1")
    assert len(rig.ran) == 1


def test_counters_survive_clock_jumps_inside_one_engine(tmp_path: Path) -> None:
    rig = jumping_rig(tmp_path, TIGHT)
    engine = rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN, GREEN, SMOKE, SMOKE, SMOKE)
    assert engine.engage().verdict == "recovered"
    rig.clock.jump(3 * DAY)
    assert engine.engage().verdict == "healthy"
    rig.clock.jump(-3 * DAY)
    assert engine.engage().verdict == "latched"
    assert len(rig.ran) == 1


def test_counters_survive_a_jump_that_moves_every_clock_of_the_process(tmp_path: Path) -> None:
    """The rig's clock: a jump moves its monotonic time too, so nothing can tell the jump
    from days that passed; still, a healthy run then must not erase what the gates need."""
    rig = Rig(tmp_path, toml=TIGHT)
    assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
    rig.clock.t += 3 * DAY
    assert rig.engine(GREEN).engage().verdict == "healthy"
    rig.clock.t -= 3 * DAY - 1
    result = rig.engine(SMOKE, SMOKE, SMOKE).engage()
    assert (result.verdict, len(rig.ran)) == ("latched", 1)


def test_a_clock_that_went_back_neither_frees_nor_freezes_the_counters(tmp_path: Path) -> None:
    rig = jumping_rig(tmp_path, TIGHT)
    assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
    rig.clock.jump(-DAY)
    assert rig.engine(SMOKE, SMOKE, SMOKE).engage().verdict == "latched"
    engine = rig.engine()
    assert engine.resume("alice", "clock fixed") is True
    rig.clock.sleep(2 * HOUR)
    rig.clock.jump(DAY)
    assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
    assert len(rig.ran) == 2


def _warning_run() -> RunResult:
    return RunResult(scenarios=(ScenarioResult(
        feature="Web", file="features/web.feature", line=9, name="Login works",
        outcome=Outcome.FAILED, severity=Severity.WARNING, tags=("warning",)),),
        started=1_700_000_000.0, duration=1.0, environment="test")


def _status(root: Path, now: float, monotonic: float) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["status", "-e", "test", "--max-age", "15m"],
                Env(stdout=out, stderr=io.StringIO(), environ={}, cwd=root, now=lambda: now,
                    monotonic=lambda: monotonic))
    return code, out.getvalue()


def test_a_result_stored_while_the_clock_was_ahead_still_goes_stale(tmp_path: Path) -> None:
    (tmp_path / "escalator.toml").write_text("[environments.test]\n")
    t0 = 1_700_000_000.0
    ResultStore(tmp_path / ".escalator", now=lambda: t0 + 3 * DAY,
                monotonic=lambda: 500.0).save(_warning_run())
    assert _status(tmp_path, t0 + 600, 500.0 + 600)[0] == 1  # 10 minutes: still fresh
    code, out = _status(tmp_path, t0 + 1200, 500.0 + 1200)
    assert (code, out) == (3, "ESCALATOR UNKNOWN - last result is 20m old, older than --max-age "
                              "15m (it was WARNING, stored 2023-11-17T22:13:20Z) "
                              "| age=1200s;;900;0\n")


def test_a_result_from_the_future_without_a_monotonic_record_is_stale(tmp_path: Path) -> None:
    (tmp_path / "escalator.toml").write_text("[environments.test]\n")
    t0 = 1_700_000_000.0
    ResultStore(tmp_path / ".escalator", now=lambda: t0 + 3 * DAY).save(_warning_run())
    path = tmp_path / ".escalator" / "results" / "test.json"
    record = json.loads(path.read_text())
    record.pop("mono", None)  # written by an older version, or in another boot
    path.write_text(json.dumps(record))
    code, out = _status(tmp_path, t0 + 60, 0.0)
    assert code == 3
    assert out == ("ESCALATOR UNKNOWN - last result was stored 2023-11-17T22:13:20Z, 2d23h59m "
                   "in the future: the clock has moved, its age is unknown\n")


# -- verdicts ---------------------------------------------------------------------------------

def test_a_failed_verify_whose_replan_finds_nothing_verifies_again_and_says_so(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    root = with_config(rig)
    engine = rig.engine(SMOKE, SMOKE, SMOKE, SMOKE, GREEN, GREEN, GREEN)
    result = engine.engage()
    assert (result.verdict, [s.level for s in result.steps]) == ("recovered", ["deploy"])
    assert dict(engine.state.last_engagement)["verdict"] == "recovered"
    status = cli(["ladder", "status", "-e", "test"], root)[1]
    assert f"({result.verdict})" in status and "(running)" not in status
    ended = list(rig.audit("ended"))
    assert [(r["data"]["verdict"], [s["level"] for s in r["data"]["levels"]])  # type: ignore
            for r in ended] == [("recovered", ["deploy"])]


def test_a_failed_verify_then_only_unrelated_failures_ends_with_the_truth(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result = rig.engine(SMOKE, SMOKE, SMOKE, SMOKE, UNRELATED, UNRELATED, UNRELATED).engage()
    assert (result.verdict, [s.level for s in result.steps], rig.pages) == (
        "recovered", ["deploy"], [])


def test_verify_judges_the_plans_scenarios_and_reports_the_others(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    runs = (SMOKE_AND_UNRELATED,) * 3 + (UNRELATED,) * 2
    result = rig.engine(*runs).engage()
    assert (result.verdict, result.exit_code, rig.pages) == ("recovered", 0, [])
    verify = list(rig.audit("verify"))
    assert [(r["data"]["green"], r["data"]["others"]) for r in verify] == [  # type: ignore
        (True, ["other0"]), (True, ["other0"])]


def test_a_verify_that_fails_inside_a_window_neither_latches_nor_pages(tmp_path: Path) -> None:
    toml = _toml(max_reconverge=0) + """
[[ladder.maintenance]]
start = 2027-01-15T08:01:00Z
end = 2027-01-15T09:00:00Z
"""
    rig = Rig(tmp_path, toml=toml)
    engine = rig.engine(PING, PING, PING, PING)
    result = engine.engage()
    assert (result.verdict, rig.ran, rig.pages, engine.state.latch) == (
        "suppressed", FULL[:1], [], None)
    assert "latched" not in rig.events()
    rig.clock.sleep(HOUR)  # the window is over: the next run acts
    after = rig.engine(PING, PING, PING, GREEN, GREEN).engage()
    assert (after.verdict, rig.ran) == ("recovered", FULL[:1] + FULL)


def test_no_page_goes_out_inside_a_window(tmp_path: Path) -> None:
    toml = DEFAULT_TOML + """
[[ladder.maintenance]]
start = 2027-01-15T07:00:00Z
end = 2027-01-15T09:00:00Z
"""
    rig = Rig(tmp_path, toml=toml)
    result = rig.engine(state_of(ping="F", smoke="F", extra="FFPP")).engage()
    assert (result.verdict, rig.pages) == ("unactionable", [])
    assert "notify_suppressed" in rig.events()


# -- what the ladder's commands validate, and what they leave to the ladder ------------------

def test_an_escalate_tag_naming_no_level_is_refused_at_start(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "features" / "extra.feature").write_text(
        "Feature: extra\n\n  @escalate.nosuch\n  Scenario: typo\n"
        '    Given the file "/nonexistent" says pass\n')
    message = ("escalator: features/extra.feature:4: @escalate.nosuch: no such ladder level "
               "(levels: vm, converge, deploy)\n")
    for argv in (["watch", "-e", "test", "--interval", "100ms", "--ticks", "2"],
                 ["escalate", "-e", "test"]):
        assert cli(argv, root) == (3, "", message), argv
    assert not (root / "pages.log").exists()


def test_a_host_that_only_checks_needs_no_level_programs(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "ops" / "deploy.sh").unlink()
    (root / "ops" / "page.sh").chmod(0o644)
    for argv in (["check", "-e", "test"], ["run", "-e", "test", "-f", "progress"],
                 ["ladder", "status", "-e", "test"]):
        assert cli(argv, root)[0] == 0, argv
    assert cli(["escalate", "-e", "test"], root) == (
        3, "", "escalator: escalator.toml: ladder.level[3].run: ops/deploy.sh is not "
               "executable\n")
    (root / "ops" / "deploy.sh").write_text("#!/bin/sh\n")
    (root / "ops" / "deploy.sh").chmod(0o755)
    assert cli(["watch", "-e", "test", "--ticks", "1"], root) == (
        3, "", "escalator: escalator.toml: ladder.notify: ops/page.sh is not executable\n")


# -- secrets at the cut of the output tail ----------------------------------------------------

def test_a_secret_straddling_the_cut_of_the_output_tail_never_survives(tmp_path: Path) -> None:
    secret = "Zq7-hunter2-Kw9-correct-horse"  # 29 characters; 19 fall inside the tail
    filler = TAIL_BYTES - 19
    rig = Rig(tmp_path, secrets=(secret,), scripts={
        "deploy": f"printf 'before %s' '{secret}'\nhead -c {filler} /dev/zero | tr '\\0' .\n"})
    rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage()
    text = rig.store.audit_path.read_text()
    output = next(rig.audit("step_finished"))["data"]["output"]  # type: ignore[index]
    assert output.endswith("." * filler) and len(output) <= TAIL_BYTES
    assert not [secret[-k:] for k in range(4, len(secret) + 1) if secret[-k:] in text]
