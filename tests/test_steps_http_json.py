"""JSON phrases end to end: JSONPath equality and freshness against a live /times document.

/times is written at request time: "fresh" is 30 s old (ISO 8601, Z), "epoch" 2 minutes old
(epoch seconds), "stale" 2 hours old, "future" a day ahead; /json is a fixed document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.http import serve, site_routes

FEATURE = """
Feature: JSON

  Scenario: Values
    When I go to "/times"
    Then the JSON at "$.status" should be "ok"
    And the JSON at "$.count" should be "3"
    And the JSON at "$.up" should be "true"
    And the JSON at "$.none" should be "null"
    And the JSON at "$.checks[?(@.name == 'db')].ok" should be "true"
    And the JSON at "$.checks[1].name" should be "disk"

  Scenario: Fresh times
    When I go to "/times"
    Then the JSON at "$.fresh" should be a time within the last 5 minutes
    And the JSON at "$.epoch" should be a time within the last 5 minutes
    And the JSON at "$['fresh', 'stale']" should be a time within the last 1 minutes

  Scenario: A different value
    When I go to "/times"
    Then the JSON at "$.status" should be "down"

  Scenario: Not every value matches
    When I go to "/times"
    Then the JSON at "$.checks[*].ok" should be "true"

  Scenario: Nothing at the path
    When I go to "/json"
    Then the JSON at "$.uptime" should be "1"

  Scenario: A stale time
    When I go to "/times"
    Then the JSON at "$.stale" should be a time within the last 60 minutes

  Scenario: A time in the future
    When I go to "/times"
    Then the JSON at "$.future" should be a time within the last 60 minutes

  Scenario: Not a time
    When I go to "/times"
    Then the JSON at "$.word" should be a time within the last 60 minutes

  Scenario: A missing time
    When I go to "/times"
    Then the JSON at "$.heartbeat" should be a time within the last 60 minutes

  Scenario: Not JSON
    When I go to "/"
    Then the JSON at "$.status" should be "ok"

  Scenario: A path we cannot read
    When I go to "/times"
    Then the JSON at "$[" should be "ok"
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with serve(site_routes()) as base:
        root = make_project(tmp_path_factory.mktemp("json"), {"json.feature": FEATURE},
                            variables={"base_url": base})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert out.code in (1, 2), out.stderr
    scenarios = {}
    for s in out.json["scenarios"]:
        s["reason"] = (s["reason"] or "").replace(base, "URL")
        scenarios[s["name"]] = s
    yield scenarios


def test_values_and_fresh_times_pass(results: dict[str, Any]) -> None:
    assert results["Values"]["outcome"] == "passed", results["Values"]["reason"]
    fresh = results["Fresh times"]
    assert fresh["outcome"] == "passed", fresh["reason"]
    ages = [(m["name"], m["uom"], m["crit"], m["value"]) for m in fresh["measurements"]]
    assert [a[:3] for a in ages] == [("response_time", "ms", None), ("json_age", "s", "~:300"),
                                     ("json_age_2", "s", "~:300"), ("json_age_3", "s", "~:60")]
    assert 25 < ages[1][3] < 120 and 115 < ages[2][3] < 240 and 25 < ages[3][3] < 120


@pytest.mark.parametrize(("name", "reason"), [
    ("A different value", "$.status is 'ok', not 'down'"),
    ("Not every value matches", "$.checks[*].ok is 'false', not 'true'"),
    ("Nothing at the path",
     "nothing at $.uptime in the JSON of URL/json (200); "
     "body: '{\"status\": \"ok\", \"version\": \"1.2.3\"}'"),
    ("Not a time", "$.word is 'soon': not an ISO 8601 time or epoch seconds"),
    ("Not JSON", "the answer of URL/ (200) is not JSON (Expecting value at line 1 column 1); "
                 "body: 'Welcome All systems go.'"),
])
def test_failures_say_what_was_found(results: dict[str, Any], name: str, reason: str) -> None:
    assert (results[name]["outcome"], results[name]["reason"]) == ("failed", reason)


def test_stale_future_and_missing_times_fail(results: dict[str, Any]) -> None:
    stale = results["A stale time"]
    assert stale["outcome"] == "failed"
    assert re.fullmatch(r"\$\.stale is '[-\d]+T[\d:.]+\+00:00', 2\.0 hours old, "
                        r"wanted within the last 60 minutes", stale["reason"]), stale["reason"]
    assert stale["measurements"][-1]["crit"] == "~:3600"
    future = results["A time in the future"]
    assert re.fullmatch(r"\$\.future is '.*', 1440 minutes in the future", future["reason"])
    missing = results["A missing time"]
    assert missing["outcome"] == "failed"
    assert missing["reason"].startswith("nothing at $.heartbeat in the JSON of URL/times (200); "
                                        "body starts: '{\"status\": \"ok\", ")


def test_a_path_we_cannot_read_is_our_mistake(results: dict[str, Any]) -> None:
    bad = results["A path we cannot read"]
    assert (bad["outcome"], bad["reason"]) == (
        "unknown", "bad JSONPath '$[': Parse error near the end of string!")
