"""A host-scoped ladder as operators run it: `python -m escalator escalate` against a fleet of
real HTTP servers on 127.0.0.2, 127.0.0.3 ..., one `@each.web` health check per host, and a
host-scoped `rebuild` level whose script repairs only the host in ESCALATOR_HOST, records
which host it ran for (and its group and address), and notices a live copy of itself for the
same host. Covers: only the failing host is rebuilt, half the group down pages, each host's
own cooldown, and SIGKILL of the engine mid-level (no second copy for that host)."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project import ladder_level, ladder_toml, make_project, toml_value
from tests.servers.http import Reply, Request, serve
from tests.test_ladder_crash import Engines, finish, wait_for
from tests.test_ladder_process import verdicts

pytestmark = pytest.mark.servers

FEATURE = """
    Feature: Web fleet
      @each.web @escalate.rebuild
      Scenario: Node answers its health check
        When I go to "/health"
        Then the request should succeed
    """

# The level: rebuilds (repairs) the host it is given, after SLOW seconds when the file `slow`
# says so; records each start and any live copy of itself for the same host.
REBUILD = '''#!PYTHON
import os, time
from pathlib import Path

root, host = Path(ROOT), os.environ["ESCALATOR_HOST"]
running = root / f"{host}.running"
if running.exists():
    previous = int(running.read_text())
    try:
        state = Path(f"/proc/{previous}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        state = "gone"
    if state not in ("gone", "Z", "X"):
        with (root / "overlap.log").open("a") as log:
            log.write(f"{host} {previous} {os.getpid()}\\n")
with (root / "ran.log").open("a") as log:
    log.write(" ".join([os.environ["ESCALATOR_LEVEL"], host, os.environ["ESCALATOR_GROUP"],
                        os.environ["ESCALATOR_ADDRESS"], str(os.getpid())]) + "\\n")
running.write_text(str(os.getpid()))
slow = root / "slow"
time.sleep(float(slow.read_text()) if slow.exists() else 0)
(root / "state" / host).write_text("up")
'''


@contextlib.contextmanager
def web_fleet(root: Path, count: int) -> Iterator[list[str]]:
    """`count` HTTP servers on 127.0.0.2 ...; web-N answers /health with 200 while
    root/state/web-N says "up", else 503."""
    (root / "state").mkdir(parents=True)

    def health(host: str):  # type: ignore[no-untyped-def]
        def answer(_: Request) -> Reply:
            path = root / "state" / host
            up = path.exists() and path.read_text() == "up"
            return Reply(200 if up else 503, "ok" if up else "down",
                         {"Content-Type": "text/plain"})
        return answer

    with contextlib.ExitStack() as stack:
        urls = []
        for n in range(1, count + 1):
            (root / "state" / f"web-{n}").write_text("up")
            urls.append(stack.enter_context(serve({"/health": health(f"web-{n}")},
                                                  host=f"127.0.0.{n + 1}")))
        yield urls


def project(root: Path, urls: list[str], timeout: str = "60s") -> Path:
    (root / "ops").mkdir()
    level = root / "ops" / "rebuild.sh"
    level.write_text(REBUILD.replace("PYTHON", sys.executable).replace("ROOT", repr(str(root))))
    level.chmod(0o755)
    page = root / "ops" / "page.sh"
    page.write_text(f'#!/bin/sh\ncat >> "{root}/pages.log"\necho >> "{root}/pages.log"\n')
    page.chmod(0o755)
    hosts = [{"host": f"web-{n}", "address": f"127.0.0.{n + 1}", "base_url": url}
             for n, url in enumerate(urls, 1)]
    config = (f"[environments.test.groups]\nweb = {toml_value(hosts)}\n" + ladder_toml(
        ladder_level("rebuild", timeout=timeout, quiesce="100ms", cooldown="1h", scope="host"),
        settle="100ms", confirm=1, verify=1, retry_interval="100ms", max_reconverge=0,
        kill_grace="1s", notify=["ops/page.sh"]))
    return make_project(root, {"fleet.feature": FEATURE}, config=config)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Path, Engines]]:
    with web_fleet(tmp_path, 5) as urls:
        engines = Engines(project(tmp_path, urls))
        try:
            yield tmp_path, engines
        finally:
            engines.cleanup()


def down(root: Path, *hosts: str) -> None:
    for host in hosts:
        (root / "state" / host).write_text("down")


def ran(root: Path) -> list[str]:
    """'rebuild web-2 web 127.0.0.3' for each start of the level."""
    log = root / "ran.log"
    return [line.rsplit(" ", 1)[0] for line in log.read_text().splitlines()] \
        if log.exists() else []


def state(root: Path) -> dict[str, object]:
    return json.loads((root / ".escalator/ladder/test/state.json").read_text())


def pages(root: Path) -> list[dict[str, object]]:
    log = root / "pages.log"
    return [json.loads(p) for p in log.read_text().splitlines() if p] if log.exists() else []


def escalate(engines: Engines) -> tuple[int, str, str]:
    return finish(engines.start("escalate"))


def test_a_host_scoped_ladder_rebuilds_only_the_failing_host(
        fleet: tuple[Path, Engines]) -> None:
    root, engines = fleet
    down(root, "web-2")
    code, out, err = escalate(engines)
    assert (code, err) == (0, ""), out
    assert [line.split(" (run ")[0] for line in verdicts(out)] == [
        "test: recovered - verified green"]
    assert ran(root) == ["rebuild web-2 web 127.0.0.3"]
    assert "test: level rebuild [web-2] started: ops/rebuild.sh (timeout 1m, not " \
           "idempotent)" in out.splitlines()
    assert (root / "state" / "web-2").read_text() == "up"
    assert pages(root) == []
    status = finish(engines.start("ladder", "status"))[1]
    rows = [line.split("  ")[0] + " ... " + line.split()[-3]
            for line in status.splitlines() if line.startswith("rebuild")]
    assert rows == ["rebuild [web-2] ... until"]
    history = finish(engines.start("ladder", "history"))[1]
    assert "rebuild [web-2]" in history and "web-1" not in history


def test_half_the_group_failing_pages_and_runs_nothing(tmp_path: Path) -> None:
    with web_fleet(tmp_path, 4) as urls:
        engines = Engines(project(tmp_path, urls))
        try:
            down(tmp_path, "web-1", "web-3")
            code, out, _ = escalate(engines)
        finally:
            engines.cleanup()
    assert code == 2
    assert [line.split(" (run ")[0] for line in verdicts(out)] == [
        "test: unactionable - did nothing because mass failure: 2 of 4 web hosts failing: "
        "web-1, web-3 (monitor or shared dependency)"]
    assert ran(tmp_path) == []
    assert [(p["event"], p["dedup_key"]) for p in pages(tmp_path)] == [
        ("unactionable", "escalator/test/mass_failure")]


def test_another_host_is_rebuilt_while_one_cools_down_and_that_one_latches_alone(
        fleet: tuple[Path, Engines]) -> None:
    root, engines = fleet
    down(root, "web-2")
    assert escalate(engines)[0] == 0
    down(root, "web-3")
    code, out, _ = escalate(engines)
    assert code == 0, out
    assert ran(root) == ["rebuild web-2 web 127.0.0.3", "rebuild web-3 web 127.0.0.4"]
    down(root, "web-2")  # again, within its cooldown
    code, out, _ = escalate(engines)
    assert code == 2
    assert ran(root) == ["rebuild web-2 web 127.0.0.3", "rebuild web-3 web 127.0.0.4"]
    assert verdicts(out)[0].startswith("test: latched - latched web-2: cooldown: level "
                                       "rebuild ran ")
    latched = state(root)
    assert latched["latch"] is None
    assert [held["host"] for held in latched["host_latches"]] == ["web-2"]  # type: ignore
    page = pages(root)[0]
    assert (page["event"], page["host"], str(page["dedup_key"]).rsplit("/", 1)[0]) == (
        "latched", "web-2", "escalator/test/latched/web-2")
    check = finish(engines.start("check"))[1]
    assert "notice: ladder latched for host web-2 since " in check
    # web-2 holds only itself: web-4 is still rebuilt
    down(root, "web-4")
    code, out, _ = escalate(engines)
    assert ran(root)[-1] == "rebuild web-4 web 127.0.0.5"
    assert code == 2 and verdicts(out)[0].startswith("test: latched - verified green; "
                                                     "latched web-2: cooldown")
    # a resume of web-2 alone, and it is acted on again (its cooldown still holds: it latches)
    resumed = finish(engines.start("ladder", "resume", "--host", "web-2", "--reason", "fixed"))
    assert resumed[1].startswith("test: resumed web-2; kept: its loop breaker (1 of 3 "
                                 "engagements in 6h), its hourly budget (1 of 6 actions in "
                                 "the last hour), its cooldowns")
    assert state(root)["host_latches"] == []
    assert [p["event"] for p in pages(root)] == ["latched", "resolved"]


def test_a_killed_engines_host_level_is_never_run_twice_and_latches_its_host(
        tmp_path: Path) -> None:
    with web_fleet(tmp_path, 5) as urls:
        engines = Engines(project(tmp_path, urls, timeout="3s"))
        try:
            _killed_mid_level(tmp_path, engines)
        finally:
            engines.cleanup()


def _killed_mid_level(root: Path, engines: Engines) -> None:
    (root / "slow").write_text("60")
    down(root, "web-2")
    first = engines.start("escalate")
    wait_for(lambda: (root / "web-2.running").exists())
    first.kill()
    first.wait()
    status = finish(engines.start("ladder", "status"))[1]
    assert "level in flight           rebuild [web-2] since " in status
    (root / "slow").unlink()
    code, out, err = escalate(engines)
    # It waited for the level (to its 3 s timeout), never ran a second copy for web-2, and
    # latched web-2 (the level is not idempotent); the environment is not latched.
    assert engines.level_processes() == []
    assert ran(root) == ["rebuild web-2 web 127.0.0.3"]
    assert not (root / "overlap.log").exists()
    assert code == 2
    assert err.startswith("escalator: test: level rebuild [web-2] of an engine that is gone "
                          "still runs (")
    assert verdicts(out)[0].startswith("test: latched - did nothing because latched: Node "
                                       "answers its health check [web-2] (host web-2 is "
                                       "latched: level rebuild (not idempotent) was "
                                       "interrupted by an engine crash")
    held = state(root)
    assert held["latch"] is None
    assert [(h["host"], h["next_step"]) for h in held["host_latches"]] == [  # type: ignore
        ("web-2", "check what level rebuild (ops/rebuild.sh) did to web-2 before it was cut "
         "short (its output: escalator ladder history -e test); finish or undo it by hand, "
         "then: escalator ladder resume -e test --host web-2 --reason TEXT")]
    # another host is rebuilt meanwhile
    down(root, "web-4")
    code, out, _ = escalate(engines)
    assert ran(root) == ["rebuild web-2 web 127.0.0.3", "rebuild web-4 web 127.0.0.5"]
    assert not (root / "overlap.log").exists()


def test_an_orderly_stop_during_a_hosts_level_latches_that_host_as_stopped(
        fleet: tuple[Path, Engines]) -> None:
    root, engines = fleet
    (root / "slow").write_text("60")
    down(root, "web-3")
    proc = engines.start("escalate")
    wait_for(lambda: (root / "web-3.running").exists() and (intent(root) or {}).get("pid"))
    assert (intent(root) or {}).get("host") == "web-3"
    proc.send_signal(signal.SIGTERM)
    code, out, _ = finish(proc)
    assert (code, verdicts(out)[0].split(" (run ")[0]) == (
        2, "test: interrupted - stopped by SIGTERM while level rebuild [web-3] ran")
    assert engines.level_processes() == []
    (root / "slow").unlink()
    code, out, _ = escalate(engines)
    assert (code, ran(root)) == (2, ["rebuild web-3 web 127.0.0.4"])
    found = [r["event"] for r in audit(root)]
    assert "step_interrupted" in found and "state_recovered" not in found
    assert [(h["host"], h["reason"]) for h in state(root)["host_latches"]] == [  # type: ignore
        ("web-3", "level rebuild (not idempotent) was stopped by SIGTERM while it ran (an "
                  "orderly stop of the engine, not a crash); it may have done part of its "
                  "work")]
    assert state(root)["latch"] is None


def intent(root: Path) -> dict[str, object] | None:
    path = root / ".escalator" / "ladder" / "test" / "intent.json"
    return json.loads(path.read_text()) if path.exists() else None


def audit(root: Path) -> list[dict[str, object]]:
    path = root / ".escalator" / "ladder" / "test" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
