"""The phases of an HTTP exchange, measured at the connection, and the phrases that judge them.

Honesty checks against real loopback servers: the first byte of `/slow?ms=300` cannot come
much sooner than 300 ms after the request (the clock starts when the send returns, a few ms late
on a busy machine); a plain HTTP request has no TLS phase, an HTTPS one has;
a kept-alive connection opens nothing the second time; the phases add up to no more than the
whole exchange. Limits in the phrases are far above or far below what loopback needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from escalator.probes.http import HttpTarget, close_client, fetch, open_client
from tests.project import make_project, run_cli
from tests.servers.http import Reply, serve
from tests.servers.tls import TestCA


@pytest.fixture
def client() -> Iterator[requests.Session]:
    session = open_client()
    try:
        yield session
    finally:
        close_client(session)


def test_phases_are_measured_where_they_happen(client: requests.Session, tmp_path: Path
                                               ) -> None:
    with serve() as base:
        slow = fetch(client, HttpTarget(base + "/slow?ms=300"))
        again = fetch(client, HttpTarget(base + "/"))
    phases = dict(slow.phases)
    assert list(phases) == ["connect", "tls", "firstbyte", "transfer"]
    # the clock starts when the client's send returns: on a busy machine the server may already
    # have slept a few ms of its 300 by then, never much more
    assert phases["firstbyte"] >= 0.28 and phases["tls"] == 0.0 and phases["connect"] > 0
    assert sum(phases.values()) <= slow.elapsed
    assert again.phase("connect") == 0.0  # the same connection, kept alive
    ca = TestCA(tmp_path)
    with ca.serve("valid") as secure:
        result = fetch(client, HttpTarget(secure + "/", verify=str(ca.bundle)))
    assert result.ok and (result.phase("tls") or 0) > 0 and (result.phase("connect") or 0) > 0


def test_phases_of_a_redirect_chain_add_up(client: requests.Session) -> None:
    with serve({"/hop": lambda _: Reply(302, "", {"Location": "/slow?ms=200"})}) as base:
        result = fetch(client, HttpTarget(base + "/hop"))
    assert result.redirects and (result.phase("firstbyte") or 0) >= 0.18


FEATURE = """
Feature: Phases

  Scenario: Every phase recorded
    Given I am timing each phase
    When I go to "/"
    Then the time to first byte should be less than 5000 ms
    And the time to connect should be less than 5000 ms
    When I go to "/"

  Scenario: A slow first byte
    When I go to "/slow?ms=300"
    Then the time to first byte should be less than 100 ms

  Scenario: A TLS handshake
    When I go to "${secure}/"
    Then the TLS handshake should take less than 5000 ms

  Scenario: A TLS handshake over its limit
    When I go to "${secure}/"
    Then the TLS handshake should take less than 0.001 ms

  Scenario: A connection over its limit
    When I go to "/"
    Then the time to connect should be less than 0.001 ms
"""


def test_phase_phrases_record_and_judge(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    with serve() as base, ca.serve("valid") as secure:
        root = make_project(tmp_path / "project", {"phases.feature": FEATURE},
                            variables={"base_url": base, "secure": secure,
                                       "tls_ca_bundle": str(ca.bundle)})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    every, slow, tls, slow_tls, slow_connect = out.json["scenarios"]
    assert every["outcome"] == "passed", every["reason"]
    assert [(m["name"], m["uom"], m["crit"]) for m in every["measurements"]] == [
        ("response_time", "ms", None), ("time_connect", "ms", "@5000:"), ("time_tls", "ms", None),
        ("time_firstbyte", "ms", "@5000:"), ("time_transfer", "ms", None),
        ("response_time_2", "ms", None), ("time_connect_2", "ms", None),
        ("time_tls_2", "ms", None), ("time_firstbyte_2", "ms", None),
        ("time_transfer_2", "ms", None)]
    assert slow["outcome"] == "failed"
    assert re.sub(r"took \d+\.\d ms|in \d+ ms", "N", slow["reason"].replace(base, "URL")) == (
        "the first byte N, wanted less than 100 ms: GET URL/slow?ms=300 answered 200 OK N")
    first_byte = next(m for m in slow["measurements"] if m["name"] == "time_firstbyte")
    assert first_byte["value"] >= 280 and first_byte["crit"] == "@100:"  # see above
    assert tls["outcome"] == "passed", tls["reason"]
    assert [m["name"] for m in tls["measurements"]] == ["response_time", "time_tls"]
    assert slow_tls["outcome"] == slow_connect["outcome"] == "failed"
    assert re.fullmatch(r"the TLS handshake took \d+\.\d ms, wanted less than 0\.001 ms: GET "
                        r"https://127\.0\.0\.1:\d+/ answered 200 OK in \d+ ms",
                        slow_tls["reason"]), slow_tls["reason"]
    assert re.fullmatch(r"connecting took \d+\.\d ms, wanted less than 0\.001 ms: GET "
                        r"http://127\.0\.0\.1:\d+/ answered 200 OK in \d+ ms",
                        slow_connect["reason"]), slow_connect["reason"]
