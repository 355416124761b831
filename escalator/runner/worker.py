"""A worker process: run the scenarios the coordinator sends, one at a time, with behave, and
turn behave's model into results.

`serve` runs in a child forked by the coordinator; it reads units from its command socket until
the coordinator closes it (`run_unit` also runs in the coordinator itself, for a plan of one). Each
scenario gets a fresh behave context and its own `Session` (variables, clients, measurements),
and behave sees only the branch of the feature that leads to it. The result is redacted of the
secrets here, where its text is made (before an error message is cut to one line), so no
secret leaves the worker, whole or in part.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from escalator import pipe
from escalator.errors import SetupError
from escalator.options import RunOptions
from escalator.redact import Redactor
from escalator.results import Measurement, Outcome, ScenarioResult, StepResult
from escalator.runner import guard
from escalator.runner.board import Board
from escalator.runner.suite import Suite, Unit
from escalator.steps.support import Session
from escalator.text import one_line
from escalator.variables import overlay

# Scenarios one worker runs before it stops and a fresh fork replaces it (one that did not pass
# stops it at once). Not for memory: a worker's RSS stays flat over 3,000 scenarios
# (bench/README.md).
RECYCLE_AFTER = 1000
# A command: the unit's id and the number it was handed out as, one whole write (see serve).
COMMAND = struct.Struct("=qq")
# The fields of a result record that the coordinator reads (t, id, outcome, duration): the
# head of its line; the rest it passes on undecoded (escalator.pipe).
RESULT_HEAD = 4
_UNDEFINED = "undefined step: no step definition matches this text (see `escalator steps`)"


class _StepTracker:
    """A behave formatter that notes each step as it starts on the board (runner/board.py), so
    a hung step can be killed and named, and which step crossed a warning limit
    (`Session.warnings`), so the result can say."""

    def __init__(self, unit: Unit, board: Board, slot: int, assignment: int, session: Session
                 ) -> None:
        self.unit, self.board, self.slot, self.assignment = unit, board, slot, assignment
        self.index, self.active, self.started = 0, False, 0.0
        self.session = session
        self.warned: dict[int, str] = {}  # step index -> the first warning that step gave

    def scenario(self, scenario: Any) -> None:
        self.active = scenario is self.unit.scenario

    def match(self, match: Any) -> None:
        if self.active:
            self.started = time.monotonic()
            self.board.write(self.slot, self.unit.id, self.assignment, self.index, self.started)

    def extended(self, limit: float) -> None:
        """The running step extended its own limit: the hard kill waits for that one."""
        self.board.write(self.slot, self.unit.id, self.assignment, self.index, self.started,
                         limit)

    def result(self, step: Any) -> None:
        if self.active:
            warning = self.session.step_warning()
            if warning is not None:
                self.warned[self.index] = warning
            self.index += 1

    def __getattr__(self, name: str) -> Any:  # uri, feature, background, step, eof, close...
        return lambda *args, **kwargs: None


def serve(suite: Suite, options: RunOptions, commands: int, out: int, board: Board, slot: int,
          run_deadline: float | None = None) -> None:
    """Run each unit that arrives on `commands` (`COMMAND`s), noting its steps on `slot` of
    `board`; send each result record to `out`. A command is read only when its unit is about
    to start, one at a time: the ones still on the socket may be taken back by the
    coordinator (runner/handle.py). Stop after a scenario that did not pass, or after
    `RECYCLE_AFTER`, whatever else was handed out: the coordinator gives those units to
    another worker."""
    guard.hold()
    ran = 0
    while command := os.read(commands, COMMAND.size):
        unit_id, assignment = COMMAND.unpack(command)
        record = run_unit(suite, suite.units[unit_id], options, board, slot, assignment,
                          run_deadline)
        pipe.send_all(out, [result_line(record)])
        ran += 1
        if record["scenario"]["outcome"] != Outcome.PASSED or ran >= RECYCLE_AFTER:
            return


def result_line(record: dict[str, Any]) -> bytes:
    """A result record as a line whose head the coordinator reads alone (escalator.pipe)."""
    return pipe.encode(record, lead=RESULT_HEAD)


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
             assignment: int, run_deadline: float | None = None) -> dict[str, Any]:
    """Run `unit` in this (forked) process; return its result record."""
    from escalator.runner.context import ScenarioContext

    runner = suite.runner
    session = Session(variables=overlay(options.variables, unit.variables),
                      step_timeout=unit.step_timeout, environment=options.environment,
                      run_deadline=run_deadline, secrets=tuple(options.secrets))

    tracker = _StepTracker(unit, board, slot, assignment, session)

    def extended(left: float) -> None:  # a step asked for more time: re-arm, tell the board
        guard.rearm(left)
        tracker.extended(session.step_limit or unit.step_timeout)

    session.on_extend = extended
    _focus(unit)
    runner.context = ScenarioContext(runner)
    runner.context.escalator = session
    board.write(slot, unit.id, assignment, -1, time.monotonic())  # not an earlier unit's step
    runner.formatters = [tracker]
    try:
        runner.run_model([unit.feature])
    finally:
        session.close()
    result = scenario_result(unit, session, tracker.warned)
    redactor = session.redactor
    return {"t": "result", "id": unit.id, "outcome": result.outcome.value,
            "duration": result.duration, "scenario": redactor.value(result.to_dict()),
            "notices": list(dict.fromkeys(redactor.text(n) for n in session.notices))}


def scenario_result(unit: Unit, session: Session, warned: Mapping[int, str] | None = None
                    ) -> ScenarioResult:
    result = model_result(unit.feature, unit.scenario, unit.file, unit.meta,
                          tuple(session.measurements), session.redactor, warned)
    # a fan-out unit (@each.<group>) is named for its host and carries host and group as data
    return replace(result, name=unit.name, host=unit.host.name if unit.host else None,
                   group=unit.group)


def model_result(feature: Any, sc: Any, file: str, meta: Any,
                 measurements: tuple[Measurement, ...], redactor: Redactor,
                 warned: Mapping[int, str] | None = None) -> ScenarioResult:
    """A scenario of behave's model, after it ran, as a result (also for the behave
    formatters of `escalator.behave_formats`); error text is redacted before it is cut.
    `warned` maps a step's index to the warning it gave: a step that crossed only a warning
    limit passed for behave; here it is a `warning` step, and a scenario with nothing worse is
    FAILED as `warning_only` (WARNING whatever its tags)."""
    warned = warned or {}
    steps = tuple(_step(step, redactor, warned.get(n)) for n, step in enumerate(sc.all_steps))
    status = sc.status.name
    outcome = {"passed": Outcome.PASSED, "failed": Outcome.FAILED}.get(status, Outcome.UNKNOWN)
    warning_only = outcome is Outcome.PASSED and bool(warned)
    if warning_only:
        outcome = Outcome.FAILED
    failing = next((s for s in steps if s.error and s.status != "warning"), None) or next(
        (s for s in steps if s.error), None)
    if failing is not None:
        reason = failing.error
    elif status in ("hook_error", "cleanup_error"):
        reason = (f"{status.replace('_', ' ')}: "
                  f"{one_line(redactor.text(sc.error_message or ''), 400)}")
    elif outcome is Outcome.UNKNOWN:
        reason = f"scenario ended {status}"
    else:
        reason = None
    return ScenarioResult(
        feature=str(feature.name), file=file, line=sc.line, name=str(sc.name).strip(),
        outcome=outcome,
        severity=meta.severity, tags=tuple(sorted(str(t) for t in sc.effective_tags)),
        level=meta.level,
        runbook=meta.runbook, steps=steps, reason=reason,
        measurements=measurements, duration=sc.duration, warning_only=warning_only)


def _step(step: Any, redactor: Redactor, warning: str | None = None) -> StepResult:
    status = step.status.name
    error, detail = None, None
    if warning is not None and status == "passed":
        status, error = "warning", redactor.text(warning)
    elif status == "undefined":
        error = _UNDEFINED
    elif status == "pending":
        error = "step not implemented yet (pending)"
    elif step.exception is not None:
        exc = step.exception
        message = one_line(redactor.text(str(exc)), 400)
        if isinstance(exc, AssertionError | SetupError):
            error = message or type(exc).__name__
        else:
            error = f"error in step code: {type(exc).__name__}: {message}"
        if not isinstance(exc, AssertionError):
            detail = redactor.text(step.error_message or "") or None
    elif step.error_message:
        error = one_line(redactor.text(step.error_message), 400)
    return StepResult(keyword=str(step.keyword), text=str(step.name), line=step.line, status=status,
                      duration=step.duration, error=error, detail=detail)
