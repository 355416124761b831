"""A real `escalator watch` process for about half a minute against a real loopback web site
that the test breaks and heals: exactly one page and one resolve reach a real webhook
receiver, `status` mirrors the watcher's last run while it runs and turns UNKNOWN once it is
stopped, and the report's metrics carry the watcher's last cycle."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from escalator.formatters import FormatOptions, render
from escalator.ladder import heartbeat
from escalator.ladder.store import LadderStore
from escalator.state import ResultStore
from escalator.timestamps import TABLE, utc
from tests.project import child_environ, ladder_level, ladder_toml, make_project, run_cli
from tests.servers.http import Reply, Request, serve
from tests.test_formatters_prometheus import promtool

FEATURE = """
Feature: shop

  @escalate.deploy
  Scenario: Home page welcomes
    When I go to "/"
    Then I should see "Welcome"

  Scenario: Home page says all is well
    When I go to "/"
    Then I should see "All systems go"
"""


class Site:
    """The target: a home page that the test breaks and heals."""

    def __init__(self) -> None:
        self.broken = False

    def __call__(self, _: Request) -> Reply:
        if self.broken:
            return Reply(500, "down for everyone", {"Content-Type": "text/plain"})
        return Reply(200, "<h1>Welcome</h1><p>All systems go.</p>",
                     {"Content-Type": "text/html"})


class Pager:
    """The webhook receiver: keeps every page."""

    def __init__(self) -> None:
        self.pages: list[dict[str, object]] = []

    def __call__(self, request: Request) -> Reply:
        self.pages.append(json.loads(request.body))
        return Reply(202, "accepted")


def wait_for(what: str, condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"not in time: {what}")


class Cycles:
    """Counts the watcher's cycles that ended with one verdict, from its heartbeat."""

    def __init__(self, store: LadderStore) -> None:
        self.store, self.seen = store, set[float]()

    def ended(self, verdict: str) -> int:
        beat = heartbeat.read(self.store)
        if beat is not None and beat.verdict == verdict and beat.last_cycle is not None:
            self.seen.add(beat.last_cycle)
        return len(self.seen)


def test_a_watcher_pages_once_resolves_once_and_status_mirrors_it(tmp_path: Path) -> None:
    site, pager = Site(), Pager()
    with serve({"/": site}) as target, serve({"/hook": pager}) as receiver:
        config = ladder_toml(ladder_level("deploy", run=["true"], timeout="10s"),
                             settle="100ms", confirm=1, verify=1, retry_interval="100ms",
                             repage="1h", notify={"webhook": f"{receiver}/hook"})
        root = make_project(tmp_path, {"shop.feature": FEATURE}, {"base_url": target},
                            config=config)
        results = ResultStore(root / ".escalator")
        ladder = LadderStore(root / ".escalator/ladder/test", "test",
                             state_dir=root / ".escalator")
        log = (tmp_path / "watch.log").open("w")
        watch = subprocess.Popen([sys.executable, "-m", "escalator", "watch", "-e", "test",
                                  "--interval", "1s"], cwd=root, stdout=log,
                                 stderr=subprocess.STDOUT, env=child_environ())
        try:
            healthy = Cycles(ladder)
            wait_for("two healthy cycles", lambda: healthy.ended("healthy") >= 2)
            _status_mirrors(root, results, "ESCALATOR OK - 2 scenarios passed | ")
            site.broken = True
            wait_for("the page", lambda: len(pager.pages) == 1)
            broken = Cycles(ladder)
            wait_for("five cycles while broken", lambda: broken.ended("unactionable") >= 5)
            _status_mirrors(root, results, "ESCALATOR CRITICAL - 2 of 2 scenarios failing: ")
            site.broken = False
            wait_for("the resolve", lambda: len(pager.pages) == 2)
            healed = Cycles(ladder)
            wait_for("three healthy cycles", lambda: healed.ended("healthy") >= 3)
            _status_mirrors(root, results, "ESCALATOR OK - 2 scenarios passed | ")
        finally:
            watch.send_signal(signal.SIGTERM)
            code = watch.wait(60)
            log.close()
    assert code == 0, (tmp_path / "watch.log").read_text()
    assert [(p["event"], p["kind"], p["dedup_key"]) for p in pager.pages] == [
        ("unactionable", "mass_failure", "escalator/test/mass_failure"),
        ("resolved", "mass_failure", "escalator/test/mass_failure")]
    assert pager.pages[0]["summary"] == ("test: mass failure: 2 of 2 scenarios failing (monitor "
                                         "or shared dependency)")
    assert len(results.history("test", 1000)) >= 10  # every run of the watcher was stored
    beat, stored = heartbeat.read(ladder), results.latest("test")
    assert beat is not None and beat.stopped is not None and stored is not None
    status = run_cli(["status", "-e", "test", "--max-age", "1h"], root)
    assert (status.code, status.stdout) == (3, (
        f"ESCALATOR UNKNOWN - the watcher (escalator watch, pid {watch.pid} on {beat.host}) "
        f"stopped at {utc(beat.stopped, TABLE)} (SIGTERM): nothing checks test now; its last "
        f"result was OK, stored {utc(stored.stored_at)}\n"))
    assert run_cli(["report", "-e", "test"], root).code == 0
    metrics = (root / "reports" / "metrics.prom").read_text()
    promtool(metrics)
    assert beat.last_cycle is not None
    assert (f'escalator_watch_last_cycle_timestamp_seconds{{environment="test"}} '
            f"{round(beat.last_cycle, 3)!r}\n") in metrics
    assert 'escalator_watch_up{environment="test"} 0\n' in metrics


def _status_mirrors(root: Path, results: ResultStore, head: str) -> None:
    """`status` prints what the latest stored run says (the watcher stores a new one every
    second: compare with a run that stayed the latest while status ran)."""
    for _ in range(20):
        before = results.latest("test")
        status = run_cli(["status", "-e", "test", "--max-age", "1m"], root)
        after = results.latest("test")
        if before is not None and after is not None and before.stored_at == after.stored_at:
            assert status.stdout == render("nagios", before.run, FormatOptions())
            assert status.stdout.startswith(head)
            return
    pytest.fail("the latest result kept changing under status")
