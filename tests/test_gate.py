"""The deploy gate, `run --until-green` and `check --until-green`: against a real loopback
service that comes up in stages, and its round logic with scripted rounds on a fake clock."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from escalator.config import Config
from escalator.env import Env
from escalator.options import RunOptions
from escalator.results import Outcome, RunResult, ScenarioResult, StepResult
from escalator.runner.gate import GatePolicy, until_green
from escalator.state import ResultStore
from tests.builders import run_of, scenario
from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli
from tests.servers.http import Reply, Request, serve
from tests.test_ladder_rig import Clock

STAGES = """
Feature: The service comes up

  Scenario: The health endpoint answers
    When I go to "/health"
    Then the request should succeed

  Scenario: The API answers
    When I go to "/api"
    Then the request should succeed

  Scenario: The shop sells
    When I go to "/shop"
    Then the request should succeed
"""
NEVER = float("inf")


@pytest.fixture
def staged() -> Iterator[tuple[str, Callable[[dict[str, float]], None]]]:
    """A loopback service whose paths answer 503 until their stage: `start({"/api": 4.0})`
    (re)starts the clock with each path's delay in seconds."""
    plan: dict[str, float] = {}
    began = [time.monotonic()]

    def start(stages: dict[str, float]) -> None:
        plan.clear()
        plan.update(stages)
        began[0] = time.monotonic()

    def route(path: str) -> Callable[[Request], Reply]:
        def answer(_: Request) -> Reply:
            if time.monotonic() - began[0] < plan.get(path, 0.0):
                return Reply(503, "starting up")
            return Reply(200, f"{path} is up")
        return answer

    with serve({p: route(p) for p in ("/health", "/api", "/shop")}) as url:
        yield url, start


def greens(stderr: str) -> list[tuple[str, float]]:
    return [(name, float(seconds)) for seconds, name in
            re.findall(r"^green after ([0-9.]+)s: (.+)$", stderr, re.M)]


def test_a_service_that_comes_up_in_stages_gates_green_at_about_6s(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"stages.feature": STAGES}, variables={"base_url": url})
    start({"/health": 2.0, "/api": 4.0, "/shop": 6.0})
    began = time.monotonic()
    out = run_cli(["run", "-e", "test", "--until-green", "--within", "60s", "--every", "500ms",
                   "-f", "progress", "-f", "junit", "-o", "junit.xml"], root)
    took = time.monotonic() - began
    assert out.code == 0, out.stderr
    turned = greens(out.stderr)
    assert [name for name, _ in turned] == ["The health endpoint answers", "The API answers",
                                            "The shop sells"]
    # Each at its stage, give or take the round it fell into (a busy CI machine is slow).
    for (_, seconds), stage in zip(turned, (2.0, 4.0, 6.0), strict=True):
        assert stage - 0.2 <= seconds <= stage + 8.0
    assert 6.0 <= took <= 30.0
    last = out.stderr.splitlines()[-1]
    assert re.fullmatch(r"gate: green after [0-9.]+s, 3 of 3 scenarios pass "
                        r"\([0-9]+ rounds, confirmed\)", last), last
    assert out.stdout.endswith("3 scenarios (3 passed) in " + out.stdout.rsplit(" in ", 1)[1])
    assert f"notice: {last}\n" in out.stdout


def test_the_final_state_is_stored_and_in_junit_with_each_time_to_green(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"stages.feature": STAGES}, variables={"base_url": url})
    start({"/api": 1.5})
    out = run_cli(["run", "-e", "test", "--until-green", "--within", "60s", "--every", "300ms",
                   "--deploy", "shop 1.4.3", "-f", "junit", "-o", "junit.xml"], root)
    assert out.code == 0, out.stderr
    turned = dict(greens(out.stderr))
    stored = ResultStore(root / ".escalator").latest("test")
    assert stored is not None
    extra = stored.run.extra
    keys = [s.key for s in stored.run.scenarios]
    assert extra["gate"]["verdict"] == "green" and extra["gate"]["red"] == []
    assert extra["origin"]["kind"] == "gate" and extra["origin"]["by"] == "shop 1.4.3"
    assert [round(extra["green_after"][k], 1) for k in keys] == [
        turned["The health endpoint answers"], turned["The API answers"],
        turned["The shop sells"]]
    assert all(s.outcome is Outcome.PASSED for s in stored.run.scenarios)
    # The history line keeps what made it and each time to green, for the deployment view.
    entry = ResultStore(root / ".escalator").history("test")[-1]
    assert entry.origin["kind"] == "gate" and entry.origin["by"] == "shop 1.4.3"
    assert [m.green_after for m in entry.marks] == [extra["green_after"][k] for k in keys]
    cases = ET.parse(root / "junit.xml").getroot().iter("testcase")
    outs = {case.get("name"): (case.findtext("system-out") or "").splitlines()[0]
            for case in cases}
    assert outs == {name: f"gate: green after {seconds:.1f}s" for name, seconds in
                    turned.items()}


def test_a_service_that_never_comes_up_exits_1_at_the_deadline_naming_it(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"stages.feature": STAGES}, variables={"base_url": url})
    start({"/shop": NEVER})
    began = time.monotonic()
    out = run_cli(["run", "-e", "test", "--until-green", "--within", "5s", "--every", "500ms",
                   "--step-timeout", "2s", "-f", "junit", "-o", "junit.xml"], root)
    took = time.monotonic() - began
    assert out.code == 1
    assert 5.0 <= took <= 5.0 + 2.0 + 5.0  # never more than one step timeout over, and slack
    lines = out.stderr.splitlines()
    assert [name for name, _ in greens(out.stderr)] == ["The health endpoint answers",
                                                        "The API answers"]
    assert re.fullmatch(r"gate: deadline \(5s\) reached after [0-9.]+s: 1 of 3 still red: "
                        r"The shop sells", lines[-2]), lines[-2]
    assert lines[-1] == (f"  still red: The shop sells (features/stages.feature:11): GET "
                         f"{url}/shop answered 503 Service Unavailable in "
                         + lines[-1].split(" in ")[-1])
    assert all(line.startswith("still red after ") for line in lines[1:-2]
               if not line.startswith("green after"))
    shop = next(c for c in ET.parse(root / "junit.xml").getroot().iter("testcase")
            if c.get("name") == "The shop sells")
    assert shop.find("failure") is not None
    assert (shop.findtext("system-out") or "").startswith("gate: still red at the deadline (5s)")


HANGS = STAGES.replace('When I go to "/shop"', 'When I go to "/hang"')


def test_a_hung_target_never_holds_the_gate_past_its_deadline(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"stages.feature": HANGS}, variables={"base_url": url})
    start({})
    began = time.monotonic()
    out = run_cli(["run", "-e", "test", "--until-green", "--within", "4s", "--every", "100ms",
                   "--step-timeout", "2s"], root)
    took = time.monotonic() - began
    assert out.code == 1
    assert took <= 4.0 + 2.0 + 3.0  # the deadline, one step timeout at most, and slack
    # The round the deadline cut off does not replace the last real verdict.
    last = out.stderr.splitlines()[-1]
    assert re.fullmatch(r"  still red: The shop sells \(features/stages.feature:11\): GET "
                        + re.escape(url) + r"/hang got no answer in [0-9]+ ms: no answer "
                        r"within 1.5s", last), last


def test_a_round_names_each_reason_once_and_then_only_the_names(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"stages.feature": STAGES}, variables={"base_url": url})
    start({"/shop": NEVER})
    out = run_cli(["run", "-e", "test", "-t", "not @none", "features/stages.feature:11",
                   "--until-green", "--within", "3s", "--every", "400ms"], root)
    rounds = [line for line in out.stderr.splitlines() if line.startswith("still red after")]
    assert len(rounds) >= 2
    assert re.fullmatch(r"still red after [0-9.]+s \(round 1\), 1 of 1: The shop sells: GET "
                        + re.escape(url) + r"/shop answered 503 Service Unavailable in .*",
                        rounds[0]), rounds[0]
    assert all(re.fullmatch(r"still red after [0-9.]+s \(round [0-9]+\), 1 of 1: "
                            r"The shop sells", line) for line in rounds[1:]), rounds


def test_check_until_green_answers_one_nagios_status_at_the_end(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"stages.feature": STAGES}, variables={"base_url": url})
    start({"/api": 1.0})
    out = run_cli(["check", "-e", "test", "--until-green", "--within", "60s", "--every",
                   "300ms"], root)
    assert out.code == 0, out.stdout
    assert out.stdout.startswith("ESCALATOR OK - 3 scenarios passed | scenarios=3;;;0 ")
    assert sum(1 for line in out.stdout.splitlines() if line.startswith("ESCALATOR")) == 1
    assert "notice: gate: green after " in out.stdout
    assert [name for name, _ in greens(out.stderr)][-1] == "The API answers"


def test_check_until_green_at_the_deadline_is_critical(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"stages.feature": STAGES}, variables={"base_url": url})
    start({"/api": NEVER})
    out = run_cli(["check", "-e", "test", "--until-green", "--within", "4s"], root)
    assert out.code == 2
    assert out.line1.startswith("ESCALATOR CRITICAL - 1 of 3 scenarios failing: The API "
                                "answers | ")


FLEET = """
Feature: Every web host

  @each.web
  Scenario: The web answers
    When I go to "${path}"
    Then the request should succeed
"""


def test_a_fleet_check_gates_each_host_of_its_group(
        tmp_path: Path, staged: tuple[str, Callable[[dict[str, float]], None]]) -> None:
    url, start = staged
    root = make_project(tmp_path, {"fleet.feature": FLEET}, variables={"base_url": url},
                        config='[environments.test.groups]\nweb = [{ host = "web-1", path = '
                               '"/health" }, { host = "web-2", path = "/api" }]\n')
    start({"/api": 1.5})
    out = run_cli(["run", "-e", "test", "--until-green", "--within", "60s", "--every",
                   "300ms", "-f", "json"], root)
    assert out.code == 0, out.stderr
    assert [name for name, _ in greens(out.stderr)] == ["The web answers [web-1]",
                                                        "The web answers [web-2]"]
    assert sorted(out.json["extra"]["green_after"]) == [
        "features/fleet.feature::The web answers [web-1]",
        "features/fleet.feature::The web answers [web-2]"]


UNDEFINED = """
Feature: Broken suite
  Scenario: fine
    Then it passes

  Scenario: not written yet
    Then the moon is made of cheese
"""


def test_a_suite_that_cannot_run_exits_2_at_once(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"broken.feature": UNDEFINED}, steps=FAKE_STEPS)
    began = time.monotonic()
    out = run_cli(["run", "-e", "test", "--until-green", "--within", "5m"], root)
    assert out.code == 2
    assert time.monotonic() - began < 60  # not the five minutes
    assert out.stderr == ("gate: cannot run: features/broken.feature:5: undefined step: no step "
                          "definition matches this text (see `escalator steps`)\n")
    (root / "features" / "broken.feature").write_text("Scenario: no feature above me\n")
    out = run_cli(["run", "-e", "test", "--until-green", "--within", "5m"], root)
    assert out.code == 2 and out.stderr.startswith("gate: cannot run: features/broken.feature")
    out = run_cli(["check", "-e", "test", "--until-green", "--within", "5m"], root)
    assert out.code == 3 and out.line1.startswith("ESCALATOR UNKNOWN - ")


@pytest.mark.parametrize("argv,message", [
    (["--within", "5m"], "escalator: --within: only with --until-green\n"),
    (["--every", "1s"], "escalator: --every: only with --until-green\n"),
    (["--until-green"], "escalator: --until-green: give --within DURATION, e.g. --within 10m\n"),
    (["--until-green", "--within", "soon"],
     "escalator: --within: bad duration 'soon': give a number with a unit, e.g. 500ms, 30s, "
     "5m, 2h\n"),
])
def test_gate_options_given_wrongly_are_refused(tmp_path: Path, argv: list[str],
                                                message: str) -> None:
    root = make_project(tmp_path, {"broken.feature": UNDEFINED}, steps=FAKE_STEPS)
    out = run_cli(["run", "-e", "test", *argv], root)
    assert (out.code, out.stdout, out.stderr) == (2, "", message)
    out = run_cli(["check", "-e", "test", *argv], root)
    assert (out.code, out.stdout) == (3, "ESCALATOR UNKNOWN - " + message[len("escalator: "):])


# ---- the rounds, scripted on a fake clock ------------------------------------------------

Outcomes = dict[str, str]  # scenario name -> "P" or "F" in one round
SPOTS = {"api": 3, "shop": 7, "cart": 11}


def result(name: str, letter: str) -> ScenarioResult:
    outcome = {"P": Outcome.PASSED, "F": Outcome.FAILED, "U": Outcome.UNKNOWN}[letter]
    return scenario(name, outcome, file="features/f.feature", line=SPOTS[name],
                    reason=None if letter == "P" else f"{name} is down")


class Rounds:
    """Scripted rounds: each takes `took` seconds of the fake clock and answers for the
    scenarios its paths select; `None` in a round's outcomes means cut off, never heard."""

    def __init__(self, clock: Clock, *rounds: dict[str, str | None], took: float = 1.0) -> None:
        self.clock, self.rounds, self.took = clock, list(rounds), took
        self.asked: list[tuple[tuple[str, ...], float, int]] = []

    def __call__(self, options: RunOptions, env: Env,
                 progress: Callable[[ScenarioResult, int, int], None]) -> RunResult:
        assert self.rounds, f"the gate ran more than {len(self.asked)} rounds"
        self.asked.append((options.paths, options.timeout, options.jobs))
        outcomes = self.rounds.pop(0)
        wanted = {name for name, line in SPOTS.items()
                  if options.paths == ("features",) or f"features/f.feature:{line}"
                  in options.paths}
        assert set(outcomes) == wanted, f"round {len(self.asked)} ran {sorted(wanted)}"
        took = min(self.took, options.timeout)
        self.clock.sleep(took)
        scenarios = []
        for name, letter in outcomes.items():
            if letter is None:
                scenarios.append(replace(result(name, "F"), reason="cut off by the deadline"))
                continue
            scenarios.append(result(name, letter))
            progress(scenarios[-1], len(scenarios), len(outcomes))
        return run_of(*scenarios)


def gate(tmp_path: Path, rounds: Rounds, within: float = 60.0, every: float = 5.0
         ) -> tuple[int, list[str], RunResult]:
    options = RunOptions(config=Config(), cwd=tmp_path, jobs=3, timeout=50.0)
    clock = rounds.clock
    env = Env(now=clock.now, monotonic=clock.monotonic, sleep=clock.sleep)
    lines: list[str] = []
    done = until_green(options, env, GatePolicy(within, every), lines.append, runner=rounds)
    return done.exit_code, lines, done.run


def test_later_rounds_run_only_the_red_by_file_and_line_every_interval(tmp_path: Path) -> None:
    rounds = Rounds(Clock(), {"api": "P", "shop": "F", "cart": "F"}, {"shop": "P", "cart": "F"},
                    {"cart": "P"}, {"api": "P", "shop": "P"})
    code, lines, run = gate(tmp_path, rounds)
    assert code == 0
    assert rounds.asked == [(("features",), 50.0, 3),
                            (("features/f.feature:7", "features/f.feature:11"), 50.0, 3),
                            (("features/f.feature:11",), 50.0, 3),
                            (("features/f.feature:3", "features/f.feature:7"), 49.0, 3)]
    assert rounds.clock.sleeps == [1.0, 4.0, 1.0, 4.0, 1.0, 1.0]  # round, pause, round ...
    assert lines == [
        "green after 1.0s: api",
        "still red after 1.0s (round 1), 2 of 3: shop: shop is down; cart: cart is down",
        "green after 6.0s: shop",
        "still red after 6.0s (round 2), 1 of 3: cart",
        "green after 11.0s: cart",
        "gate: green after 12.0s, 3 of 3 scenarios pass (4 rounds, confirmed)",
    ]
    assert run.extra["green_after"] == {"features/f.feature::api": 1.0,
                                        "features/f.feature::shop": 6.0,
                                        "features/f.feature::cart": 11.0}
    assert (run.started, run.duration, run.timeout) == (rounds.clock.t - 12.0, 12.0, 60.0)


def test_all_green_in_the_first_round_needs_no_confirmation(tmp_path: Path) -> None:
    rounds = Rounds(Clock(), {"api": "P", "shop": "P", "cart": "P"})
    code, lines, run = gate(tmp_path, rounds)
    assert (code, lines[-1]) == (0, "gate: green after 1.0s, 3 of 3 scenarios pass (1 round)")
    assert run.notices == (lines[-1],)


def test_a_scenario_that_turns_red_again_is_reported_and_must_pass_again(
        tmp_path: Path) -> None:
    rounds = Rounds(Clock(), {"api": "P", "shop": "F", "cart": "P"}, {"shop": "P"},
                    {"api": "F", "cart": "P"}, {"api": "P"}, {"shop": "P", "cart": "P"})
    code, lines, run = gate(tmp_path, rounds)
    assert code == 0
    assert lines == [
        "green after 1.0s: api",
        "green after 1.0s: cart",
        "still red after 1.0s (round 1), 1 of 3: shop: shop is down",
        "green after 6.0s: shop",
        "red again after 7.0s: api (green after 1.0s): api is down",
        "still red after 7.0s (round 3), 1 of 3: api",
        "green after 12.0s: api",
        "gate: green after 13.0s, 3 of 3 scenarios pass (5 rounds, confirmed)",
    ]
    assert run.extra["gate"]["flapped"] == {"features/f.feature::api": [[1.0, 7.0]]}
    assert run.extra["green_after"]["features/f.feature::api"] == 12.0
    assert "gate: api turned red again after 7.0s (it had passed after 1.0s)" in run.notices


def test_the_deadline_ends_the_gate_and_bounds_every_round(tmp_path: Path) -> None:
    rounds = Rounds(Clock(), {"api": "P", "shop": "F", "cart": "P"}, {"shop": "F"},
                    {"shop": "F"}, took=4.0)
    code, lines, run = gate(tmp_path, rounds, within=10.0, every=4.5)
    assert code == 1
    assert [timeout for _, timeout, _ in rounds.asked] == [10.0, 5.5, 1.0]
    assert rounds.clock.sleeps == [4.0, 0.5, 4.0, 0.5, 1.0]  # never past the deadline
    assert lines[-2:] == ["gate: deadline (10s) reached after 10.0s: 1 of 3 still red: shop",
                          "  still red: shop (features/f.feature:7): shop is down"]
    assert run.extra["gate"]["red"] == ["features/f.feature::shop"]
    assert [s.outcome for s in run.scenarios] == [Outcome.PASSED, Outcome.FAILED, Outcome.PASSED]


def test_a_result_the_deadline_cut_off_keeps_the_last_real_verdict(tmp_path: Path) -> None:
    rounds = Rounds(Clock(), {"api": "P", "shop": "F", "cart": "P"}, {"shop": None}, took=6.0)
    code, _, run = gate(tmp_path, rounds, within=10.0)
    assert code == 1
    assert run.scenarios[1].reason == "shop is down"


def test_a_confirmation_the_deadline_cut_leaves_the_unchecked_unknown(tmp_path: Path) -> None:
    rounds = Rounds(Clock(), {"api": "P", "shop": "F", "cart": "P"}, {"shop": "P"},
                    {"api": "P", "cart": None}, took=4.0)
    code, lines, run = gate(tmp_path, rounds, within=12.0)
    assert code == 1
    assert lines[-2] == "gate: deadline (12s) reached after 12.0s: 1 of 3 still red: cart"
    cart = run.scenarios[2]
    assert (cart.outcome, cart.reason) == (Outcome.UNKNOWN, (
        "passed after 4.0s, but the deadline came before the confirmation round re-checked "
        "it"))
    assert sorted(run.extra["green_after"]) == ["features/f.feature::api",
                                                "features/f.feature::shop"]


def test_an_unknown_that_waiting_cannot_fix_ends_the_gate_at_once(tmp_path: Path) -> None:
    undefined = replace(result("shop", "U"), steps=(
        StepResult("Then", "the moon is cheese", 8, "undefined", error="undefined step"),))

    def runner(options: RunOptions, env: Env, progress: Callable[..., None]) -> RunResult:
        progress(undefined, 1, 1)
        return run_of(result("api", "P"), undefined)

    options = RunOptions(config=Config(), cwd=tmp_path)
    lines: list[str] = []
    done = until_green(options, Env(), GatePolicy(600.0), lines.append, runner=runner)
    assert (done.exit_code, done.verdict) == (2, "cannot_run")
    assert lines == ["gate: cannot run: features/f.feature:7: undefined step"]
    assert json.loads(json.dumps(done.run.extra))["gate"]["verdict"] == "cannot_run"


def test_many_turning_green_in_one_round_take_one_line(tmp_path: Path) -> None:
    """The first round of a large suite: 200 lines would bury the ones that matter."""
    clock = Clock()
    passing = [scenario(f"page {n}", Outcome.PASSED, file="features/f.feature", line=n)
               for n in range(1, 9)]
    red = scenario("shop", Outcome.FAILED, file="features/f.feature", line=20, reason="down")

    def runner(options: RunOptions, env: Env, progress: Callable[..., None]) -> RunResult:
        clock.sleep(1.0)
        shop = red if options.paths == ("features",) else replace(red, outcome=Outcome.PASSED)
        return run_of(*(s for s in (*passing, shop) if options.paths == ("features",)
                        or s.location in options.paths))

    options = RunOptions(config=Config(), cwd=tmp_path)
    lines: list[str] = []
    env = Env(now=clock.now, monotonic=clock.monotonic, sleep=clock.sleep)
    done = until_green(options, env, GatePolicy(60.0, 1.0), lines.append, runner=runner)
    assert done.exit_code == 0
    assert lines == [
        "green after 1.0s: 8 scenarios: page 1, page 2, page 3, page 4, page 5 and 3 more",
        "still red after 1.0s (round 1), 1 of 9: shop: down",
        "green after 2.0s: shop",
        "gate: green after 3.0s, 9 of 9 scenarios pass (3 rounds, confirmed)",
    ]
