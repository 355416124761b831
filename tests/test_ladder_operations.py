"""What an on-call engineer sees of the ladder from the usual places: the runs it stores
(`status`, `report`), its watcher's heartbeat, a latch in `check`, `status`, `ladder plan`,
the report and the metrics, a failing notifier, a maintenance window in `ladder status`, the
history, `resume --reset-counters`, and `escalate` telling each phase as it happens.

Commands run in-process against real projects (tests/test_ladder_process.py's `project`: real
behave runs, real level scripts), or as real processes where timing is the point.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import lxml.html
import pytest

from escalator.cli import main
from escalator.env import Env, boot_id
from escalator.formatters import FormatOptions, render
from escalator.ladder import heartbeat, procs
from escalator.ladder.model import LadderState, Latch, NotifierHealth, Page
from escalator.ladder.store import LadderStore, ladder_dir
from escalator.state import ResultStore
from tests.project import child_environ, run_cli
from tests.test_formatters_prometheus import PROMTOOL, promtool
from tests.test_ladder_commands import NOW, cli
from tests.test_ladder_engine import BOTH, SMOKE, _toml
from tests.test_ladder_process import project
from tests.test_ladder_rig import GREEN, Rig
from tests.test_ladder_safety import with_config
from tests.test_status_command import failing_run

ENVIRON = {"USER": "alice", "PATH": "/usr/bin:/bin"}
LATCH = Latch("verify failed after 1 plan(s): 3 passed, 1 failed, 0 unknown of 4", NOW - 120,
              "r9")


def ladder(root: Path) -> LadderStore:
    return LadderStore(ladder_dir(root / ".escalator", "test"), "test", now=lambda: NOW,
                       state_dir=root / ".escalator")


def results(root: Path) -> ResultStore:
    return ResultStore(root / ".escalator")


# -- the runs the ladder makes are stored ------------------------------------------------------

def test_escalate_stores_every_run_so_status_and_report_answer(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "deploy.state").write_text("500")
    assert run_cli(["escalate", "-e", "test"], root, ENVIRON).code == 0
    # the first run, the one after settle, the verify run
    assert [e.status.name for e in results(root).history("test")] == [
        "CRITICAL", "CRITICAL", "OK"]
    latest = results(root).latest("test")
    assert latest is not None
    status = run_cli(["status", "-e", "test", "--max-age", "5m"], root, ENVIRON)
    assert (status.code, status.stdout) == (0, render("nagios", latest.run, FormatOptions()))
    report = run_cli(["report", "-e", "test"], root, ENVIRON)
    assert report.code == 0, report.stdout + report.stderr
    assert (root / "reports" / "index.html").exists()


# -- the watcher's heartbeat -------------------------------------------------------------------

def test_status_is_unknown_once_the_watcher_stopped_and_says_since_when(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert run_cli(["watch", "-e", "test", "--interval", "100ms", "--ticks", "1"], root,
                   ENVIRON).code == 0
    beat = heartbeat.read(ladder(root))
    latest = results(root).latest("test")
    assert beat is not None and latest is not None and beat.stopped is not None
    assert (beat.pid, beat.stopped_by, beat.verdict) == (os.getpid(), "done", "healthy")
    status = run_cli(["status", "-e", "test", "--max-age", "5m"], root, ENVIRON)
    stopped = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(beat.stopped))
    stored = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(latest.stored_at))
    assert (status.code, status.stdout) == (3, (
        f"ESCALATOR UNKNOWN - the watcher (escalator watch, pid {os.getpid()} on "
        f"{socket.gethostname()}) stopped at {stopped} (done): nothing checks test now; its "
        f"last result was OK, stored {stored}\n"))
    # A run stored after it (cron, a person) is the truth again.
    assert run_cli(["check", "-e", "test"], root, ENVIRON).code == 0
    assert run_cli(["status", "-e", "test", "--max-age", "5m"], root, ENVIRON).code == 0


def test_status_is_unknown_when_the_watcher_was_killed(tmp_path: Path) -> None:
    root = project(tmp_path)
    results(root).save(failing_run("test"))
    gone = subprocess.Popen(["sleep", "60"])
    start = procs.start_time(gone.pid)
    gone.kill()
    gone.wait()
    last = time.time()
    heartbeat.write(ladder(root), heartbeat.Heartbeat(
        gone.pid, socket.gethostname(), boot_id(), last - 600, 60.0, last, last, "healthy",
        pid_start=start))
    status = run_cli(["status", "-e", "test", "--max-age", "1h"], root, ENVIRON)
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(last))
    assert status.code == 3
    assert status.stdout.startswith(
        f"ESCALATOR UNKNOWN - the watcher (escalator watch, pid {gone.pid} on "
        f"{socket.gethostname()}) is gone since its last sign of life at {when}: nothing "
        "checks test now; its last result was WARNING, stored ")
    lines = cli(["ladder", "status", "-e", "test"], root)[1].splitlines()
    assert [line for line in lines if line.startswith("watcher")] == [
        f"watcher                   pid {gone.pid} on {socket.gethostname()} is gone since "
        f"its last sign of life at {when}; last cycle {when}"]


# -- a latched ladder shows everywhere ---------------------------------------------------------

NOTE = ("notice: ladder latched since 2027-01-15 07:58:00Z: verify failed after 1 plan(s): 3 "
        "passed, 1 failed, 0 unknown of 4; it runs no level until: escalator ladder resume -e "
        "test --reason TEXT")


def test_check_says_the_ladder_is_latched_since_when_and_why(tmp_path: Path) -> None:
    root = project(tmp_path)
    ladder(root).save(LadderState("test", latch=LATCH))
    result = run_cli(["check", "-e", "test"], root, ENVIRON)
    assert (result.code, result.stdout.splitlines()[1:]) == (0, [NOTE])
    assert result.line1.startswith("ESCALATOR OK - 4 scenarios passed | ")


def test_status_long_output_says_the_ladder_is_latched(tmp_path: Path) -> None:
    root = project(tmp_path)
    ladder(root).save(LadderState("test", latch=LATCH))
    ResultStore(root / ".escalator", now=lambda: NOW - 30).save(failing_run("test"))
    out = io.StringIO()
    code = main(["status", "-e", "test", "--max-age", "5m"],
                Env(stdout=out, stderr=io.StringIO(), environ={}, cwd=root, now=lambda: NOW))
    assert (code, out.getvalue()) == (1, (
        "ESCALATOR WARNING - 1 of 2 scenarios failing: Login works | scenarios=2;;;0 "
        "passed=1;;;0 failed=1;;;0 unknown=0;;;0 time=1.2s;;;0 "
        "'Login works response_time'=812ms;500\n"
        "WARNING Login works (features/web.feature:9) @warning\n"
        '  When I go to "/login": took 812 ms\n'
        f"{NOTE}\n"))


def test_ladder_plan_on_a_latched_environment_says_since_when_and_why(tmp_path: Path) -> None:
    root = project(tmp_path)
    ladder(root).save(LadderState("test", latch=LATCH))
    assert cli(["ladder", "plan", "-e", "test"], root) == (0, (
        "test: LATCHED since 2027-01-15 07:58:00Z: verify failed after 1 plan(s): 3 passed, 1 "
        "failed, 0 unknown of 4\n"
        "test: it runs no level until: escalator ladder resume -e test --reason TEXT\n"
        "test: nothing to do (4 passed, 0 failed, 0 unknown of 4)\n"), "")


LADDER_SERIES = """\
# HELP escalator_ladder_latched 1 while the escalation ladder is latched (it runs no level until escalator ladder resume), else 0.
# TYPE escalator_ladder_latched gauge
escalator_ladder_latched{environment="test"} 1
# HELP escalator_ladder_latched_since_timestamp_seconds When the ladder latched (Unix time).
# TYPE escalator_ladder_latched_since_timestamp_seconds gauge
escalator_ladder_latched_since_timestamp_seconds{environment="test"} 1799999880
# HELP escalator_ladder_latch_info Why the ladder is latched (the reason label); always 1.
# TYPE escalator_ladder_latch_info gauge
escalator_ladder_latch_info{environment="test",reason="verify failed after 1 plan(s): 3 passed, 1 failed, 0 unknown of 4"} 1
# HELP escalator_ladder_notifier_failing 1 while the ladder's notifier fails to take pages, else 0.
# TYPE escalator_ladder_notifier_failing gauge
escalator_ladder_notifier_failing{environment="test"} 1
# HELP escalator_ladder_notifier_failing_since_timestamp_seconds When the notifier began to fail (Unix time).
# TYPE escalator_ladder_notifier_failing_since_timestamp_seconds gauge
escalator_ladder_notifier_failing_since_timestamp_seconds{environment="test"} 1799999890
# HELP escalator_ladder_open_pages Problems the ladder paged about and has not resolved yet.
# TYPE escalator_ladder_open_pages gauge
escalator_ladder_open_pages{environment="test"} 1
# HELP escalator_watch_last_cycle_timestamp_seconds When escalator watch last finished a cycle (Unix time).
# TYPE escalator_watch_last_cycle_timestamp_seconds gauge
escalator_watch_last_cycle_timestamp_seconds{environment="test"} 1799999940
# HELP escalator_watch_up 1 while escalator watch runs, 0 once it stopped or is gone.
# TYPE escalator_watch_up gauge
escalator_watch_up{environment="test"} 0
"""  # noqa: E501


def test_the_report_and_its_metrics_show_a_latch_a_failing_notifier_and_the_watcher(
        tmp_path: Path) -> None:
    root = project(tmp_path)
    ResultStore(root / ".escalator", now=lambda: NOW - 30).save(failing_run("test"))
    ladder(root).save(LadderState(
        "test", latch=LATCH, pages=(Page("escalator/test/latched/1799999880", "latched",
                                         NOW - 120, None, "r9", retry=True),),
        notifier=NotifierHealth(NOW - 110, "HTTP 503 Service Unavailable")))
    beat = heartbeat.Heartbeat(4242, socket.gethostname(), boot_id(), NOW - 3600, 60.0,
                               NOW - 60, NOW - 60, "latched", stopped=NOW - 50,
                               stopped_by="SIGTERM")
    heartbeat.write(ladder(root), beat)
    assert cli(["report", "-e", "test"], root)[0] == 0
    metrics = (root / "reports" / "metrics.prom").read_text()
    promtool(metrics)
    assert metrics[metrics.index("# HELP escalator_ladder_latched "):] == LADDER_SERIES
    page = lxml.html.fromstring((root / "reports" / "index.html").read_text())
    banners = {b.get("id"): " ".join(b.text_content().split())
               for b in page.find_class("banner")}
    assert banners == {
        "ladder-latched": "The ladder is latched since 2027-01-15 07:58:00 UTC (2m ago): "
                          "verify failed after 1 plan(s): 3 passed, 1 failed, 0 unknown "
                          "of 4. It runs no level until someone who has looked says so: "
                          'escalator ladder resume -e test --reason "..."',
        "ladder-notifier": "The ladder's notifier fails since 2027-01-15 07:58:10 UTC "
                           "(1m50s ago): HTTP 503 Service Unavailable. Its pages do not get "
                           "through; it tries again at each run.",
        "ladder-watcher": f"The watcher is not running: the watcher (escalator watch, pid 4242 "
                          f"on {socket.gethostname()}) stopped at 2027-01-15 07:59:10Z "
                          "(SIGTERM). Nothing checks or repairs test now."}


def test_the_overview_metrics_carry_each_environments_ladder(tmp_path: Path) -> None:
    root = project(tmp_path)
    toml = root / "escalator.toml"
    toml.write_text(toml.read_text().replace("[environments.test]",
                                             "[environments.test]\n[environments.prod]"))
    ResultStore(root / ".escalator", now=lambda: NOW).save(failing_run("test"))
    ladder(root).save(LadderState("test", latch=LATCH))
    assert cli(["report"], root)[0] == 0
    metrics = (root / "reports" / "metrics.prom").read_text()
    promtool(metrics)
    assert re.findall(r"^escalator_ladder_latched\{.*$", metrics, re.M) == [
        'escalator_ladder_latched{environment="test"} 1',
        'escalator_ladder_latched{environment="prod"} 0']


# -- ladder status and history -----------------------------------------------------------------

def test_ladder_status_shows_a_maintenance_window(tmp_path: Path) -> None:
    toml = _toml() + """
[[ladder.maintenance]]
start = 2027-01-15T07:00:00Z
end = 2027-01-15T09:00:00Z
reason = "provider maintenance"
"""
    root = with_config(Rig(tmp_path, toml=toml), toml)
    lines = cli(["ladder", "status", "-e", "test"], root)[1].splitlines()
    assert lines[1] == ("state                     MAINTENANCE: window until 2027-01-15 "
                        "09:00:00Z (provider maintenance): no level runs, nothing pages")


def test_history_shows_window_stops_stopped_cascades_and_the_notifier(tmp_path: Path) -> None:
    toml = _toml(max_reconverge=0) + """
[[ladder.maintenance]]
start = 2027-01-15T08:05:00Z
end = 2027-01-15T09:00:00Z
"""
    rig = Rig(tmp_path, toml=toml, scripts={"vm": "exit 3"})
    root = with_config(rig, toml)
    rig.engine(BOTH, BOTH, BOTH, BOTH).engage()  # vm fails: the cascade stops; latched, paged
    rig.write_script("ops/page.sh", "#!/bin/sh\nexit 1\n")
    assert rig.engine().resume("alice", "vm fixed by hand")  # the resolve fails
    rig.clock.sleep(120)
    rig2 = rig.engine(SMOKE, SMOKE, SMOKE)  # deploy runs into the window at 08:05
    rig2.engage()
    out = cli(["ladder", "history", "-e", "test", "-n", "100"], root)[1]
    shown = [line.split()[3] for line in out.splitlines()[2:]]
    assert [e for e in shown if e in ("cascade_stopped", "notify_sent", "notify_failed",
                                      "suppressed", "resumed", "would_run")] == [
        "cascade_stopped", "notify_sent", "resumed", "notify_failed", "would_run"]


def test_a_window_that_stops_a_cascade_shows_in_history(tmp_path: Path) -> None:
    toml = _toml() + """
[[ladder.maintenance]]
start = 2027-01-15T08:01:00Z
end = 2027-01-15T09:00:00Z
"""
    rig = Rig(tmp_path, toml=toml)
    root = with_config(rig, toml)
    rig.engine(*[BOTH] * 5).engage()
    out = cli(["ladder", "history", "-e", "test"], root)[1]
    assert re.search(r" suppressed +maintenance window began: cascade stopped before converge ",
                     out), out


# -- resume --reset-counters -------------------------------------------------------------------

def test_resume_says_which_counters_it_keeps_and_clears_them_only_when_asked(
        tmp_path: Path) -> None:
    toml = _toml(cooldown="0s", max_actions_per_hour=100)
    rig = Rig(tmp_path, toml=toml)
    root = with_config(rig, toml)
    for _ in range(3):
        assert rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN).engage().verdict == "recovered"
        rig.clock.sleep(600)
    assert rig.engine(SMOKE, SMOKE, SMOKE).engage().reason == ("loop breaker: 3 engagements "
                                                               "within 6h")
    at = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=ENVIRON, cwd=root,
             now=rig.clock.now, monotonic=rig.clock.monotonic, sleep=rig.clock.sleep)
    assert main(["ladder", "resume", "-e", "test", "--reason", "looked"], at) == 0
    assert at.stdout.getvalue() == (  # type: ignore[attr-defined]
        "test: resumed; kept: loop breaker (3 of 3 engagements in 6h), hourly budget (3 of 100 "
        "actions in the last hour), the cooldowns; at a limit, so the next failure latches "
        "again at once (--reset-counters clears the loop breaker and the budget)\n")
    assert rig.engine(SMOKE, SMOKE, SMOKE).engage().verdict == "latched"  # at once, as said
    at.stdout = io.StringIO()
    assert main(["ladder", "resume", "-e", "test", "--reason", "looked again",
                 "--reset-counters"], at) == 0
    assert at.stdout.getvalue() == (
        "test: resumed; cleared: loop breaker (3 of 3 engagements in 6h), hourly budget (3 of "
        "100 actions in the last hour); kept: the cooldowns\n")
    resumed = list(rig.audit("resumed"))
    assert [r["data"]["reset_counters"] for r in resumed] == [False, True]
    rig.store.state_path.unlink()  # rebuilt from the audit log: the reset holds
    engine = rig.engine(SMOKE, SMOKE, SMOKE, GREEN, GREEN)
    assert (engine.state.engagements, engine.state.actions, engine.state.latch) == ((), (), None)
    assert engine.state.last_run("deploy") is not None  # cooldowns are kept
    assert engine.engage().verdict == "recovered"


def test_a_resume_request_can_reset_the_counters_of_a_running_engine(tmp_path: Path) -> None:
    toml = _toml(cooldown="0s", max_actions_per_hour=100)
    rig = Rig(tmp_path, toml=toml)
    root = with_config(rig, toml)
    engine = rig.engine(*[SMOKE, SMOKE, SMOKE, GREEN, GREEN] * 3, SMOKE, SMOKE, SMOKE,
                        SMOKE, SMOKE, SMOKE, GREEN, GREEN)
    for _ in range(4):
        engine.engage()
    assert engine.state.latch is not None
    with rig.store.lock("watch"):
        code, out, _ = cli(["ladder", "resume", "-e", "test", "--reason", "ok",
                            "--reset-counters"], root)
    assert code == 0
    assert out.startswith("test: resume requested by alice (and to clear the loop breaker and "
                          "the budget); the running engine applies it before its next run (")
    assert engine.engage().verdict == "recovered"


# -- escalate tells each phase as it happens ---------------------------------------------------

def test_each_phase_is_told_and_the_runs_detail_only_with_verbose(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    engine = rig.engine(BOTH, BOTH, BOTH, GREEN, GREEN)
    told: list[str] = []
    engine.progress = lambda text, detail: told.append(("-v " if detail else "") + text)
    assert engine.engage().verdict == "recovered"
    assert [re.sub(r"after \d+ms", "after Nms", line) for line in told] == [
        "-v observed: 4 passed, 2 failed, 0 unknown of 6\n  ping (features/f.feature:1): "
        "failed\n  smoke (features/f.feature:1): failed",
        "confirm: failing run 1 of 2 (ping, smoke); next run in 10s",
        "-v observed: 4 passed, 2 failed, 0 unknown of 6\n  ping (features/f.feature:1): "
        "failed\n  smoke (features/f.feature:1): failed",
        "confirmed: ping, smoke",
        "settle: 30s, then the run that makes the plan",
        "-v observed: 4 passed, 2 failed, 0 unknown of 6\n  ping (features/f.feature:1): "
        "failed\n  smoke (features/f.feature:1): failed",
        "plan: vm > converge > deploy for ping; smoke covered by it",
        "level vm started: ops/vm.sh (timeout 10s, not idempotent)",
        "level vm succeeded after Nms (exit 0)",
        "quiesce: 2m after level vm",
        "level converge started: ops/converge.sh (timeout 10s)",
        "level converge succeeded after Nms (exit 0)",
        "quiesce: 1m after level converge",
        "level deploy started: ops/deploy.sh (timeout 10s)",
        "level deploy succeeded after Nms (exit 0)",
        "quiesce: 30s after level deploy",
        "-v observed: 6 passed, 0 failed, 0 unknown of 6",
        "verify 1 of 2: green",
        "-v observed: 6 passed, 0 failed, 0 unknown of 6",
        "verify 2 of 2: green"]


def test_escalate_prints_each_phase_as_it_happens(tmp_path: Path) -> None:
    """The line that says the level started is read while the level runs: the level waits
    (at most 30 s) for the test to have read it, and says it is done only after that."""
    go = tmp_path / "go"
    wait = f'i=0; while [ ! -e "{go}" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done'
    root = project(tmp_path, bodies={"deploy": wait})
    (root / "deploy.state").write_text("500")
    proc = subprocess.Popen([sys.executable, "-m", "escalator", "escalate", "-e", "test"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_environ(USER="tester"))
    seen: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("test: level deploy started: "):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        told = started.wait(60)
        level_done = (root / "deploy.state").read_text() == "pass\n"
    finally:
        go.touch()
        proc.wait(120)
        reader.join(10)
    assert (told, level_done) == (True, False), seen
    assert [line.split(":")[1].split()[0] for line in seen[:5]] == [
        "confirmed", "settle", "plan", "level", "level"]
    assert seen[4].startswith("test: level deploy succeeded after ")
    assert seen[-4].startswith("test: recovered - verified green (run ")


# -- the heartbeat file itself -----------------------------------------------------------------

def test_a_heartbeat_written_by_a_running_watch(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "escalator", "watch", "-e", "test",
                             "--interval", "200ms"], cwd=root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=child_environ())
    directory = ladder(root).directory
    store = ladder(root)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            beat = heartbeat.read(store)
            if beat is not None and beat.last_cycle is not None:
                break
            time.sleep(0.05)
        else:
            pytest.fail("no cycle in time")
        assert (beat.pid, beat.interval, beat.stopped, beat.verdict) == (
            proc.pid, 0.2, None, "healthy")
        assert heartbeat.running(beat, boot_id())
        lines = cli(["ladder", "status", "-e", "test"], root)[1].splitlines()
        assert [line.split()[1] for line in lines if line.startswith("watcher")] == ["running"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    beat = heartbeat.read(store)
    assert beat is not None and beat.stopped_by == "SIGTERM"
    events = [json.loads(line)["event"] for line in
              (directory / "audit.jsonl").read_text().splitlines()]
    assert (events[0], events[-1]) == ("watch_started", "watch_stopped")


# -- the examples in the docs ------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_notify_examples_in_the_docs_parse(tmp_path: Path) -> None:
    import tomllib

    from escalator.ladder.config import parse_ladder

    blocks = re.findall(r"```toml\n(.*?)```", (DOCS / "integrations.md").read_text()
                        + (DOCS / "ladder.md").read_text(), re.S)
    notifies = [line for block in blocks for line in block.splitlines()
                if line.startswith("notify = {")]
    assert len(notifies) >= 3
    for line in notifies:
        table = tomllib.loads(f"{line}\n[[level]]\nid = 'x'\nrun = ['true']\n")
        assert parse_ladder(table, tmp_path / "escalator.toml", tmp_path).webhook is not None


def test_the_prometheus_rules_in_the_docs_are_valid(tmp_path: Path) -> None:
    rules = re.search(r"```yaml\n(groups:.*?)```", (DOCS / "integrations.md").read_text(), re.S)
    assert rules is not None
    (tmp_path / "rules.yml").write_text(rules.group(1))
    done = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / "rules.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
