"""TLS end to end: HTTPS pages and certificate expiry against trustme-certified loopback servers.

The "test" environment trusts the test CA through `tls_ca_bundle`; the "insecure" environment
turns verification off with `tls_verify = false` and must say so in the run's notices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import closed_port
from tests.servers.tls import TestCA

FEATURE = """
Feature: TLS

  Scenario: A trusted HTTPS page
    When I go to "/"
    Then the request should succeed
    And the TLS certificate of "${valid}" should be valid for at least 30 days

  Scenario: Too few days left
    Then the TLS certificate of "${soon}" should be valid for at least 14 days

  Scenario: An expired certificate
    Then the TLS certificate of "${expired}" should be valid for at least 14 days

  Scenario: A certificate for another host
    Then the TLS certificate of "${wrong}" should be valid for at least 14 days

  Scenario: A self-signed certificate
    Then the TLS certificate of "${lone}" should be valid for at least 14 days

  Scenario: No TLS server
    Then the TLS certificate of "127.0.0.1:${dead}" should be valid for at least 14 days

  Scenario: A page with a certificate for another host
    When I go to "https://${wrong}/"
    Then the request should fail
    And I should see "Welcome"

  Scenario: A page with an expired certificate
    When I go to "https://${expired}/"
    Then the request should succeed

  @insecure
  Scenario: Verification off
    When I go to "https://${lone}/"
    Then I should see "Welcome"
    And the TLS certificate of "${lone}" should be valid for at least 30 days
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    with ExitStack() as stack:
        hosts = {name: stack.enter_context(ca.serve(kind)).removeprefix("https://")
                 for name, kind in (("valid", "valid"), ("soon", "soon"), ("expired", "expired"),
                                    ("wrong", "wrong-host"), ("lone", "self-signed"))}
        variables = {**hosts, "base_url": f"https://{hosts['valid']}",
                     "dead": str(closed_port())}
        insecure = "[environments.insecure]\ntls_verify = false\n" + "".join(
            f'{k} = "{v}"\n' for k, v in variables.items())
        root = make_project(tmp_path_factory.mktemp("tls"), {"tls.feature": FEATURE},
                            variables={**variables, "tls_ca_bundle": str(ca.bundle)},
                            config=insecure)
        secure = run_cli(["run", "-e", "test", "-f", "json", "-t", "not @insecure"], cwd=root)
        open_ = run_cli(["run", "-e", "insecure", "-f", "json", "-t", "@insecure"], cwd=root)
    scenarios = {}
    for s in secure.json["scenarios"] + open_.json["scenarios"]:
        reason = s["reason"] or ""
        for name, host in hosts.items():
            reason = reason.replace(host, name.upper())
        s["reason"] = re.sub(r"\b\d+ ms\b", "N ms", reason)
        s["reason"] = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "DATE", s["reason"])
        scenarios[s["name"]] = s
    yield {"scenarios": scenarios, "secure": secure.json, "insecure": open_.json,
           "dead": variables["dead"]}


def days(scenario: dict[str, Any]) -> tuple[str, float, str]:
    found = [m for m in scenario["measurements"] if m["name"] == "days_left"]
    assert len(found) == 1, scenario
    return found[0]["uom"], found[0]["value"], found[0]["crit"]


def test_a_trusted_page_and_its_certificate(run: dict[str, Any]) -> None:
    good = run["scenarios"]["A trusted HTTPS page"]
    assert (good["outcome"], good["reason"]) == ("passed", "")
    uom, value, threshold = days(good)
    assert (uom, threshold) == ("", "30:") and 89.9 <= value <= 90.1
    assert run["secure"]["notices"] == []


@pytest.mark.parametrize(("name", "reason", "low", "high"), [
    ("Too few days left",
     "the certificate of SOON expires in 5 days (DATE), wanted at least 14 days", 5, 5.1),
    ("An expired certificate", "the certificate of EXPIRED expired 3 days ago (not after DATE)",
     -3.1, -3),
    ("A certificate for another host",
     "WRONG: the certificate is not valid for host '127.0.0.1'", 364, 400000),
    ("A self-signed certificate", "LONE: the certificate is self-signed and not trusted",
     364, 400000),
])
def test_certificates_fail_with_their_days_recorded(run: dict[str, Any], name: str, reason: str,
                                                    low: float, high: float) -> None:
    scenario = run["scenarios"][name]
    assert (scenario["outcome"], scenario["reason"]) == ("failed", reason)
    _, value, threshold = days(scenario)
    assert threshold == "14:" and low <= value <= high


def test_no_server_no_certificate(run: dict[str, Any]) -> None:
    scenario = run["scenarios"]["No TLS server"]
    dead = f"127.0.0.1:{run['dead']}"
    assert (scenario["outcome"], scenario["reason"]) == (
        "failed", f"no certificate from {dead}: connection to {dead} refused")
    assert [(m["name"], m["value"], m["crit"]) for m in scenario["measurements"]] == [
        ("days_left", None, "14:")]  # marked as not measured, never a number


def test_pages_with_bad_certificates_get_no_answer(run: dict[str, Any]) -> None:
    wrong = run["scenarios"]["A page with a certificate for another host"]
    assert (wrong["outcome"], wrong["reason"]) == (
        "failed", "GET https://WRONG/ got no answer in N ms: "
                  "TLS: the certificate is not valid for host '127.0.0.1'")
    expired = run["scenarios"]["A page with an expired certificate"]
    assert (expired["outcome"], expired["reason"]) == (
        "failed", "GET https://EXPIRED/ got no answer in N ms: TLS: the certificate has expired")


def test_verification_off_is_announced(run: dict[str, Any]) -> None:
    scenario = run["scenarios"]["Verification off"]
    assert (scenario["outcome"], scenario["reason"]) == ("passed", "")
    assert run["insecure"]["notices"] == ["TLS verification is off in this environment"]
