"""cucumber-nagios's AMQP phrases against a real RabbitMQ on loopback, and brokers that fail.

The queues, messages and consumers are made here with pika, the library the probe uses: `jobs`
holds 6 messages and no consumer; `work` has 2 consumers, each holding one unacknowledged
message (prefetch 1), and 8 messages ready.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from tests.project import Outcome, make_project, run_cli
from tests.servers.hostile import banner_server, closed_port, silent_server
from tests.servers.rabbitmq import Rabbit

pytestmark = pytest.mark.servers

STEP_TIMEOUT = "4s"


def _ready(channel: Any, queue: str) -> int:
    return int(channel.queue_declare(queue, passive=True).method.message_count)


@pytest.fixture(scope="module")
def queues(rabbitmq: Rabbit) -> Iterator[Rabbit]:
    """`jobs` (6 ready, no consumer) and `work` (8 ready, 2 consumers), for the module."""
    params = pika.ConnectionParameters(rabbitmq.host, rabbitmq.port, socket_timeout=10)
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    channel.confirm_delivery()  # each publish returns once the broker has the message
    for name in ("jobs", "work"):
        channel.queue_declare(name)
        channel.queue_purge(name)
    for _ in range(6):
        channel.basic_publish("", "jobs", b"job")
    for _ in range(10):
        channel.basic_publish("", "work", b"work")
    consumers = connection.channel()
    consumers.basic_qos(prefetch_count=1)
    for _ in range(2):
        consumers.basic_consume("work", lambda *args: None)  # never acknowledges
    deadline = time.monotonic() + 30
    while _ready(channel, "work") != 8:  # the broker hands out the two messages by itself
        assert time.monotonic() < deadline, "the consumers never got their messages"
        connection.process_data_events(0.05)
    yield rabbitmq
    connection.close()


def _frames(client: socket.socket, broker: socket.socket) -> None:
    """Pass the protocol header and channel-0 frames (the login) on; swallow all the rest."""
    def read(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = client.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    with contextlib.suppress(OSError, EOFError):
        broker.sendall(read(8))
        while True:
            header = read(7)
            _, channel, size = struct.unpack(">BHI", header)
            body = read(size + 1)
            if channel == 0:
                broker.sendall(header + body)


def _copy(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)


@contextlib.contextmanager
def deaf_after_login(rabbit: Rabbit) -> Iterator[int]:
    """A proxy to the broker through which logging in works and then nothing is answered:
    a broker that stops answering once the connection is open."""
    listener = socket.create_server(("127.0.0.1", 0))
    sockets: list[socket.socket] = [listener]

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                broker = socket.create_connection((rabbit.host, rabbit.port), timeout=10)
                broker.settimeout(None)
                sockets.extend((client, broker))
                threading.Thread(target=_frames, args=(client, broker), daemon=True).start()
                threading.Thread(target=_copy, args=(broker, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


FEATURE = """
Feature: message queues
  Scenario: cucumber-nagios's README example
    Given I have a AMQP server on ${{amqp}}
    And I want to check on the work queue
    Then it should have less than 400 messages
    Then it should have at least 2 consumers
    Then it should have less than 50 messages per consumer

  Scenario: every comparison
    Given I have an AMQP server on "${{amqp}}"
    When I want to check on the "work" queue
    Then it should have at least 8 messages
    And it should have more than 7 messages
    And it should have 8 messages
    And It should have 2 consumers
    And It should have more than 1 consumers
    And It should have less than 3 consumers
    And it should have less than 5 messages per consumer

  Scenario: a URL with a secret password
    Given I have a AMQP server on amqp://monitor:${{amqp_password}}@${{amqp}}/
    When I want to check on the jobs queue
    Then it should have 6 messages
    And it should have 0 consumers

  Scenario: over TLS
    Given I have a AMQP server on amqps://monitor:${{amqp_password}}@127.0.0.1:{tls}
    When I want to check on the jobs queue
    Then it should have 6 messages

  Scenario: TLS to a plain port
    Given I have a AMQP server on amqps://${{amqp}}
    When I want to check on the jobs queue

  Scenario: backed up
    Given I have a AMQP server on ${{amqp}}
    When I want to check on the jobs queue
    Then it should have less than 5 messages

  Scenario: deep enough to warn
    Given I have a AMQP server on ${{amqp}}
    When I want to check on the work queue
    Then it should have less than 400 messages, warning above 5
    And it should have at least 1 consumers, warning below 3
    And it should have less than 50 messages per consumer, warning above 3

  Scenario: nobody consuming
    Given I have a AMQP server on ${{amqp}}
    When I want to check on the jobs queue
    Then it should have less than 50 messages per consumer

  Scenario: too much work per consumer
    Given I have a AMQP server on ${{amqp}}
    When I want to check on the work queue
    Then it should have less than 4 messages per consumer

  Scenario: the wrong number of consumers
    Given I have a AMQP server on ${{amqp}}
    When I want to check on the work queue
    Then It should have 3 consumers

  Scenario: no such queue
    Given I have a AMQP server on ${{amqp}}
    When I want to check on the nope queue

  Scenario: a wrong password
    Given I have a AMQP server on amqp://monitor:wrong@${{amqp}}
    When I want to check on the jobs queue

  Scenario: a vhost the user may not use
    Given I have a AMQP server on amqp://monitor:${{amqp_password}}@${{amqp}}/empty
    When I want to check on the jobs queue

  Scenario: nothing listening
    Given I have a AMQP server on 127.0.0.1:{closed}
    When I want to check on the jobs queue

  Scenario: not a broker
    Given I have a AMQP server on 127.0.0.1:{other}
    When I want to check on the jobs queue

  Scenario: a port that never answers
    Given I have a AMQP server on 127.0.0.1:{silent}
    When I want to check on the jobs queue

  Scenario: a broker that stops answering
    Given I have a AMQP server on 127.0.0.1:{deaf}
    When I want to check on the jobs queue

  Scenario: no broker named
    When I want to check on the jobs queue

  Scenario: no queue checked
    Then it should have 0 messages

  Scenario: not an AMQP URL
    Given I have a AMQP server on http://127.0.0.1/
"""

PASSWORD_ENV = "AMQP_TEST_PASSWORD"


@pytest.fixture(scope="module")
def run(queues: Rabbit, tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[Outcome, dict[str, dict[str, Any]], dict[str, str]]:
    closed = closed_port()
    ssh_like = banner_server(b"SSH-2.0-OpenSSH_9.2p1\r\n", then="reset")
    with silent_server() as silent, deaf_after_login(queues) as deaf, ssh_like as other:
        text = FEATURE.format(closed=closed, other=other, silent=silent, deaf=deaf,
                              tls=queues.tls_port)
        root = make_project(tmp_path_factory.mktemp("amqp"), {"queues.feature": text},
                            variables={"amqp": queues.address,
                                       "amqp_password": {"env": PASSWORD_ENV},
                                       "tls_ca_bundle": str(queues.ca_file)})
        out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", STEP_TIMEOUT],
                      cwd=root, environ={PASSWORD_ENV: queues.monitor_password})
    assert out.stderr == ""
    scenarios = {s["name"]: s for s in out.json["scenarios"]}
    ports = {"closed": str(closed), "other": str(other), "silent": str(silent),
             "deaf": str(deaf)}
    return out, scenarios, ports


def test_verdicts(run: tuple[Outcome, dict[str, dict[str, Any]], dict[str, str]],
                  rabbitmq: Rabbit) -> None:
    _, scenarios, ports = run
    a = rabbitmq.address
    found = {name: (s["outcome"], s["reason"]) for name, s in scenarios.items()}
    for name in ("a port that never answers", "a broker that stops answering"):
        found[name] = (found[name][0], re.sub(r"within \d+\.\d s", "within <t> s",
                                              found[name][1] or ""))
    assert found == {
        "cucumber-nagios's README example": ("passed", None),
        "every comparison": ("passed", None),
        "a URL with a secret password": ("passed", None),
        "over TLS": ("passed", None),
        "TLS to a plain port": (
            "failed", f"no TLS handshake with {a} (wrong version number): is it a TLS port?"),
        "backed up": ("failed", f"the queue 'jobs' on {a} has 6 messages, wanted less than 5"),
        "deep enough to warn": (
            "failed", f"the queue 'work' on {a} has 8 messages, warning above 5"),
        "nobody consuming": ("failed", f"the queue 'jobs' on {a} has no consumers "
                                       "(6 messages waiting)"),
        "too much work per consumer": (
            "failed", f"the queue 'work' on {a} has 8 messages for 2 consumers, 4.0 per "
                      "consumer, wanted less than 4"),
        "the wrong number of consumers": (
            "failed", f"the queue 'work' on {a} has 2 consumers, wanted exactly 3"),
        "no such queue": ("failed", f"no queue 'nope' in vhost '/' on {a}"),
        "a wrong password": ("failed", f"{a} refused the login of user 'monitor'"),
        "a vhost the user may not use": (
            "failed", f"{a} refused user 'monitor' access to vhost 'empty'"),
        "nothing listening": ("failed", f"connection to 127.0.0.1:{ports['closed']} refused"),
        "not a broker": ("failed", f"127.0.0.1:{ports['other']} is not an AMQP 0-9-1 broker, or it "
                                   "dropped the connection while connecting"),
        "a port that never answers": (
            "failed", f"no AMQP handshake with 127.0.0.1:{ports['silent']} within <t> s"),
        "a broker that stops answering": (
            "failed", f"no answer from 127.0.0.1:{ports['deaf']} within <t> s while opening "
                      "a channel"),
        "no broker named": ("unknown", "no AMQP server named yet: write Given I have a AMQP "
                                       "server on <host> first"),
        "no queue checked": ("unknown", "no queue checked yet: write When I want to check on "
                                        "the <queue> queue first"),
        "not an AMQP URL": ("unknown", "bad AMQP server 'http://127.0.0.1/': the URL must "
                                       "start amqp:// or amqps://"),
    }


def test_waits_are_bounded_by_the_step(run: tuple[Outcome, dict[str, dict[str, Any]],
                                                   dict[str, str]]) -> None:
    """The client's budget is what is left of the 4 s step less its margin: about 3 s."""
    _, scenarios, _ = run
    for name in ("a port that never answers", "a broker that stops answering"):
        seconds = float(re.findall(r"within (\d+\.\d) s", scenarios[name]["reason"])[0])
        assert 2.0 <= seconds <= 3.0, scenarios[name]["reason"]
        assert scenarios[name]["duration"] < 4.0, scenarios[name]


def test_counts_are_measured_with_the_limits_the_steps_state(
        run: tuple[Outcome, dict[str, dict[str, Any]], dict[str, str]]) -> None:
    _, scenarios, _ = run

    def measured(name: str) -> list[tuple[str, float, str | None]]:
        return [(m["name"], m["value"], m["warn"], m["crit"])
                for m in scenarios[name]["measurements"]]

    # whole counts: "less than 400" is the range 399, and ranges narrow step by step
    assert measured("cucumber-nagios's README example") == [
        ("work messages", 8, None, "399"), ("work consumers", 2, None, "2:"),
        ("work messages per consumer", 4, None, "@50:")]
    assert measured("every comparison") == [
        ("work messages", 8, None, "8:8"), ("work consumers", 2, None, "2:2"),
        ("work messages per consumer", 4, None, "@5:")]
    assert measured("backed up") == [("jobs messages", 6, None, "4"),
                                     ("jobs consumers", 0, None, None)]
    assert measured("deep enough to warn") == [
        ("work messages", 8, "5", "399"), ("work consumers", 2, "3:", "1:"),
        ("work messages per consumer", 4, "3", "@50:")]
    assert scenarios["deep enough to warn"]["warning_only"] is True
    assert [s["status"] for s in scenarios["deep enough to warn"]["steps"]] == [
        "passed", "passed", "warning", "warning", "warning"]
    # no consumer: nothing to divide, "U" in perfdata
    assert measured("nobody consuming")[2] == ("jobs messages per consumer", None, None, "@50:")


def test_the_password_stays_secret(run: tuple[Outcome, dict[str, dict[str, Any]],
                                              dict[str, str]], rabbitmq: Rabbit) -> None:
    out, _, _ = run
    assert rabbitmq.monitor_password not in out.stdout
    assert "p@ss" not in out.stdout


def test_the_nagios_line_of_a_backed_up_queue(queues: Rabbit, tmp_path: Path) -> None:
    feature = """
    Feature: queues
      Scenario: the fork queue
        Given I have a AMQP server on ${amqp}
        And I want to check on the jobs queue
        Then it should have less than 5 messages
    """
    root = make_project(tmp_path, {"q.feature": feature}, variables={"amqp": queues.address})
    out = run_cli(["check", "-e", "test"], cwd=root)
    shown = re.sub(r"time=[0-9.]+s", "time=<t>", out.stdout)  # the only part that varies
    assert (out.code, shown) == (2, (
        "ESCALATOR CRITICAL - 1 of 1 scenario failing: the fork queue | scenarios=1;;;0 "
        "passed=0;;;0 failed=1;;;0 unknown=0;;;0 time=<t>;;50;0 "
        "'the fork queue jobs messages'=6;;4;0 'the fork queue jobs consumers'=0;;;0\n"
        "CRITICAL the fork queue (features/q.feature:2)\n"
        "  Then it should have less than 5 messages: the queue 'jobs' on "
        f"{queues.address} has 6 messages, wanted less than 5\n"))


def test_an_untrusted_certificate_fails(queues: Rabbit, tmp_path: Path) -> None:
    feature = f"""
    Feature: queues
      Scenario: over TLS
        Given I have a AMQP server on amqps://127.0.0.1:{queues.tls_port}
        When I want to check on the jobs queue
    """
    root = make_project(tmp_path, {"q.feature": feature})
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    [scenario] = out.json["scenarios"]
    assert (scenario["outcome"], scenario["reason"]) == (
        "failed", f"TLS certificate of 127.0.0.1:{queues.tls_port} not trusted: self-signed "
                  "certificate in certificate chain")
