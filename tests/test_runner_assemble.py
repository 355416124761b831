"""From the records the CLI heard to a RunResult (runner/assemble.py, pure), and the reasons a
crashed runner is reported with (runner/__init__.py `_reap` and `_crashed`). One table row per
situation."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from escalator.results import Outcome, RunResult, ScenarioResult, Severity
from escalator.runner import _crashed, _reap
from escalator.runner.assemble import Progress, assemble

STEPS = [["When", 'I go to "/"', 4], ["Then", "the request should succeed", 5]]


def unit(uid: int, name: str, severity: str = "critical") -> dict[str, Any]:
    return {"id": uid, "file": "features/web.feature", "line": 3 + 10 * uid, "name": name,
            "feature": "Web", "tags": ["escalate.deploy"], "severity": severity,
            "level": "deploy", "runbook": None, "step_timeout": 10.0, "retries": 0,
            "steps": STEPS}


PLAN = {"t": "plan", "units": [unit(0, "Home"), unit(1, "Login", "warning"), unit(2, "Cart")],
        "errors": []}


def passed(uid: int) -> dict[str, Any]:
    name = PLAN["units"][uid]["name"]
    scenario = ScenarioResult("Web", "features/web.feature", 3 + 10 * uid, name, Outcome.PASSED)
    return {"t": "result", "id": uid, "scenario": scenario.to_dict(), "notices": ["n"]}


def missing(uid: int, outcome: Outcome, reason: str, duration: float = 0.0) -> ScenarioResult:
    data = PLAN["units"][uid]
    return ScenarioResult("Web", "features/web.feature", data["line"], data["name"], outcome,
                          Severity(data["severity"]), ("escalate.deploy",), "deploy", None,
                          reason=reason, duration=duration)


def heard(*records: dict[str, Any]) -> Progress:
    """The records as the CLI hears them; a record's "at" (run seconds) is when it arrived."""
    progress = Progress()
    for record in records:
        progress.take({k: v for k, v in record.items() if k != "at"}, record.get("at", 0.0))
    return progress


CUT = "cut off by the run deadline (5s)"


@pytest.mark.parametrize(("case", "records", "cut_off", "crashed", "scenarios", "errors"), [
    ("results keep the plan's order, whatever order they came in",
     [PLAN, passed(2), passed(0), passed(1), {"t": "done"}], False, None,
     [passed(0), passed(1), passed(2)], []),
    ("the deadline: one running in a step, one started, one never started",
     [PLAN, {"t": "start", "id": 0, "at": 0.5}, {"t": "step", "id": 0, "index": 1},
      {"t": "start", "id": 1, "at": 2.0}], True, None,
     [missing(0, Outcome.FAILED, f"{CUT} in Then the request should succeed", 5.0),
      missing(1, Outcome.FAILED, CUT, 3.5),
      missing(2, Outcome.UNKNOWN, "not started: the run deadline (5s) passed")], []),
    ("the deadline while loading the suite", [], True, None, [],
     ["run deadline (5s) reached while loading the suite"]),
    ("a crashed runner names how it ended; what it did not run is unknown",
     [PLAN, passed(0)], False, "runner died (signal 9)",
     [passed(0), missing(1, Outcome.UNKNOWN, "no result: the runner stopped before this "
                                              "scenario"),
      missing(2, Outcome.UNKNOWN, "no result: the runner stopped before this scenario")],
     ["runner died (signal 9)"]),
    ("a crash after the runner said done is not an error of the run",
     [PLAN, passed(0), passed(1), passed(2), {"t": "done"}], False,
     "runner exited with status 70", [passed(0), passed(1), passed(2)], []),
    ("the runner's own error is the reason, not the crash that followed",
     [{"t": "error", "message": "cannot load steps: x.py:1: SyntaxError"}], False,
     "runner exited with status 70", [], ["cannot load steps: x.py:1: SyntaxError"]),
    ("a cut-off run does not blame the kill that cut it",
     [PLAN, passed(0), passed(1), passed(2)], True, "runner died (signal 9)",
     [passed(0), passed(1), passed(2)], []),
])
def test_assemble(case: str, records: list[dict[str, Any]], cut_off: bool, crashed: str | None,
                  scenarios: list[Any], errors: list[str]) -> None:
    expected = [ScenarioResult.from_dict(s["scenario"]) if isinstance(s, dict) else s
                for s in scenarios]
    run = assemble(heard(*records), started=100.0, duration=5.5, timeout=5.0,
                   environment="prod", cut_off=cut_off, crashed=crashed)
    assert run == RunResult(
        scenarios=tuple(expected), errors=tuple(errors),
        notices=("n",) if any(r.get("t") == "result" for r in records) else (),
        started=100.0, duration=5.5, timeout=5.0, environment="prod",
        selected=len(PLAN["units"]) if PLAN in records else 0), case


def _child(then: str) -> int:
    pid = os.fork()
    if pid == 0:
        if then == "hang":
            signal.pause()
        os._exit(int(then))
    if then == "hang":
        os.kill(pid, signal.SIGKILL)
    return pid


@pytest.mark.parametrize(("then", "kill", "reason"), [
    ("0", False, None),
    ("70", False, "runner exited with status 70"),
    ("hang", False, "runner died (signal 9)"),
    ("hang", True, None),  # killed by the deadline: assemble reports the cut-off instead
])
def test_reap_says_how_the_runner_ended(then: str, kill: bool, reason: str | None) -> None:
    assert _crashed(_reap(_child(then), kill=kill), killed=kill) == reason


def test_what_was_sent_before_the_deadline_counts_after_it() -> None:
    """The CLI stops listening when the run deadline passes, then kills the coordinator's
    group; records already in the pipe (a result, the start of the unit its worker took
    next) are what happened, and are taken then (runner._drain). Before, the unit that had
    passed was reported as cut off, and with the board naming the next one, a worker had two
    scenarios cut off at once."""
    from escalator import pipe
    from escalator.env import Env
    from escalator.runner import _drain, _listen
    from escalator.runner.board import Board

    read_fd, write_fd = os.pipe()
    pipe.send_all(write_fd, [PLAN, {"t": "start", "id": 0}, passed(0), {"t": "start", "id": 1}])
    os.close(write_fd)  # the coordinator's group is dead
    progress, reader, env = Progress(), pipe.LineReader(read_fd), Env()
    begun = env.monotonic()
    assert _listen(reader, progress, begun, begun - 1, env, None, Board(1)) == "deadline"
    assert progress.units == []  # nothing read once the deadline has passed
    _drain(reader, progress, 5.0, None)
    os.close(read_fd)
    run = assemble(progress, started=100.0, duration=5.5, timeout=5.0, environment="prod",
                   cut_off=True)
    assert [(s.name, s.outcome, s.reason) for s in run.scenarios] == [
        ("Home", Outcome.PASSED, None), ("Login", Outcome.FAILED, CUT),
        ("Cart", Outcome.UNKNOWN, "not started: the run deadline (5s) passed")]
