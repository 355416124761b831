"""From the records the CLI received to a RunResult: pure, so the deadline rules are easy to test.

Scenarios keep the plan's feature/line order whatever order their results arrived in. When the
run deadline cut the run short, a scenario that had started is FAILED with its severity (the
target did not answer in time, as a timeout is CRITICAL in the monitoring-plugins) and names the
step it was in, with the time it ran until the deadline; one that never started is UNKNOWN (the
check was not made). A step that outlives its alarm (or the limit it extended itself to) by
`STEP_GRACE` has its process killed (by the coordinator, or by the CLI when the coordinator ran
the scenario itself): FAILED, naming the step; a process that died on its own leaves its
scenario UNKNOWN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from escalator.durations import format_duration
from escalator.results import Outcome, RunResult, ScenarioResult, Severity

STEP_GRACE = 1.0  # seconds a step may outlive its alarm before its process is killed


@dataclass
class Progress:
    """What the CLI has heard so far; filled record by record."""

    units: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    results: dict[int, ScenarioResult] = field(default_factory=dict)
    running: dict[int, int] = field(default_factory=dict)  # unit id -> current step index
    began: dict[int, float] = field(default_factory=dict)  # unit id -> its start, run seconds
    here: set[int] = field(default_factory=set)  # units the coordinator runs itself
    planned: bool = False
    done: bool = False

    def take(self, record: Mapping[str, Any], at: float = 0.0) -> ScenarioResult | None:
        """Absorb one record heard `at` seconds into the run; return its scenario result, if any.
        """
        kind = record["t"]
        if kind == "units":
            self.units.extend(record["units"])
        elif kind == "plan":
            self.units.extend(record["units"])
            self.planned = True
            self.errors.extend(record["errors"])
            self.notices.extend(record.get("notices", ()))
        elif kind == "start":
            self.running[record["id"]] = -1
            self.began[record["id"]] = at
            if record.get("here"):
                self.here.add(record["id"])
        elif kind == "step":  # not sent: the CLI notes what the board says (runner/board.py)
            self.running[record["id"]] = record["index"]
        elif kind == "result":
            scenario = record["scenario"]
            if "attempts" in record:  # the coordinator's word, beside the worker's (pipe.py)
                scenario = {**scenario, "attempts": record["attempts"],
                            "earlier_failures": record["earlier_failures"]}
            result = ScenarioResult.from_dict(scenario)
            self.results[record["id"]] = result
            self.running.pop(record["id"], None)
            self.notices.extend(n for n in record.get("notices", ()) if n not in self.notices)
            return result
        elif kind == "error":
            self.errors.append(record["message"])
        elif kind == "done":
            self.done = True
        return None

    def unit(self, unit_id: int) -> Mapping[str, Any]:
        """The planned unit with this id."""
        return next(unit for unit in self.units if unit["id"] == unit_id)


def assemble(progress: Progress, *, started: float, duration: float, timeout: float,
             environment: str | None, cut_off: bool, crashed: str | None = None) -> RunResult:
    errors = list(progress.errors)
    if crashed and not progress.done and not cut_off and not errors:
        errors.append(crashed)
    if cut_off and not progress.planned:
        errors.append(f"run deadline ({format_duration(timeout)}) reached while loading the suite")
    scenarios = [progress.results.get(unit["id"])
                 or _missing(unit, progress, duration, timeout, cut_off)
                 for unit in progress.units]
    return RunResult(scenarios=tuple(scenarios), errors=tuple(errors),
                     notices=tuple(progress.notices), started=started, duration=duration,
                     timeout=timeout, environment=environment, selected=len(progress.units))


def _missing(unit: Mapping[str, Any], progress: Progress, duration: float, timeout: float,
             cut_off: bool) -> ScenarioResult:
    deadline = format_duration(timeout)
    ran = 0.0
    if not cut_off:
        outcome, reason = Outcome.UNKNOWN, "no result: the runner stopped before this scenario"
    elif unit["id"] in progress.running:
        index = progress.running[unit["id"]]
        steps: Sequence[Any] = unit["steps"]
        where = f" in {steps[index][0]} {steps[index][1]}" if 0 <= index < len(steps) else ""
        outcome, reason = Outcome.FAILED, f"cut off by the run deadline ({deadline}){where}"
        ran = round(max(0.0, duration - progress.began.get(unit["id"], duration)), 6)
    else:
        outcome, reason = Outcome.UNKNOWN, f"not started: the run deadline ({deadline}) passed"
    return _result(unit, outcome, reason, ran)


def overrun_reason(unit: Mapping[str, Any], index: int, limit: float | None = None) -> str:
    """Why a scenario failed whose step ignored its alarm and was killed; `limit` is the step's
    own when it extended it (else the unit's step timeout)."""
    keyword, text = unit["steps"][index][:2]
    took = format_duration(limit or unit["step_timeout"])
    return (f"{keyword} {text}: step timed out after {took} "
            "(it ignored its alarm; the worker was killed)")


def lost_record(unit: Mapping[str, Any], status: int, killed_reason: str | None,
                problem: str | None = None) -> dict[str, Any]:
    """The result record of a scenario that sent none: one that cannot run (`problem`, UNKNOWN
    with that reason, no process ran it), one whose process was killed for `killed_reason`,
    or one whose process died by itself (wait `status`)."""
    if problem is not None:
        outcome, reason = Outcome.UNKNOWN, problem
    elif killed_reason is not None:
        outcome, reason = Outcome.FAILED, killed_reason
    else:
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.WEXITSTATUS(status)}")
        outcome, reason = Outcome.UNKNOWN, f"the scenario's worker died ({how})"
    return {"t": "result", "id": unit["id"], "outcome": outcome.value, "duration": 0.0,
            "scenario": _result(unit, outcome, reason).to_dict(), "notices": []}


def _result(unit: Mapping[str, Any], outcome: Outcome, reason: str, ran: float = 0.0
            ) -> ScenarioResult:
    return ScenarioResult(
        feature=unit["feature"], file=unit["file"], line=unit["line"], name=unit["name"],
        outcome=outcome, severity=Severity(unit["severity"]), tags=tuple(unit["tags"]),
        level=unit["level"], runbook=unit["runbook"], reason=reason, duration=ran,
        host=unit.get("host"), group=unit.get("group"))
