"""Hostile HTTP targets through the real CLI: each broken server gives a failed scenario, a
reason an operator can act on (no traceback, no bare Python exception names), in bounded time
and bounded memory.

Every case is one project run with `escalator run -e test -f json --step-timeout 2s` (10s for
the servers that do answer, at once but slowly on a loaded machine) against a loopback server
from tests/servers (hostile_http.py for raw misbehaviour, tls.py for certificates, hostile.py
for silence and refusal). The memory cases run the CLI as a child process so that its peak RSS,
workers included, can be read back from `wait4`.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli, run_escalator_measured
from tests.servers.hostile import closed_port, silent_server
from tests.servers.hostile_http import CHARSETS, raw_server
from tests.servers.tls import TestCA

STEP_TIMEOUT = "2s"  # for the servers that never finish: each such case waits for it
TIME_BOUND = 8.0  # 2 s step timeout, plus the CLI's start-up on a busy 2-core machine
# A server that answers (a TLS handshake, a bad status line) ends the case as soon as it does;
# on a loaded CI machine that has taken over 2 s, so those cases leave it room.
ANSWERED_STEP_TIMEOUT = "10s"
ANSWERED_TIME_BOUND = 16.0
MEMORY_BOUND = 200 * 1024 * 1024
# Python exception names and library jargon that mean nothing to an operator
JARGON = re.compile(r"\b\w+(?:Error|Exception)\b|BadStatusLine|LineTooLong|IncompleteRead|"
                    r"Connection broken|Traceback|\(\d+, '")

Server = Callable[[Path], contextlib.AbstractContextManager[str]]


@contextlib.contextmanager
def _refused(_: Path) -> Iterator[str]:
    yield f"http://127.0.0.1:{closed_port()}"


@contextlib.contextmanager
def _silent(_: Path) -> Iterator[str]:
    with silent_server() as port:
        yield f"http://127.0.0.1:{port}"


def _raw(name: str, scheme: str = "http") -> Server:
    @contextlib.contextmanager
    def serve(_: Path) -> Iterator[str]:
        with raw_server(name) as url:
            yield url.replace("http:", f"{scheme}:", 1)

    return serve


def _tls(kind: str, scheme: str = "https") -> Server:
    @contextlib.contextmanager
    def serve(tmp: Path) -> Iterator[str]:
        with TestCA(tmp).serve(kind) as url:
            yield url.replace("https:", f"{scheme}:", 1)

    return serve


@dataclass(frozen=True)
class Case:
    """One hostile target: what serves it, the Then step, and the words the reason must hold."""

    id: str
    server: Server
    words: tuple[str, ...]
    then: str = "Then the request should succeed"
    outcome: str = "failed"
    waits: bool = False  # the server never finishes: the case ends at the client's timeout

    @property
    def step_timeout(self) -> str:
        return STEP_TIMEOUT if self.waits else ANSWERED_STEP_TIMEOUT

    @property
    def time_bound(self) -> float:
        return TIME_BOUND if self.waits else ANSWERED_TIME_BOUND


SEE = 'Then I should see "Welcome"'
JSON_STEP = 'Then the JSON at "$.status" should be "ok"'
TOO_DEEP = "nested more than 200 levels deep"

CASES = [
    Case("refused", _refused, ("connection refused",)),
    Case("never-answers", _silent, ("no answer within",), waits=True),
    Case("reset-before-answer", _raw("reset-before-answer"), ("reset",)),
    Case("closed-without-answer", _raw("close-without-answer"),
         ("closed the connection without answering",)),
    Case("reset-mid-body", _raw("reset-mid-body"), ("200", "body cut off", "reset")),
    Case("reset-mid-body-see", _raw("reset-mid-body"), ("'Welcome' not found", "cut off"), SEE),
    Case("short-body", _raw("short-body"), ("body cut off", "10 of 1000 bytes")),
    Case("head-then-silence", _raw("head-then-silence"), ("body still arriving after",),
         waits=True),
    Case("trickle-body", _raw("trickle-body"), ("body still arriving after",), waits=True),
    Case("trickle-head", _raw("trickle-head"), ("step timed out after 2s during GET http",),
         waits=True),
    Case("endless-chunked", _raw("endless-chunked"), ("cut off", "10.0 MiB"), SEE),
    Case("endless-unframed", _raw("endless-unframed"), ("cut off", "10.0 MiB"), SEE),
    Case("endless-cannot-succeed", _raw("endless-chunked"), ("cut off",)),
    Case("fifty-megabytes", _raw("fifty-megabytes"), ("cut off", "10.0 MiB"), SEE),
    Case("invalid-status-line", _raw("bad-status-line"), ("status line", "OK-ish")),
    Case("not-http-at-all", _raw("not-http"), ("status line", "SSH-2.0")),
    Case("huge-header", _raw("huge-header"), ("header",)),
    Case("too-many-headers", _raw("many-headers"), ("more than 100 headers",)),
    Case("bad-chunk", _raw("bad-chunk"), ("body cut off",)),
    Case("gzip-bomb", _raw("gzip-bomb"), ("cut off", "10.0 MiB"), SEE),
    Case("pipe-in-status-reason", _raw("pipe-in-reason"), ("503",)),
    Case("binary-500-body", _raw("binary-error"), ("500 Internal Server Error",)),
    Case("redirect-loop", _raw("redirect-loop"), ("more than 10 redirects",)),
    Case("redirect-to-ftp", _raw("redirect-to-ftp"), ("redirect", "ftp://127.0.0.1/pub/")),
    Case("redirect-to-bad-url", _raw("redirect-to-bad-url"), ("redirect", "http://[::1/broken")),
    Case("tls-expired", _tls("expired"), ("TLS", "expired")),
    Case("tls-self-signed", _tls("self-signed"), ("TLS", "self-signed")),
    Case("tls-wrong-host", _tls("wrong-host"), ("TLS", "127.0.0.1")),
    Case("https-to-plain-http", _raw("not-http", "https"), ("TLS",)),
    Case("http-to-tls-port", _tls("valid", "http"), ("127.0.0.1",)),
    Case("cert-expired-step", _tls("expired"), ("expired", "days ago"),
         'Then the TLS certificate of "${host}" should be valid for at least 7 days'),
    Case("cert-self-signed-step", _tls("self-signed"), ("self-signed",),
         'Then the TLS certificate of "${host}" should be valid for at least 7 days'),
    # A target's answer can make a scenario fail, never make the check unknown (a down,
    # tagged service would page nobody): charsets that are no text encoding, JSON too deep.
    *(Case(f"charset-{name}", _raw(f"charset-{name}"), ("503", "Service Unavailable"))
      for name in CHARSETS),
    *(Case(f"html-charset-{name}", _raw(f"html-charset-{name}"), ("'Welcome' not found", "503"),
           SEE) for name in CHARSETS),
    Case("json-deep-list", _raw("json-deep-list"), ("not JSON", TOO_DEEP), JSON_STEP),
    Case("json-deep-object", _raw("json-deep-object"), ("not JSON", TOO_DEEP), JSON_STEP),
    Case("json-huge-number", _raw("json-huge-number"), ("not JSON", "number"), JSON_STEP),
]


def _project(tmp_path: Path, url: str, then: str, bundle: Path | None = None) -> Path:
    feature = f"""
        Feature: Hostile
          Scenario: the hostile target
            When I go to "/"
            {then}
        """
    host = url.split("://", 1)[1].rstrip("/")
    used = {"host": host} if "${host}" in then else {}  # an unused variable is a notice
    return make_project(tmp_path, {"hostile.feature": feature},
                        variables={"base_url": url, **used,
                                   "tls_ca_bundle": str(bundle or tmp_path / "ca.pem")})


def run_case(tmp_path: Path, case: Case) -> tuple[dict[str, Any], float]:
    (tmp_path / "ca.pem").touch()  # the TLS servers overwrite it with their CA
    with case.server(tmp_path) as url:
        root = _project(tmp_path / "project", url, case.then, tmp_path / "ca.pem")
        begun = time.monotonic()
        out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", case.step_timeout],
                      cwd=root)
        took = time.monotonic() - begun
    assert out.stderr == ""
    assert out.code == {"failed": 1, "passed": 0}.get(case.outcome, 2), out.stdout
    [scenario] = out.json["scenarios"]
    return scenario, took


def assert_readable(reason: str) -> None:
    assert "\n" not in reason and len(reason) < 600, reason
    assert not JARGON.search(reason), f"jargon in the reason: {reason}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_http_target(tmp_path: Path, case: Case) -> None:
    scenario, took = run_case(tmp_path, case)
    assert scenario["outcome"] == case.outcome, scenario["reason"]
    reason = scenario["reason"]
    for word in case.words:
        assert word in reason, f"{word!r} not in {reason!r}"
    assert_readable(reason)
    assert took < case.time_bound


def test_matrix_has_thirty_cases() -> None:
    assert len(CASES) >= 30


def test_gzip_page_is_read_as_its_text(tmp_path: Path) -> None:
    """Not hostile at all: nearly every real server compresses, and "should see" must see."""
    scenario, _ = run_case(tmp_path, Case("gzip", _raw("gzip-page"), (), SEE, "passed"))
    assert (scenario["outcome"], scenario["reason"]) == ("passed", None)


def test_pipe_in_status_reason_keeps_the_nagios_line(tmp_path: Path) -> None:
    with raw_server("pipe-in-reason") as url:
        (tmp_path / "ca.pem").touch()
        root = _project(tmp_path, url, "Then the request should succeed")
        out = run_cli(["check", "-e", "test", "--step-timeout", STEP_TIMEOUT], cwd=root)
    assert out.code == 2
    port = url.rsplit(":", 1)[1]
    shown = re.sub(r"\d+(?:\.\d+)?(m?s)\b", r"N\1", out.stdout.replace(port, "PORT"))
    shown = re.sub(r"in \d+ ms", "in N ms", shown)
    fatal = "Fatal error / retry; a=b "
    assert shown == (
        "ESCALATOR CRITICAL - 1 of 1 scenario failing: the hostile target | scenarios=1;;;0"
        " passed=0;;;0 failed=1;;;0 unknown=0;;;0 time=Ns;;50;0"
        " 'the hostile target response_time'=Nms\n"
        "CRITICAL the hostile target (features/hostile.feature:2)\n"
        "  Then the request should succeed: GET http://127.0.0.1:PORT/ answered"
        " 503 Down / for; maintenance=now in N ms; body starts: '"
        + (fatal * 7)[:157] + "...'\n")


# ---- bounded memory: the CLI as a child process, its peak RSS from wait4 --------------------

def _peak_rss_of_cli(root: Path) -> tuple[dict[str, Any], int]:
    """Run `python -m escalator run` in `root`; its JSON and the peak RSS of it and its
    workers."""
    output, peak = run_escalator_measured(
        ["run", "-e", "test", "-f", "json", "--step-timeout", STEP_TIMEOUT], root)
    return json.loads(output), peak


@pytest.mark.parametrize("name", ["endless-unframed", "fifty-megabytes", "gzip-bomb"])
def test_big_bodies_stay_in_bounded_memory(tmp_path: Path, name: str) -> None:
    with raw_server(name) as url:
        (tmp_path / "ca.pem").touch()
        root = _project(tmp_path, url, SEE)
        result, peak = _peak_rss_of_cli(root)
    [scenario] = result["scenarios"]
    assert scenario["outcome"] == "failed"
    assert "cut off" in scenario["reason"]
    assert peak < MEMORY_BOUND, f"peak RSS {peak / 2**20:.0f} MiB"
