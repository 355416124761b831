"""Network phrases end to end: TCP send/expect and banners, UDP, connect time, ping limits.

Real servers on loopback (tests/servers/talk.py, tests/servers/hostile.py); packet loss is
tested inside a private network namespace whose loopback ignores ICMP echo, as in
tests/test_steps_system.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import banner_server, closed_port, silent_server
from tests.servers.talk import closed_udp_port, line_server, udp_upper_server

FEATURE = """
Feature: Talking to services

  Scenario: Send and expect
    When I send "PING\\r\\n" to port ${lines} on "127.0.0.1"
    Then the reply should contain "+PONG\\r\\n"
    And the reply should not contain "-ERR"
    And the reply should match /(?m)^\\+PONG\\r$/

  Scenario: The wrong answer
    When I send "HELLO\\r\\n" to port ${lines} on "127.0.0.1"
    Then the reply should contain "+PONG"

  Scenario: A banner
    When I connect to port ${banner} on "127.0.0.1"
    Then the reply should match /^220 .*ESMTP/
    And the reply should not contain "Postfix"

  Scenario: A banner that says too much
    When I connect to port ${banner} on "127.0.0.1"
    Then the reply should not contain "ESMTP"

  Scenario: A server that says nothing
    When I send "PING\\r\\n" to port ${silent} on "127.0.0.1"

  Scenario: Nothing listening
    When I connect to port ${closed} on "127.0.0.1"

  Scenario: UDP
    When I send "status\\x00" to UDP port ${udp} on "127.0.0.1"
    Then the reply should contain "STATUS\\x00"

  Scenario: UDP with nothing listening
    When I send "status" to UDP port ${udp_closed} on "127.0.0.1"

  Scenario: Connect time
    Then the connection to port ${lines} on "127.0.0.1" should take less than 5000 ms

  Scenario: Connect time over its limit
    Then the connection to port ${lines} on "127.0.0.1" should take less than 0.0001 ms

  Scenario: Connect time to a closed port
    Then the connection to port ${closed} on "127.0.0.1" should take less than 5000 ms

  Scenario: Ping limits
    When I ping "127.0.0.1"
    Then the round trip time should be less than 1000 ms
    And the packet loss should be less than 50%

  Scenario: A round trip over its limit
    When I ping "127.0.0.1"
    Then the round trip time should be less than 0.0001 ms
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    greeting = b"220 mail.example.test ESMTP ready\r\n"
    with line_server() as lines, banner_server(greeting) as banner, silent_server() as silent, \
            udp_upper_server() as udp:
        ports = {"lines": lines, "banner": banner, "silent": silent, "udp": udp,
                 "closed": closed_port(), "udp_closed": closed_udp_port()}
        feature = FEATURE
        for name, port in ports.items():
            feature = feature.replace(f"${{{name}}}", str(port))
        root = make_project(tmp_path_factory.mktemp("net"), {"net.feature": feature})
        out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "3s"], cwd=root)
    assert out.code in (1, 2), out.stderr
    yield {"ports": ports, "scenarios": {s["name"]: s for s in out.json["scenarios"]}}


def verdict(results: dict[str, Any], name: str) -> tuple[str, str]:
    scenario = results["scenarios"][name]
    text = scenario["reason"] or ""
    for label, port in results["ports"].items():
        text = text.replace(f":{port}", f":{label.upper()}").replace(f"port {port} ",
                                                                      f"port {label.upper()} ")
    return scenario["outcome"], re.sub(r"took [\d.]+ ms", "took N ms", text)


@pytest.mark.parametrize("name", ["Send and expect", "A banner", "UDP", "Connect time",
                                  "Ping limits"])
def test_passing_scenarios(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("passed", "")


FAILURES = {
    "The wrong answer":
        "'+PONG' not in the reply of 127.0.0.1:LINES: '-ERR unknown command HELLO'",
    "A banner that says too much":
        "'ESMTP' in the reply of 127.0.0.1:BANNER: '220 mail.example.test ESMTP ready'",
    "A server that says nothing": "no reply from 127.0.0.1:SILENT within 2.2 s",
    "Nothing listening": "127.0.0.1:CLOSED refused the connection",
    "UDP with nothing listening":
        "nothing listens on UDP port UDP_CLOSED of 127.0.0.1 (port unreachable)",
    "Connect time to a closed port": "127.0.0.1:CLOSED refused the connection",
    "Connect time over its limit":
        "connecting to port LINES on 127.0.0.1 took N ms, wanted less than 0.0001 ms",
    "A round trip over its limit":
        "round trip to 127.0.0.1 took N ms on average, wanted less than 0.0001 ms",
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenarios_say_why(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("failed", FAILURES[name])


def test_measurements_carry_their_limits(results: dict[str, Any]) -> None:
    def kept(name: str) -> list[tuple[str, str, str | None]]:
        return [(m["name"], m["uom"], m["crit"])
                for m in results["scenarios"][name]["measurements"]]

    assert kept("Send and expect") == [("connect_time", "ms", None), ("reply_time", "ms", None)]
    assert kept("Connect time") == [("connect_time", "ms", "@5000:")]
    assert kept("Ping limits") == [("rtt", "ms", "@1000:"), ("packet_loss", "%", "@50:")]


LOSS = """
Feature: Ping in a network namespace whose loopback ignores echo requests
  Scenario: a host that lost every packet
    When I ping "127.0.0.1"
    Then the packet loss should be less than 20%
"""


def test_packet_loss_over_its_limit(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private network namespace")
    root = make_project(tmp_path, {"loss.feature": LOSS})
    shell = ("ip link set lo up && sysctl -q -w net.ipv4.icmp_echo_ignore_all=1 && "
             f"exec {sys.executable} -m escalator run -e test -f json --step-timeout 3s")
    done = subprocess.run(["unshare", "-n", "sh", "-c", shell], cwd=root, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(
                              Path(__file__).resolve().parent.parent)})
    scenario = json.loads(done.stdout)["scenarios"][0]
    assert scenario["outcome"] == "failed"
    assert re.fullmatch(r"(\d+) of \1 echo requests to 127.0.0.1 were lost \(100%\), wanted less "
                        r"than 20%",
                        scenario["reason"]), scenario["reason"]
    assert [(m["name"], m["value"], m["crit"]) for m in scenario["measurements"]] == [
        ("packet_loss", 100.0, "@20:")]
