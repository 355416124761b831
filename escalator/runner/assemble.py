"""From the records the CLI received to a RunResult: pure, so the deadline rules are easy to test.

Scenarios keep the plan's feature/line order whatever order their results arrived in. When the
run deadline cut the run short, a scenario that had started is FAILED with its severity (the
target did not answer in time, as a timeout is CRITICAL in the monitoring-plugins) and names the
step it was in, with the time it ran until the deadline; one that never started is UNKNOWN (the
check was not made).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from escalator.durations import format_duration
from escalator.results import Outcome, RunResult, ScenarioResult, Severity


@dataclass
class Progress:
    """What the CLI has heard so far; filled record by record."""

    units: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    results: dict[int, ScenarioResult] = field(default_factory=dict)
    running: dict[int, int] = field(default_factory=dict)  # unit id -> current step index
    began: dict[int, float] = field(default_factory=dict)  # unit id -> its start, run seconds
    planned: bool = False
    done: bool = False

    def take(self, record: Mapping[str, Any], at: float = 0.0) -> ScenarioResult | None:
        """Absorb one record heard `at` seconds into the run; return its scenario result, if any.
        """
        kind = record["t"]
        if kind == "plan":
            self.units, self.planned = list(record["units"]), True
            self.errors.extend(record["errors"])
            self.notices.extend(record.get("notices", ()))
        elif kind == "start":
            self.running[record["id"]] = -1
            self.began[record["id"]] = at
        elif kind == "step":
            self.running[record["id"]] = record["index"]
        elif kind == "result":
            result = ScenarioResult.from_dict(record["scenario"])
            self.results[record["id"]] = result
            self.running.pop(record["id"], None)
            self.notices.extend(n for n in record.get("notices", ()) if n not in self.notices)
            return result
        elif kind == "error":
            self.errors.append(record["message"])
        elif kind == "done":
            self.done = True
        return None


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
    return ScenarioResult(
        feature=unit["feature"], file=unit["file"], line=unit["line"], name=unit["name"],
        outcome=outcome, severity=Severity(unit["severity"]), tags=tuple(unit["tags"]),
        level=unit["level"], runbook=unit["runbook"], reason=reason, duration=ran,
        host=unit.get("host"), group=unit.get("group"))
