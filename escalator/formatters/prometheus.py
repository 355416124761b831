"""The prometheus format: a run as node_exporter textfile-collector text (`metrics.prom`).

Called through `escalator.formatters.render("prometheus", run, options)` by `run -f prometheus`
and by `escalator report`, which writes it atomically (the collector must never read half a
file). Pure: RunResult in, text out. Every series carries the environment, so one collector
directory can hold the files of several environments. Gauges only: each file is a snapshot.

>>> from escalator.results import Outcome, RunResult, ScenarioResult
>>> s = ScenarioResult("Web", "web.feature", 3, "Home", Outcome.FAILED, duration=0.25)
>>> text = render(RunResult(scenarios=(s,), started=100.0, duration=1.5, environment="demo"))
>>> for line in text.splitlines():
...     if line.startswith("escalator_scenario"):
...         print(line.split("{")[0], line.split()[-1])
escalator_scenario_success 0
escalator_scenario_status 2
escalator_scenario_duration_seconds 0.25
escalator_scenario_attempts 1
>>> print(_labels({"scenario": 'Say "hi"\\n'}))
{scenario="Say \\"hi\\"\\n"}
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from escalator.results import Outcome

if TYPE_CHECKING:
    from escalator.results import Measurement, RunResult, ScenarioResult

PREFIX = "escalator_"

# name -> help; the order here is the order in the file.
_HELP = {
    "run_status": "Nagios state of the last run (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).",
    "run_scenarios": "Scenarios in the last run by outcome.",
    "run_duration_seconds": "Wall time of the last run.",
    "run_errors": "Run-level errors (parse, config, load) in the last run.",
    "last_run_timestamp_seconds": "When the last run finished (Unix time).",
    "scenario_success": "1 when the scenario passed in the last run, else 0.",
    "scenario_status": "Nagios state of the scenario in the last run.",
    "scenario_duration_seconds": "Wall time of the scenario in the last run.",
    "scenario_attempts": "Attempts the scenario needed (retries + 1).",
    "step_measurement": "A number a step measured (response time, days left, ...), in its unit.",
}

Sample = tuple[str, dict[str, str], float]


def render(run: RunResult, options: object = None) -> str:
    """The whole textfile; `options` is accepted for the registry and not needed."""
    samples = list(_run_samples(run))
    for scenario in run.scenarios:
        samples.extend(_scenario_samples(run, scenario))
    lines: list[str] = []
    for name, text in _HELP.items():
        rows = [s for s in samples if s[0] == name]
        if not rows:
            continue
        lines.append(f"# HELP {PREFIX}{name} {text}")
        lines.append(f"# TYPE {PREFIX}{name} gauge")
        lines.extend(f"{PREFIX}{n}{_labels(labels)} {_number(v)}" for n, labels, v in rows)
    return "\n".join(lines) + "\n"


def _run_samples(run: RunResult) -> Iterator[Sample]:
    env = {"environment": run.environment or "default"}
    yield "run_status", env, float(run.status)
    for outcome in Outcome:
        yield "run_scenarios", {**env, "outcome": outcome.value}, float(run.count(outcome))
    yield "run_duration_seconds", env, round(run.duration, 6)
    yield "run_errors", env, float(len(run.errors))
    if run.started:
        yield "last_run_timestamp_seconds", env, round(run.started + run.duration, 3)


def _scenario_samples(run: RunResult, scenario: ScenarioResult) -> Iterator[Sample]:
    labels = {"environment": run.environment or "default", "feature": scenario.feature,
              "scenario": scenario.name, "file": scenario.file, "line": str(scenario.line),
              "severity": scenario.severity.value}
    yield "scenario_success", labels, 1.0 if scenario.outcome is Outcome.PASSED else 0.0
    yield "scenario_status", labels, float(scenario.status)
    yield "scenario_duration_seconds", labels, round(scenario.duration, 6)
    yield "scenario_attempts", labels, float(scenario.attempts)
    for measurement in scenario.measurements:
        if measurement.value is not None:  # a failed measurement has no sample to give
            yield ("step_measurement", {**labels, **_measurement_labels(measurement)},
                   measurement.value)


def _measurement_labels(measurement: Measurement) -> dict[str, str]:
    """The measurement's name, unit and limits as Nagios ranges (`crit`, `warn`)."""
    labels = {"measurement": measurement.name, "unit": measurement.uom}
    for name, limit in (("warn", measurement.warn), ("crit", measurement.crit)):
        if limit is not None:
            labels[name] = str(limit)
    return labels


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    # The exposition format escapes exactly these three in label values.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)
