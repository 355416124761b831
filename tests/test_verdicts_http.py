"""HTTP verdicts that must be true, end to end against a real loopback server (issue 15).

Each test reproduces a wrong verdict found by trying Escalator as a new user would: a figure
judged on fewer samples than asked, a limit whose perfdata range disagrees with the verdict at
its boundary, a refused connection graphed as a fast answer, markup taken for visible text, an
error page whose reasons hide its status, a dead proxy blamed on the shop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import closed_port
from tests.servers.http import Reply, Request, serve, site_routes
from tests.test_limits import nagios_alerts

FEATURE = """
Feature: Verdicts

  Scenario: A refused connection
    When I go to "${dead_url}"
    Then the request should succeed

  Scenario: A refused connection judged by its time
    When I go to "${dead_url}"
    Then the response time should be less than 5000 ms

  Scenario: Nobody answers repeated requests
    When I request "${dead_url}" 3 times
    Then at least 50% of the requests should succeed

  Scenario: A limit at its boundary
    When I go to "/"
    Then the response time should be less than 5000 ms

  Scenario: Markup is not visible text
    When I go to "/site"
    Then I should not see "notice"

  Scenario: Visible text is seen where it is
    When I go to "/site"
    Then I should not see "Fish & Chips"

  Scenario: A form on an error page
    When I go to "/down"
    And I fill in "Username" with "monitor"

  Scenario: A link on an error page
    When I go to "/down"
    And I follow "Sign in"

  Scenario: An element on an error page
    When I go to "/down"
    Then I should see an error message
"""


def _down(_: Request) -> Reply:
    return Reply(503, "<html><body><h1>Down for maintenance</h1></body></html>",
                 {"Content-Type": "text/html"})


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], str]]:
    dead = f"http://127.0.0.1:{closed_port()}/"
    with serve({**site_routes(), "/down": _down}) as base:
        root = make_project(tmp_path_factory.mktemp("verdicts"), {"v.feature": FEATURE},
                            variables={"base_url": base, "dead_url": dead})
        json_out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
        nagios = run_cli(["check", "-e", "test"], cwd=root)
    scenarios = {}
    for s in json_out.json["scenarios"]:
        s["reason"] = re.sub(r"\b\d+ ms\b", "N ms", (s["reason"] or "").replace(
            base, "URL").replace(dead, "DEAD"))
        scenarios[s["name"]] = s
    yield scenarios, nagios.line1


def test_a_refused_connection_is_never_graphed_as_a_fast_answer(
        checked: tuple[dict[str, Any], str]) -> None:
    scenarios, line1 = checked
    for name in ("A refused connection", "A refused connection judged by its time",
                 "Nobody answers repeated requests"):
        times = [m for m in scenarios[name]["measurements"] if m["name"] == "response_time"]
        assert [m["value"] for m in times] == [None], name
    assert "'A refused connection response_time'=U;" not in line1  # no limit stated: no slots
    assert "'A refused connection response_time'=U" in line1
    assert "'A refused connection judged by its time response_time'=U;;@5000:" in line1
    assert scenarios["A refused connection judged by its time"]["reason"] == (
        "GET DEAD got no answer in N ms: connection refused")


def test_the_written_range_agrees_with_the_verdict_at_the_boundary(
        checked: tuple[dict[str, Any], str]) -> None:
    scenarios, line1 = checked
    assert re.search(r"'A limit at its boundary response_time'=[\d.]+ms;;@5000: ", line1)
    # the limit as Nagios reads it from perfdata, judged at 5000 ms itself: an alert, as the step
    (limit,) = [m["crit"] for m in scenarios["A limit at its boundary"]["measurements"]]
    assert nagios_alerts(limit, 5000) and not nagios_alerts(limit, 4999.999)


def test_see_means_the_visible_text_and_a_match_says_where(
        checked: tuple[dict[str, Any], str]) -> None:
    scenarios, _ = checked
    assert scenarios["Markup is not visible text"]["outcome"] == "passed"
    seen = scenarios["Visible text is seen where it is"]
    assert (seen["outcome"], seen["reason"]) == (
        "failed", "'Fish & Chips' found in the visible text of URL/site (200): "
                  "'Fish & Chips Open today About us Log in...'")


def test_every_reason_on_an_error_page_says_it_is_one(
        checked: tuple[dict[str, Any], str]) -> None:
    scenarios, _ = checked
    reasons = {name: scenarios[name]["reason"] for name in (
        "A form on an error page", "A link on an error page", "An element on an error page")}
    assert reasons == {
        "A form on an error page": 'no text field "Username" on the 503 Service Unavailable '
                                   "answer of URL/down (text fields: none)",
        "A link on an error page": 'no link "Sign in" on the 503 Service Unavailable answer of '
                                   "URL/down (links: none)",
        "An element on an error page": 'no element of class "error" on the 503 Service '
                                       "Unavailable answer of URL/down",
    }


# ---- repeated requests: the budget is Escalator's, not the target's ------------------------

REPEATED = """
Feature: Repeated requests

  Scenario: A percentile on fewer samples than asked
    When I request "/slow?ms=100" 100 times
    Then the 95th percentile response time should be less than 5000 ms

  Scenario: A success ratio on fewer samples than asked
    When I request "/slow?ms=100" 100 times
    Then at least 99% of the requests should succeed

  Scenario: A failure that the unsent requests cannot change
    When I request "/flaky" 100 times
    Then at least 99% of the requests should succeed
"""


def _flaky(_: Request) -> Reply:
    import time

    time.sleep(0.1)
    return Reply(503, "down", {"Content-Type": "text/plain"})


def test_a_figure_on_fewer_samples_than_asked_is_unknown_and_says_why(tmp_path: Path) -> None:
    with serve({"/flaky": _flaky}) as base:
        root = make_project(tmp_path, {"r.feature": REPEATED}, variables={"base_url": base})
        out = run_cli(["check", "-e", "test", "--timeout", "8s", "--step-timeout", "2s"],
                      cwd=root)
        data = run_cli(["run", "-e", "test", "-f", "json", "--timeout", "8s",
                        "--step-timeout", "2s"], cwd=root).json
    results = {s["name"]: s for s in data["scenarios"]}
    budget = (r"the step's budget of [\d.]+s ran out, all that was left before the run's "
              r"deadline \(raise --timeout or ask for fewer\)")
    for name, figure in (("A percentile on fewer samples than asked", "95th percentile"),
                         ("A success ratio on fewer samples than asked", "success ratio")):
        scenario = results[name]
        assert scenario["outcome"] == "unknown", scenario["reason"]
        assert re.fullmatch(rf"{figure} of URL/slow\?ms=100 not judged: only (\d+) of 100 "
                            rf"requests were sent: {budget}", scenario["reason"].replace(
                                base, "URL")), scenario["reason"]
        sent = int(re.search(r"only (\d+) of", scenario["reason"])[1])  # type: ignore[index]
        assert 5 < sent < 100
        samples = [m for m in scenario["measurements"] if m["name"] == "samples"]
        assert [(m["value"], m["minimum"], m["maximum"]) for m in samples] == [(sent, 0, 100)]
        assert re.search(rf"'{name} samples'=\d+;;;0;100 ", out.line1)
    certain = results["A failure that the unsent requests cannot change"]
    assert certain["outcome"] == "failed"
    assert re.fullmatch(r"0 of \d+ requests to URL/flaky succeeded \(0\.0%; 100 asked, the "
                        r"rest not sent\), wanted at least 99%: \d+ x 503 Service Unavailable",
                        certain["reason"].replace(base, "URL")), certain["reason"]
    assert out.code == 2  # CRITICAL outranks UNKNOWN


def test_the_default_budget_grows_with_the_request_count(tmp_path: Path) -> None:
    feature = """
        Feature: Many requests
          Scenario: A hundred requests to a page that takes a while
            When I request "/slow?ms=40" 100 times
            Then at least 100% of the requests should succeed
            And the 95th percentile response time should be less than 5000 ms
        """
    with serve() as base:
        root = make_project(tmp_path, {"m.feature": feature}, variables={"base_url": base})
        # 100 x 40 ms need more than the 2 s one step has, and much less than the run's 40 s
        out = run_cli(["check", "-e", "test", "--timeout", "40s", "--step-timeout", "2s"],
                      cwd=root)
    assert out.code == 0, out.stdout
    assert "samples'=100;;;0;100" in out.line1


def test_a_dead_proxy_from_the_environment_is_named(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                 "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    feature = """
        Feature: Proxy
          Scenario: Through a proxy that is down
            When I go to "/"
            Then the request should succeed
        """
    with serve() as base:
        root = make_project(tmp_path, {"p.feature": feature}, variables={"base_url": base})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    (scenario,) = out.json["scenarios"]
    # the proxy is named in the summary (escalator.probes.http_proxy), and blamed, not the shop
    assert re.sub(r"\d+ ms", "N ms", scenario["reason"].replace(base, "URL")) == (
        f"GET URL/ via proxy {proxy} got no answer in N ms: cannot connect to the proxy: "
        "connection refused")
