"""`escalator converge`: from nothing to green against a scratch environment whose levels create
its pieces (files, and a loopback HTTP server that stops by itself), and the converge loop's
rules with scripted runs on a fake clock (tests/test_ladder_rig.py)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest

from escalator.ladder.converge import Converge
from escalator.ladder.engine import Engagement
from escalator.results import RunResult
from escalator.state import ResultStore
from tests.project import ladder_level, ladder_toml, make_project, run_cli
from tests.test_ladder_crash import Engines, engines, events, intent, level, ran, wait_for
from tests.test_ladder_engine import _toml
from tests.test_ladder_process import finish
from tests.test_ladder_rig import GREEN, Rig, state_of

__all__ = ["engines"]  # the fixture, from tests/test_ladder_crash.py

# ---- a scratch environment, converged from nothing ------------------------------------------

LEVELS = ("account", "network", "service", "deploy")
SCRIPT = """#!/bin/sh
echo "$ESCALATOR_LEVEL" >> "{root}/ran.log"
{body}
"""
BODIES = {
    "account": 'mkdir -p "{root}/env" && touch "{root}/env/account"',
    # A network needs its account, as a real provider's would.
    "network": 'test -e "{root}/env/account" || exit 4\ntouch "{root}/env/network"',
    # The service: a loopback HTTP server that stops by itself after a minute at most.
    "service": (
        'test -e "{root}/env/network" || exit 4\nmkdir -p "{root}/www"\n'
        'timeout 60 python3 -m http.server {port} --bind 127.0.0.1 --directory "{root}/www" '
        '>/dev/null 2>&1 &\necho $! > "{root}/service.pid"\n'
        'for i in $(seq 50); do python3 -c "import socket; '
        "socket.create_connection(('127.0.0.1', {port}), 0.2)\" 2>/dev/null && exit 0; "
        "sleep 0.1; done\nexit 5"),
    "deploy": 'echo "<h1>Welcome to the shop</h1>" > "{root}/www/shop.html"',
}
FEATURE = """
Feature: The environment

  @escalate.account
  Scenario: The account exists
    Then the file "{root}/env/account" should exist

  @escalate.network
  Scenario: The network exists
    Then the file "{root}/env/network" should exist

  @escalate.service
  Scenario: The service answers
    When I go to "/"
    Then the request should succeed

  @escalate.deploy
  Scenario: The shop is deployed
    When I go to "/shop.html"
    Then I should see "Welcome to the shop"
"""
CONFIG = ladder_toml(*(ladder_level(name, timeout="30s", quiesce="100ms", idempotent=True)
                       for name in LEVELS),
                     settle="100ms", confirm=1, verify=2, retry_interval="100ms",
                     max_reconverge=1, max_actions_per_hour=2, notify=["ops/page.sh"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A project whose ladder builds its environment from nothing under tmp_path/env."""
    port = free_port()
    (tmp_path / "ops").mkdir()
    for name in LEVELS:
        body = BODIES[name].format(root=tmp_path, port=port)
        path = tmp_path / "ops" / f"{name}.sh"
        path.write_text(SCRIPT.format(root=tmp_path, body=body))
        path.chmod(0o755)
    page = tmp_path / "ops" / "page.sh"
    page.write_text(f'#!/bin/sh\ncat >> "{tmp_path}/pages.log"\necho >> "{tmp_path}/pages.log"\n')
    page.chmod(0o755)
    root = make_project(tmp_path, {"env.feature": FEATURE.format(root=tmp_path)},
                        variables={"base_url": f"http://127.0.0.1:{port}"}, config=CONFIG)
    try:
        yield root
    finally:  # the server's own time limit is the backstop
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int((root / "service.pid").read_text()), signal.SIGTERM)


def test_converge_goes_from_nothing_to_green_through_every_level_once_in_order(
        scratch: Path) -> None:
    out = run_cli(["converge", "-e", "test", "--within", "2m"], scratch,
                  environ={"PATH": os.environ["PATH"]})
    assert out.code == 0, out.stdout + out.stderr
    assert (scratch / "ran.log").read_text().split() == list(LEVELS)
    lines = [re.sub(r"in [0-9.]+s\)", "in Ts)", line) for line in out.stdout.splitlines()]
    assert lines[:7] == [
        "test: converge within 2m: 0 of 4 scenarios pass (nothing exists yet: the whole "
        "ladder)",
        "test: plan 1: account > network > service > deploy (nothing exists: no scenario "
        "passes (4 failed, 0 unknown of 4): the whole ladder)",
        "test: after level account (succeeded in Ts): 1 of 4 pass; green now: The account "
        "exists",
        "test: after level network (succeeded in Ts): 2 of 4 pass; green now: The network "
        "exists",
        "test: after level service (succeeded in Ts): 3 of 4 pass; green now: The service "
        "answers",
        "test: after level deploy (succeeded in Ts): 4 of 4 pass; green now: The shop is "
        "deployed",
        lines[6],
    ]
    assert re.fullmatch(r"test: converged: all 4 scenarios pass after 1 plan\(s\) in \d+s",
                        lines[6])
    assert lines[7].startswith("test: converged - all 4 scenarios pass after 1 plan(s) in ")
    assert [line.split()[0] for line in lines[10:]] == list(LEVELS)
    # The budget (2 actions an hour) does not hold converge back, but it counts every level.
    assert not (scratch / "pages.log").exists()
    # Every run of the checks is stored, saying which level it followed.
    history = ResultStore(scratch / ".escalator").history("test")
    assert [(e.origin["kind"], e.origin["after"], sum(m.status == 0 for m in e.marks))
            for e in history] == [("converge", "", 0), ("converge", "account", 1),
                                  ("converge", "network", 2), ("converge", "service", 3),
                                  ("converge", "deploy", 4), ("converge", "deploy", 4)]
    status = run_cli(["ladder", "status", "-e", "test"], scratch)
    assert "actions in the last hour  4 of 2" in status.stdout
    # The deployment page says which level made each requirement green.
    assert run_cli(["report", "-e", "test"], scratch).code == 0
    page = lxml.html.parse(str(scratch / "reports" / "deployment.html")).getroot()
    assert [" ".join(li.text_content().split()).split(") ", 1)[1] for li in
            page.get_element_by_id("progression").iter("li")] == [
        "level account (converge): The account exists",
        "level network (converge): The network exists",
        "level service (converge): The service answers",
        "level deploy (converge): The shop is deployed"]


def test_a_result_that_cannot_be_stored_is_said_and_converging_goes_on(scratch: Path) -> None:
    """A directory where the results file belongs (the state directory refuses it): each run
    of the checks says it was not stored, and the environment still converges."""
    state = scratch / ".escalator"
    (state / "results" / "test.json").mkdir(parents=True)
    for directory in (state, state / "results"):
        directory.chmod(0o700)
    out = run_cli(["converge", "-e", "test", "--within", "2m"], scratch,
                  environ={"PATH": os.environ["PATH"]})
    assert out.code == 0, out.stdout + out.stderr
    notice = (f"notice: the result could not be stored: state directory {state}: "
              f"{state}/results/test.json is a directory, not a regular file: refusing to use it")
    assert out.stdout.splitlines().count(notice) == 6, out.stdout
    assert (scratch / "ran.log").read_text().split() == list(LEVELS)


def test_dry_run_prints_the_plan_and_runs_nothing(scratch: Path) -> None:
    out = run_cli(["converge", "-e", "test", "--dry-run"], scratch,
                  environ={"PATH": os.environ["PATH"]})
    assert (out.code, out.stderr) == (2, "")
    assert out.stdout == """\
test: converge plan from level account: nothing exists: no scenario passes (4 failed, 0 unknown of 4): the whole ladder
  #  level    timeout    quiesce    failing scenarios
---  -------  ---------  ---------  --------------------
  1  account  30s        100ms      The account exists
  2  network  30s        100ms      The network exists
  3  service  30s        100ms      The service answers
  4  deploy   30s        100ms      The shop is deployed
then: the checks after each level; plans again from the deepest failing level at most 1 more time(s), until every scenario passes
"""  # noqa: E501
    assert not (scratch / "ran.log").exists()
    assert not (scratch / ".escalator" / "results").exists()


def test_converge_needs_a_deadline_and_a_ladder(scratch: Path) -> None:
    out = run_cli(["converge", "-e", "test"], scratch)
    assert (out.code, out.stderr) == (
        3, "escalator: converge: give --within DURATION, e.g. --within 2h\n")
    (scratch / "escalator.toml").write_text("[environments.test]\n")
    out = run_cli(["converge", "-e", "test", "--within", "1m"], scratch)
    assert (out.code, out.stderr) == (3, f"escalator: {scratch / 'escalator.toml'}: no [ladder] "
                                         "table: the ladder is not configured (docs/ladder.md)\n")


# ---- the rules, scripted on a fake clock ----------------------------------------------------

NOTHING = state_of(ping="F", smoke="F", extra="FFFF")
PING = state_of(ping="F")
UNKNOWN = state_of(ping="U", smoke="U", extra="UUUU")


def converge(rig: Rig, *runs: RunResult, within: float = 3600.0,
             max_reconverge: int | None = None) -> tuple[Engagement, list[str], list[RunResult]]:
    lines: list[str] = []
    stored: list[RunResult] = []
    engine = rig.engine(*runs)
    result = Converge(engine, within, stored.append, lines.append, max_reconverge).run()
    return result, lines, stored


def test_nothing_exists_runs_the_whole_ladder_past_mass_failure_and_the_budget(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_actions_per_hour=1))
    result, lines, stored = converge(rig, NOTHING, state_of(smoke="F", extra="FFPP"),
                                     state_of(smoke="F"), GREEN, GREEN)
    assert (result.verdict, result.exit_code) == ("converged", 0)
    assert [line.split()[0] for line in rig.ran] == ["vm", "converge", "deploy"]
    assert lines[0] == "test: converge within 1h: 0 of 6 scenarios pass (nothing exists yet: " \
                       "the whole ladder)"
    assert [line.split("; ", 1)[-1] for line in lines[2:5]] == [
        "green now: ping, other2, other3", "green now: other0, other1", "green now: smoke"]
    assert [r.extra["origin"]["after"] for r in stored] == ["", "vm", "converge", "deploy",
                                                            "deploy"]
    assert rig.events().count("verify") == 1 and rig.pages == []
    progress = [(r["data"]["level"], r["data"]["green"]) for r in rig.audit("converge_progress")]
    assert progress == [("vm", ["ping", "other2", "other3"]), ("converge", ["other0", "other1"]),
                        ("deploy", ["smoke"])]
    ended = next(rig.audit("ended"))
    assert (ended["data"]["verdict"], ended["data"]["plan"]) == (
        "converged", ["vm", "converge", "deploy"])
    assert len(rig.engine().state.actions) == 3  # counted, so the automation after respects it


def test_it_plans_again_from_the_new_deepest_failing_level(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(cooldown="0s"))
    smoke = state_of(smoke="F")
    result, lines, _ = converge(rig, smoke, PING, PING, PING, GREEN, GREEN)
    assert result.verdict == "converged"
    assert [line.split()[0] for line in rig.ran] == ["deploy", "vm", "converge", "deploy"]
    assert [line for line in lines if ": plan " in line] == [
        "test: plan 1: deploy (deepest failing level deploy, named by smoke)",
        "test: plan 2: vm > converge > deploy (deepest failing level vm, named by ping)"]
    assert "test: after level deploy (succeeded in 0.0s): 5 of 6 pass; green now: smoke; " \
           "red again: ping" in [re.sub(r"in [0-9.]+s", "in 0.0s", line) for line in lines]


def test_still_red_after_max_reconverge_plans_pages_with_what_is_red(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(cooldown="0s"))
    result, lines, _ = converge(rig, PING, PING, PING, PING, max_reconverge=0)
    assert (result.verdict, result.exit_code) == ("still_red", 2)
    assert result.reason == "still red after 1 plan(s) (max_reconverge = 0); still red: ping"
    assert [p["event"] for p in rig.pages] == ["still_red"]
    assert (rig.pages[0]["reason"], [s["name"] for s in rig.pages[0]["scenarios"]]) == (
        result.reason, ["ping"])
    assert lines[-1] == f"test: {result.reason}"


def test_the_deadline_stops_the_cascade_and_pages(tmp_path: Path) -> None:
    # vm's quiesce (2m) ends past a deadline of 1m40s: the check after it, then no more.
    rig = Rig(tmp_path)
    result, _, _ = converge(rig, NOTHING, NOTHING, within=100.0)
    assert [line.split()[0] for line in rig.ran] == ["vm"]
    assert (result.verdict, result.reason) == (
        "still_red", "the deadline (1m40s) passed; still red: ping, smoke, other0, other1, "
                     "other2, other3")
    assert next(rig.audit("cascade_stopped"))["reason"] == (
        "converge deadline (1m40s) passed after level vm")
    assert [p["event"] for p in rig.pages] == ["still_red"]


def test_unknown_never_chooses_a_level_but_nothing_passing_is_nothing_existing(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result, _, _ = converge(rig, state_of(ping="U"), max_reconverge=0)
    assert (result.verdict, rig.ran) == ("still_red", [])
    assert result.reason == ("no failing scenario names a ladder level (1 unknown: the check "
                             "could not be made); still red: ping")
    rig = Rig(tmp_path / "again")
    result, _, _ = converge(rig, UNKNOWN, GREEN, GREEN, GREEN, GREEN)
    assert (result.verdict, len(rig.ran)) == ("converged", 3)


def test_a_latched_ladder_refuses_and_a_window_suppresses(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=_toml(max_reconverge=0))
    rig.engine(PING, PING, PING, PING).engage()  # the ordinary ladder latches
    result, _, _ = converge(rig)
    assert (result.verdict, result.exit_code, len(rig.ran)) == ("latched", 2, 3)
    rig = Rig(tmp_path / "window", toml=_toml() + """
[[ladder.maintenance]]
start = 2027-01-15T07:00:00Z
end = 2027-01-15T09:00:00Z
reason = "provider maintenance"
""")
    result, _, _ = converge(rig, NOTHING)
    assert (result.verdict, rig.ran, rig.pages) == ("suppressed", [], [])
    assert result.reason == "maintenance window until 2027-01-15T09:00:00Z (provider maintenance)"


def test_already_green_does_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    result, lines, stored = converge(rig, GREEN)
    assert (result.verdict, result.exit_code, rig.ran, len(stored)) == ("healthy", 0, [], 1)
    assert lines == ["test: converge within 1h: 6 of 6 scenarios pass"]


# ---- the same safety as every engagement: stop signals, the lock ----------------------------

def test_sigterm_stops_converge_kills_the_level_and_the_next_one_refuses(
        engines: Engines) -> None:
    root = engines.root
    level(root, "vm", seconds=60)
    (root / "vm.state").write_text("down")
    proc = engines.start("converge", "--within", "10m")
    wait_for(lambda: "step_intent" in events(root) and (intent(root) or {}).get("pid"))
    # A second engine on the same environment refuses at once.
    code, out, err = finish(engines.start("converge", "--within", "10m"))
    assert (code, out) == (3, "") and "another engine is running" in err
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc)
    assert engines.level_processes() == []
    assert code == 2, err
    assert "test: interrupted - stopped by SIGTERM while level vm ran (run " in out
    left = intent(root)
    assert left is not None and (left["level"], left["stopped_by"]) == ("vm", "SIGTERM")
    # vm is not idempotent: its effect is unknown, so the ladder latches; converge refuses.
    code, out, _ = finish(engines.start("converge", "--within", "10m"))
    assert code == 2 and ("test: latched - refused: the ladder is latched (level vm (not "
                          "idempotent) was stopped by SIGTERM while it ran") in out
    assert ran(root) == ["vm"]
