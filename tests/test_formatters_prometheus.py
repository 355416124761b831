"""The Prometheus exposition: whole output, base units, stable label sets, and promtool.

Every exposition Escalator writes (`-f prometheus`, the report's `metrics.prom`) goes through
`promtool check metrics` (Debian's `prometheus` package) in these tests and in test_reports.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from escalator.formatters import render
from escalator.formatters.prometheus import render_many
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult
from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli
from tests.test_formatters_samples import (
    all_samples,
    home_critical,
    login_warning,
    run_of,
    scenario,
)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(text: str) -> None:
    """Fail the test with promtool's own words unless it accepts `text` (lint included), or
    when two samples share a name and labels (node_exporter refuses the whole file then;
    promtool does not check it)."""
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is not installed (Debian package prometheus; .ci/install-debian)")
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    samples = series(text)
    assert len(samples) == len(set(samples)), "duplicate series"


def test_promtool_is_strict_enough_to_fail() -> None:
    with pytest.raises(AssertionError, match="base unit"):
        promtool("# HELP x_milliseconds t\n# TYPE x_milliseconds gauge\nx_milliseconds 1\n")


def test_whole_output_with_base_units_and_thresholds_as_series() -> None:
    run = RunResult(scenarios=(
        scenario('Say "hi"', Outcome.FAILED, line=3, duration=0.5, measurements=(
            Measurement("response_time", 812.5, "ms", Limit.below(500), warn=Limit.at_most(300)),
            Measurement("days_left", 20.5, "", Limit.at_least(14), warn=Limit.at_least(30)),
            Measurement("success_ratio", 99.5, "%", Limit(0, 95, inside=True), 0, 100),
            Measurement("lookup_time", None, "ms", Limit.below(100)),
            Measurement("body", 2.5, "KB"))),),
        started=1_700_000_000.0, duration=1.25, environment=None)
    labels = 'environment="default",feature="Web site",file="features/web.feature",scenario'
    assert render("prometheus", run) == textwrap.dedent(f'''\
        # HELP escalator_run_status Nagios state of the last run (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
        # TYPE escalator_run_status gauge
        escalator_run_status{{environment="default"}} 2
        # HELP escalator_run_scenarios Scenarios in the last run by outcome.
        # TYPE escalator_run_scenarios gauge
        escalator_run_scenarios{{environment="default",outcome="passed"}} 0
        escalator_run_scenarios{{environment="default",outcome="failed"}} 1
        escalator_run_scenarios{{environment="default",outcome="unknown"}} 0
        # HELP escalator_run_duration_seconds Wall time of the last run.
        # TYPE escalator_run_duration_seconds gauge
        escalator_run_duration_seconds{{environment="default"}} 1.25
        # HELP escalator_run_errors Run-level errors (parse, config, load) in the last run.
        # TYPE escalator_run_errors gauge
        escalator_run_errors{{environment="default"}} 0
        # HELP escalator_last_run_timestamp_seconds When the last run finished (Unix time).
        # TYPE escalator_last_run_timestamp_seconds gauge
        escalator_last_run_timestamp_seconds{{environment="default"}} 1700000001.25
        # HELP escalator_scenario_success 1 when the scenario passed in the last run, else 0.
        # TYPE escalator_scenario_success gauge
        escalator_scenario_success{{{labels}="Say \\"hi\\""}} 0
        # HELP escalator_scenario_status Nagios state of the scenario in the last run.
        # TYPE escalator_scenario_status gauge
        escalator_scenario_status{{{labels}="Say \\"hi\\""}} 2
        # HELP escalator_scenario_duration_seconds Wall time of the scenario in the last run.
        # TYPE escalator_scenario_duration_seconds gauge
        escalator_scenario_duration_seconds{{{labels}="Say \\"hi\\""}} 0.5
        # HELP escalator_scenario_attempts Attempts the scenario needed (retries + 1).
        # TYPE escalator_scenario_attempts gauge
        escalator_scenario_attempts{{{labels}="Say \\"hi\\""}} 1
        # HELP escalator_step_measurement_seconds A time a step measured (response time, lookup time, data age).
        # TYPE escalator_step_measurement_seconds gauge
        escalator_step_measurement_seconds{{{labels}="Say \\"hi\\"",measurement="response_time"}} 0.8125
        # HELP escalator_step_measurement_bytes A size a step measured.
        # TYPE escalator_step_measurement_bytes gauge
        escalator_step_measurement_bytes{{{labels}="Say \\"hi\\"",measurement="body"}} 2560
        # HELP escalator_step_measurement_ratio A share a step measured (0 to 1).
        # TYPE escalator_step_measurement_ratio gauge
        escalator_step_measurement_ratio{{{labels}="Say \\"hi\\"",measurement="success_ratio"}} 0.995
        # HELP escalator_step_measurement A number a step measured without a unit (days left, counts).
        # TYPE escalator_step_measurement gauge
        escalator_step_measurement{{{labels}="Say \\"hi\\"",measurement="days_left"}} 20.5
        # HELP escalator_step_threshold_seconds A limit of a time measurement: the state it stands for (level) when the value goes above (bound="upper") or below (bound="lower") it.
        # TYPE escalator_step_threshold_seconds gauge
        escalator_step_threshold_seconds{{{labels}="Say \\"hi\\"",measurement="response_time",level="warning",bound="upper"}} 0.3
        escalator_step_threshold_seconds{{{labels}="Say \\"hi\\"",measurement="response_time",level="critical",bound="upper"}} 0.5
        escalator_step_threshold_seconds{{{labels}="Say \\"hi\\"",measurement="lookup_time",level="critical",bound="upper"}} 0.1
        # HELP escalator_step_threshold A limit of a measurement without a unit: the state it stands for (level) when the value goes above (bound="upper") or below (bound="lower") it.
        # TYPE escalator_step_threshold gauge
        escalator_step_threshold{{{labels}="Say \\"hi\\"",measurement="days_left",level="warning",bound="lower"}} 30
        escalator_step_threshold{{{labels}="Say \\"hi\\"",measurement="days_left",level="critical",bound="lower"}} 14
        ''')  # noqa: E501
    promtool(render("prometheus", run))


def test_every_sample_passes_promtool() -> None:
    for run in all_samples():
        promtool(render("prometheus", run))


def test_scenarios_of_the_same_name_in_one_file_stay_apart() -> None:
    """Without the line label, a copied scenario would repeat a series (it had one before)."""
    twice = run_of(scenario("Home"), scenario("Home", line=9), scenario("Home", line=15),
                   environment="prod")
    text = render("prometheus", twice)
    promtool(text)
    assert re.findall(r'escalator_scenario_success\{.*scenario="([^"]*)"\}', text) == [
        "Home", "Home (2)", "Home (3)"]


def test_several_environments_share_one_exposition() -> None:
    """The report's combined metrics.prom: each family once, every environment's series."""
    prod = run_of(home_critical(), environment="production", started=1.0)
    staging = run_of(login_warning(), environment="staging", started=2.0)
    text = render_many([prod, staging])
    promtool(text)
    assert text.count("# TYPE escalator_run_status gauge") == 1
    assert re.findall(r'escalator_run_status\{environment="(\w+)"\} (\d)', text) == [
        ("production", "2"), ("staging", "1")]


OUTLINE = """
    Feature: Shop
      Scenario Outline: page <n> answers
        When I measure <ms> ms against 500
        Examples:
          | n | ms |
          | 1 | 12 |
          | 2 | 40 |

      Scenario: home
        When I measure 20 ms against 500
    """


def series(text: str) -> list[str]:
    """Every sample's name and labels, without its value (lines end at \\n only: a label
    value may hold other line breaks, such as U+0085)."""
    return [line.rsplit(" ", 1)[0] for line in text.split("\n")
            if line and not line.startswith("#")]


def test_label_sets_stay_the_same_when_the_feature_file_is_edited(tmp_path: Path) -> None:
    """Issue 18: a `line` label renamed every series below an edit; outline labels ended in a
    space; the unit was a label instead of a base unit in the name."""
    root = make_project(tmp_path, {"shop.feature": OUTLINE}, steps=FAKE_STEPS)
    before = run_cli(["run", "-e", "test", "-f", "prometheus"], cwd=root)
    edited = OUTLINE.replace("Feature: Shop\n", "Feature: Shop\n  # moved by an edit\n\n\n")
    (root / "features" / "shop.feature").write_text(textwrap.dedent(edited).lstrip("\n"))
    after = run_cli(["run", "-e", "test", "-f", "prometheus"], cwd=root)
    assert (before.code, after.code) == (0, 0)
    promtool(before.stdout)
    assert series(after.stdout) == series(before.stdout)
    measured = [s for s in series(before.stdout) if s.startswith("escalator_step_measurement")]
    assert measured == [
        f'escalator_step_measurement_seconds{{environment="test",feature="Shop",'
        f'file="features/shop.feature",scenario="{name}",measurement="response_time"}}'
        for name in ("page 1 answers -- @1.1", "page 2 answers -- @1.2", "home")]
    assert 'unit="' not in before.stdout and 'line="' not in before.stdout
