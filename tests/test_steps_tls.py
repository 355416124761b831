"""TLS phrases end to end against real TLS servers on loopback (tests/servers/pki.py): a server
name other than the address (SNI), client certificates, a chain whose intermediate expires
soon, protocol versions, and OCSP stapling (openssl s_server staples; a Python server cannot).
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import closed_port
from tests.servers.http import serve
from tests.servers.pki import LOOPBACK, Pki, stapling_server

FEATURE = """
Feature: TLS

  Scenario: Another name at an address
    Given I use the TLS server name "www.example.test"
    Then the TLS certificate of "${named}" should be valid for at least 14 days
    When I go to "https://${named}/"
    Then the request should succeed

  Scenario: The address is not the certificate's name
    Then the TLS certificate of "${named}" should be valid for at least 14 days

  Scenario: A request to the address alone
    When I go to "https://${named}/"
    Then the request should succeed

  Scenario: The wrong server name
    Given I use the TLS server name "api.example.test"
    Then the TLS certificate of "${named}" should be valid for at least 14 days

  Scenario: A client certificate
    Given I use the client certificate "${client_cert}" with the key "${client_key}"
    When I go to "https://${mutual}/"
    Then the request should succeed
    And the TLS certificate of "${mutual}" should be valid for at least 14 days

  Scenario: No client certificate
    When I go to "https://${mutual}/"
    Then the request should succeed

  Scenario: A client certificate that is not there
    Given I use the client certificate "/nonexistent/client.pem" with the key "${client_key}"

  Scenario: A chain that lasts
    Then the TLS certificate chain of "${chained}" should be valid for at least 3 days
    And the TLS certificate of "${chained}" should be valid for at least 60 days

  Scenario: An intermediate about to expire
    Then the TLS certificate chain of "${chained}" should be valid for at least 14 days

  Scenario: Versions
    Then the TLS version of "${named_localhost}" should be at least "TLSv1.3"
    And "${named_localhost}" should refuse TLS versions below "TLSv1.2"
    And the TLS version of "${capped}" should be at least "TLS 1.2"

  Scenario: An old version only
    Then the TLS version of "${capped}" should be at least "TLSv1.3"

  Scenario: An old version still accepted
    Then "${capped}" should refuse TLS versions below "TLSv1.2"

  Scenario: Nothing there to refuse anything
    Then "127.0.0.1:${dead}" should refuse TLS versions below "TLSv1.2"

  Scenario: An unknown version
    Then the TLS version of "${capped}" should be at least "SSLv2"

  Scenario: A stapled OCSP response
    Then the TLS handshake with "${stapling}" should include a stapled OCSP response

  Scenario: No stapled OCSP response
    Then the TLS handshake with "${named_localhost}" should include a stapled OCSP response

  Scenario: No server to staple
    Then the TLS handshake with "127.0.0.1:${dead}" should include a stapled OCSP response
"""


def _address(url: str) -> str:
    return url.removeprefix("https://")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("pki")
    pki = Pki(directory)
    cert, key = pki.client_files()
    with contextlib.ExitStack() as stack:
        servers = {
            "named": serve(ssl_context=pki.named("www.example.test")),
            "named_localhost": serve(ssl_context=pki.named(*LOOPBACK)),
            "mutual": serve(ssl_context=pki.mutual()),
            "chained": serve(ssl_context=pki.chain(5)),
            "capped": serve(ssl_context=pki.capped(ssl.TLSVersion.TLSv1_2)),
        }
        found = {name: _address(stack.enter_context(server)) for name, server in servers.items()}
        found["stapling"] = stack.enter_context(stapling_server(pki))
        root = make_project(directory / "project", {"tls.feature": FEATURE},
                            variables={**found, "tls_ca_bundle": str(pki.bundle),
                                       "client_cert": str(cert), "client_key": str(key),
                                       "dead": closed_port()})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert out.code in (1, 2), out.stderr
    yield {"addresses": found, "scenarios": {s["name"]: s for s in out.json["scenarios"]},
           "pki": pki}


def verdict(results: dict[str, Any], name: str) -> tuple[str, str]:
    scenario = results["scenarios"][name]
    text = scenario["reason"] or ""
    for label, address in results["addresses"].items():
        text = text.replace(address, label.upper())
    text = re.sub(r"\b\d+ ms\b", "N ms", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "DEAD", text)
    return scenario["outcome"], re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "DATE", text)


@pytest.mark.parametrize("name", [
    "Another name at an address", "A client certificate", "A chain that lasts", "Versions",
    "A stapled OCSP response"])
def test_passing_scenarios(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("passed", "")


FAILURES = {
    "The address is not the certificate's name":
        "NAMED: the certificate is not valid for host '127.0.0.1'",
    "A request to the address alone":
        "GET https://NAMED/ got no answer in N ms: TLS: the certificate is not valid for host "
        "'127.0.0.1'",
    "The wrong server name": "NAMED: the certificate is not valid for host 'api.example.test'",
    "An intermediate about to expire":
        "the certificate CN=Escalator Test Intermediate in the chain of CHAINED expires in 5 days "
        "(DATE), wanted at least 14 days",
    "An old version only": "CAPPED negotiated TLSv1.2, wanted at least TLSv1.3",
    "An old version still accepted": "CAPPED accepted TLSv1.1 (offered TLSv1.1 at most)",
    "Nothing there to refuse anything": "connection to DEAD refused",
    "No stapled OCSP response": "NAMED_LOCALHOST stapled no OCSP response",
    "No server to staple": "TLS handshake with DEAD failed: connect:errno=111",
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenarios_say_why(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("failed", FAILURES[name])


def test_a_missing_client_certificate_is_refused(results: dict[str, Any]) -> None:
    # In TLS 1.3 the client learns of the refusal after its handshake: the server's
    # certificate_required alert or its closing of the connection, whichever it reads first
    # (both happen here, depending on timing); each reason names the client certificate.
    prefix = "GET https://MUTUAL/ got no answer in N ms: TLS handshake failed: "
    assert verdict(results, "No client certificate") in (
        ("failed", prefix + "the server wants a client certificate"),
        ("failed", prefix + "the server closed the connection (does it want a client "
         "certificate, or another TLS version?)"))


def test_our_own_mistakes_are_unknown(results: dict[str, Any]) -> None:
    assert verdict(results, "A client certificate that is not there") == (
        "unknown", "the client certificate file /nonexistent/client.pem does not exist")
    assert verdict(results, "An unknown version") == (
        "unknown", "unknown TLS version 'SSLv2': write TLSv1.2 or TLSv1.3")


def test_the_chain_records_its_earliest_expiry(results: dict[str, Any]) -> None:
    measured = results["scenarios"]["An intermediate about to expire"]["measurements"]
    assert [(m["name"], m["crit"]) for m in measured] == [("chain_days_left", "14:")]
    assert 4.9 < measured[0]["value"] < 5.1


CLIENT_FROM_ENVIRONMENT = """
Feature: mutual TLS from the environment
  Scenario: The environment's client certificate
    When I go to "/"
    Then the request should succeed
"""


def test_the_environments_client_certificate(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    cert, key = pki.client_files()
    with serve(ssl_context=pki.mutual()) as base:
        root = make_project(tmp_path / "project", {"m.feature": CLIENT_FROM_ENVIRONMENT},
                            variables={"base_url": base, "tls_ca_bundle": str(pki.bundle),
                                       "tls_client_cert": str(cert), "tls_client_key": str(key)})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert [(s["outcome"], s["reason"]) for s in out.json["scenarios"]] == [("passed", None)]
