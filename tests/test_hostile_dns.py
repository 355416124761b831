"""Hostile nameservers through the real CLI: NXDOMAIN, SERVFAIL, REFUSED, silence, truncation
with and without a TCP answer, a closed port, and replies that are not answers (garbage, the
wrong query id, a compression-pointer loop, a reply to another question). Each ends with the
right verdict, a reason naming the nameserver's fault, in bounded time.

nsd and tests/servers/dns.py's hostile servers cover the standard failures; the forged replies
come from `forged_server` below: a UDP socket on loopback answering every query with bytes
made by one function, stopped when its `with` block ends.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import readable
from tests.project import make_project, run_cli
from tests.servers.dns import hostile_server, nsd_server, reply_server
from tests.servers.hostile import closed_port

pytestmark = pytest.mark.servers

TIME_BOUND = 8.0  # --step-timeout 2s plus start-up on a busy machine
JARGON = re.compile(r"\b\w+(?:Error|Exception)\b|Traceback|dns\.\w+")

Forge = Callable[[bytes], bytes]


def _flip_id(query: bytes) -> bytes:
    """A well-formed NOERROR reply, but for another query id (a spoofing attempt)."""
    ident = struct.unpack("!H", query[:2])[0] ^ 0xFFFF
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 0, 0, 0) + query[12:]


def _garbage(query: bytes) -> bytes:
    return query[:2] + b"\x81\x80" + b"\xde\xad\xbe\xef" * 5


def _pointer_loop(query: bytes) -> bytes:
    """One answer whose owner name is a compression pointer to itself."""
    head = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], 0x8180, 1, 1, 0, 0)
    question = query[12:]
    at = 12 + len(question)
    answer = struct.pack("!HHHIH", 0xC000 | at, 1, 1, 60, 4) + socket.inet_aton("192.0.2.9")
    return head + question + answer


def _other_question(query: bytes) -> bytes:
    """A NOERROR reply with an A record, for a name nobody asked about."""
    ident = struct.unpack("!H", query[:2])[0]
    other = b"\x05other\x04test\x00" + struct.pack("!HH", 1, 1)
    answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("192.0.2.66")
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + other + answer


FORGES: dict[str, Forge] = {"wrong-id": _flip_id, "garbage": _garbage,
                            "pointer-loop": _pointer_loop, "other-question": _other_question}


def forged_server(name: str) -> contextlib.AbstractContextManager[str]:
    return reply_server(FORGES[name])


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nsd_server(tmp_path_factory.mktemp("nsd")) as address:
        yield address


def run_lookup(tmp_path: Path, nameserver: str, then: str, name: str = "www.example.test"
               ) -> tuple[dict[str, Any], float]:
    root = make_project(tmp_path, {"dns.feature": f"""
        Feature: Hostile DNS
          Scenario: lookup
            When I look up the A record for "{name}"
            {then}
        """}, variables={"nameserver": nameserver})
    begun = time.monotonic()
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "2s"], cwd=root)
    took = time.monotonic() - begun
    assert out.stderr == ""
    [scenario] = out.json["scenarios"]
    return scenario, took


def assert_failed_readably(scenario: dict[str, Any], took: float, *words: str) -> None:
    readable.assert_failed_readably(scenario, took, *words, jargon=JARGON, bound=TIME_BOUND)


RESOLVES = 'Then the answer should include "127.0.0.10"'


def test_nxdomain(tmp_path: Path, nsd: str) -> None:
    scenario, took = run_lookup(tmp_path, nsd, RESOLVES, "gone.example.test")
    assert_failed_readably(scenario, took, "no such name", "NXDOMAIN", nsd)


@pytest.mark.parametrize(("mode", "words"), [("servfail", ("SERVFAIL",)),
                                             ("refused", ("REFUSED",)),
                                             ("silent", ("no answer", "within"))])
def test_nameserver_that_fails(tmp_path: Path, mode: str, words: tuple[str, ...]) -> None:
    with hostile_server(mode) as server:
        scenario, took = run_lookup(tmp_path, server, RESOLVES)
    assert_failed_readably(scenario, took, server, *words)


def test_truncated_answer_without_tcp(tmp_path: Path) -> None:
    """TC set and nothing on TCP: the full answer cannot be had; say truncated, not refused."""
    with hostile_server("truncated") as server:
        scenario, took = run_lookup(tmp_path, server, RESOLVES)
    assert_failed_readably(scenario, took, server, "truncated")


def test_truncated_answer_is_fetched_over_tcp(tmp_path: Path) -> None:
    with hostile_server("truncated", tcp=True) as server:
        scenario, _ = run_lookup(tmp_path, server, 'Then the answer should include "192.0.2.1"')
    assert (scenario["outcome"], scenario["reason"]) == ("passed", None)


def test_closed_port(tmp_path: Path) -> None:
    server = f"127.0.0.1:{closed_port()}"
    scenario, took = run_lookup(tmp_path, server, RESOLVES)
    assert_failed_readably(scenario, took, server)


@pytest.mark.parametrize("name", sorted(FORGES))
def test_a_reply_that_is_not_an_answer(tmp_path: Path, name: str) -> None:
    """Never taken as an answer (no 192.0.2.x passes) and never an error in our code."""
    with forged_server(name) as server:
        scenario, took = run_lookup(tmp_path, server,
                                    'Then the answer should include "192.0.2"')
    assert_failed_readably(scenario, took, server)
