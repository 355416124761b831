"""Deadlines against real hung targets: a server that accepts and never answers cannot hold the
run past its deadline, and finished scenarios keep their verdicts."""

from __future__ import annotations

import time
from pathlib import Path

from tests.project import make_project, run_cli


def test_hung_server_cut_at_the_run_deadline(tmp_path: Path, http_server: str) -> None:
    quick = "".join(f"""
  Scenario: page {i}
    When I go to "/"
    Then I should see "Welcome"
""" for i in range(9))
    root = make_project(tmp_path, {"d.feature": "Feature: Deadline\n" + quick + """
  Scenario: the hung one
    When I go to "/hang"
    Then the request should succeed
"""}, variables={"base_url": http_server})
    begun = time.monotonic()
    out = run_cli(["check", "-e", "test", "--timeout", "5s", "--step-timeout", "60s"], cwd=root)
    took = time.monotonic() - begun
    assert took < 6.0
    assert out.code == 2
    assert out.line1.startswith("ESCALATOR CRITICAL - 1 of 10 scenarios failing: the hung one |")
    assert "cut off by the run deadline (5s) in When I go to \"/hang\"" in out.stdout


def test_hung_server_cut_by_the_step_timeout(tmp_path: Path, http_server: str) -> None:
    root = make_project(tmp_path, {"d.feature": """
        Feature: Step deadline
          Scenario: the hung one
            When I go to "/hang"
            Then the request should succeed
          Scenario: fine
            When I go to "/"
            Then the request should succeed
        """}, variables={"base_url": http_server})
    begun = time.monotonic()
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "1s"], cwd=root)
    assert time.monotonic() - begun < 5
    hung, fine = out.json["scenarios"]
    assert (hung["outcome"], fine["outcome"]) == ("failed", "passed")
    assert "/hang" in hung["reason"]
