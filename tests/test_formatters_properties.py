"""Properties of the outputs for generated runs: whatever names, reasons and numbers come in,
the Nagios output keeps its contract and the JUnit XML stays valid.

Generated text carries `|`, quotes, `=`, `;`, newlines, controls and non-ASCII; measurements
are huge, tiny, negative, NaN and infinite, with thresholds good and bad and any unit.
"""

from __future__ import annotations

import re
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from escalator.formatters import FORMATS, FormatOptions, render
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult, Severity, StepResult

NUM = r"-?[0-9.]+"
RANGE = rf"@?(?:(?:~|{NUM}):(?:{NUM})?|{NUM})"
LABEL = r"(?:'[^'=]+'|[^'=\s]+)"
ITEM = re.compile(
    rf"(?P<label>{LABEL})=(?P<value>{NUM}|U)(?:s|ms|%|B|KB|MB|c)?"
    rf"(?:;(?:{RANGE})?(?:;(?:{RANGE})?(?:;(?P<min>{NUM})?(?:;(?P<max>{NUM})?)?)?)?)?"
)
LINE1 = re.compile(r"(?P<label>[^|\n]+) (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - "
                   r"(?P<text>[^|\n]*) \| (?P<perf>[^|\n]+)")
HEAD_PREFIXES = ("  ", "notice: ", "error: ", "... ")
T = TypeVar("T")

SPICE = "|'=; \n\t\r\x00\x1b\x85\u2028é☃😀\"<>&"
texts = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(SPICE), max_size=120)
long_texts = texts | st.text(alphabet=st.sampled_from("ab |\n'="), min_size=500,
                             max_size=3000)
values = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, 0.1 + 0.2, 1.2300000001])
limits = st.none() | st.sampled_from([Limit.parse(text) for text in (
    "500", "14:", "~:10", "@1:2", "@500:", "0.1", "-5:-1", "1e300")])
uoms = st.sampled_from(["", "s", "ms", "%", "B", "KB", "MB", "c", "us", "days"]) | texts

measurements = st.builds(Measurement, name=texts, value=st.none() | values, uom=uoms,
                         crit=limits, warn=limits, minimum=st.none() | values,
                         maximum=st.none() | values)
steps = st.builds(StepResult, keyword=st.sampled_from(["Given", "When", "Then"]), text=texts,
                  line=st.integers(1, 999), status=st.sampled_from(["passed", "failed", "warning",
                                                                    "undefined", "skipped"]),
                  duration=st.floats(0, 100), error=st.none() | long_texts,
                  detail=st.none() | long_texts)
scenarios = st.builds(
    ScenarioResult, feature=texts, file=texts, line=st.integers(0, 10**6), name=long_texts,
    outcome=st.sampled_from(list(Outcome)), severity=st.sampled_from(list(Severity)),
    tags=st.lists(st.sampled_from(["warning", "escalate.vm", "@escalate.app", "wip"]) | texts,
                  max_size=3).map(tuple),
    level=st.none() | texts, runbook=st.none() | texts,
    steps=st.lists(steps, max_size=3).map(tuple), reason=st.none() | long_texts,
    measurements=st.lists(measurements, max_size=4).map(tuple),
    duration=st.floats(0, 1e6), attempts=st.integers(1, 3),
    earlier_failures=st.lists(long_texts, max_size=2).map(tuple), warning_only=st.booleans(),
)


def repeated(strategy: st.SearchStrategy[list[T]], most: int) -> st.SearchStrategy[tuple[T, ...]]:
    """A few generated items repeated many times: cheap volume to reach the 8 KiB cut."""
    return st.tuples(strategy, st.integers(1, most)).map(lambda pair: tuple(pair[0] * pair[1]))


small_runs = st.builds(
    RunResult, scenarios=st.lists(scenarios, max_size=12).map(tuple),
    errors=st.lists(long_texts, max_size=3).map(tuple),
    notices=st.lists(long_texts, max_size=3).map(tuple),
    duration=st.floats(0, 1e9), timeout=st.none() | st.floats(0, 1e9),
)
big_runs = st.builds(
    RunResult, scenarios=repeated(st.lists(scenarios, min_size=1, max_size=3), 150),
    errors=repeated(st.lists(long_texts, max_size=2), 20),
    notices=repeated(st.lists(long_texts, max_size=2), 20),
    duration=st.floats(0, 1e9), timeout=st.none() | st.floats(0, 1e9),
)
runs = small_runs | big_runs
options = st.builds(FormatOptions, label=texts, verbose=st.booleans(), color=st.booleans())

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(run=runs, opts=options)
def test_nagios_output_keeps_its_contract(run: RunResult, opts: FormatOptions) -> None:
    out = render("nagios", run, opts)
    assert out.endswith("\n")
    assert len(out.encode("utf-8")) <= 8192
    assert out.count("|") == 1
    line1, *rest = out[:-1].split("\n")
    match = LINE1.fullmatch(line1)
    assert match, line1
    assert match["state"] == run.status.name
    _check_perfdata(match["perf"])
    _check_blocks(run, opts, rest)


def _check_perfdata(perf: str) -> None:
    items = re.findall(rf"{LABEL}=\S*", perf)
    assert " ".join(items) == perf
    labels = []
    for text in items:
        item = ITEM.fullmatch(text)
        assert item, text
        for number in (item["value"], item["min"], item["max"]):
            if number not in (None, "U"):
                float(number)  # [-0-9.] alone allows "1.2.3"; these must be real numbers
        labels.append(item["label"].strip("'"))
    assert labels[:5] == ["scenarios", "passed", "failed", "unknown", "time"]
    assert len(set(labels)) == len(labels)


def _check_blocks(run: RunResult, opts: FormatOptions, lines: list[str]) -> None:
    """Every scenario that should have a block has one, or is counted in the cut note."""
    expected = sum(1 for s in run.scenarios
                   if s.outcome is not Outcome.PASSED or s.retried or opts.verbose)
    heads = [line for line in lines if not line.startswith(HEAD_PREFIXES)]
    notes = [re.fullmatch(r"\.\.\. (\d+) more scenarios? not shown", line) for line in lines]
    left_out = sum(int(n[1]) for n in notes if n)
    assert len(heads) + left_out == expected
    assert all(line.isprintable() for line in lines)


@PROPERTY
@given(run=runs, opts=options)
def test_junit_is_always_well_formed_xml(run: RunResult, opts: FormatOptions) -> None:
    root = etree.fromstring(render("junit", run, opts).encode("utf-8"))
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests")) == len(cases)
    assert len(cases) == len(run.scenarios) + (len(run.errors) or (0 if run.scenarios else 1))


@PROPERTY
@given(run=runs, opts=options)
def test_every_other_format_renders_text_ending_in_one_newline(run: RunResult,
                                                               opts: FormatOptions) -> None:
    for name in ("pretty", "progress"):
        out = render(name, run, opts)
        assert out.endswith("\n") and not out.endswith("\n\n")
    assert "prometheus" in FORMATS


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(run=small_runs)
def test_promtool_accepts_every_exposition(run: RunResult) -> None:
    from tests.test_formatters_prometheus import promtool

    promtool(render("prometheus", run))


@PROPERTY
@given(run=runs, opts=options)
def test_junit_is_valid_against_jenkins_schema(run: RunResult, opts: FormatOptions) -> None:
    from tests.test_formatters_junit import jenkins_schema

    schema = jenkins_schema()
    assert schema.validate(etree.fromstring(render("junit", run, opts).encode("utf-8"))), \
        schema.error_log.last_error


GRAPHITE_LINE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)+ -?[0-9.e+-]+ -?\d+")


@PROPERTY
@given(run=runs, prefix=texts)
def test_graphite_lines_are_always_path_value_timestamp(run: RunResult, prefix: str) -> None:
    out = render("graphite", run, FormatOptions(graphite_prefix=prefix))
    lines = out.splitlines()
    assert all(GRAPHITE_LINE.fullmatch(line) for line in lines), lines
    paths = [line.split(" ")[0] for line in lines]
    assert len(paths) == len(set(paths))          # no two series share a path
