"""The prometheus format: a run as node_exporter textfile-collector text (`metrics.prom`).

Called through `escalator.formatters.render("prometheus", run, options)` by `run -f prometheus`
and by `escalator report`, which writes it atomically (the collector must never read half a
file); `render_many` puts several environments' last runs into one file (the report's overview).
Pure: RunResult in, text out. Gauges only: each file is a snapshot.

Names follow the Prometheus naming guide: base units in the name (`_seconds`, `_bytes`,
`_ratio`), never a unit label. A series is identified by what stays put when a feature file is
edited: environment, feature, file and scenario name (the scenario's key), plus the measurement;
no line number, severity or threshold text, which would rename the series at every edit.
Thresholds are series of their own (`escalator_step_threshold_<unit>`).

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
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from escalator.formatters.perfdata import base_unit, limits
from escalator.results import Outcome

if TYPE_CHECKING:
    from escalator.results import Measurement, RunResult, ScenarioResult

PREFIX = "escalator_"

_KINDS = {"seconds": "A time a step measured (response time, lookup time, data age).",
          "bytes": "A size a step measured.",
          "ratio": "A share a step measured (0 to 1).",
          "": "A number a step measured without a unit (days left, counts)."}
_LIMIT = ("the state it stands for (level) when the value goes above (bound=\"upper\") or "
          "below (bound=\"lower\") it.")


def _suffixed(name: str, unit: str) -> str:
    return f"{name}_{unit}" if unit else name


def _what(unit: str) -> str:
    return {"seconds": "a time measurement", "bytes": "a size measurement",
            "ratio": "a share measurement"}.get(unit, "a measurement without a unit")


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
    **{_suffixed("step_measurement", unit): text for unit, text in _KINDS.items()},
    **{_suffixed("step_threshold", unit): f"A limit of {_what(unit)}: {_LIMIT}"
       for unit in _KINDS},
    # The escalation ladder and its watcher (escalator.reports.ladder_view.samples).
    "ladder_latched": "1 while the escalation ladder is latched (it runs no level until "
                      "escalator ladder resume), else 0.",
    "ladder_latched_since_timestamp_seconds": "When the ladder latched (Unix time).",
    "ladder_latch_info": "Why the ladder is latched (the reason label); always 1.",
    "ladder_host_latched": "1 for each host whose host-scoped levels are latched (until "
                           "escalator ladder resume --host).",
    "ladder_notifier_failing": "1 while the ladder's notifier fails to take pages, else 0.",
    "ladder_notifier_failing_since_timestamp_seconds": "When the notifier began to fail "
                                                       "(Unix time).",
    "ladder_open_pages": "Problems the ladder paged about and has not resolved yet.",
    "watch_last_cycle_timestamp_seconds": "When escalator watch last finished a cycle "
                                          "(Unix time).",
    "watch_up": "1 while escalator watch runs, 0 once it stopped or is gone.",
}

Sample = tuple[str, dict[str, str], float]


def render(run: RunResult, options: object = None) -> str:
    """The whole textfile; `options` is accepted for the registry and not needed."""
    return render_many([run])


def render_many(runs: Sequence[RunResult], extra: Sequence[Sample] = ()) -> str:
    """One textfile for several runs (one per environment) and `extra` samples (the
    ladder's): each family once, in order."""
    samples: list[Sample] = list(extra)
    for run in runs:
        samples.extend(_run_samples(run))
        names = _unique_names(run)
        for scenario, name in zip(run.scenarios, names, strict=True):
            samples.extend(_scenario_samples(run, scenario, name))
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


def _unique_names(run: RunResult) -> list[str]:
    """Scenario names as labels: a name repeated in one file (a copied scenario) gets " (2)",
    since without the line two series would be one (node_exporter refuses such a file)."""
    taken: set[tuple[str, str]] = set()
    names = []
    for scenario in run.scenarios:
        name, n = scenario.name, 2
        while (scenario.file, name) in taken:
            name, n = f"{scenario.name} ({n})", n + 1
        taken.add((scenario.file, name))
        names.append(name)
    return names


def _scenario_samples(run: RunResult, scenario: ScenarioResult, name: str) -> Iterator[Sample]:
    labels = {"environment": run.environment or "default", "feature": scenario.feature,
              "file": scenario.file, "scenario": name}
    if scenario.host is not None:  # a fan-out run (@each.<group>): its host and group as labels
        labels.update(host=scenario.host, group=scenario.group or "")
    yield "scenario_success", labels, 1.0 if scenario.outcome is Outcome.PASSED else 0.0
    yield "scenario_status", labels, float(scenario.status)
    yield "scenario_duration_seconds", labels, round(scenario.duration, 6)
    yield "scenario_attempts", labels, float(scenario.attempts)
    taken: set[str] = set()
    for measurement in scenario.measurements:
        # Steps record unique names (support.record); a hand-made result might not.
        name, n = measurement.name, 2
        while name in taken:
            name, n = f"{measurement.name}_{n}", n + 1
        taken.add(name)
        yield from _measurement_samples(scenario, measurement, {**labels, "measurement": name})


def _measurement_samples(scenario: ScenarioResult, measurement: Measurement,
                         labels: dict[str, str]) -> Iterator[Sample]:
    unit, factor = base_unit(measurement.uom)
    if measurement.value is not None:  # a failed measurement has no sample to give
        yield _suffixed("step_measurement", unit), labels, _scaled(measurement.value, factor)
    for threshold in limits(scenario, measurement):
        level = threshold.level.name.lower()
        # An "@" band between two finite ends has no single bound to draw: bounds() says so.
        for bound, value in zip(("lower", "upper"), threshold.limit.bounds(), strict=True):
            if value is not None:
                yield (_suffixed("step_threshold", unit),
                       {**labels, "level": level, "bound": bound}, _scaled(value, factor))


def _scaled(value: float, factor: float) -> float:
    # 812.5 ms * 0.001 is 0.8125000000000001 in binary: keep the digits a person wrote.
    return float(f"{value * factor:.12g}") if math.isfinite(value) else value


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
