"""HTTP phrases end to end: `escalator run` against a real loopback web site.

One project per module, several scenarios per run; each test reads the verdict and reason of
its scenarios. Reasons are compared whole, with the server's URL and millisecond timings
normalised (they change from run to run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import closed_port
from tests.servers.http import serve, site_routes

FEATURE = """
Feature: Web site

  Scenario: Page text is literal text
    When I go to "/site"
    Then I should see "Fish & Chips"
    And I should see "<h1>Fish &amp; Chips</h1>"
    And I should see "Open today"
    And I should not see "Fish.*Chips"
    And I should not see "Fish.*"
    And I should see a notice message
    And the request should succeed

  Scenario: A regular expression is not a match
    When I go to "/site"
    Then I should see "Fish.*Chips"

  Scenario: Text that is there cannot be unseen
    When I go to "/site"
    Then I should not see "Open today"

  Scenario: A missing message class
    When I go to "/site"
    Then I should see an error message

  Scenario: A 404 page can be tested
    When I go to "/status/404"
    Then the request should fail
    And the response status should be 404
    And the page request should fail
    And I should see "status 404"

  Scenario: A server error does not succeed
    When I go to "/status/500"
    Then the request should succeed

  Scenario: A good page does not fail
    When I go to "/"
    Then the home request should fail

  Scenario: The wrong status
    When I go to "/"
    Then the response status should be 404

  Scenario: A refused connection fails the request
    When I go to "${dead_url}"
    Then the request should fail

  Scenario: A refused connection has no text
    When I go to "${dead_url}"
    Then I should see "Welcome"

  Scenario: Redirected
    When I go to "/redirect?to=/about"
    Then I should have been redirected to "/about"
    And I should have been redirected to "${base_url}/about"
    And I should see "About us"

  Scenario: Not redirected
    When I go to "/about"
    Then I should have been redirected to "/about"

  Scenario: Redirected elsewhere
    When I go to "/redirect?to=/about"
    Then I should have been redirected to "/site"

  Scenario: Headers
    When I fetch headers from "/headers"
    Then the "Cache-Control" header should be "max-age=60"
    And the "cache-control" header should contain "age="
    And the "Cache-Control" header should not contain "private"
    And the response should contain the "X-Frame-Options" header
    And the response should not contain the "X-Powered-By" header

  Scenario: A header with another value
    When I fetch headers from "/headers"
    Then the "X-Frame-Options" header should be "SAMEORIGIN"

  Scenario: A header without the text
    When I fetch headers from "/headers"
    Then the "Cache-Control" header should contain "no-store"

  Scenario: A header with the text
    When I fetch headers from "/headers"
    Then the "Cache-Control" header should not contain "max-age"

  Scenario: A missing header
    When I fetch headers from "/headers"
    Then the response should contain the "Strict-Transport-Security" header

  Scenario: A header that should be absent
    When I fetch headers from "/headers"
    Then the response should not contain the "X-Frame-Options" header

  Scenario: Basic authentication
    Given I am HTTP basic authenticated with the following credentials:
      | username | password    |
      | monitor  | ${password} |
    When I go to "/basic"
    Then the request should succeed

  Scenario: Digest authentication is real digest
    Given I am HTTP digest authenticated with the following credentials:
      | username | password    |
      | monitor  | ${password} |
    When I go to "/digest"
    Then I should see "digest ok"

  Scenario: Digest credentials for a basic-only page
    Given I am HTTP digest authenticated with the following credentials:
      | username | password    |
      | monitor  | ${password} |
    When I go to "/basic"
    Then the request should succeed

  Scenario: Credentials without a table
    Given I am HTTP basic authenticated with the following credentials:
    When I go to "/basic"

  Scenario: No request yet
    Then the request should succeed

  Scenario: An unknown variable
    When I go to "${nowhere}/x"
"""


def norm(text: str | None, base: str, dead: str) -> str:
    text = (text or "").replace(base, "URL").replace(dead, "DEAD")
    return re.sub(r"\b\d+ ms\b", "N ms", text)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    dead = f"http://127.0.0.1:{closed_port()}/"
    with serve(site_routes()) as base:
        root = make_project(tmp_path_factory.mktemp("web"), {"web.feature": FEATURE},
                            variables={"base_url": base, "dead_url": dead,
                                       "password": {"env": "WEB_PASSWORD"}})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root,
                      environ={"WEB_PASSWORD": "s3cret"})
    assert out.code in (1, 2), out.stderr  # failed scenarios, and unknown ones
    yield {"base": base, "dead": dead,
           "scenarios": {s["name"]: s for s in out.json["scenarios"]}, "out": out}


def verdict(results: dict[str, Any], name: str) -> tuple[str, str]:
    scenario = results["scenarios"][name]
    return scenario["outcome"], norm(scenario["reason"], results["base"], results["dead"])


@pytest.mark.parametrize("name", [
    "Page text is literal text", "A 404 page can be tested",
    "A refused connection fails the request", "Redirected", "Headers", "Basic authentication",
    "Digest authentication is real digest"])
def test_passing_scenarios(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("passed", "")


FAILURES = {
    "A regular expression is not a match":
        "'Fish.*Chips' not found in 1.5 KiB body of URL/site (200, N ms); body: 'Fish & Chips "
        "Open today About us Log in Menu Your name: Email none Size Small Large Peas Vinegar Salt "
        "Send news Pick up Express Save'",
    "Text that is there cannot be unseen":
        "'Open today' found in the visible text of URL/site (200): 'Fish & Chips Open today "
        "About us Log in Menu Your...'",
    "A missing message class": 'no element of class "error" on URL/site',
    "A server error does not succeed":
        "GET URL/status/500 answered 500 Internal Server Error in N ms; body: 'status 500'",
    "A good page does not fail": "expected a failure but GET URL/ answered 200 OK in N ms",
    "The wrong status": "expected status 404: GET URL/ answered 200 OK in N ms",
    "A refused connection has no text": "GET DEAD got no answer in N ms: connection refused",
    "Not redirected": "not redirected: GET URL/about answered 200 OK in N ms",
    "Redirected elsewhere":
        "redirected to URL/about, not URL/site: GET URL/redirect?to=/about answered 200 OK in "
        "N ms (redirected to URL/about)",
    "A header with another value": "the \"X-Frame-Options\" header is 'DENY', not 'SAMEORIGIN'",
    "A header without the text":
        "the \"Cache-Control\" header is 'max-age=60', without 'no-store'",
    "A header with the text": "the \"Cache-Control\" header is 'max-age=60', with 'max-age'",
    "A missing header":
        'no "Strict-Transport-Security" header in the answer of URL/headers (200); headers: '
        "Cache-Control, Content-Length, Content-Type, Date, Server, X-Frame-Options",
    "A header that should be absent": 'the answer of URL/headers has "X-Frame-Options: DENY"',
    "Digest credentials for a basic-only page":
        "GET URL/basic answered 401 Unauthorized in N ms; body: 'no'",
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenarios_say_why(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("failed", FAILURES[name])


def test_our_own_mistakes_are_unknown(results: dict[str, Any]) -> None:
    assert verdict(results, "Credentials without a table") == (
        "unknown", "give the credentials as a table: | username | password |")
    assert verdict(results, "No request yet") == (
        "unknown", 'no request made yet in this scenario (start with When I go to "/")')
    outcome, reason = verdict(results, "An unknown variable")
    assert outcome == "unknown"
    assert reason.startswith("unknown variable ${nowhere} (known: base_url, dead_url, password")


def test_every_request_records_its_time(results: dict[str, Any]) -> None:
    measured = results["scenarios"]["Redirected"]["measurements"]
    assert [(m["name"], m["uom"], m["crit"]) for m in measured] == [
        ("response_time", "ms", None)]
    assert 0 < measured[0]["value"] < 5000


def test_the_secret_never_shows(results: dict[str, Any]) -> None:
    assert "s3cret" not in results["out"].stdout


CUCUMBER_NAGIOS = """
Feature: shop.example
  It should be up

  Scenario: Visiting home page
    When I go to "{base}/site"
    Then the request should succeed
    Then I should see "About us"

  Scenario: Searching
    Given I am benchmarking
    When I go to "{base}/site"
    And I fill in "q" with "haddock"
    And I press "Search"
    Then the request should succeed
    And I should see "q=haddock"
    And the elapsed time should be less than 5 seconds

  Scenario: Logging in
    When I go to "{base}/login"
    And I fill in "Username" with "monitor"
    And I fill in "Password" with "s3cret"
    And I check "Remember me"
    And I press "Log in"
    Then I should see "Welcome back"

  Scenario: Headers
    When I fetch headers from "{base}/headers"
    Then the "X-Frame-Options" header should be "DENY"
    And the response should contain the "Cache-Control" header
    And the "Cache-Control" header should contain "max-age"

  Scenario: Broken page
    When I go to "{base}/status/500"
    Then the request should succeed
"""


def test_a_cucumber_nagios_feature_runs_unchanged(tmp_path: Path) -> None:
    with serve(site_routes()) as base:
        root = make_project(tmp_path, {"shop.feature": CUCUMBER_NAGIOS.format(base=base)})
        out = run_cli(["check", "-e", "test"], cwd=root)
    text = re.sub(r"=[\d.]+(m?s)", r"=N\1", out.stdout.replace(base, "URL"))
    assert out.code == 2, out.stdout
    assert re.sub(r"\b\d+ ms\b", "N ms", text) == (
        "ESCALATOR CRITICAL - 1 of 5 scenarios failing: Broken page | scenarios=5;;;0 "
        "passed=4;;;0 failed=1;;;0 unknown=0;;;0 time=Ns;;50;0 "
        "'Visiting home page response_time'=Nms 'Searching response_time'=Nms "
        "'Searching response_time_2'=Nms 'Searching elapsed'=Ns;;@5: "
        "'Logging in response_time'=Nms 'Logging in response_time_2'=Nms "
        "'Headers response_time'=Nms 'Broken page response_time'=Nms\n"
        "CRITICAL Broken page (features/shop.feature:32)\n"
        "  Then the request should succeed: GET URL/status/500 answered 500 Internal Server "
        "Error in N ms; body: 'status 500'\n")
