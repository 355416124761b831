"""Graphite: the plaintext format (`-f graphite`) and sending it (`--graphite HOST:PORT`).

The sending tests run a real TCP receiver on loopback (a thread that accepts and reads until the
sender closes); a refused port and a listener whose queue is full stand for a carbon that is
down or wedged. Sending may fail; the verdict and the exit code never change because of it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalator.formatters import FormatOptions, render
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult
from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli
from tests.test_formatters_samples import scenario

T0 = 1_700_000_000.0


def graphite(run: RunResult, prefix: str = "escalator") -> str:
    return render("graphite", run, FormatOptions(graphite_prefix=prefix))


def test_plaintext_whole_output_in_base_units() -> None:
    run = RunResult(scenarios=(
        scenario("Home page renders", duration=0.25, measurements=(
            Measurement("response_time", 12.5, "ms", Limit.below(500)),
            Measurement("connect_time", None, "ms", Limit.below(100)),  # not measured: no point
            Measurement("success_ratio", 99.5, "%"),
            Measurement("days_left", 20.0),
            Measurement("packet_loss", float("nan"), "%"))),
        scenario("Login works", Outcome.FAILED, line=9, duration=1.5),
    ), started=T0, duration=1.75, environment="production")
    assert graphite(run) == (
        "escalator.production.run.status 2 1700000001\n"
        "escalator.production.run.duration_seconds 1.75 1700000001\n"
        "escalator.production.run.passed 1 1700000001\n"
        "escalator.production.run.failed 1 1700000001\n"
        "escalator.production.run.unknown 0 1700000001\n"
        "escalator.production.home_page_renders.status 0 1700000001\n"
        "escalator.production.home_page_renders.success 1 1700000001\n"
        "escalator.production.home_page_renders.duration_seconds 0.25 1700000001\n"
        "escalator.production.home_page_renders.response_time_seconds 0.0125 1700000001\n"
        "escalator.production.home_page_renders.success_ratio 0.995 1700000001\n"
        "escalator.production.home_page_renders.days_left 20 1700000001\n"
        "escalator.production.login_works.status 2 1700000001\n"
        "escalator.production.login_works.success 0 1700000001\n"
        "escalator.production.login_works.duration_seconds 1.5 1700000001\n"
    )


def test_names_are_sanitised_into_one_path_node_each_and_kept_apart() -> None:
    hostile = 'Say "hi".. to /etc/passwd\n Ünïcode  ${x} '
    run = RunResult(scenarios=(
        scenario(hostile, measurements=(Measurement("age /var/www.html", 3.0, "s"),)),
        scenario("run"), scenario("RUN", file="features/other.feature"), scenario("..."),
    ), started=T0, environment="pre prod.eu")
    lines = graphite(run, prefix="ops.Monitoring!").splitlines()
    paths = [line.split(" ")[0] for line in lines]
    assert all(re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*", p) for p in paths), paths
    assert all(len(line.split(" ")) == 3 for line in lines)
    assert sorted({p.rsplit(".", 1)[0] for p in paths}) == [
        "ops.monitoring.pre_prod_eu.run",
        "ops.monitoring.pre_prod_eu.run_2",
        "ops.monitoring.pre_prod_eu.run_3",
        "ops.monitoring.pre_prod_eu.say_hi_to_etc_passwd_unicode_x",
        "ops.monitoring.pre_prod_eu.unnamed",
    ]
    assert "ops.monitoring.pre_prod_eu.say_hi_to_etc_passwd_unicode_x.age_var_www_html_seconds" \
           " 3 1700000000" in lines


class Receiver:
    """A carbon stand-in on loopback: accepts connections and keeps what each one sent."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(30)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.server.accept()
            with conn:
                conn.settimeout(30)
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                self.received.append(b"".join(chunks))

    def text(self) -> str:
        self.thread.join(30)
        return b"".join(self.received).decode()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    yield got
    got.server.close()


FEATURE = """
    Feature: Shop
      Scenario: home
        When I measure 20 ms against 500

      Scenario: checkout
        When I measure 700 ms against 500
    """


def test_run_sends_what_the_format_renders_to_a_loopback_receiver(tmp_path: Path,
                                                                    receiver: Receiver) -> None:
    root = make_project(tmp_path, {"shop.feature": FEATURE}, steps=FAKE_STEPS)
    out = run_cli(["run", "-e", "test", "-f", "json", "--graphite",
                   f"127.0.0.1:{receiver.port}", "--graphite-prefix", "mon"], cwd=root)
    assert out.code == 1
    sent = receiver.text()
    run = RunResult.from_dict(out.json)
    assert sent == graphite(run, prefix="mon")
    assert "mon.test.checkout.response_time_seconds 0.7 " in sent
    assert out.json["notices"] == [] and out.stderr == ""


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_a_one_line_notice_and_the_verdict_stands(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"shop.feature": FEATURE}, steps=FAKE_STEPS)
    port = free_port()
    out = run_cli(["check", "-e", "test", "--graphite", f"127.0.0.1:{port}"], cwd=root)
    assert out.code == 2
    assert out.line1.startswith("ESCALATOR CRITICAL - 1 of 2 scenarios failing: checkout |")
    assert out.stdout.splitlines()[-1] == (
        f"notice: graphite 127.0.0.1:{port}: cannot send: connection refused")


@contextlib.contextmanager
def wedged_listener() -> Iterator[int]:
    """A listener that never accepts, its queue filled: a new connect hangs (SYNs dropped)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.2)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_a_wedged_receiver_costs_the_timeout_and_nothing_more(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"shop.feature": FEATURE}, steps=FAKE_STEPS)
    with wedged_listener() as port:
        begun = time.monotonic()
        out = run_cli(["run", "-e", "test", "-f", "progress", "--graphite",
                       f"127.0.0.1:{port}"], cwd=root)
        took = time.monotonic() - begun
    assert out.code == 1
    assert out.stdout.splitlines()[-4:] == [
        "", f"notice: graphite 127.0.0.1:{port}: cannot send: no connection within 3s", "",
        "2 scenarios (1 passed, 1 failed) in " + out.stdout.rsplit(" in ", 1)[1].strip()]
    assert took < 3 + 10  # the run itself, and the send's own timeout


@pytest.mark.parametrize("value", ["127.0.0.1:", ":2003", "host:port",
                                   "127.0.0.1:70000"])
def test_a_bad_address_is_refused_before_anything_runs(tmp_path: Path, value: str) -> None:
    root = make_project(tmp_path, {"shop.feature": FEATURE}, steps=FAKE_STEPS)
    out = run_cli(["run", "-e", "test", "--graphite", value], cwd=root)
    assert (out.code, out.stdout) == (2, "")
    assert out.stderr == f"escalator: --graphite {value}: give HOST:PORT, e.g. 127.0.0.1:2003\n"
