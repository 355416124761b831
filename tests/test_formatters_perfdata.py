"""Perfdata items follow the plugin guidelines: labels, units, numbers, ranges, uniqueness."""

from __future__ import annotations

import pytest

from escalator.formatters import perfdata
from escalator.limits import Limit
from escalator.results import Measurement, ScenarioResult, Severity
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
    ("-5:-1", "-5:-1"), (" 0.5 ", "0.5"), ("", None), ("@", None), (":", None), ("500ms", None),
    ("1;2", None), ("abc", None), (None, None),
])
def test_stored_thresholds_are_read_back_as_ranges_or_dropped(text: str | None,
                                                               kept: str | None) -> None:
    stored = Measurement.from_dict({"name": "t", "value": 1.0, "threshold": text})
    assert (None if stored.crit is None else str(stored.crit)) == kept


def test_threshold_slot_follows_severity_and_limits_are_kept() -> None:
    m = Measurement("days_left", 20.0, "", crit=Limit.at_least(14), minimum=0, maximum=365)
    both = Measurement("days_left", 20.0, "", crit=Limit.at_least(14), warn=Limit.at_least(30))
    crit = scenario("Cert valid", measurements=(m,))
    warn = scenario("Cert fresh", measurements=(m, both), severity=Severity.WARNING)
    assert perfdata.measurements(run_of(crit, warn)) == [
        "'Cert valid days_left'=20;;14:;0;365",
        "'Cert fresh days_left'=20;14:;;0;365",
        "'Cert fresh days_left_2'=20;30:;14:",
    ]


def test_a_failed_measurement_is_u_with_its_limits() -> None:
    m = Measurement("response_time", None, "ms", crit=Limit.below(500))
    assert perfdata.measurements(run_of(scenario("Home", measurements=(m,)))) == [
        "'Home response_time'=U;;@500:"]


def test_labels_stay_unique_also_against_the_counters() -> None:
    m = Measurement("t", 1.0, "s")
    run = run_of(scenario("same", measurements=(m, m)), scenario("same", measurements=(m,)),
                 scenario("", measurements=(Measurement("passed", 2.0),)))
    assert perfdata.measurements(run) == [
        "'same t'=1s", "'same t_2'=1s", "'same t_3'=1s", "passed_2=2",
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
    assert perfdata.item("x", float("nan"), "s", min_=float("-inf"), max_=float("inf")) == "x=U"
    assert perfdata.item("x", 1.0, min_=float("nan"), max_=5) == "x=1;;;;5"


def test_a_result_stored_before_two_limits_reads_and_renders_as_before() -> None:
    stored = {"feature": "Web", "file": "web.feature", "line": 3, "name": "Cert",
              "outcome": "failed", "severity": "warning",
              "measurements": [{"name": "days_left", "value": 20, "uom": "", "threshold": "14:",
                                "minimum": 0, "maximum": 365}]}
    old = ScenarioResult.from_dict(stored)
    assert (old.status.name, old.warning_only) == ("WARNING", False)
    assert perfdata.measurements(run_of(old)) == ["'Cert days_left'=20;14:;;0;365"]
    assert ScenarioResult.from_dict(old.to_dict()) == old
