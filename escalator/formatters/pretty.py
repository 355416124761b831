"""The human format for a terminal (the default there): features, scenarios, why they failed.

One header per feature file, one line per scenario with a mark and its duration, the failing
step and its reason under each failure, then the run's notices and errors and a closing summary
line. ANSI colour only when `options.color`; `-v` adds every step, the measurements and the
tracebacks. The progress format reuses the failure block and the summary line from here.
"""

from __future__ import annotations

from collections.abc import Iterator

from escalator.formatters import (
    FormatOptions,
    detail_lines,
    measured,
    notable_tags,
    plural,
    reason,
)
from escalator.results import Outcome, RunResult, ScenarioResult, Severity

_COLORS = {"PASS": "32", "WARN": "33", "FAIL": "31", "UNKN": "35"}


def render(run: RunResult, options: FormatOptions) -> str:
    lines: list[str] = []
    current = None
    for scenario in run.scenarios:
        if scenario.file != current:
            current = scenario.file
            lines.extend(([""] if lines else []) + [f"Feature: {scenario.feature} ({current})"])
        lines.append(f"  {_scenario_line(scenario, options)}")
        if options.verbose:
            lines.extend(f"      {line}" for line in _steps(scenario))
        if scenario.outcome is not Outcome.PASSED or scenario.retried:
            lines.extend(f"      {line}" for line in failure_lines(scenario, options))
    return finish(lines, run, options)


def finish(lines: list[str], run: RunResult, options: FormatOptions) -> str:
    """The body, the run's notices and errors, and the summary line, blank lines between."""
    lines = [*lines, *run_notes(run), "", summary_line(run, options)]
    while lines[0] == "":
        del lines[0]
    return "\n".join(lines) + "\n"


def mark(scenario: ScenarioResult) -> str:
    """A four-letter word for how the scenario ended."""
    if scenario.outcome is Outcome.PASSED:
        return "PASS"
    if scenario.outcome is Outcome.UNKNOWN:
        return "UNKN"
    return "WARN" if scenario.failure_severity is Severity.WARNING else "FAIL"


def paint(text: str, word: str, options: FormatOptions) -> str:
    """`text` in the colour of `word` (a mark) when colour is on."""
    code = _COLORS.get(word)
    return f"\x1b[{code}m{text}\x1b[0m" if options.color and code else text


def failure_lines(scenario: ScenarioResult, options: FormatOptions) -> list[str]:
    """Why a scenario failed (or what failed before its retry passed), runbook, traceback."""
    lines = [] if scenario.outcome is Outcome.PASSED else [reason(scenario)]
    lines += [f"attempt {n} failed: {f}" for n, f in enumerate(scenario.earlier_failures, 1)]
    if scenario.runbook and scenario.outcome is not Outcome.PASSED:
        lines.append(f"runbook: {scenario.runbook}")
    if options.verbose:
        lines.extend(f"  {line}" for line in detail_lines(scenario))
    return lines


def run_notes(run: RunResult) -> list[str]:
    """The run's notices and errors, each on its own line, after a blank line."""
    notes = [f"notice: {n}" for n in run.notices]
    notes += ["error: " + e.replace("\n", "\n  ") for e in run.errors]
    return ["", *notes] if notes else []


def summary_line(run: RunResult, options: FormatOptions) -> str:
    """`14 scenarios (12 passed, 1 failed, 1 unknown) in 1.23s`, coloured by the run's state."""
    errors = f", {plural(len(run.errors), 'run error')}" if run.errors else ""
    took = f"{errors} in {run.duration:.2f}s"
    if not run.scenarios:
        return paint(f"no scenario {'ran' if errors else 'selected'}{took}", "UNKN", options)
    counts = [(run.count(o), o.value) for o in (Outcome.PASSED, Outcome.FAILED, Outcome.UNKNOWN)]
    parts = ", ".join(f"{n} {word}" for n, word in counts if n)
    retried = sum(1 for s in run.scenarios if s.retried)
    if retried:
        parts += f"; {retried} retried"
    word = {0: "PASS", 1: "WARN", 2: "FAIL", 3: "UNKN"}[run.status.value]
    return paint(f"{plural(len(run.scenarios), 'scenario')} ({parts}){took}", word, options)


def _scenario_line(scenario: ScenarioResult, options: FormatOptions) -> str:
    word = mark(scenario)
    text = f"{paint(word, word, options)}  {scenario.name}  {scenario.duration:.2f}s"
    if scenario.retried and scenario.outcome is Outcome.PASSED:
        text += f" (passed on attempt {scenario.attempts})"
    tags = " ".join(notable_tags(scenario))
    return f"{text}  {tags}" if tags else text


def _steps(scenario: ScenarioResult) -> Iterator[str]:
    for step in scenario.steps:
        yield f"{step.status:<9} {step.title} ({step.duration:.2f}s)"
    for m in scenario.measurements:
        yield f"measured  {measured(m)}"
