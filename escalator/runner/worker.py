"""A worker process: run the scenarios the coordinator sends, one at a time, with behave, and
turn behave's model into results.

`serve` runs in a child forked by the coordinator; it reads unit ids from its command pipe until
the pipe closes. Each scenario gets a fresh behave context and its own `Session` (variables,
clients, measurements), and behave sees only the branch of the feature that leads to it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from escalator.errors import SetupError
from escalator.options import RunOptions
from escalator.results import Outcome, ScenarioResult, StepResult
from escalator.runner import pipe
from escalator.runner.board import Board
from escalator.runner.suite import Suite, Unit
from escalator.steps.support import Session
from escalator.text import one_line

_UNDEFINED = "undefined step: no step definition matches this text (see `escalator steps`)"


class _StepTracker:
    """A behave formatter that notes each step as it starts on the board (runner/board.py), so
    a hung step can be killed and named."""

    def __init__(self, unit: Unit, board: Board, slot: int, assignment: int) -> None:
        self.unit, self.board, self.slot, self.assignment = unit, board, slot, assignment
        self.index, self.active = 0, False

    def scenario(self, scenario: Any) -> None:
        self.active = scenario is self.unit.scenario

    def match(self, match: Any) -> None:
        if self.active:
            self.board.write(self.slot, self.unit.id, self.assignment, self.index,
                             time.monotonic())

    def result(self, step: Any) -> None:
        if self.active:
            self.index += 1

    def __getattr__(self, name: str) -> Any:  # uri, feature, background, step, eof, close...
        return lambda *args, **kwargs: None


def serve(suite: Suite, options: RunOptions, commands: int, out: int, board: Board, slot: int
          ) -> None:
    """Run each unit that arrives on `commands` ("<unit id> <assignment>" lines), noting its
    steps on `slot` of `board`; send each result record to `out`."""
    with os.fdopen(commands) as lines:
        for line in lines:
            unit_id, assignment = (int(word) for word in line.split())
            pipe.send(out, run_unit(suite, suite.units[unit_id], options, board, slot,
                                    assignment))


def _focus(unit: Unit) -> None:
    """Leave behave only the path from the feature to this scenario (through rules and an
    outline): walking and skipping every other scenario made a run quadratic in its size."""
    container = unit.feature
    for item in unit.branch:
        container.run_items = [item]
        container = item
    if container is not unit.scenario:  # an outline: only this row runs (rules have no rows)
        for row in container.scenarios:
            row.should_skip = row is not unit.scenario
    unit.scenario.should_skip = False


def run_unit(suite: Suite, unit: Unit, options: RunOptions, board: Board, slot: int,
             assignment: int) -> dict[str, Any]:
    """Run `unit` in this (forked) process; return its result record."""
    from behave.runner import Context

    runner = suite.runner
    session = Session(variables=options.variables, step_timeout=unit.step_timeout,
                      environment=options.environment)
    _focus(unit)
    runner.context = Context(runner)
    runner.context.escalator = session
    board.write(slot, unit.id, assignment, -1, time.monotonic())  # not an earlier unit's step
    runner.formatters = [_StepTracker(unit, board, slot, assignment)]
    try:
        runner.run_model([unit.feature])
    finally:
        session.close()
    result = scenario_result(unit, session)
    return {"t": "result", "id": unit.id, "scenario": result.to_dict(),
            "notices": list(dict.fromkeys(session.notices))}


def scenario_result(unit: Unit, session: Session) -> ScenarioResult:
    sc = unit.scenario
    steps = tuple(_step(step) for step in sc.all_steps)
    status = sc.status.name
    outcome = {"passed": Outcome.PASSED, "failed": Outcome.FAILED}.get(status, Outcome.UNKNOWN)
    failing = next((s for s in steps if s.error), None)
    if failing is not None:
        reason = failing.error
    elif status in ("hook_error", "cleanup_error"):
        reason = f"{status.replace('_', ' ')}: {one_line(sc.error_message or '', 400)}"
    elif outcome is Outcome.UNKNOWN:
        reason = f"scenario ended {status}"
    else:
        reason = None
    return ScenarioResult(
        feature=str(unit.feature.name), file=unit.file, line=sc.line, name=str(sc.name),
        outcome=outcome,
        severity=unit.meta.severity, tags=tuple(sorted(str(t) for t in sc.effective_tags)),
        level=unit.meta.level,
        runbook=unit.meta.runbook, steps=steps, reason=reason,
        measurements=tuple(session.measurements), duration=sc.duration)


def _step(step: Any) -> StepResult:
    status = step.status.name
    error, detail = None, None
    if status == "undefined":
        error = _UNDEFINED
    elif status == "pending":
        error = "step not implemented yet (pending)"
    elif step.exception is not None:
        exc = step.exception
        if isinstance(exc, AssertionError | SetupError):
            error = one_line(str(exc), 400) or type(exc).__name__
        else:
            error = f"error in step code: {type(exc).__name__}: {one_line(str(exc), 400)}"
        if not isinstance(exc, AssertionError):
            detail = step.error_message
    elif step.error_message:
        error = one_line(step.error_message, 400)
    return StepResult(keyword=str(step.keyword), text=str(step.name), line=step.line, status=status,
                      duration=step.duration, error=error, detail=detail)
