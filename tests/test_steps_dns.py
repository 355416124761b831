"""DNS phrases end to end: `escalator run` against a real nsd and hostile nameservers on loopback.

One project per verdict group keeps the cost low: every scenario of PASSING must pass, and every
scenario of FAILING ends with the exact outcome and reason listed beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.readable import client_budget
from tests.servers.dns import hostile_server, nsd_server

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nsd_server(tmp_path_factory.mktemp("nsd")) as address:
        yield address


@pytest.fixture(scope="module")
def silent() -> Iterator[str]:
    with hostile_server("silent") as address:
        yield address


@pytest.fixture(scope="module")
def servfail() -> Iterator[str]:
    with hostile_server("servfail") as address:
        yield address


def _run(tmp_path: Path, feature: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
    root = make_project(tmp_path, {"dns.feature": feature}, variables=variables)
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "2s"], cwd=root)
    assert out.stderr == ""
    return list(out.json["scenarios"])


PASSING = """
Feature: DNS that works
  Scenario: cucumber-nagios lookup sees every address, v4 and v6
    When I lookup "www.example.test"
    Then the name should resolve to "127.0.0.11"
    And the name should resolve to "2001:DB8::10"
    And the lookup should take less than 5000 ms

  Scenario: cucumber-nagios reverse lookup
    When I reverse lookup "127.0.0.10"
    Then the IP should resolve to "WWW.example.test."

  Scenario: mail exchanger
    When I look up the MX record for "example.test"
    Then the answer should include "mail.example.test"
    And the answer should include "10 mail.example.test."
    And the answer should not include "other.example.test"

  Scenario: text, alias, and the rest of the zone
    When I look up the TXT record for "example.test"
    Then the answer should include "v=spf1 -all"
    When I look up the CNAME record for "alias.example.test"
    Then the answer should include "www.example.test"
    When I look up the A record for "alias.example.test"
    Then the answer should include "127.0.0.10"
    When I look up the SOA record for "example.test"
    Then the answer should include "ns1.example.test"
    When I look up the NS record for "example.test"
    Then the answer should include "ns1.example.test"
    When I look up the SRV record for "_imap._tcp.example.test"
    Then the answer should include "mail.example.test"
    When I look up the CAA record for "example.test"
    Then the answer should include "letsencrypt.org"
    When I look up the PTR record for "127.0.0.20"
    Then the answer should include "mail.example.test"
    When I look up the aaaa record for "v6only.example.test"
    Then the answer should include "2001:db8::66"

  Scenario: a removed name
    When I look up the A record for "old.example.test"
    Then the name should not exist

  Scenario: an IPv6-only name passes the cucumber-nagios lookup
    When I lookup "v6only.example.test"
    Then the name should resolve to "2001:db8::66"

  Scenario: a nameserver named in the step
    Given I use the nameserver "localhost:${port}"
    When I lookup "mail.example.test"
    Then the name should resolve to "127.0.0.20"
"""


def test_every_dns_phrase_passes_against_nsd(tmp_path: Path, nsd: str) -> None:
    port = nsd.rsplit(":", 1)[1]
    scenarios = _run(tmp_path, PASSING, {"nameserver": nsd, "port": port})
    assert [(s["name"], s["outcome"], s["reason"]) for s in scenarios] == [
        (s["name"], "passed", None) for s in scenarios]
    assert len(scenarios) == 7
    first = scenarios[0]["measurements"]
    assert [(m["name"], m["uom"], m["crit"]) for m in first] == [
        ("lookup_time", "ms", "@5000:")]
    assert 0 < first[0]["value"] < 5000


FAILING = """
Feature: DNS that does not
  Scenario: wrong address
    When I lookup "www.example.test"
    Then the name should resolve to "127.0.0.99"

  Scenario: a name that should be gone
    When I look up the A record for "www.example.test"
    Then the name should not exist

  Scenario: NXDOMAIN
    When I lookup "nope.example.test"
    Then the name should resolve to "127.0.0.10"

  Scenario: no such record type at the name
    When I look up the AAAA record for "mail.example.test"
    Then the answer should include "2001:db8::20"

  Scenario: an empty answer means the name exists
    When I look up the AAAA record for "mail.example.test"
    Then the name should not exist

  Scenario: an unwanted value
    When I look up the TXT record for "txt.example.test"
    Then the answer should not include "hello world"

  Scenario: reverse lookup to the wrong name
    When I reverse lookup "127.0.0.10"
    Then the IP should resolve to "mail.example.test"

  Scenario: too slow
    When I look up the A record for "www.example.test"
    Then the lookup should take less than 0.0001 ms

  Scenario: a nameserver that never answers
    Given I use the nameserver "${silent}"
    When I lookup "www.example.test"
    Then the name should resolve to "127.0.0.10"

  Scenario: a failing nameserver
    Given I use the nameserver "${servfail}"
    When I look up the MX record for "example.test"

  Scenario: an unknown record type is our mistake
    When I look up the BOGUS record for "example.test"

  Scenario: a bad nameserver is our mistake
    Given I use the nameserver "127.0.0.1:99999"

  Scenario: an answer step without a lookup
    Then the answer should include "x"

  Scenario: a reverse lookup of something that is not an address
    When I reverse lookup "not-an-ip"
"""


def test_every_dns_phrase_fails_with_a_named_reason(tmp_path: Path, nsd: str, silent: str,
                                                     servfail: str) -> None:
    # The environment names the good nsd: the silent and failing servers come from Given steps.
    scenarios = _run(tmp_path, FAILING,
                     {"nameserver": nsd, "silent": silent, "servfail": servfail})
    got = [(s["outcome"], client_budget(s["reason"] or "", 2.0)) for s in scenarios]
    slow = got[7][1]
    assert re.fullmatch(r"the lookup took \d+\.\d ms, wanted less than 0.0001 ms", slow), slow
    got[7] = ("failed", "<slow>")
    assert got == [
        ("failed", "A/AAAA www.example.test is 127.0.0.10, 127.0.0.11, 2001:db8::10, "
                   "without 127.0.0.99"),
        ("failed", "www.example.test exists: A www.example.test is 127.0.0.10, 127.0.0.11"),
        ("failed", f"A nope.example.test: no such name (NXDOMAIN from {nsd})"),
        ("failed", f"AAAA mail.example.test: no AAAA record (NOERROR, empty answer from {nsd})"),
        ("failed", "mail.example.test exists (NOERROR, though without AAAA records)"),
        ("failed", 'TXT txt.example.test is "hello world" "second string", including hello world'),
        ("failed", "PTR 127.0.0.10 is www.example.test., without mail.example.test"),
        ("failed", "<slow>"),
        ("failed", f"A www.example.test: no answer from nameserver {silent} within B s"),
        ("failed", f"MX example.test: nameserver {servfail} failed (SERVFAIL)"),
        ("unknown", "unknown DNS record type 'BOGUS'"),
        ("unknown", "bad nameserver '127.0.0.1:99999': expected host or host:port"),
        ("unknown", "no DNS lookup in this scenario yet (When I look up ...)"),
        ("unknown", "'not-an-ip' is not an IP address"),
    ]
    # The failing step is the one that says so: the When step for a silent server.
    silent_steps = [(st["keyword"], st["status"]) for st in scenarios[8]["steps"]]
    assert silent_steps == [("Given", "passed"), ("When", "failed"), ("Then", "skipped")]
    assert [(m["name"], m["value"]) for m in scenarios[8]["measurements"]] == [
        ("lookup_time", None)]  # no answer: marked as not measured, never a time
