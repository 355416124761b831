"""HTTP requests as an API client sends them, cookies, sizes and values, end to end.

`escalator run` against a real loopback API (tests/servers/api.py) and a real forward proxy
(tests/servers/proxy.py): each scenario's verdict and whole reason is compared, with the server's
URL and milliseconds normalised. The echo route answers what it received, so the request phrases
are judged by what really went over the wire.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.api import TOKEN, api_routes
from tests.servers.hostile import closed_port
from tests.servers.http import serve, site_routes
from tests.servers.proxy import Proxy, proxy_server
from tests.servers.tls import TestCA

FEATURE = '''
Feature: An API

  Scenario: A POST with an inline JSON body
    When I send a POST request to "/api/echo" with the JSON '{"name": "${who}", "qty": 2}'
    Then the JSON at "$.method" should be "POST"
    And the JSON at "$.json.name" should be "probe"
    And the JSON at "$.json.qty" should be 2
    And the JSON at "$.headers.content-type" should be "application/json"

  Scenario: A PUT with a text docstring
    When I send a PUT request to "/api/echo" with the body:
      """
      line one
      for ${who}
      """
    Then the JSON at "$.method" should be "PUT"
    And the JSON at "$.body" should match /^line one\\nfor probe$/
    And the JSON at "$.headers.content-type" should be "text/plain; charset=utf-8"

  Scenario: A PATCH with a JSON docstring and an inline text body
    When I send a PATCH request to "/api/echo" with the JSON:
      """
      {"replicas": 3}
      """
    Then the JSON at "$.json.replicas" should be at least 3
    When I send a POST request to "/api/echo" with the body "ping"
    Then the JSON at "$.body" should be "ping"

  Scenario: A DELETE without a body
    When I send a delete request to "/api/echo"
    Then the JSON at "$.method" should be "DELETE"
    And the JSON at "$.body" should be ""

  Scenario: A JSON body that is not JSON
    When I send a POST request to "/api/echo" with the JSON '{"qty": 2,}'

  Scenario: Request headers, Host included
    Given I set the request header "X-Api-Key" to "${api_key}"
    And I set the request header "Host" to "shop.example.test"
    When I go to "/api/echo"
    Then the JSON at "$.headers.x-api-key" should be "${api_key}"
    And the JSON at "$.headers.host" should be "shop.example.test"

  Scenario: A header set twice keeps the last value
    Given I set the request header "X-Trace" to "one"
    And I set the request header "x-trace" to "two"
    When I send a POST request to "/api/echo" with the body "x"
    Then the JSON at "$.headers.x-trace" should be "two"

  Scenario: A bearer token from a secret
    Given I use the bearer token "${token}"
    When I go to "/api/whoami"
    Then the request should succeed
    And the JSON at "$.user" should be "monitor"

  Scenario: A rejected bearer token stays secret
    Given I use the bearer token "${wrong_token}"
    When I go to "/api/whoami"
    Then the request should succeed

  Scenario: A redirect, not followed
    When I go to "/api/moved?status=301&to=/api/home" without following redirects
    Then the response status should be 301
    And the response should redirect to "/api/home"
    And the response should be a 301 redirect to "${base_url}/api/home"
    And the "Location" header should be "/api/home"

  Scenario: A temporary redirect where a permanent one is wanted
    When I go to "/api/moved?status=302&to=/api/home" without following redirects
    Then the response should be a 301 redirect to "/api/home"

  Scenario: A redirect elsewhere
    Given I do not follow redirects
    When I send a POST request to "/api/login" with the body "user=monitor"
    Then the response should redirect to "/api/elsewhere"

  Scenario: Not a redirect at all
    When I go to "/api/home" without following redirects
    Then the response should redirect to "/api/home"

  Scenario: Cookies with good attributes, also from a redirect's hop
    When I go to "/api/cookies"
    Then the response should set the cookie "sid"
    And the cookie "sid" should have the attributes "Secure; HttpOnly; SameSite=strict"
    And the cookie "sid" should not have the attribute "Domain"
    And the cookie "theme" should have the attributes "Domain=127.0.0.1"
    When I send a POST request to "/api/login" with the body "user=monitor"
    Then I should see "home"
    And the cookie "session" should have the attributes "HttpOnly; SameSite=Lax; Path=/"

  Scenario: A careless cookie
    When I go to "/api/cookies"
    Then the cookie "theme" should have the attributes "Secure; HttpOnly; Domain=127.0.0.1"

  Scenario: A cookie that should be host-only
    When I go to "/api/cookies"
    Then the cookie "theme" should not have the attribute "Domain"

  Scenario: A cookie that is not set
    When I go to "/api/cookies"
    Then the response should set the cookie "csrf"

  Scenario: Small enough
    When I go to "/big?mb=0.25"
    Then the response body should be smaller than 300 KiB

  Scenario: Too big
    When I go to "/big?mb=1"
    Then the response body should be smaller than 512 KiB

  Scenario: Numbers in JSON
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than 100
    And the JSON at "$.price" should be 7.5
    And the JSON at "$.price" should be equal to 7.50
    And the JSON at "$.ratio" should be at most 0.25
    And the JSON at "$.workers[*].load" should be more than 2
    And the JSON at "$.version" should match /^2\\.\\d+\\.\\d+$/

  Scenario: A number over its limit
    When I go to "/api/metrics"
    Then the JSON at "$.workers[*].load" should be at most 5

  Scenario: A text where a number is wanted
    When I go to "/api/metrics"
    Then the JSON at "$.name" should be less than 5

  Scenario: A version that does not match
    When I go to "/api/metrics"
    Then the JSON at "$.version" should match /^3\\./

  Scenario: Patterns in the body and headers
    When I go to "/api/text"
    Then the response body should match /Version \\d+\\.\\d+/
    And the response body should not match /(?i)error|exception/
    And the "X-Backend" header should match /^nginx\\/1\\.2\\d/
    And I should not see "Version \\d+"

  Scenario: A body that matches what it should not
    When I go to "/api/text"
    Then the response body should not match /build \\d+/

  Scenario: A header that does not match
    When I go to "/api/text"
    Then the "X-Backend" header should match /^apache/

  Scenario: A bad regular expression
    When I go to "/api/text"
    Then the response body should match /(unclosed/

  Scenario: Numbers and patterns in command output
    When I run 'echo 42; echo warn >&2'
    Then 'stdout' should be less than 100
    And 'stdout' should be equal to 42
    And 'stdout' should match /^4\\d$/
    And 'stderr' should not match /error/
    When I run 'echo " 87%"'
    Then 'stdout' should be at most 90

  Scenario: Command output over its limit
    When I run 'echo 42'
    Then 'stdout' should be more than 50

  Scenario: Command output that is not a number
    When I run 'echo busy'
    Then 'stdout' should be less than 5

  Scenario: Command output that does not match
    When I run 'echo ready'
    Then 'stdout' should match /^active$/
'''


def norm(text: str | None, base: str) -> str:
    text = (text or "").replace(base, "URL")
    return re.sub(r"\b\d+ ms\b", "N ms", text)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with serve({**site_routes(), **api_routes()}) as base:
        root = make_project(tmp_path_factory.mktemp("api"), {"api.feature": FEATURE},
                            variables={"base_url": base, "who": "probe",
                                       "api_key": {"env": "API_KEY"},
                                       "token": {"env": "API_TOKEN"},
                                       "wrong_token": {"env": "WRONG_TOKEN"}})
        environ = {"API_KEY": "k3y-0f-api", "API_TOKEN": TOKEN,
                   "WRONG_TOKEN": "wr0ng-t0ken-value"}
        out = run_cli(["run", "-e", "test", "-f", "json", "-f", "junit", "-o", "junit.xml"],
                      cwd=root, environ=environ)
        nagios = run_cli(["check", "-e", "test", "-v"], cwd=root, environ=environ)
    assert out.code in (1, 2), out.stderr
    yield {"base": base, "root": root, "out": out, "nagios": nagios, "environ": environ,
           "scenarios": {s["name"]: s for s in out.json["scenarios"]}}


def verdict(results: dict[str, Any], name: str) -> tuple[str, str]:
    scenario = results["scenarios"][name]
    return scenario["outcome"], norm(scenario["reason"], results["base"])


PASSING = [
    "A POST with an inline JSON body", "A PUT with a text docstring",
    "A PATCH with a JSON docstring and an inline text body", "A DELETE without a body",
    "Request headers, Host included", "A header set twice keeps the last value",
    "A bearer token from a secret", "A redirect, not followed",
    "Cookies with good attributes, also from a redirect's hop", "Small enough",
    "Numbers in JSON", "Patterns in the body and headers", "Numbers and patterns in command output",
]


@pytest.mark.parametrize("name", PASSING)
def test_passing_scenarios(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("passed", "")


FAILURES = {
    "A rejected bearer token stays secret":
        "GET URL/api/whoami answered 401 Unauthorized in N ms; body: "
        "\"unknown token in 'Bearer ***'\"",
    "A temporary redirect where a permanent one is wanted":
        "URL/api/moved?status=302&to=/api/home answered 302 Found to URL/api/home, "
        "not 301 to URL/api/home",
    "A redirect elsewhere":
        "URL/api/login redirects to URL/api/home, not URL/api/elsewhere (303)",
    "Not a redirect at all": "not a redirect: GET URL/api/home answered 200 OK in N ms",
    "A careless cookie":
        'the cookie "theme" is set with expires=Wed, 21 Oct 2037 07:28:00 GMT; '
        "domain=127.0.0.1; missing: secure, httponly",
    "A cookie that should be host-only":
        'the cookie "theme" is set with expires=Wed, 21 Oct 2037 07:28:00 GMT; domain=127.0.0.1',
    "A cookie that is not set":
        'no "csrf" cookie set by URL/api/cookies (200); cookies set: sid, theme',
    "Too big": "the body of URL/big?mb=1 is 1.0 MiB, wanted less than 512 KiB",
    "A number over its limit": "$.workers[*].load is 9, wanted at most 5",
    "A text where a number is wanted": "$.name is 'eu-1', not a number",
    "A version that does not match": "$.version does not match /^3\\./: '2.14.3'",
    "A body that matches what it should not":
        "the body of URL/api/text (200) matches /build \\d+/ with 'build 77'",
    "A header that does not match":
        "the \"X-Backend\" header does not match /^apache/: 'nginx/1.24.0'",
    "Command output over its limit": "the stdout of `echo 42` is 42, wanted more than 50",
    "Command output that is not a number": "the stdout of `echo busy` is 'busy', not a number",
    "Command output that does not match":
        "the stdout of `echo ready` does not match /^active$/: 'ready'",
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenarios_say_why(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("failed", FAILURES[name])


def test_our_own_mistakes_are_unknown(results: dict[str, Any]) -> None:
    assert verdict(results, "A JSON body that is not JSON") == (
        "unknown", "the JSON of this step is not valid: Expecting property name enclosed in "
        "double quotes: line 1 column 11 (char 10)")
    assert verdict(results, "A bad regular expression") == (
        "unknown", "bad regular expression /(unclosed/: missing ), unterminated subpattern at "
        "position 0")


def test_compared_numbers_are_recorded_with_their_limits(results: dict[str, Any]) -> None:
    measured = results["scenarios"]["Numbers in JSON"]["measurements"]
    # "less than 100" fails at 100 and says so in perfdata (`@100:`), as Nagios reads ranges
    assert [(m["name"], m["value"], m["crit"]) for m in measured[1:]] == [
        ("json_queue_depth", 42, "@100:"), ("json_price", 7.5, "7.5:7.5"),
        ("json_price_2", 7.5, "7.5:7.5"), ("json_ratio", 0.25, "~:0.25"),
        ("json_workers.load", 3, "@~:2")]
    sizes = results["scenarios"]["Too big"]["measurements"]
    assert [(m["name"], m["value"], m["uom"], m["crit"]) for m in sizes[1:]] == [
        ("body_size", 1024 * 1024, "B", f"@{512 * 1024}:")]
    command = results["scenarios"]["Command output over its limit"]["measurements"]
    assert [(m["name"], m["value"], m["crit"]) for m in command[1:]] == [
        ("stdout", 42, "@~:50")]


def test_secrets_sent_as_headers_never_show(results: dict[str, Any]) -> None:
    texts = [results["out"].stdout, results["nagios"].stdout,
             (results["root"] / "junit.xml").read_text()]
    texts += [p.read_text(errors="replace") for p in (results["root"] / ".escalator").rglob("*")
              if p.is_file()]
    for secret in results["environ"].values():
        assert not any(secret in text for text in texts), secret
    assert "Bearer ***" in results["nagios"].stdout


MAX_BODY = """
Feature: Body cap
  Scenario: A body over the cap
    When I go to "/big?mb=1"
    Then the request should succeed

  Scenario: The size limit of a cut body
    When I go to "/big?mb=1"
    Then the response body should be smaller than 2 MiB
"""


def test_http_max_body_is_a_setting_named_in_the_reason(tmp_path: Path) -> None:
    with serve(site_routes()) as base:
        root = make_project(tmp_path, {"cap.feature": MAX_BODY},
                            variables={"base_url": base, "http_max_body": "256 KiB"})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
        wrong = run_cli(["run", "-e", "test", "-f", "json", "-D", "http_max_body=lots"],
                        cwd=root)
    reasons = [norm(s["reason"], base).split("; body starts")[0] for s in out.json["scenarios"]]
    assert reasons == [
        "GET URL/big?mb=1 answered 200 OK in N ms but body cut off at 256.0 KiB (the "
        "http_max_body limit)",
        "the body of URL/big?mb=1 is 256.0 KiB or more (cut off at http_max_body), wanted less "
        "than 2 MiB"]
    assert {(s["outcome"], s["reason"]) for s in wrong.json["scenarios"]} == {
        ("unknown", "http_max_body: bad size 'lots': write a number and a unit, e.g. 10 MiB or "
         "500 KB")}


PROXIED = """
Feature: Through a proxy
  Scenario: Through the named proxy
    Given I use the proxy "${proxy}"
    When I go to "/api/echo"
    Then the request should succeed
    And the JSON at "$.path" should be "/api/echo"

  Scenario: Through the environment's proxy
    When I go to "/api/echo"
    Then the "Via" header should be "1.1 test-proxy"

  Scenario: Around the environment's proxy
    Given I use the proxy "none"
    When I go to "/api/echo"
    Then the response should not contain the "Via" header

  Scenario: A proxy that is down
    Given I use the proxy "http://127.0.0.1:${dead}"
    When I go to "/api/echo"
    Then the request should succeed
"""


def test_a_proxy_is_used_and_named(tmp_path: Path) -> None:
    dead = closed_port()
    with serve(api_routes()) as base, proxy_server() as proxy:
        root = make_project(tmp_path, {"proxy.feature": PROXIED},
                            variables={"base_url": base, "proxy": proxy.url,
                                       "http_proxy": proxy.url, "dead": dead})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert [(s["outcome"], norm(s["reason"], base)) for s in out.json["scenarios"]] == [
        ("passed", ""), ("passed", ""), ("passed", ""),
        ("failed", f"GET URL/api/echo via proxy http://127.0.0.1:{dead} got no answer in N ms: "
                   "cannot connect to the proxy: connection refused")]
    assert proxy.carried == [f"GET {base}/api/echo"] * 2


HTTPS_PROXIED = """
Feature: HTTPS through a proxy
  Scenario: A tunnel through the environment's HTTPS_PROXY
    When I go to "/api/echo"
    Then the request should succeed
"""


def _https_through(tmp_path: Path, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
                   ) -> tuple[str, str]:
    ca = TestCA(tmp_path)
    with ca.serve("valid", api_routes()) as base:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        root = make_project(tmp_path / "project", {"tunnel.feature": HTTPS_PROXIED},
                            variables={"base_url": base, "tls_ca_bundle": str(ca.bundle)})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    scenario = out.json["scenarios"][0]
    return scenario["outcome"], norm(scenario["reason"], base)


def test_https_goes_through_the_environments_proxy(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with proxy_server() as proxy:
        assert _https_through(tmp_path, proxy, monkeypatch) == ("passed", "")
    assert len(proxy.carried) == 1 and proxy.carried[0].startswith("CONNECT 127.0.0.1:")


def test_a_proxy_refusing_the_tunnel_is_named(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with proxy_server(deny=True) as proxy:
        assert _https_through(tmp_path, proxy, monkeypatch) == (
            "failed", f"GET URL/api/echo via proxy {proxy.url} got no answer in N ms: the proxy "
                      "would not open a tunnel: 403 Forbidden")

