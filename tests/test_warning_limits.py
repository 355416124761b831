"""Warning and critical on one measurement (issue 20, item 3), end to end on loopback servers.

`..., warning above 300 ms` / `..., warning below 30` give one perfdata series with both limits;
the value decides WARNING or CRITICAL, whatever the scenario's tags say (the tags still cap a
`@warning` scenario, and a warning never hides a later failure).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.dns import nsd_server
from tests.servers.http import serve, site_routes
from tests.servers.tls import TestCA

WEB = """
Feature: Limits with a warning

  Scenario: Fast
    When I go to "/"
    Then the response time should be less than 5000 ms, warning above 4000 ms

  Scenario: Slow enough to warn
    When I go to "/slow?ms=300"
    Then the response time should be less than 5000 ms, warning above 100 ms

  Scenario: Too slow
    When I go to "/slow?ms=300"
    Then the response time should be less than 100 ms, warning above 50 ms

  Scenario: A warning does not hide a later failure
    When I go to "/slow?ms=300"
    Then the response time should be less than 5000 ms, warning above 100 ms
    And I should see "Welcome"

  @warning
  Scenario: A warning scenario past its critical limit
    When I go to "/slow?ms=300"
    Then the response time should be less than 100 ms, warning above 50 ms
"""


def _normalise(text: str, base: str) -> str:
    text = re.sub(r"time=[0-9.]+s", "time=Ts", text.replace(base, "URL"))
    text = re.sub(r"=\d+(\.\d+)?ms;", "=Nms;", text)
    return re.sub(r"(took|in|200,) \d+ ms\b", r"\1 N ms", text)


def test_the_value_decides_warning_or_critical_with_one_series(tmp_path: Path) -> None:
    with serve() as base:
        root = make_project(tmp_path, {"w.feature": WEB}, variables={"base_url": base})
        out = run_cli(["check", "-e", "test"], cwd=root)
    assert out.code == 2
    assert _normalise(out.stdout, base) == (
        "ESCALATOR CRITICAL - 4 of 5 scenarios failing: Too slow, A warning does not hide a "
        "later failure, Slow enough to warn, A warning scenario past its critical... | "
        "scenarios=5;;;0 "
        "passed=1;;;0 failed=4;;;0 unknown=0;;;0 time=Ts;;50;0 "
        "'Fast response_time'=Nms;4000;@5000: "
        "'Slow enough to warn response_time'=Nms;100;@5000: "
        "'Too slow response_time'=Nms;50;@100: "
        "'A warning does not hide a later failure response_time'=Nms;100;@5000: "
        "'A warning scenario past its critical limit response_time'=Nms;50;@100:\n"
        "WARNING Slow enough to warn (features/w.feature:7)\n"
        "  Then the response time should be less than 5000 ms, warning above 100 ms: took N ms, "
        "warning above 100 ms: GET URL/slow?ms=300 answered 200 OK in N ms\n"
        "CRITICAL Too slow (features/w.feature:11)\n"
        "  Then the response time should be less than 100 ms, warning above 50 ms: took N ms, "
        "wanted less than 100 ms: GET URL/slow?ms=300 answered 200 OK in N ms\n"
        "CRITICAL A warning does not hide a later failure (features/w.feature:15)\n"
        "  And I should see \"Welcome\": 'Welcome' not found in 13 B body of URL/slow?ms=300 "
        "(200, N ms); body: 'slow but fine'\n"
        "WARNING A warning scenario past its critical limit (features/w.feature:21) @warning\n"
        "  Then the response time should be less than 100 ms, warning above 50 ms: took N ms, "
        "wanted less than 100 ms: GET URL/slow?ms=300 answered 200 OK in N ms\n")


def test_json_output_marks_the_warning_step_and_the_scenario(tmp_path: Path) -> None:
    with serve() as base:
        root = make_project(tmp_path, {"w.feature": WEB}, variables={"base_url": base})
        data = run_cli(["run", "-e", "test", "-f", "json", "-t", "not @warning"], cwd=root).json
    warned = {s["name"]: s for s in data["scenarios"]}["Slow enough to warn"]
    assert (warned["outcome"], warned["severity"], warned["warning_only"]) == (
        "failed", "critical", True)
    assert [s["status"] for s in warned["steps"]] == ["passed", "warning"]
    hidden = {s["name"]: s for s in data["scenarios"]}["A warning does not hide a later failure"]
    assert ([s["status"] for s in hidden["steps"]], hidden["warning_only"]) == (
        ["passed", "warning", "failed"], False)
    (measured,) = warned["measurements"]
    assert (measured["warn"], measured["crit"]) == ("100", "@5000:")


OTHERS = """
Feature: Warning limits across the phrases

  Scenario: Certificate days, the unit left out
    Then the TLS certificate of "${soon}" should be valid for at least 3 days, warning below 30

  Scenario: Certificate days past the critical limit
    Then the TLS certificate of "${soon}" should be valid for at least 14 days, warning below 30 days

  Scenario: Percentile and success ratio
    When I request "/slow?ms=120" 3 times
    Then the 95th percentile response time should be less than 5000 ms, warning above 50 ms
    And at least 50% of the requests should succeed, warning below 100%

  Scenario: DNS lookup time
    When I look up the A record for "www.example.test"
    Then the lookup should take less than 5000 ms, warning above 0.0001 ms

  Scenario: A file's age
    Then the file "${old_file}" should have been modified within the last 24 hours, warning above 1 hour

  Scenario: A JSON time's age
    When I go to "/times"
    Then the JSON at "$.stale" should be a time within the last 600 minutes, warning above 60

  Scenario: Benchmarking
    Given I am benchmarking
    When I go to "/slow?ms=200"
    Then the elapsed time should be less than 30 seconds, warning above 0.1 seconds

  Scenario: A warning limit that never comes first
    When I go to "/"
    Then the response time should be less than 500 ms, warning above 600 ms
"""  # noqa: E501 - feature lines as an operator writes them


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    old = tmp_path_factory.mktemp("files") / "backup.dump"
    old.write_text("x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    with ExitStack() as stack:
        soon = stack.enter_context(ca.serve("soon")).removeprefix("https://")
        nsd = stack.enter_context(nsd_server(tmp_path_factory.mktemp("nsd")))
        base = stack.enter_context(serve(site_routes()))
        root = make_project(tmp_path_factory.mktemp("others"), {"o.feature": OTHERS}, variables={
            "base_url": base, "soon": soon, "tls_ca_bundle": str(ca.bundle), "nameserver": nsd,
            "old_file": str(old)})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    yield {s["name"]: s for s in out.json["scenarios"]}


def _verdict(scenario: dict[str, Any]) -> tuple[str, bool, list[tuple[str, str | None,
                                                                         str | None]]]:
    limits = [(m["name"], m["warn"], m["crit"]) for m in scenario["measurements"]
              if m["warn"] or m["crit"]]
    return scenario["outcome"], scenario["warning_only"], limits


def test_every_threshold_phrase_has_a_warning_limit(others: dict[str, Any]) -> None:
    assert {name: _verdict(s) for name, s in others.items()} == {
        "Certificate days, the unit left out": (
            "failed", True, [("days_left", "30:", "3:")]),
        "Certificate days past the critical limit": (
            "failed", False, [("days_left", "30:", "14:")]),
        "Percentile and success ratio": (
            "failed", True, [("response_time_p95", "50", "@5000:"),
                             ("success_ratio", "100:", "50:")]),
        "DNS lookup time": ("failed", True, [("lookup_time", "0.0001", "@5000:")]),
        "A file's age": ("failed", True, [("file_age", "~:3600", "~:86400")]),
        "A JSON time's age": ("failed", True, [("json_age", "~:3600", "~:36000")]),
        "Benchmarking": ("failed", True, [("elapsed", "0.1", "@30:")]),
        "A warning limit that never comes first": ("unknown", False, []),
    }


def test_warning_reasons_echo_the_clause(others: dict[str, Any]) -> None:
    reasons = {name: re.sub(r"\d+(\.\d+)? (ms|hours|minutes|days|s)\b", r"N \2",
                            s["reason"] or "") for name, s in others.items()}
    assert reasons["Certificate days, the unit left out"].endswith(
        "expires in N days (" + reasons["Certificate days, the unit left out"].split(" (")[1]
        .split(")")[0] + "), warning below N days")
    assert reasons["A file's age"].endswith("was last modified N hours ago, warning above N hours")
    assert reasons["A JSON time's age"].endswith(", N hours old, warning above N minutes")
    assert reasons["Benchmarking"] == "N s since benchmarking began, warning above N s"
    assert reasons["A warning limit that never comes first"] == (
        "the warning limit (above N ms) must be crossed before the critical one (less than N "
        "ms)")
