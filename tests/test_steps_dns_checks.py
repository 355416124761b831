"""DNS checks end to end against real servers on loopback: nsd (authoritative), nsd serving a
zone signed with ldns-signzone, dnsmasq validating it (the AD flag), and two nsd instances on
port 53 of two loopback addresses for the SOA serials of a zone's nameservers.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.dns import ZONE, hostile_server
from tests.servers.dns_zones import nsd_zone, signed, validating_resolver

FEATURE = """
Feature: DNS checks

  Scenario: TCP, flags and TTLs of an authoritative server
    Given I use the nameserver "${nsd}"
    And I use DNS over TCP
    When I look up the A record for "www.example.test"
    Then the answer should include "127.0.0.10"
    And the answer should be authoritative
    And the answer should not be DNSSEC-validated
    And the TTL should be at least 300 seconds
    And the TTL should be at most 300 seconds

  Scenario: A server that speaks only UDP, asked over TCP
    Given I use the nameserver "${udp_only}"
    And I use DNS over TCP
    When I look up the A record for "www.example.test"

  Scenario: A TTL too short
    Given I use the nameserver "${nsd}"
    When I look up the A record for "www.example.test"
    Then the TTL should be at least 3600 seconds

  Scenario: An answer that should not be authoritative
    Given I use the nameserver "${nsd}"
    When I look up the MX record for "example.test"
    Then the answer should not be authoritative

  Scenario: Response codes
    Given I use the nameserver "${nsd}"
    When I send a A query for "www.other.test"
    Then the response code should be "REFUSED"
    When I send a A query for "nope.example.test"
    Then the response code should be "NXDOMAIN"
    When I send a SOA query for "example.test"
    Then the response code should be "noerror"

  Scenario: The wrong response code
    Given I use the nameserver "${nsd}"
    When I send a A query for "www.other.test"
    Then the response code should be "NOERROR"

  Scenario: No answer at all
    Given I use the nameserver "${silent}"
    When I send a A query for "www.example.test"

  Scenario: Validated by DNSSEC
    Given I use the nameserver "${resolver}"
    When I look up the A record for "www.example.test"
    Then the answer should be DNSSEC-validated
    And the answer should match /^127\\.0\\.0\\.1\\d$/

  Scenario: Not validated
    Given I use the nameserver "${signed}"
    When I look up the A record for "www.example.test"
    Then the answer should be DNSSEC-validated

  Scenario: A bogus signature
    Given I use the nameserver "${resolver}"
    When I look up the TXT record for "txt.example.test"

  Scenario: Substrings and patterns in TXT records
    Given I use the nameserver "${nsd}"
    When I look up the TXT record for "example.test"
    Then the answer should contain "spf1"
    And the answer should match /^v=spf1 .*all$/

  Scenario: A TXT record without the text
    Given I use the nameserver "${nsd}"
    When I look up the TXT record for "example.test"
    Then the answer should contain "DKIM"

  Scenario: SOA serials that agree
    Given I use the nameserver "${ns1}"
    Then the SOA serials of "agree.test" should agree on its nameservers
    And the SOA serials of "agree.test" should agree on these nameservers:
      | nameserver |
      | ${ns1}     |
      | ${ns2}:53  |

  Scenario: A secondary behind
    Given I use the nameserver "${ns1}"
    Then the SOA serials of "differ.test" should agree on its nameservers

  Scenario: A secondary behind, named in a table
    Then the SOA serials of "differ.test" should agree on these nameservers:
      | nameserver |
      | ${ns1}:53  |
      | ${ns2}     |
"""


def soa_zone(origin: str, serial: int, ns1: str, ns2: str) -> str:
    return (f"$ORIGIN {origin}.\n$TTL 300\n"
            f"@ IN SOA ns1.{origin}. hostmaster.{origin}. ( {serial} 3600 600 86400 300 )\n"
            f"@ IN NS ns1.{origin}.\n@ IN NS ns2.{origin}.\n"
            f"ns1 IN A {ns1}\nns2 IN A {ns2}\nwww IN A 127.0.0.10\n")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("dns")
    signed_zone, anchor = signed(work / "keys", "example.test", ZONE)
    # tamper with one signed record set: its signature no longer matches
    bogus = signed_zone.replace('"hello world"', '"hello WORLD"')
    assert bogus != signed_zone
    block = random.randint(1, 250)
    ns1, ns2 = f"127.53.{block}.1", f"127.53.{block}.2"
    zones1 = {"agree.test": soa_zone("agree.test", 2024010101, ns1, ns2),
              "differ.test": soa_zone("differ.test", 2024010101, ns1, ns2)}
    zones2 = {"agree.test": soa_zone("agree.test", 2024010101, ns1, ns2),
              "differ.test": soa_zone("differ.test", 2023123101, ns1, ns2)}
    with nsd_zone(work / "plain", {"example.test": ZONE}) as plain, \
            nsd_zone(work / "signed", {"example.test": bogus}) as signed_server, \
            validating_resolver(work / "resolver", signed_server, anchor) as resolver, \
            nsd_zone(work / "ns1", zones1, ns1, 53), nsd_zone(work / "ns2", zones2, ns2, 53), \
            hostile_server("servfail") as udp_only, hostile_server("silent") as silent:
        servers = {"nsd": plain, "signed": signed_server, "resolver": resolver, "ns1": ns1,
                   "ns2": ns2, "udp_only": udp_only, "silent": silent}
        root = make_project(work / "project", {"dns.feature": FEATURE}, variables=servers)
        out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "3s"], cwd=root)
    assert out.code in (1, 2), out.stderr
    yield {"servers": servers, "scenarios": {s["name"]: s for s in out.json["scenarios"]}}


def verdict(results: dict[str, Any], name: str) -> tuple[str, str]:
    scenario = results["scenarios"][name]
    text = scenario["reason"] or ""
    for label, address in sorted(results["servers"].items(), key=lambda i: -len(i[1])):
        text = text.replace(address, label.upper())
    return scenario["outcome"], re.sub(r"within \d+\.\d s", "within N s", text)


@pytest.mark.parametrize("name", [
    "TCP, flags and TTLs of an authoritative server", "Response codes", "Validated by DNSSEC",
    "Substrings and patterns in TXT records", "SOA serials that agree"])
def test_passing_scenarios(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("passed", "")


FAILURES = {
    "A server that speaks only UDP, asked over TCP":
        "A www.example.test: cannot reach nameserver UDP_ONLY (over TCP): Connection refused",
    "A TTL too short":
        "A www.example.test from NSD has a TTL of 300 s, wanted at least 3600 seconds",
    "An answer that should not be authoritative":
        "MX example.test from NSD is authoritative (flags: QR AA RD)",
    "The wrong response code": "A www.other.test from NSD answered REFUSED, not NOERROR",
    "No answer at all": "A www.example.test: no answer from nameserver SILENT within N s",
    "Not validated":
        "A www.example.test from SIGNED is not DNSSEC-validated (no AD flag; flags: QR AA RD)",
    "A bogus signature": "TXT txt.example.test: nameserver RESOLVER failed (SERVFAIL)",
    "A TXT record without the text":
        "no record of TXT example.test contains 'DKIM': \"v=spf1 -all\"",
    "A secondary behind":
        "the SOA serials of differ.test differ: NS1 has 2024010101, NS2 has 2023123101",
    "A secondary behind, named in a table":
        "the SOA serials of differ.test differ: NS1:53 has 2024010101, NS2 has 2023123101",
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenarios_say_why(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("failed", FAILURES[name])


def test_measurements(results: dict[str, Any]) -> None:
    def kept(name: str) -> list[tuple[str, float, str | None]]:
        return [(m["name"], m["value"], m["crit"])
                for m in results["scenarios"][name]["measurements"] if m["name"] != "lookup_time"]

    assert kept("TCP, flags and TTLs of an authoritative server") == [
        ("ttl", 300, "300:"), ("ttl_2", 300, "~:300")]
    assert kept("SOA serials that agree") == [("soa_serial_spread", 0, "0"),
                                              ("soa_serial_spread_2", 0, "0")]
    assert kept("A secondary behind") == [("soa_serial_spread", 887000, "0")]
