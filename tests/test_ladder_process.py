"""The ladder as operators run it: `python -m escalator escalate` in a subprocess against a
real project whose scenarios read files that the level scripts "repair". Covers the cascade,
SIGKILL of the engine mid-level, and two engines started at once."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.project import ladder_level, ladder_toml, make_project

FILE_STEPS = {"file_steps.py": '''
from pathlib import Path

from behave import given


@given('the file "{path}" says pass')
def step_the_file_says_pass(context, path):
    """Given the file "/tmp/x" says pass"""
    text = Path(path).read_text().strip() if Path(path).exists() else "missing"
    assert text == "pass", f"{path} says {text}"
'''}

LEVEL = """#!/bin/sh
echo "$ESCALATOR_LEVEL $ESCALATOR_RUN_ID" >> "{root}/ran.log"
echo $$ > "{root}/{level}.pid"
{body}
echo pass > "{root}/{level}.state"
"""

CONFIG = ladder_toml(
    ladder_level("vm", timeout="60s", quiesce="100ms"),
    ladder_level("converge", timeout="60s", quiesce="100ms", idempotent=True),
    ladder_level("deploy", timeout="60s", quiesce="100ms", idempotent=True),
    settle="100ms", confirm=1, verify=1, retry_interval="100ms", max_reconverge=0,
    notify=["ops/page.sh"])


def project(root: Path, bodies: dict[str, str] | None = None) -> Path:
    """vm (node up), converge (config ok), deploy (app up) and one untagged scenario."""
    (root / "ops").mkdir(parents=True)
    for level in ("vm", "converge", "deploy"):
        path = root / "ops" / f"{level}.sh"
        path.write_text(LEVEL.format(root=root, level=level,
                                     body=(bodies or {}).get(level, "")))
        path.chmod(0o755)
    page = root / "ops" / "page.sh"
    page.write_text(f'#!/bin/sh\ncat >> "{root}/pages.log"\necho >> "{root}/pages.log"\n')
    page.chmod(0o755)
    scenarios = [("vm", "node answers"), ("converge", "config is converged"),
                 ("deploy", "home page renders"), (None, "disk has room")]
    feature = "Feature: service\n"
    for level, name in scenarios:
        tag = f"  @escalate.{level}\n" if level else ""
        state = root / f"{level or 'disk'}.state"
        feature += f'\n{tag}  Scenario: {name}\n    Given the file "{state}" says pass\n'
        state.write_text("pass")
    return make_project(root, {"service.feature": feature}, steps=FILE_STEPS, config=CONFIG)


def escalate(root: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "escalator", "escalate", "-e", "test",
                             "-c", str(root / "escalator.toml"), *extra],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "USER": "tester"})


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


def verdicts(out: str) -> list[str]:
    """The verdict lines of `escalate` or `watch` output (`ENV: VERDICT - REASON (run ID)`);
    the phase lines printed as they happen come before each."""
    return [line for line in out.splitlines() if re.fullmatch(r"test: \w+ - .* \(run \S+\)",
                                                                line)]


def ran(root: Path) -> list[str]:
    log = root / "ran.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def audit(root: Path) -> list[dict[str, object]]:
    path = root / ".escalator" / "ladder" / "test" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_deep_failure_runs_that_level_and_the_ones_after_it_once_each(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "vm.state").write_text("down")
    (root / "deploy.state").write_text("500")
    code, out, err = finish(escalate(root))
    assert (code, err) == (0, "")
    assert [line.split(" (run ")[0] for line in verdicts(out)] == [
        "test: recovered - verified green"]
    assert ran(root) == ["vm", "converge", "deploy"]
    run_ids = {line.split()[1] for line in (root / "ran.log").read_text().splitlines()}
    assert len(run_ids) == 1


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "converge.state").write_text("drift")
    code, out, _ = finish(escalate(root, "--dry-run"))
    assert code == 2
    assert out == (
        "test: plan from level converge (3 passed, 1 failed, 0 unknown of 4)\n"
        "  #  level     run              timeout    quiesce    idempotent\n"
        "---  --------  ---------------  ---------  ---------  ------------\n"
        "  1  converge  ops/converge.sh  1m         100ms      yes\n"
        "  2  deploy    ops/deploy.sh    1m         100ms      yes\n"
        "needed by: config is converged (@escalate.converge)\n"
        "now: act (run converge, deploy)\n")
    assert ran(root) == []


def test_engine_killed_mid_non_idempotent_level_never_reruns_it_and_latches(
        tmp_path: Path) -> None:
    root = project(tmp_path, bodies={"vm": "sleep 4"})
    (root / "vm.state").write_text("down")
    first = escalate(root)
    try:
        _wait_for(lambda: ran(root) == ["vm"])
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        code, out, _ = finish(escalate(root))
    finally:
        _kill_level(root / "vm.pid")
    assert code == 2 and len(verdicts(out)) == 1
    assert verdicts(out)[0].startswith("test: latched - level vm (not idempotent) was "
                                       "interrupted by an engine crash; its effect is "
                                       "unknown (run ")
    assert ran(root) == ["vm"]
    events = [r["event"] for r in audit(root)]
    assert "state_recovered" in events and events.count("step_intent") == 1
    pages = [json.loads(p) for p in (root / "pages.log").read_text().split("\n") if p]
    assert [p["event"] for p in pages] == ["latched"]


def test_two_engines_started_at_once_produce_one_set_of_actions(tmp_path: Path) -> None:
    root = project(tmp_path, bodies={"deploy": "sleep 2"})
    (root / "deploy.state").write_text("500")
    procs = [escalate(root), escalate(root)]
    results = sorted(finish(p) for p in procs)
    assert [r[0] for r in results] == [0, 3]
    assert "another engine is running: " in results[1][2]
    assert "is held by escalator escalate (pid " in results[1][2]
    assert ran(root) == ["deploy"]


def test_resume_after_latch_is_recorded_with_who_and_why(tmp_path: Path) -> None:
    root = project(tmp_path, bodies={"deploy": "exit 1"})
    (root / "deploy.state").write_text("500")
    assert finish(escalate(root))[0] == 2
    resume = subprocess.run(
        [sys.executable, "-m", "escalator", "ladder", "resume", "-e", "test", "--reason",
         "fixed the deploy key"], cwd=root, capture_output=True, text=True, timeout=60,
        env={**os.environ, "USER": "alice"})
    assert (resume.returncode, resume.stdout) == (0, (
        "test: resumed; kept: loop breaker (1 of 3 engagements in 6h), hourly budget (1 of 6 "
        "actions in the last hour), the cooldowns (--reset-counters clears the loop breaker "
        "and the budget)\n"))
    record = [r for r in audit(root) if r["event"] == "resumed"]
    assert [(r["actor"], r["reason"]) for r in record] == [("alice", "fixed the deploy key")]


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail("condition not met in time")


def _kill_level(pid_file: Path) -> None:
    """The orphaned level (its own session) outlives the killed engine: stop it here."""
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def test_sigterm_stops_watch_and_kills_the_running_level_with_its_group(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    root = project(tmp_path, bodies={"deploy": f'sleep 300 &\necho $! > "{child}"\nwait'})
    (root / "deploy.state").write_text("500")
    watch = subprocess.Popen([sys.executable, "-m", "escalator", "watch", "-e", "test",
                              "--interval", "100ms"], cwd=root, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        # The SIGTERM must find the level and the child it left in the background running,
        # however slow the machine, or the test would pass without anything to kill.
        _wait_for(lambda: child.exists() and child.read_text().endswith("\n"))
        pgid = int((root / "deploy.pid").read_text())
        before = _group_alive(pgid)
        watch.send_signal(signal.SIGTERM)
        code, _, err = finish(watch)
        alive = _group_alive(pgid)
    finally:
        _kill_level(root / "deploy.pid")
    assert {pgid, int(child.read_text())} <= set(before)
    assert (code, err, alive) == (0, "escalator watch: stopped\n", [])
    intent = json.loads((root / ".escalator/ladder/test/intent.json").read_text())
    assert (intent["level"], intent["idempotent"], intent["pid"]) == ("deploy", True, pgid)


def _group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`, from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(stat.parent.name))
    return alive
