"""The graphite format: a run in Graphite's plaintext protocol, `path value timestamp` a line.

Called through `escalator.formatters.render("graphite", run, options)` by `-f graphite` and by
`--graphite HOST:PORT` (escalator.commands.output sends the same text to carbon over TCP).
Pure. Paths are `<prefix>.<environment>.<scenario>.<metric>`, and `<prefix>.<environment>.run.
<metric>` for the run itself; every name is sanitised into one path node (lowercase ASCII
letters, digits, `_` and `-`), and a scenario whose node is taken (by "run" or by a scenario of
the same name in another file) gets `_2`, `_3`. Measurements are in base units with the unit in
the metric's name (`response_time_seconds`), as the Prometheus format has them. The timestamp is
when the run finished.

>>> sanitise("Home page: 200 OK?"), sanitise("Ünïcode ☃"), sanitise("...")
('home_page_200_ok', 'unicode', 'unnamed')
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator

from escalator.formatters import FormatOptions
from escalator.formatters.perfdata import base_unit
from escalator.results import Outcome, RunResult, ScenarioResult

_OUTSIDE = re.compile(r"[^a-z0-9_-]+")
_NODE_MAX = 120
RUN_NODE = "run"


def render(run: RunResult, options: FormatOptions) -> str:
    base = ".".join([*_prefix(options.graphite_prefix), sanitise(run.environment or "default")])
    stamp = f"{int(run.started + run.duration)}"
    lines = [f"{base}.{path} {_number(value)} {stamp}" for path, value in _samples(run)
             if math.isfinite(value)]
    return "\n".join(lines) + "\n" if lines else ""


def sanitise(name: str) -> str:
    """`name` as one Graphite path node: accents dropped, lowercase, runs of anything else `_`."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    node = _OUTSIDE.sub("_", ascii_text.lower()).strip("_")[:_NODE_MAX].strip("_")
    return node or "unnamed"


def _prefix(prefix: str) -> list[str]:
    # A prefix may have several nodes ("ops.escalator"); each is sanitised on its own.
    return [sanitise(part) for part in prefix.split(".") if sanitise(part) != "unnamed"]


def _samples(run: RunResult) -> Iterator[tuple[str, float]]:
    yield f"{RUN_NODE}.status", float(run.status)
    yield f"{RUN_NODE}.duration_seconds", run.duration
    for outcome in Outcome:
        yield f"{RUN_NODE}.{outcome.value}", float(run.count(outcome))
    taken = {RUN_NODE}
    for scenario in run.scenarios:
        node = _unique(sanitise(scenario.name), taken)
        for metric, value in _scenario_samples(scenario):
            yield f"{node}.{metric}", value


def _scenario_samples(scenario: ScenarioResult) -> Iterator[tuple[str, float]]:
    yield "status", float(scenario.status)
    yield "success", 1.0 if scenario.outcome is Outcome.PASSED else 0.0
    yield "duration_seconds", scenario.duration
    taken = {"status", "success", "duration_seconds"}
    for measurement in scenario.measurements:
        unit, factor = base_unit(measurement.uom)
        name = sanitise(measurement.name)
        if unit and not name.endswith(unit):
            name = f"{name}_{unit}"
        # "response time" and "response_time" are one node once sanitised: keep both series.
        node = _unique(name, taken)
        if measurement.value is not None:  # not measured (no answer to time): no point to send
            yield node, measurement.value * factor


def _unique(node: str, taken: set[str]) -> str:
    candidate, n = node, 2
    while candidate in taken:
        candidate, n = f"{node}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _number(value: float) -> str:
    # 12.5 ms * 0.001 is 0.012500000000000001 in binary: keep the digits a person wrote.
    text = f"{value:.12g}"
    return text if "e" not in text else repr(value)
