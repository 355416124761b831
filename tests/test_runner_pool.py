"""Where scenarios run: workers forked only while they help, and a plan of one scenario run by
the coordinator itself, with the same results and every deadline rule of a worker."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli

POOL_STEPS = {"pool_steps.py": '''
import os
import signal
import time

from behave import given, then


@then("it reports my pid and parent pid to {path}")
def step_pids(context, path):
    """Then it reports my pid and parent pid to /tmp/pids"""
    with open(path, "a") as handle:
        handle.write(f"{os.getpid()} {os.getppid()}\\n")


@then("it computes for {ms:d} ms")
def step_compute(context, ms):
    """Then it computes for 20 ms"""
    end = time.process_time() + ms / 1000
    while time.process_time() < end:
        pass


@then("it computes and waits {ms:d} ms at a time, {times:d} times")
def step_compute_and_wait(context, ms, times):
    """Then it computes and waits 1 ms at a time, 3 times"""
    for _ in range(times):
        end = time.process_time() + ms / 1000
        while time.process_time() < end:
            pass
        time.sleep(ms / 1000)


@then("its process dies")
def step_die(context):
    """Then its process dies"""
    os.kill(os.getpid(), signal.SIGKILL)


@given('I sleep {seconds:g} seconds ignoring alarms the first time, counting in "{path}"')
def step_deaf_once(context, seconds, path):
    """Given I sleep 60 seconds ignoring alarms the first time, counting in "/tmp/c" """
    seen = os.path.exists(path)
    with open(path, "a") as handle:
        handle.write("x")
    if not seen:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
        time.sleep(seconds)


@given('I extend my step to {seconds:g} seconds, note the time in "{path}" and ignore alarms')
def step_extend_and_sleep_deaf(context, seconds, path):
    """Given I extend my step to 3 seconds, note the time in "/tmp/t" and ignore alarms"""
    from escalator.steps.support import session

    session(context).extend(seconds)
    with open(path, "w") as handle:
        handle.write(repr(time.time()))
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    time.sleep(60)


@then("it fails quoting the secret {name} at character {at:d}")
def step_fail_with_secret(context, name, at):
    """Then it fails quoting the secret token at character 390"""
    from escalator.steps.support import session

    secret = session(context).variables[name]
    raise AssertionError("x" * at + secret + "y" * 500)


@given('I note the time in "{path}" and sleep {seconds:g} seconds ignoring alarms')
def step_note_and_sleep_deaf(context, path, seconds):
    """Given I note the time in "/tmp/t" and sleep 5 seconds ignoring alarms"""
    with open(path, "w") as handle:
        handle.write(repr(time.time()))
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    time.sleep(seconds)

POISONED = []


@then("it poisons its process and fails")
def step_poison(context):
    """Then it poisons its process and fails"""
    POISONED.append(True)
    raise AssertionError("poisoned")


@then("its process is clean")
def step_clean(context):
    """Then its process is clean"""
    assert not POISONED, "a scenario that failed earlier in this process left it poisoned"
'''}


def project(root: Path, features: dict[str, str]) -> Path:
    return make_project(root, features, steps={**FAKE_STEPS, **POOL_STEPS})


def pid_lines(path: Path) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (line.split() for line in path.read_text().split("\n")
                                          if line)]


def test_a_plan_of_one_scenario_runs_in_the_coordinator_without_a_worker(tmp_path: Path
                                                                         ) -> None:
    pids = tmp_path / "pids"
    root = project(tmp_path / "p", {"one.feature": f"""
        Feature: One
          Scenario: alone
            Then it reports my pid and parent pid to {pids}
        """})
    assert run_cli(["run", "-e", "test", "-f", "progress"], cwd=root).code == 0
    [(_, parent)] = pid_lines(pids)
    assert parent == os.getpid()  # its parent is the CLI (this process): no worker between


def test_a_plan_of_one_that_may_be_retried_runs_each_attempt_in_a_fresh_worker(
        tmp_path: Path) -> None:
    pids, counter = tmp_path / "pids", tmp_path / "count"
    root = project(tmp_path / "p", {"one.feature": f"""
        Feature: One
          Scenario: flaky
            Then it reports my pid and parent pid to {pids}
            And it fails the first 1 times, counting in "{counter}"
        """})
    out = run_cli(["run", "-e", "test", "-f", "json", "--retries", "1"], cwd=root)
    assert out.json["scenarios"][0]["outcome"] == "passed"
    assert out.json["scenarios"][0]["earlier_failures"] == ["failure number 1"]
    (first, coordinator_pid), (second, same_coordinator) = pid_lines(pids)
    # a retry must not inherit the state of the failed attempt: both ran in workers
    assert first != second and coordinator_pid == same_coordinator != os.getpid()


SCENARIOS = {
    "passes": "Then it passes",
    "fails": '@warning\n  Scenario: it\n    Then it fails with "down"',
    "breaks": "Then it breaks",
    "undefined": "Given a step nobody wrote",
    "setup error": "Then our own setup is wrong",
    "measures": "When I measure 12.5 ms against 500",
    "dies": "Then its process dies",
}


def _feature(body: str) -> str:
    head = "  Scenario: it\n    " if not body.startswith("@") else "  "
    return f"Feature: Parity\n{head}{body}\n\n  Scenario: companion\n    Then it passes\n"


def _without_durations(scenario: dict[str, Any]) -> dict[str, Any]:
    steps = [{**step, "duration": None} for step in scenario["steps"]]
    return {**scenario, "duration": None, "steps": steps}


@pytest.mark.parametrize("case", sorted(SCENARIOS))
def test_same_result_with_and_without_a_worker(tmp_path: Path, case: str) -> None:
    root = project(tmp_path, {"parity.feature": _feature(SCENARIOS[case])})
    line = 3 if SCENARIOS[case].startswith("@") else 2
    alone = run_cli(["run", "-e", "test", "-f", "json", f"features/parity.feature:{line}"],
                    cwd=root)
    beside = run_cli(["run", "-e", "test", "-f", "json", "-j", "2"], cwd=root)
    assert len(alone.json["scenarios"]) == 1 and not alone.json["errors"]
    assert (_without_durations(alone.json["scenarios"][0])
            == _without_durations(beside.json["scenarios"][0])), case
    assert alone.code == (2 if case in ("undefined", "setup error", "breaks", "dies")
                          else beside.code)
    if case == "dies":
        assert alone.json["scenarios"][0]["reason"] == "the scenario's worker died (signal 9)"


@pytest.mark.parametrize("alone", [True, False], ids=["in the coordinator", "in a worker"])
def test_a_step_that_ignores_its_alarm_is_killed_within_a_second_of_its_timeout(
        tmp_path: Path, alone: bool) -> None:
    noted = tmp_path / "noted"
    root = project(tmp_path / "p", {"deaf.feature": f"""
        Feature: Deaf
          Scenario: deaf to alarms
            Given I note the time in "{noted}" and sleep 60 seconds ignoring alarms

          Scenario: companion
            Then it passes
        """})
    paths = ["features/deaf.feature:2"] if alone else ["-j", "2"]
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "1s", *paths],
                  cwd=root)
    ended = time.time()
    assert out.json["scenarios"][0]["outcome"] == "failed"
    assert out.json["scenarios"][0]["reason"] == (
        f'Given I note the time in "{noted}" and sleep 60 seconds ignoring alarms: '
        "step timed out after 1s (it ignored its alarm; the worker was killed)")
    # the step's 1 s, the 1 s grace, then the kill: allow a busy machine a second and a half
    assert ended - float(noted.read_text()) < 1 + 1 + 1.5
    assert not out.json["errors"]


@pytest.mark.parametrize("alone", [True, False], ids=["in the coordinator", "in a worker"])
def test_a_step_that_extended_its_limit_is_killed_a_second_after_that_limit(
        tmp_path: Path, alone: bool) -> None:
    noted = tmp_path / "noted"
    root = project(tmp_path / "p", {"deaf.feature": f"""
        Feature: Deaf
          Scenario: deaf to alarms, with more time
            Given I extend my step to 3 seconds, note the time in "{noted}" and ignore alarms

          Scenario: companion
            Then it passes
        """})
    paths = ["features/deaf.feature:2"] if alone else ["-j", "2"]
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "1s", *paths],
                  cwd=root)
    ended = time.time()
    assert out.json["scenarios"][0]["reason"] == (
        f'Given I extend my step to 3 seconds, note the time in "{noted}" and ignore alarms: '
        "step timed out after 3s (it ignored its alarm; the worker was killed)")
    # not at the step timeout's 1 s and the grace, but at its own 3 s and the grace
    took = ended - float(noted.read_text())
    assert 3 + 1 - 0.5 < took < 3 + 1 + 1.5, took


SECRET = "s3cr3t-" + "k" * 20


def test_a_secret_at_the_cut_is_masked_the_same_with_and_without_a_worker(tmp_path: Path
                                                                          ) -> None:
    root = make_project(tmp_path, {"secret.feature": """
        Feature: Secret
          Scenario: it
            Then it fails quoting the secret token at character 390

          Scenario: companion
            Then it passes
        """}, variables={"token": {"env": "POOL_TOKEN"}}, steps={**FAKE_STEPS, **POOL_STEPS})
    environ = {"POOL_TOKEN": SECRET}
    alone = run_cli(["run", "-e", "test", "-f", "json", "-v", "features/secret.feature:2"],
                    cwd=root, environ=environ)
    beside = run_cli(["run", "-e", "test", "-f", "json", "-v", "-j", "2"], cwd=root,
                     environ=environ)
    assert _without_durations(alone.json["scenarios"][0]) == _without_durations(
        beside.json["scenarios"][0])
    reason = alone.json["scenarios"][0]["reason"]
    assert reason.startswith("x" * 390 + "***") and reason.endswith("...")
    for out in (alone, beside):
        assert "s3cr3t" not in out.stdout + out.stderr


def test_a_retry_is_not_killed_for_the_step_its_killed_attempt_was_in(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    root = project(tmp_path / "p", {"retry.feature": f"""
        Feature: Retry
          @retries.1
          Scenario: deaf once
            Given I sleep 60 seconds ignoring alarms the first time, counting in "{counter}"
            Then it passes

          Scenario: companion
            Then it passes
        """})
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "1s"], cwd=root)
    deaf = out.json["scenarios"][0]
    assert (deaf["outcome"], deaf["attempts"]) == ("passed", 2)
    assert deaf["earlier_failures"] == [
        f'Given I sleep 60 seconds ignoring alarms the first time, counting in "{counter}": '
        "step timed out after 1s (it ignored its alarm; the worker was killed)"]


def test_the_run_deadline_cuts_a_scenario_the_coordinator_runs_itself(tmp_path: Path) -> None:
    root = project(tmp_path, {"hang.feature": """
        Feature: Hang
          @warning
          Scenario: hangs
            Given I sleep 60 seconds
        """})
    begun = time.monotonic()
    out = run_cli(["run", "-e", "test", "-f", "json", "--timeout", "2s"], cwd=root)
    assert time.monotonic() - begun < 3.5
    [hung] = out.json["scenarios"]
    assert (hung["outcome"], hung["severity"], hung["reason"]) == (
        "failed", "warning", "cut off by the run deadline (2s) in Given I sleep 60 seconds")
    assert 1.0 < hung["duration"] <= 2.0  # the time it ran: from its start to the deadline


def test_computing_scenarios_do_not_fork_a_worker_per_job(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    body = "".join(f"\n  Scenario: c{i}\n    Then it computes for 20 ms\n"
                   f"    And it reports my pid and parent pid to {pids}\n" for i in range(40))
    root = project(tmp_path / "p", {"cpu.feature": "Feature: CPU\n" + body})
    assert run_cli(["run", "-e", "test", "-f", "progress", "-j", "40"], cwd=root).code == 0
    workers = {pid for pid, _ in pid_lines(pids)}
    # a worker per CPU computes, one more may be setting up: never one per job (40 before)
    assert len(workers) <= 2 * len(os.sched_getaffinity(0)) + 2


def test_waiting_scenarios_get_a_worker_each_up_to_the_jobs(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    body = "".join(f"\n  Scenario: w{i}\n    Given I sleep 1 seconds\n"
                   f"    Then it reports my pid and parent pid to {pids}\n" for i in range(8))
    root = project(tmp_path / "p", {"wait.feature": "Feature: Wait\n" + body})
    begun = time.monotonic()
    assert run_cli(["run", "-e", "test", "-f", "progress", "-j", "8"], cwd=root).code == 0
    assert len({pid for pid, _ in pid_lines(pids)}) == 8
    assert time.monotonic() - begun < 8  # in parallel: 8 x 1 s one after another is 8 s


def test_instant_scenarios_that_wait_a_moment_share_the_cpus(tmp_path: Path) -> None:
    """Such a scenario sleeps for a moment between computing, as one against a loopback target
    does: a worker forked for each such moment only shares the CPUs."""
    pids = tmp_path / "pids"
    body = "".join(f"\n  Scenario: i{i}\n    Then it computes and waits 1 ms at a time, 2 times\n"
                   f"    And it reports my pid and parent pid to {pids}\n" for i in range(120))
    root = project(tmp_path / "p", {"instant.feature": "Feature: Instant\n" + body})
    assert run_cli(["run", "-e", "test", "-f", "progress", "-j", "40"], cwd=root).code == 0
    workers = {pid for pid, _ in pid_lines(pids)}
    assert len(workers) <= len(os.sched_getaffinity(0)) + 2  # 2-4 on two cores; it was 6


def test_a_slow_scenario_among_instant_ones_still_gets_its_own_worker(tmp_path: Path) -> None:
    pids, slow = tmp_path / "pids", tmp_path / "slow"
    instant = "    Then it computes and waits 1 ms at a time, 3 times\n"
    body = "".join(f"\n  Scenario: i{i}\n{instant}    And it reports my pid and parent pid to "
                   f"{pids}\n" for i in range(30))
    body += "".join(f"\n  Scenario: s{i}\n    Given I sleep 1 seconds\n"
                    f"    Then it reports my pid and parent pid to {slow}\n" for i in range(4))
    root = project(tmp_path / "p", {"mixed.feature": "Feature: Mixed\n" + body})
    assert run_cli(["run", "-e", "test", "-f", "progress", "-j", "8"], cwd=root).code == 0
    # the pool has seen 30 instant scenarios; a worker asleep in its step still makes it grow
    assert len({pid for pid, _ in pid_lines(slow)}) == 4


def _instant(i: int, pids: Path) -> str:
    return (f"\n  Scenario: i{i}\n    Then it passes\n"
            f"    And it reports my pid and parent pid to {pids}\n")


def test_a_worker_holding_instant_units_stops_after_one_that_failed(tmp_path: Path) -> None:
    """Once most scenarios turn out instant, a worker holds several units at once (coordinator
    _Pool._depth); one that fails still ends its process, and the units it held run in a
    fresh one: each scenario gets one result, and none runs where another failed."""
    pids = tmp_path / "pids"
    body = ""
    for i in range(150):
        body += _instant(i, pids) if i % 30 != 29 else (
            f"\n  Scenario: f{i}\n    Then it poisons its process and fails\n")
        body += f"\n  Scenario: c{i}\n    Then its process is clean\n"
    root = project(tmp_path / "p", {"held.feature": "Feature: Held\n" + body})
    out = run_cli(["run", "-e", "test", "-f", "json", "-j", "2"], cwd=root)
    outcomes = [(s["name"], s["outcome"]) for s in out.json["scenarios"]]
    assert [name for name, outcome in outcomes if outcome != "passed"] == [
        f"f{i}" for i in range(29, 150, 30)]
    assert len(outcomes) == 300
    assert len(pid_lines(pids)) == 145  # each instant scenario ran once
    assert len({pid for pid, _ in pid_lines(pids)}) >= 5  # a fresh worker after each failure


def test_slow_units_queued_behind_a_slow_one_move_to_other_workers(tmp_path: Path) -> None:
    """After many instant scenarios a worker holds several units; when the one it runs turns
    out slow, the coordinator takes back those behind it (whatever the worker has not read),
    and they run beside it: four slow scenarios at the end still get a worker each."""
    pids, slow = tmp_path / "pids", tmp_path / "slow"
    body = "".join(_instant(i, pids) for i in range(60))
    body += "".join(f"\n  Scenario: s{i}\n    Given I sleep 1 seconds\n"
                    f"    Then it reports my pid and parent pid to {slow}\n" for i in range(4))
    root = project(tmp_path / "p", {"mixed.feature": "Feature: Mixed\n" + body})
    begun = time.monotonic()
    assert run_cli(["run", "-e", "test", "-f", "progress", "-j", "8"], cwd=root).code == 0
    took = time.monotonic() - begun
    assert len({pid for pid, _ in pid_lines(slow)}) == 4
    assert len(pid_lines(pids)) == 60
    assert took < 3.5  # side by side; one after another they take 4 s


def test_the_run_deadline_among_held_units_names_only_what_had_started(tmp_path: Path
                                                                      ) -> None:
    """A deadline that passes while workers hold units they have not started: those are
    "not started" (UNKNOWN), only the scenario each worker was in is cut off."""
    pids = tmp_path / "pids"
    body = "".join(_instant(i, pids) for i in range(40))
    body += "".join(f"\n  Scenario: s{i}\n    Given I sleep 0.004 seconds\n    Then it passes\n"
                    for i in range(3000))
    root = project(tmp_path / "p", {"many.feature": "Feature: Many\n" + body})
    out = run_cli(["run", "-e", "test", "-f", "json", "-j", "2", "--timeout", "2s"], cwd=root)
    scenarios = out.json["scenarios"]
    reasons: dict[tuple[str, str], list[str]] = {}
    for scenario in scenarios:
        reason = (scenario["reason"] or "").split(" in ")[0]
        reasons.setdefault((scenario["outcome"], reason), []).append(scenario["name"])
    assert sorted(reasons) == [
        ("failed", "cut off by the run deadline (2s)"), ("passed", ""),
        ("unknown", "not started: the run deadline (2s) passed")]
    passed = reasons[("passed", "")]
    cut = reasons[("failed", "cut off by the run deadline (2s)")]
    assert 1 <= len(cut) <= 2  # one per worker at most
    assert len(passed) > 100
    assert len(passed) + len(cut) + len(reasons[("unknown", "not started: the run deadline "
                                                 "(2s) passed")]) == 3040


def test_a_retry_among_held_units_runs_again_and_each_scenario_gets_one_result(
        tmp_path: Path) -> None:
    """A flaky scenario among many instant ones fails, stops its worker, and its retry runs
    first in another; the units that worker held are run once, elsewhere."""
    pids = tmp_path / "pids"
    body = "".join(_instant(i, pids) for i in range(200))
    body += "".join(f"\n  @retries.1\n  Scenario: flaky{i}\n    Then it fails the first 1 times, "
                    f'counting in "{tmp_path / f"count{i}"}"\n' for i in range(3))
    body += "".join(_instant(i, pids) for i in range(200, 300))
    root = project(tmp_path / "p", {"flaky.feature": "Feature: Flaky\n" + body})
    out = run_cli(["run", "-e", "test", "-f", "json", "-j", "2"], cwd=root)
    scenarios = out.json["scenarios"]
    assert len(scenarios) == 303
    assert all(s["outcome"] == "passed" for s in scenarios)
    assert [(s["attempts"], len(s["earlier_failures"])) for s in scenarios
            if s["name"].startswith("flaky")] == [(2, 1)] * 3
    assert len(pid_lines(pids)) == 300  # each instant scenario ran once
