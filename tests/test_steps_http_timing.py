"""Timing phrases end to end: response-time limits, repeated requests, benchmarking.

Timings on a shared 2-core machine vary, so limits are either far above what loopback needs
(to pass) or far below what a deliberately slow route takes (to fail); reasons are compared whole
with the milliseconds and the server's URL normalised.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.readable import client_budget
from tests.servers.hostile import closed_port
from tests.servers.http import Reply, Request, serve

FEATURE = """
Feature: Timing

  Scenario: Fast enough
    When I go to "/"
    Then the response time should be less than 5000 ms

  Scenario: Too slow
    When I go to "/slow?ms=300"
    Then the response time should be less than 100 ms

  Scenario: Repeated requests
    When I request "/" 5 times
    Then the 95th percentile response time should be less than 5000 ms
    And at least 100% of the requests should succeed
    And the response time should be less than 5000 ms

  Scenario: Half the requests fail
    When I request "/flaky" 4 times
    Then at least 90% of the requests should succeed

  Scenario: A slow median
    When I request "/slow?ms=150" 3 times
    Then the 50th percentile response time should be less than 100 ms

  Scenario: Nobody answers
    When I request "${dead_url}" 3 times
    Then the 95th percentile response time should be less than 100 ms

  Scenario: More requests than one step has time for
    When I request "/slow?ms=400" 12 times
    Then at least 100% of the requests should succeed

  Scenario: A hung server fails inside the step timeout
    When I go to "/hang"
    Then the request should fail
    And I should see "Welcome"

  Scenario: Benchmarking
    Given I am benchmarking
    When I go to "/slow?ms=200"
    Then the elapsed time should be less than 5 seconds
    And the elapsed time should be less than 0.1 seconds

  Scenario: Elapsed time without a start
    Then the elapsed time should be less than 5 seconds

  Scenario: A percentile without repeated requests
    When I go to "/"
    Then the 95th percentile response time should be less than 300 ms
"""


def _flaky() -> Any:
    count = itertools.count()

    def handler(_: Request) -> Reply:
        return Reply(503 if next(count) % 2 else 200, "flaky", {"Content-Type": "text/plain"})

    return handler


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    dead = f"http://127.0.0.1:{closed_port()}/"
    with serve({"/flaky": _flaky()}) as base:
        root = make_project(tmp_path_factory.mktemp("timing"), {"timing.feature": FEATURE},
                            variables={"base_url": base, "dead_url": dead})
        out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "3s"], cwd=root)
    assert out.code in (1, 2), out.stderr
    scenarios = {}
    for s in out.json["scenarios"]:
        reason = (s["reason"] or "").replace(base, "URL").replace(dead, "DEAD")
        s["reason"] = re.sub(r"(?<!than )\b\d+ ms\b", "N ms", reason)
        scenarios[s["name"]] = s
    yield scenarios


def measured(scenario: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(m["name"], m["uom"], m["crit"]) for m in scenario["measurements"]]


def test_a_limit_restates_the_request_time_with_its_threshold(results: dict[str, Any]) -> None:
    fast = results["Fast enough"]
    assert (fast["outcome"], measured(fast)) == ("passed", [("response_time", "ms", "@5000:")])
    slow = results["Too slow"]
    assert (slow["outcome"], slow["reason"]) == (
        "failed",
        "took N ms, wanted less than 100 ms: GET URL/slow?ms=300 answered 200 OK in N ms")
    assert slow["measurements"][0]["value"] >= 300


def test_repeated_requests_record_median_percentile_and_ratio(results: dict[str, Any]) -> None:
    repeated = results["Repeated requests"]
    assert repeated["outcome"] == "passed"
    assert measured(repeated) == [("samples", "", None), ("response_time", "ms", "@5000:"),
                                  ("response_time_p95", "ms", "@5000:"),
                                  ("success_ratio", "%", "100:")]
    assert [m["value"] for m in repeated["measurements"]][::3] == [5, 100]


def test_failures_are_counted_and_named(results: dict[str, Any]) -> None:
    flaky = results["Half the requests fail"]
    assert (flaky["outcome"], flaky["reason"]) == (
        "failed", "2 of 4 requests to URL/flaky succeeded (50.0%), wanted at least 90%: "
                  "2 x 503 Service Unavailable")
    assert flaky["measurements"][-1]["value"] == 50


def test_a_slow_percentile_and_no_answers_fail(results: dict[str, Any]) -> None:
    slow = results["A slow median"]
    assert (slow["outcome"], slow["reason"]) == (
        "failed",
        "50th percentile of 3 requests to URL/slow?ms=150 was N ms, wanted less than 100 ms")
    assert slow["measurements"][2]["value"] >= 150
    dead = results["Nobody answers"]
    assert (dead["outcome"], dead["reason"]) == (
        "failed", "none of 3 requests to DEAD got an answer: 3 x connection refused")


def test_requests_get_the_time_their_count_needs(results: dict[str, Any]) -> None:
    # 12 x 400 ms need more than the 3 s of one step: the step allows itself 12 step timeouts
    many = results["More requests than one step has time for"]
    assert (many["outcome"], many["reason"]) == ("passed", "")
    assert [m["value"] for m in many["measurements"] if m["name"] == "samples"] == [12]


def test_a_hung_server_is_reported_by_the_probe_not_killed(results: dict[str, Any]) -> None:
    hung = results["A hung server fails inside the step timeout"]
    assert (hung["outcome"], client_budget(hung["reason"], 3.0)) == (
        "failed", "GET URL/hang got no answer in N ms: no answer within Bs")
    assert [s["status"] for s in hung["steps"]] == ["passed", "passed", "failed"]


def test_benchmarking(results: dict[str, Any]) -> None:
    bench = results["Benchmarking"]
    assert bench["outcome"] == "failed"
    assert re.fullmatch(r"0\.\d\d s since benchmarking began, wanted less than 0\.1 s",
                        bench["reason"])
    assert measured(bench) == [("response_time", "ms", None), ("elapsed", "s", "@5:"),
                               ("elapsed_2", "s", "@0.1:")]
    assert (results["Elapsed time without a start"]["outcome"],
            results["Elapsed time without a start"]["reason"]) == (
        "unknown", 'start the clock first with "Given I am benchmarking"')
    assert results["A percentile without repeated requests"]["reason"] == (
        'no repeated requests yet (start with When I request "/" 20 times)')
