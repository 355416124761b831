"""DNS, TCP and TLS verdicts that must be true, against real loopback servers (issue 15).

A measurement that could not be taken is marked "U" in perfdata, never a number, the same way
for every protocol; a nameserver on a closed port fails at once on the ICMP refusal; a TXT value
that is only part of a record says so instead of contradicting itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.dns import nsd_server
from tests.servers.hostile import closed_port

pytestmark = pytest.mark.servers

FEATURE = """
Feature: Failed measurements

  Scenario: A nameserver on a closed port
    Given I use the nameserver "127.0.0.1:${dead}"
    When I lookup "www.example.test"
    Then the lookup should take less than 500 ms

  Scenario: A port that should be open
    Then port ${dead} on "127.0.0.1" should be open

  Scenario: A certificate on a closed port
    Then the TLS certificate of "127.0.0.1:${dead}" should be valid for at least 14 days

  Scenario: Part of a TXT record
    When I look up the TXT record for "example.test"
    Then the answer should include "v=spf1"
"""


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], str]]:
    with nsd_server(tmp_path_factory.mktemp("nsd")) as nsd:
        root = make_project(tmp_path_factory.mktemp("probes"), {"p.feature": FEATURE},
                            variables={"dead": str(closed_port()), "nameserver": nsd})
        data = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "10s"], cwd=root)
        nagios = run_cli(["check", "-e", "test", "--step-timeout", "10s"], cwd=root)
    yield {s["name"]: s for s in data.json["scenarios"]}, nagios.line1


def test_a_failed_measurement_is_marked_the_same_way_for_every_protocol(
        checked: tuple[dict[str, Any], str]) -> None:
    scenarios, line1 = checked
    for name, measurement, limit in (
            ("A nameserver on a closed port", "lookup_time", ""),  # the When step failed
            ("A port that should be open", "connect_time", ""),
            ("A certificate on a closed port", "days_left", ";;14:")):
        found = [m["value"] for m in scenarios[name]["measurements"] if m["name"] == measurement]
        assert found == [None], name
        assert f"'{name} {measurement}'=U{limit}\n" in line1.split(" | ")[1].replace(
            " '", "\n'") + "\n"
        assert scenarios[name]["outcome"] == "failed"


def test_a_closed_nameserver_port_fails_at_once(checked: tuple[dict[str, Any], str]) -> None:
    scenarios, _ = checked
    scenario = scenarios["A nameserver on a closed port"]
    assert re.fullmatch(r"A www\.example\.test: cannot reach nameserver 127\.0\.0\.1:\d+: "
                        r"[Cc]onnection refused", scenario["reason"]), scenario["reason"]
    # the ICMP refusal arrives at once; waiting for the client timeout (9 s here) is the bug
    assert scenario["duration"] < 4.5


def test_part_of_a_txt_record_is_not_a_contradiction(
        checked: tuple[dict[str, Any], str]) -> None:
    scenarios, _ = checked
    assert scenarios["Part of a TXT record"]["reason"] == (
        'TXT example.test is "v=spf1 -all": no record is "v=spf1" (a value matches a whole '
        'record; "v=spf1" is only part of "v=spf1 -all")')
