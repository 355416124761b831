"""The same scenarios give the same results under `escalator run` and under plain behave
(`python -m behave` with the `environment.py` that `escalator init` writes, and Escalator's
JSON format as a behave formatter): `${name}` in numbers and `$${name}` escapes resolved by
the one step guard, warning-only scenarios WARNING, unset secrets and bad numbers UNKNOWN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escalator.results import ScenarioResult
from tests.project import child_environ, run_cli
from tests.servers.api import api_routes
from tests.servers.http import serve

FEATURE = """\
Feature: Both ways

  Scenario: A limit from a variable
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than ${limit}

  Scenario: Deep enough to warn
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than 100, warning above ${warn_at}
    And the request should succeed

  Scenario: A warning does not hide a later failure
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than 100, warning above 40
    And the JSON at "$.price" should be 8

  @warning
  Scenario: A warning scenario past its limit
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than 42, warning above 40

  Scenario: The shell keeps its own variable
    When I run 'printf "%s" "$${HOME}"'
    Then 'stdout' should have '${home}'

  Scenario: A number that is not one
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than ${word}

  Scenario: A secret that is not set
    Given I use the bearer token "${token}"
    When I go to "/api/whoami"
"""

SECRET_ENV = "BOTH_WAYS_TOKEN_NOT_SET"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    top = tmp_path_factory.mktemp("both")
    assert run_cli(["init", "site"], cwd=top).code == 0
    root = top / "site"
    (root / "features/health.feature").unlink()
    (root / "features/both.feature").write_text(FEATURE)
    with serve(api_routes()) as base:
        (root / "escalator.toml").write_text(
            f'[environments.local]\nbase_url = "{base}"\nlimit = "100"\nwarn_at = "40"\n'
            f'word = "fast"\nhome = {json.dumps(os.environ["HOME"])}\n'
            f'token = {{ env = "{SECRET_ENV}" }}\n')
        yield root


def _comparable(run: dict[str, Any]) -> list[dict[str, Any]]:
    """What a scenario's result says, without what differs from run to run (times)."""
    return [{"name": s["name"], "outcome": s["outcome"], "severity": s["severity"],
             "status": ScenarioResult.from_dict(s).status.name,
             "warning_only": s["warning_only"], "reason": s["reason"],
             "steps": [(step["status"], step["error"]) for step in s["steps"]],
             "measurements": [(m["name"], m["warn"], m["crit"]) for m in s["measurements"]]}
            for s in run["scenarios"]]


def test_plain_behave_and_escalator_run_agree(project: Path) -> None:
    environ = {k: v for k, v in child_environ().items() if k != SECRET_ENV}
    done = subprocess.run([sys.executable, "-m", "behave", "--no-color", "-D", "env=local",
                           "-f", "escalator.behave_formats:Json", "-o", "behave.json"],
                          cwd=project, capture_output=True, text=True, timeout=120,
                          check=False, env=environ)
    assert done.returncode == 1, done.stdout + done.stderr
    plain = json.loads((project / "behave.json").read_text())
    ours = run_cli(["run", "-e", "local", "-f", "json"], cwd=project, environ={}).json
    assert _comparable(plain) == _comparable(ours)
    assert (plain["status"], ours["status"]) == ("CRITICAL", "CRITICAL")
    assert [(s["name"], s["status"], s["warning_only"]) for s in _comparable(ours)] == [
        ("A limit from a variable", "OK", False),
        ("Deep enough to warn", "WARNING", True),
        ("A warning does not hide a later failure", "CRITICAL", False),
        ("A warning scenario past its limit", "WARNING", False),
        ("The shell keeps its own variable", "OK", False),
        ("A number that is not one", "UNKNOWN", False),
        ("A secret that is not set", "UNKNOWN", False)]
    reasons = {s["name"]: s["reason"] for s in _comparable(ours)}
    assert reasons["Deep enough to warn"] == "$.queue_depth is 42, warning above 40"
    assert reasons["A number that is not one"] == "${word} is 'fast', not a number"
    assert reasons["A secret that is not set"] == (
        f"${{token}}: the environment variable {SECRET_ENV} is not set (secret token of "
        "environment local)")
