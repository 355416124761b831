"""Perfdata items follow the plugin guidelines: labels, units, numbers, ranges, uniqueness."""

from __future__ import annotations

import pytest

from escalator.formatters import perfdata
from escalator.results import Measurement, Severity
from tests.test_formatters_samples import run_of, scenario


@pytest.mark.parametrize(("value", "text"), [
    (12.5, "12.5"), (1.2300000001, "1.23"), (1234567.891, "1234567.891"), (0.1 + 0.2, "0.3"),
    (0.000123456, "0.000123"), (1e-9, "0"), (-0.0, "0"), (-3.25, "-3.25"), (1e20,
    "100000000000000000000"), (float("nan"), "U"), (float("inf"), "U"), (float("-inf"), "U"),
    (7, "7"), (999.9999, "1000"),
])
def test_numbers_are_rounded_and_never_use_exponents(value: float, text: str) -> None:
    assert perfdata.number(value) == text


@pytest.mark.parametrize(("raw", "label"), [
    ("Home page response_time", "Home page response_time"),
    ("it's = fine", "its fine"),
    ("a|b\n\tc", "a/b c"),
    ("'=''", "value"),
    ("x" * 80, "x" * 57 + "..."),
])
def test_labels_lose_quotes_equals_pipes_and_newlines(raw: str, label: str) -> None:
    assert perfdata.clean_label(raw) == label


@pytest.mark.parametrize(("uom", "shown"), [
    ("ms", "ms"), ("s", "s"), ("%", "%"), ("B", "B"), ("KB", "KB"), ("MB", "MB"), ("c", "c"),
    ("us", ""), ("days", ""), ("KiB", ""), ("", ""),
])
def test_only_guideline_units_survive(uom: str, shown: str) -> None:
    assert perfdata.item("x", 3, uom) == f"x=3{shown}"


@pytest.mark.parametrize(("text", "kept"), [
    ("500", "500"), ("14:", "14:"), ("~:10", "~:10"), ("@10:20", "@10:20"), ("10:20", "10:20"),
    ("-5:-1", "-5:-1"), (" 0.5 ", "0.5"), ("", ""), ("@", ""), (":", ""), ("500ms", ""),
    ("1;2", ""), ("abc", ""), (None, ""),
])
def test_thresholds_must_be_nagios_ranges(text: str | None, kept: str) -> None:
    assert perfdata.threshold(text) == kept


def test_threshold_slot_follows_severity_and_limits_are_kept() -> None:
    m = Measurement("days_left", 20.0, "", threshold="14:", minimum=0, maximum=365)
    crit = scenario("Cert valid", measurements=(m,))
    warn = scenario("Cert fresh", measurements=(m,), severity=Severity.WARNING)
    assert perfdata.measurements(run_of(crit, warn)) == [
        "'Cert valid days_left'=20;;14:;0;365",
        "'Cert fresh days_left'=20;14:;;0;365",
    ]


def test_labels_stay_unique_also_against_the_counters() -> None:
    m = Measurement("t", 1.0, "s")
    run = run_of(scenario("same", measurements=(m, m)), scenario("same", measurements=(m,)),
                 scenario("", measurements=(Measurement("passed", 2.0),)))
    assert perfdata.measurements(run) == [
        "'same t'=1s", "'same t 2'=1s", "'same t 3'=1s", "'passed 2'=2",
    ]


def test_counters_carry_the_timeout_as_critical_and_retries_only_when_any() -> None:
    assert perfdata.counters(run_of(scenario("a"), duration=61.23456, timeout=60.0)) == [
        "scenarios=1;;;0", "passed=1;;;0", "failed=0;;;0", "unknown=0;;;0",
        "time=61.235s;;60;0",
    ]
    retried = scenario("b", attempts=3)
    assert perfdata.counters(run_of(retried, timeout=None))[-2:] == [
        "time=1.234s;;;0", "retried=1;;;0"]


def test_only_the_value_may_be_undeterminable() -> None:
    assert perfdata.item("x", float("nan"), "s", min_=float("-inf"), max_=float("inf")) == "x=Us"
    assert perfdata.item("x", 1.0, min_=float("nan"), max_=5) == "x=1;;;;5"
