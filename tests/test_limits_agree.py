"""Every phrase that states a limit judges with the `Limit` it records (verdicts merged into the
phrases that landed beside it: values, TTLs, body sizes, phases, connect times, ping, disk,
file sizes, the TLS chain), so the perfdata range agrees with the verdict, at the boundary too,
and each has its `, warning above/below N` variant. Real servers on loopback.

Before, "the JSON at ... should be less than 42" failed at 42 but wrote `~:42`, which Nagios
reads as OK at 42; a body of exactly the limit, a TTL at its limit and a command's output at
its limit disagreed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from escalator.limits import Limit
from tests.project import make_project, run_cli
from tests.servers.api import api_routes
from tests.servers.dns import nsd_server
from tests.servers.http import serve
from tests.servers.tls import TestCA

FEATURE = """
Feature: Limits that agree with their verdicts

  Scenario: A JSON value at its limit, less than
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than 42

  Scenario: A JSON value at its limit, at most
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be at most 42

  Scenario: A JSON value at its limit, more than
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be more than 42

  Scenario: A JSON value at its limit, at least
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be at least 42

  Scenario: A JSON value past its warning limit
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than 100, warning above 40

  Scenario: A warning clause on the wrong side
    When I go to "/api/metrics"
    Then the JSON at "$.queue_depth" should be less than 100, warning below 80

  Scenario: A body at its limit
    When I go to "/api/text"
    Then the response body should be smaller than 35 B

  Scenario: A body past its warning limit
    When I go to "/api/text"
    Then the response body should be smaller than 1 KiB, warning above 20 B

  Scenario: Command output at its limit
    When I run 'echo 50'
    Then 'stdout' should be less than 50

  Scenario: Command output past its warning limit
    When I run 'echo 50'
    Then 'stdout' should be at least 10, warning below 60

  Scenario: A TTL at its limit
    Given I use the nameserver "${nsd}"
    When I look up the A record for "www.example.test"
    Then the TTL should be less than 300 seconds

  Scenario: A TTL past its warning limit
    Given I use the nameserver "${nsd}"
    When I look up the A record for "www.example.test"
    Then the TTL should be at least 300 seconds, warning below 3600 seconds

  Scenario: A connect time past its warning limit
    Then the connection to port ${port} on "127.0.0.1" should take less than 5000 ms, warning above 0.0001 ms

  Scenario: The first byte past its warning limit
    Given I am timing each phase
    When I go to "/"
    Then the time to first byte should be less than 5000 ms, warning above 0.0001 ms

  Scenario: A round trip past its warning limit
    When I ping "127.0.0.1"
    Then the round trip time should be less than 5000 ms, warning above 0.0001 ms

  Scenario: No packet lost, a limit of none
    When I ping "127.0.0.1"
    Then the packet loss should be less than 0%

  Scenario: Disk space past its warning limit
    Then the filesystem of "/" should have at least 0% free, warning below 100%

  Scenario: A file at its size limit
    Then the file "${thousand}" should be at most 1 KB

  Scenario: A file past its size warning
    Then the file "${thousand}" should be at most 2 KB, warning above 999 B

  Scenario: A chain past its warning limit
    Then the TLS certificate chain of "${tls}" should be valid for at least 3 days, warning below 100000
"""  # noqa: E501 - feature lines as an operator writes them


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    thousand = tmp_path_factory.mktemp("files") / "thousand.bin"
    thousand.write_bytes(b"x" * 1000)
    with ExitStack() as stack:
        tls = stack.enter_context(ca.serve("valid")).removeprefix("https://")
        nsd = stack.enter_context(nsd_server(tmp_path_factory.mktemp("nsd")))
        base = stack.enter_context(serve(api_routes()))
        root = make_project(tmp_path_factory.mktemp("limits"), {"l.feature": FEATURE},
                            variables={"base_url": base, "nsd": nsd, "tls": tls,
                                       "tls_ca_bundle": str(ca.bundle),
                                       "port": base.rsplit(":", 1)[1],
                                       "thousand": str(thousand)})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    yield {s["name"]: s for s in out.json["scenarios"]}


def _limits(scenario: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(m["name"], m["warn"], m["crit"]) for m in scenario["measurements"]
            if m["warn"] or m["crit"]]


EXPECTED = {
    "A JSON value at its limit, less than": ("failed", False, [
        ("json_queue_depth", None, "@42:")]),
    "A JSON value at its limit, at most": ("passed", False, [
        ("json_queue_depth", None, "~:42")]),
    "A JSON value at its limit, more than": ("failed", False, [
        ("json_queue_depth", None, "@~:42")]),
    "A JSON value at its limit, at least": ("passed", False, [
        ("json_queue_depth", None, "42:")]),
    "A JSON value past its warning limit": ("failed", True, [
        ("json_queue_depth", "~:40", "@100:")]),
    "A warning clause on the wrong side": ("unknown", False, []),
    "A body at its limit": ("failed", False, [("body_size", None, "@35:")]),
    "A body past its warning limit": ("failed", True, [("body_size", "20", "@1024:")]),
    "Command output at its limit": ("failed", False, [("stdout", None, "@50:")]),
    "Command output past its warning limit": ("failed", True, [("stdout", "60:", "10:")]),
    "A TTL at its limit": ("failed", False, [("ttl", None, "@300:")]),
    "A TTL past its warning limit": ("failed", True, [("ttl", "3600:", "300:")]),
    "A connect time past its warning limit": ("failed", True, [
        ("connect_time", "0.0001", "@5000:")]),
    "The first byte past its warning limit": ("failed", True, [
        ("time_firstbyte", "0.0001", "@5000:")]),
    "A round trip past its warning limit": ("failed", True, [("rtt", "0.0001", "@5000:")]),
    "No packet lost, a limit of none": ("failed", False, [("packet_loss", None, "@0:")]),
    "Disk space past its warning limit": ("failed", True, [("disk_free", "100:", "0:")]),
    "A file at its size limit": ("passed", False, [("size THOUSAND", None, "1000")]),
    "A file past its size warning": ("failed", True, [("size THOUSAND", "999", "2000")]),
    "A chain past its warning limit": ("failed", True, [
        ("chain_days_left", "100000:", "3:")]),
}


def test_each_phrase_records_its_limits_and_the_value_decides(scenarios: dict[str, Any]
                                                               ) -> None:
    found = {name: (s["outcome"], s["warning_only"],
                    [(m if not m.startswith("size ") else "size THOUSAND", w, c)
                     for m, w, c in _limits(s)])
             for name, s in scenarios.items()}
    assert found == EXPECTED


def test_the_perfdata_ranges_agree_with_the_verdicts(scenarios: dict[str, Any]) -> None:
    """What a Nagios reading the ranges would say is what the scenario says."""
    for name, scenario in scenarios.items():
        if scenario["outcome"] == "unknown":
            continue
        ((measurement, warn, crit),) = _limits(scenario)
        value = next(m["value"] for m in scenario["measurements"] if m["name"] == measurement)
        critical = crit is not None and Limit.parse(crit).alerts(value)
        warning = warn is not None and Limit.parse(warn).alerts(value)
        failed = scenario["outcome"] == "failed" and not scenario["warning_only"]
        assert (failed, scenario["warning_only"]) == (critical, warning and not critical), name


def test_warning_reasons_echo_the_clause(scenarios: dict[str, Any]) -> None:
    reasons = {name: s["reason"] for name, s in scenarios.items()}
    assert reasons["A JSON value past its warning limit"] == (
        "$.queue_depth is 42, warning above 40")
    assert reasons["A warning clause on the wrong side"] == (
        "the warning limit (below 80) must be crossed before the critical one (less than 100)")
    assert reasons["Command output at its limit"] == (
        "the stdout of `echo 50` is 50, wanted less than 50")
    assert reasons["A TTL at its limit"].endswith("has a TTL of 300 s, wanted less than 300 "
                                                  "seconds")
    assert reasons["A TTL past its warning limit"].endswith(
        "has a TTL of 300 s, warning below 3600 seconds")
    assert reasons["A body at its limit"].endswith("/api/text is 35 B, wanted less than 35 B")
    assert reasons["A body past its warning limit"].endswith("/api/text is 35 B, warning above "
                                                             "20 B")
    assert reasons["A file past its size warning"].endswith(
        "/thousand.bin is 1000 bytes, warning above 999 B")
    assert reasons["No packet lost, a limit of none"] == (
        "0 of 3 echo requests to 127.0.0.1 were lost (0%), wanted less than 0%")
