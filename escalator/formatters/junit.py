"""JUnit XML for CI: one merged `<testsuites>` file, a `<testsuite>` per feature file.

Each scenario is a `<testcase>` (classname: the feature file's path without suffix, dotted);
a failed scenario carries `<failure type="failed">`, an unknown one `<error type="unknown">`, and
its steps and measurements go to `<system-out>`. Run errors (and an empty selection) become one
more testsuite of `<error>` testcases, so CI never reads an empty report as green. Built with
xml.etree so everything is escaped; characters XML 1.0 forbids are removed first. Valid against
Jenkins' junit-10.xsd (tests/fixtures/junit-10.xsd), which allows `skipped` on `<testsuite>`
only.

>>> from escalator.results import Outcome, RunResult, ScenarioResult
>>> s = ScenarioResult("Web", "features/web.feature", 3, "Home", Outcome.PASSED, duration=0.2)
>>> print(render(RunResult(scenarios=(s,), duration=0.25), FormatOptions()), end="")
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="escalator" tests="1" failures="0" errors="0" time="0.250">
  <testsuite name="Web" tests="1" failures="0" errors="0" skipped="0" time="0.200">
    <testcase classname="features.web" name="Home" time="0.200" />
  </testsuite>
</testsuites>
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from itertools import groupby
from pathlib import PurePosixPath

from escalator.durations import format_duration
from escalator.formatters import FormatOptions, cut, detail_lines, measured, one_line, reason
from escalator.results import Outcome, RunResult, ScenarioResult

# Everything outside XML 1.0's Char production (controls, lone surrogates, U+FFFE/U+FFFF).
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(run: RunResult, options: FormatOptions) -> str:
    root = ET.Element("testsuites", name="escalator")
    gate = gate_lines(run)
    for _, group in groupby(run.scenarios, key=lambda s: s.file):
        scenarios = list(group)
        suite = _suite(root, scenarios[0].feature, scenarios)
        for scenario in scenarios:
            _testcase(suite, scenario, options, gate.get(scenario.key, []))
    errors = run.errors or (() if run.scenarios else ("no scenario selected",))
    if errors:
        _error_suite(root, errors)
    _count(root, root.findall("testsuite"), run.duration)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def xml_text(text: str) -> str:
    """`text` with the characters XML 1.0 cannot carry removed."""
    return _FORBIDDEN.sub("", text)


def classname(path: str) -> str:
    """The dotted class name CI groups by: the feature file's path without suffix.

    >>> classname("features/web/home.feature")
    'features.web.home'
    """
    stem = path[: -len(".feature")] if path.endswith(".feature") else path
    parts = [p for p in PurePosixPath(stem).parts if p not in ("/", ".", "..")]
    return ".".join(parts) or "features"


def _suite(root: ET.Element, name: str, scenarios: list[ScenarioResult]) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=xml_text(name))
    _count(suite, scenarios, sum(s.duration for s in scenarios))
    return suite


def _count(element: ET.Element, items: list[ET.Element] | list[ScenarioResult],
           duration: float) -> None:
    """tests/failures/errors/skipped/time attributes, from scenarios or from child suites."""
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for item in items:
        if isinstance(item, ET.Element):
            for key in totals:
                totals[key] += int(item.get(key, "0"))
        else:
            totals["tests"] += 1
            totals["failures"] += item.outcome is Outcome.FAILED
            totals["errors"] += item.outcome is Outcome.UNKNOWN
    for key, value in totals.items():
        element.set(key, str(value))
    if element.tag == "testsuite":  # junit-10.xsd: <testsuites> has no skipped attribute
        element.set("skipped", "0")
    element.set("time", f"{duration:.3f}")


def _testcase(suite: ET.Element, scenario: ScenarioResult, options: FormatOptions,
              before: list[str]) -> None:
    case = ET.SubElement(suite, "testcase", classname=xml_text(classname(scenario.file)),
                         name=xml_text(scenario.name), time=f"{scenario.duration:.3f}")
    if scenario.outcome is not Outcome.PASSED:
        tag, kind = ("failure", "failed") if scenario.outcome is Outcome.FAILED else ("error",
                                                                                     "unknown")
        problem = ET.SubElement(case, tag, message=xml_text(reason(scenario)), type=kind)
        problem.text = xml_text("\n".join(_problem_lines(scenario, options)))
    out = before + _output_lines(scenario)
    if out:
        ET.SubElement(case, "system-out").text = xml_text("\n".join(out))


def gate_lines(run: RunResult) -> dict[str, list[str]]:
    """What a deploy gate (`run --until-green`) recorded of each scenario, by key: when it
    turned green, when it turned red again, or that it was still red when the gate ended.

    >>> from escalator.results import Outcome, RunResult, ScenarioResult
    >>> api = ScenarioResult("Web", "w.feature", 3, "API", Outcome.PASSED)
    >>> shop = ScenarioResult("Web", "w.feature", 7, "Shop", Outcome.FAILED)
    >>> run = RunResult((api, shop), extra={"green_after": {api.key: 4.06}, "gate": {
    ...     "verdict": "deadline", "within": 10, "flapped": {api.key: [[1.0, 2.5]]}}})
    >>> for key, lines in gate_lines(run).items():
    ...     print(key, lines)
    w.feature::API ['gate: passed after 1.0s, red again after 2.5s', 'gate: green after 4.1s']
    w.feature::Shop ['gate: still red at the deadline (10s)']
    """
    gate, green = run.extra.get("gate"), run.extra.get("green_after")
    if not isinstance(gate, Mapping) or not isinstance(green, Mapping):
        return {}
    flapped = gate.get("flapped")
    flapped = flapped if isinstance(flapped, Mapping) else {}
    lines: dict[str, list[str]] = {}
    for scenario in run.scenarios:
        key = scenario.key
        out = [f"gate: passed after {g:.1f}s, red again after {r:.1f}s"
               for g, r in flapped.get(key, ())]
        if key in green:
            out.append(f"gate: green after {green[key]:.1f}s")
        elif gate.get("verdict") == "deadline":
            out.append(f"gate: still red at the deadline "
                       f"({format_duration(float(gate.get('within', 0)))})")
        lines[key] = out
    return lines


def _problem_lines(scenario: ScenarioResult, options: FormatOptions) -> list[str]:
    lines = [f"{scenario.status.name} {scenario.location}: {reason(scenario)}"]
    if scenario.runbook:
        lines.append(f"runbook: {scenario.runbook}")
    return lines + (detail_lines(scenario) if options.verbose else [])


def _output_lines(scenario: ScenarioResult) -> list[str]:
    lines = [f"{s.status:<9} {s.title} ({s.duration:.3f}s)" for s in scenario.steps]
    lines += [f"measured  {measured(m)}" for m in scenario.measurements]
    lines += [f"attempt {n} failed: {f}" for n, f in enumerate(scenario.earlier_failures, 1)]
    return lines


def _error_suite(root: ET.Element, errors: tuple[str, ...]) -> None:
    suite = ET.SubElement(root, "testsuite", name="run errors", tests=str(len(errors)),
                          failures="0", errors=str(len(errors)), skipped="0", time="0.000")
    for n, error in enumerate(errors, 1):
        case = ET.SubElement(suite, "testcase", classname="escalator", name=f"run error {n}",
                             time="0.000")
        message = cut(one_line(error), 200) or "run error"
        problem = ET.SubElement(case, "error", message=xml_text(message), type="error")
        problem.text = xml_text(error)
