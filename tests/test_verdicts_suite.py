"""Suite-level verdicts that must be true (issue 15): what a feature file or an environment gets
wrong makes only the scenarios it touches UNKNOWN, and says so; everything else keeps its verdict.

Outlines without rows, unset secrets, misspelled variable names, `${name}` in numbers and
`$${name}` escapes, a scenario's tags overriding its feature's, a broken file among good ones,
and perfdata labels that keep the measurement's name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from escalator.formatters import perfdata
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult
from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli
from tests.servers.http import serve

LADDER = """
[ladder]
[[ladder.level]]
id = "network"
run = ["/bin/true"]
[[ladder.level]]
id = "deploy"
run = ["/bin/true"]
"""


def project(tmp_path: Path, features: dict[str, str], **kwargs: Any) -> Path:
    return make_project(tmp_path, features, steps=FAKE_STEPS, **kwargs)


def verdicts(out: Any) -> list[tuple[str, str, str | None]]:
    return [(s["name"], s["outcome"], s["reason"]) for s in out.json["scenarios"]]


def normalise(text: str) -> str:
    return re.sub(r"time=[0-9.]+s", "time=Ts", text)


def test_an_outline_without_examples_is_unknown(tmp_path: Path) -> None:
    root = project(tmp_path, {"o.feature": """
        Feature: Outlines
          Scenario Outline: no examples at all
            Then it fails with "<what>"

          Scenario Outline: examples without a row
            Then it fails with "<what>"
            Examples:
              | what |

          Scenario: fine
            Then it passes
        """})
    out = run_cli(["check", "-e", "test"], cwd=root)
    why = ("a Scenario Outline without Examples rows runs nothing: add an Examples table with "
           "at least one row")
    assert (out.code, normalise(out.stdout)) == (3, (
        f"ESCALATOR UNKNOWN - features/o.feature:2: {why} | scenarios=3;;;0 passed=1;;;0 "
        "failed=0;;;0 unknown=2;;;0 time=Ts;;50;0\n"
        "UNKNOWN no examples at all (features/o.feature:2)\n"
        f"  {why}\n"
        "UNKNOWN examples without a row (features/o.feature:5)\n"
        f"  {why}\n"
        f"error: features/o.feature:2: {why}\n"
        f"error: features/o.feature:5: {why}\n"))


SECRET_CONFIG = """
[environments.test.token]
env = "ESCALATOR_TEST_UNSET_TOKEN"
"""


def test_an_unset_secret_makes_only_the_scenarios_that_use_it_unknown(tmp_path: Path) -> None:
    root = project(tmp_path, {"s.feature": """
        Feature: Secrets
          Scenario: uses the secret
            Then it fails with "token ${token} rejected"

          Scenario: never mentions it
            Then it passes

          Scenario: fails on its own
            Then it fails with "down"
        """}, config=SECRET_CONFIG)
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root, environ={})
    assert verdicts(out) == [
        ("uses the secret", "unknown", "${token}: the environment variable "
         "ESCALATOR_TEST_UNSET_TOKEN is not set (secret token of environment test)"),
        ("never mentions it", "passed", None),
        ("fails on its own", "failed", "down"),
    ]
    assert (out.code, out.json["status"]) == (2, "CRITICAL")  # run: an unknown is exit 2


def test_a_step_that_reads_an_unset_secret_is_unknown(tmp_path: Path) -> None:
    config = '[environments.test.tls_ca_bundle]\nenv = "ESCALATOR_TEST_UNSET_BUNDLE"\n'
    with serve() as base:
        root = project(tmp_path, {"w.feature": """
            Feature: Web
              Scenario: a request reads tls_ca_bundle
                When I go to "/"

              Scenario: no request
                Then it passes
            """}, variables={"base_url": base}, config=config)
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root, environ={})
    assert verdicts(out) == [
        ("a request reads tls_ca_bundle", "unknown", "${tls_ca_bundle}: the environment "
         "variable ESCALATOR_TEST_UNSET_BUNDLE is not set (secret tls_ca_bundle of environment "
         "test)"),
        ("no request", "passed", None)]


def test_a_misspelled_variable_is_named_with_the_closest_known_one(tmp_path: Path) -> None:
    root = project(tmp_path, {"t.feature": """
        Feature: Typos
          Scenario: uses its own variable
            When I run 'test "${owner}" = ops'
            Then it should exit '0'
        """}, variables={"nameservr": "127.0.0.1:53", "tls_ca_bundel": "/etc/ca.pem",
                         "owner": "ops", "ownr": "ops", "zzz": "1"})
    json_out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    notices = [
        "environment test: nameservr is used by no step or feature (did you mean nameserver?)",
        "environment test: ownr is used by no step or feature (did you mean owner?)",
        "environment test: tls_ca_bundel is used by no step or feature (did you mean "
        "tls_ca_bundle?)",
        "environment test: zzz is used by no step or feature",
    ]
    assert (json_out.code, json_out.json["notices"]) == (0, notices)
    nagios = run_cli(["check", "-e", "test"], cwd=root)
    assert nagios.stdout.splitlines()[1:] == [f"notice: {n}" for n in notices]
    pretty = run_cli(["run", "-e", "test", "-f", "pretty"], cwd=root)
    assert [line for line in pretty.stdout.splitlines() if line.startswith("notice")] == [
        f"notice: {n}" for n in notices]


def test_variables_expand_in_numbers_and_an_escape_keeps_a_shell_variable(
        tmp_path: Path) -> None:
    with serve() as base:
        root = project(tmp_path, {"n.feature": """
            Feature: Numbers
              Scenario: a threshold, a count and a port from variables
                When I request "/" ${count} times
                Then the 95th percentile response time should be less than ${limit} ms
                And port ${port} on "127.0.0.1" should be open

              Scenario: a number that is not one
                When I go to "/"
                Then the response time should be less than ${word} ms

              Scenario: the shell's own variable
                When I run 'printf "%s" "$${HOME}"'
                Then 'stdout' should have '${home}'
            """}, variables={"base_url": base, "count": "3", "limit": "5000", "word": "fast",
                             "port": base.rsplit(":", 1)[1], "home": os.environ["HOME"]})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root, environ={})
    assert verdicts(out) == [
        ("a threshold, a count and a port from variables", "passed", None),
        ("a number that is not one", "unknown", "${word} is 'fast', not a number"),
        ("the shell's own variable", "passed", None),
    ]
    (first, *_) = out.json["scenarios"]
    assert [(m["name"], m["crit"]) for m in first["measurements"]] == [
        ("samples", None), ("response_time", None), ("response_time_p95", "@5000:"),
        ("connect_time", None)]


def test_a_scenario_tag_overrides_its_feature_tag(tmp_path: Path) -> None:
    root = project(tmp_path, {"t.feature": """
        @escalate.network @critical
        Feature: Tags
          @escalate.deploy @warning
          Scenario: its own level and severity
            Then it fails with "down"

          Scenario: the feature's
            Then it fails with "down"
        """}, config=LADDER)
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert out.json["errors"] == []
    assert [(s["name"], s["level"], s["severity"]) for s in out.json["scenarios"]] == [
        ("its own level and severity", "deploy", "warning"),
        ("the feature's", "network", "critical")]


def test_a_broken_file_leaves_the_other_files_verdicts_standing(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "a_broken.feature": "Feature: Broken\n  Scenario: x\n    Then it passes\n  Oops\n",
        "b_good.feature": """
            Feature: Good
              Scenario: passes
                Then it passes
              Scenario: fails
                Then it fails with "refused"
            """,
        "c_tags.feature": """
            Feature: Bad tags
              @escalate.nowhere
              Scenario: unknown level
                Then it passes
              @timeout.soon
              Scenario: bad timeout
                Then it passes
              Scenario: fine
                Then it passes
            """}, config=LADDER)
    out = run_cli(["check", "-e", "test"], cwd=root)
    data = run_cli(["run", "-e", "test", "-f", "json"], cwd=root).json
    assert [(s["file"], s["name"], s["outcome"], s["reason"]) for s in data["scenarios"]] == [
        ("features/b_good.feature", "passes", "passed", None),
        ("features/b_good.feature", "fails", "failed", "refused"),
        ("features/c_tags.feature", "unknown level", "unknown",
         "@escalate.nowhere: no such ladder level (levels: network, deploy)"),
        ("features/c_tags.feature", "bad timeout", "unknown",
         "@timeout.soon: bad duration 'soon': give a number with a unit, e.g. 500ms, 30s, 5m, "
         "2h"),
        ("features/c_tags.feature", "fine", "passed", None),
    ]
    assert [e.split(": ")[0] for e in data["errors"]] == [
        "features/a_broken.feature:4", "features/c_tags.feature:3", "features/c_tags.feature:6"]
    assert out.code == 3 and out.line1.startswith("ESCALATOR UNKNOWN - features/a_broken")


def test_perfdata_labels_keep_the_measurement_name_whole() -> None:
    name = "A scenario with a rather long name that goes on and on"
    measured = (Measurement("response_time_p99", 12.0, "ms"),
                Measurement("response_time", 10.0, "ms"))
    run = RunResult(scenarios=(
        ScenarioResult("F", "f.feature", 3, name, Outcome.PASSED, measurements=measured),
        ScenarioResult("F", "f.feature", 9, name + " too", Outcome.PASSED,
                       measurements=measured)))
    labels = [item.rsplit("=", 1)[0] for item in perfdata.measurements(run)]
    assert labels == [
        "'A scenario with a rather long name that... response_time_p99'",
        "'A scenario with a rather long name that goe... response_time'",
        "'A scenario with a rather long name th... response_time_p99_2'",
        "'A scenario with a rather long name that g... response_time_2'",
    ]
    assert all(len(label.strip("'")) <= 60 for label in labels)
