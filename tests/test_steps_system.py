"""Local phrases end to end: commands, files, ports and ping through `escalator run`.

Ports use real listeners on loopback; ping uses 127.0.0.1, and "does not respond" runs the whole
`escalator run` inside a private network namespace whose loopback ignores ICMP echo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.readable import client_budget


@pytest.fixture
def ports() -> Iterator[tuple[int, int]]:
    """(an open port, a closed port) on 127.0.0.1."""
    with socket.socket() as listener, socket.socket() as unused:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield int(listener.getsockname()[1]), int(unused.getsockname()[1])


def _scenarios(root: Path, *extra: str) -> list[dict[str, Any]]:
    out = run_cli(["run", "-e", "test", "-f", "json", *extra], cwd=root)
    assert out.stderr == ""
    return list(out.json["scenarios"])


PASSING = """
Feature: Local checks that pass
  Scenario: a command's exit status and streams
    When I run 'printf "one\\ntwo\\n" | wc -l; echo oops >&2; exit 3'
    Then it should exit '3'
    And 'stdout' should have '2'
    And 'stderr' should have 'oops'
    And 'stdout' should not have 'oops'

  Scenario: single quotes inside the command, and variables
    When I run 'echo 'quiet' | tr a-z A-Z; echo ${greeting}'
    Then 'stdout' should have 'QUIET'
    And 'stdout' should have 'hello there'
    And it should exit '0'

  Scenario: a fresh file
    Then the file "${fresh}" should have been modified within the last 5 minutes
    And the file "${fresh}" should have been modified within the last 1 hour

  Scenario: ports
    Then port ${open} on "127.0.0.1" should be open
    And port ${closed} on "localhost" should be closed

  Scenario: ping
    When I ping "127.0.0.1"
    Then it should respond
"""


def test_local_phrases_pass(tmp_path: Path, ports: tuple[int, int]) -> None:
    fresh = tmp_path / "fresh.log"
    fresh.write_text("written just now")
    feature = PASSING.replace("${open}", str(ports[0])).replace("${closed}", str(ports[1]))
    root = make_project(tmp_path / "project", {"local.feature": feature},
                        variables={"greeting": "hello there", "fresh": str(fresh)})
    scenarios = _scenarios(root)
    assert [(s["name"], s["outcome"], s["reason"]) for s in scenarios] == [
        (s["name"], "passed", None) for s in scenarios]
    measured = [[(m["name"], m["uom"], m["crit"]) for m in s["measurements"]]
                for s in scenarios]
    assert measured == [
        [("command_time", "s", None)],
        [("command_time", "s", None)],
        [("file_age", "s", "~:300"), ("file_age_2", "s", "~:3600")],
        [("connect_time", "ms", None)],
        [("rtt", "ms", None), ("packet_loss", "%", None)],
    ]
    assert scenarios[4]["measurements"][1]["value"] == 0.0


FAILING = """
Feature: Local checks that fail
  Scenario: wrong exit status
    When I run 'echo something went wrong >&2; exit 2'
    Then it should exit '0'

  Scenario: missing output
    When I run 'echo hello'
    Then 'stdout' should have 'goodbye'

  Scenario: unwanted output
    When I run 'echo fatal error >&2'
    Then 'stderr' should not have 'error'

  Scenario: a command that hangs, with a child
    When I run 'sleep 31.4159 & sleep 31.4159'
    Then it should exit '0'

  Scenario: a stale file
    Then the file "${stale}" should have been modified within the last 30 minutes

  Scenario: a missing file
    Then the file "${missing}" should have been modified within the last 1 day

  Scenario: a port that should be open
    Then port ${closed} on "127.0.0.1" should be open

  Scenario: a port that should be closed
    Then port ${open} on "127.0.0.1" should be closed

  Scenario: a host that should not respond
    When I ping "127.0.0.1"
    Then it should not respond

  Scenario: an unknown unit is our mistake
    Then the file "${stale}" should have been modified within the last 2 fortnights

  Scenario: an unknown stream is our mistake
    When I run 'true'
    Then 'stdin' should have 'x'

  Scenario: an assertion without a command
    Then it should exit '0'

  Scenario: an assertion without a ping
    Then it should respond

  Scenario: a host that is an option is our mistake
    When I ping "-f"
"""


def test_local_phrases_fail_with_named_reasons(tmp_path: Path, ports: tuple[int, int]) -> None:
    stale = tmp_path / "stale.dump"
    stale.write_text("old backup")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    feature = FAILING.replace("${open}", str(ports[0])).replace("${closed}", str(ports[1]))
    root = make_project(tmp_path / "project", {"local.feature": feature},
                        variables={"stale": str(stale), "missing": str(tmp_path / "nope")})
    scenarios = _scenarios(root, "--step-timeout", "2s")
    got = [(s["outcome"], s["reason"]) for s in scenarios]
    assert re.fullmatch(r"\S+/stale\.dump was last modified 2\.0 hours ago, wanted within the "
                        r"last 30 minutes", got[4][1]), got[4][1]
    got[4] = ("failed", "<stale>")
    got[3] = (got[3][0], client_budget(got[3][1] or "", 2.0))
    assert got == [
        ("failed", "`echo something went wrong >&2; exit 2` exited 2, expected exit 0; "
                   "output: something went wrong"),
        ("failed", "'goodbye' not in the stdout of `echo hello`: hello"),
        ("failed", "'error' in the stderr of `echo fatal error >&2`: fatal error"),
        ("failed", "`sleep 31.4159 & sleep 31.4159` did not finish within B s and was killed, "
                   "expected exit 0"),
        ("failed", "<stale>"),
        ("failed", f"{tmp_path}/nope does not exist"),
        ("failed", f"127.0.0.1:{ports[1]} refused the connection"),
        ("failed", f"port {ports[0]} on 127.0.0.1 is open"),
        ("failed", "127.0.0.1 answered 3 of 3 echo requests"),
        ("unknown", "unknown unit 'fortnights': use seconds, minutes, hours or days"),
        ("unknown", "no stream 'stdin': use 'stdout' or 'stderr'"),
        ("unknown", "no command has run in this scenario yet (When I run '...')"),
        ("unknown", "no ping in this scenario yet (When I ping \"host\")"),
        ("unknown", "bad host '-f' to ping"),
    ]
    stale_age = scenarios[4]["measurements"]
    assert [(m["name"], m["crit"]) for m in stale_age] == [("file_age", "~:1800")]
    assert 7190 < stale_age[0]["value"] < 7300
    leftovers = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 31.4159" not in leftovers


SILENT = """
Feature: Ping in a network namespace whose loopback ignores echo requests
  Scenario: a decommissioned host
    When I ping "127.0.0.1"
    Then it should not respond

  Scenario: a host that should be up
    When I ping "127.0.0.1"
    Then it should respond
"""


def test_a_silent_host_does_not_respond(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private network namespace")
    root = make_project(tmp_path, {"ping.feature": SILENT})
    shell = ("ip link set lo up && sysctl -q -w net.ipv4.icmp_echo_ignore_all=1 && "
             f"exec {sys.executable} -m escalator run -e test -f json --step-timeout 3s")
    done = subprocess.run(["unshare", "-n", "sh", "-c", shell], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    scenarios = json.loads(done.stdout)["scenarios"]
    assert [(s["outcome"], s["measurements"]) for s in scenarios] == [
        ("passed", []), ("failed", [])]
    assert re.fullmatch(r"127\.0\.0\.1 did not answer \d+ echo requests", scenarios[1]["reason"])


def test_an_unreachable_host_does_not_respond_and_says_why(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private network namespace")
    root = make_project(tmp_path, {"ping.feature": SILENT.split("  Scenario: a host that")[0]})
    # A fresh namespace whose loopback is down: no route to anything at all.
    done = subprocess.run(["unshare", "-n", sys.executable, "-m", "escalator", "run", "-e", "test",
                           "-f", "json"], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert [s["outcome"] for s in run["scenarios"]] == ["passed"]
    assert run["notices"] == ["ping: cannot ping 127.0.0.1: connect: Network is unreachable"]
