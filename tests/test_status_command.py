"""`escalator status`: the stored verdict for Nagios, UNKNOWN when missing, unreadable or stale."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from escalator.cli import main
from escalator.env import Env
from escalator.formatters import FormatOptions, render
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult, Severity, StepResult
from escalator.state import ResultStore
from tests.fake_steps import FAKE_STEPS
from tests.project import make_project, run_cli

T0 = 1_700_000_000.0


def status(root: Path, *argv: str, now: float = T0 + 60) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["status", *argv], Env(stdout=out, stderr=err, environ={}, cwd=root,
                                       now=lambda: now))
    return code, out.getvalue(), err.getvalue()


def project(root: Path, run_table: str = "", environments: str = "[environments.test]\n") -> Path:
    (root / "escalator.toml").write_text(textwrap.dedent(run_table) + environments)
    return root


def failing_run(environment: str | None = "test") -> RunResult:
    slow = ScenarioResult(
        feature="Web", file="features/web.feature", line=9, name="Login works",
        outcome=Outcome.FAILED, severity=Severity.WARNING, tags=("warning",),
        steps=(StepResult("When", 'I go to "/login"', 10, "failed", 0.8, "took 812 ms"),),
        measurements=(Measurement("response_time", 812.0, "ms", Limit.at_most(500)),), duration=0.8)
    home = ScenarioResult(feature="Web", file="features/web.feature", line=3, name="Home",
                          outcome=Outcome.PASSED, duration=0.1)
    return RunResult(scenarios=(home, slow), started=T0 - 2, duration=1.2, environment=environment)


def store(root: Path, run: RunResult, state_dir: str = ".escalator", at: float = T0) -> None:
    ResultStore(root / state_dir, now=lambda: at).save(run)


def test_missing_result_is_unknown_with_the_reason(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert status(root, "--max-age", "15m") == (
        3, f"ESCALATOR UNKNOWN - no stored result for environment 'test' in {root}/.escalator "
           "(run 'escalator check' or 'escalator run' first)\n", "")


def test_stale_result_is_unknown_saying_how_old(tmp_path: Path) -> None:
    root = project(tmp_path)
    store(root, failing_run())
    assert status(root, "--max-age", "15m", "--label", "WEB", now=T0 + 3723) == (
        3, "WEB UNKNOWN - last result is 1h2m3s old, older than --max-age 15m (it was WARNING, "
           "stored 2023-11-14T22:13:20Z) | age=3723s;;900;0\n", "")


def test_result_exactly_at_max_age_still_counts(tmp_path: Path) -> None:
    root = project(tmp_path)
    store(root, failing_run())
    code, out, _ = status(root, "--max-age", "15m", now=T0 + 900)
    assert (code, out.split(" - ")[0]) == (1, "ESCALATOR WARNING")


@pytest.mark.parametrize("outcome,severity,code", [
    (Outcome.PASSED, Severity.CRITICAL, 0), (Outcome.FAILED, Severity.WARNING, 1),
    (Outcome.FAILED, Severity.CRITICAL, 2), (Outcome.UNKNOWN, Severity.CRITICAL, 3)])
def test_fresh_result_mirrors_the_stored_verdict(tmp_path: Path, outcome: Outcome,
                                                 severity: Severity, code: int) -> None:
    root = project(tmp_path)
    run = failing_run()
    changed = ScenarioResult(**{**run.scenarios[1].__dict__, "outcome": outcome,
                                "severity": severity})
    run = RunResult(**{**run.__dict__, "scenarios": (run.scenarios[0], changed)})
    store(root, run)
    expected = render("nagios", run, FormatOptions(label="WEB"))
    assert status(root, "--max-age", "5m", "--label", "WEB") == (code, expected, "")


def test_fresh_result_whole_output(tmp_path: Path) -> None:
    root = project(tmp_path)
    store(root, failing_run())
    assert status(root, "--max-age", "5m") == (1, (
        "ESCALATOR WARNING - 1 of 2 scenarios failing: Login works | scenarios=2;;;0 "
        "passed=1;;;0 failed=1;;;0 unknown=0;;;0 time=1.2s;;;0 "
        "'Login works response_time'=812ms;500\n"
        "WARNING Login works (features/web.feature:9) @warning\n"
        '  When I go to "/login": took 812 ms\n'), "")


def test_unreadable_result_is_unknown(tmp_path: Path) -> None:
    root = project(tmp_path)
    path = root / ".escalator" / "results" / "test.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    code, out, _ = status(root, "--max-age", "5m")
    assert code == 3
    assert out.startswith(f"ESCALATOR UNKNOWN - cannot read stored result {path}: not JSON (")
    assert out.count("\n") == 1 and "|" not in out


def test_state_dir_and_environment_come_from_the_config(tmp_path: Path) -> None:
    root = project(tmp_path, '[run]\nstate_dir = "var/state"\n',
                   "[environments.prod]\n[environments.staging]\n")
    store(root, failing_run("prod"), "var/state")
    assert status(root, "-e", "prod", "--max-age", "5m")[0] == 1
    code, out, _ = status(root, "-e", "staging", "--max-age", "5m")
    assert (code, out) == (3, "ESCALATOR UNKNOWN - no stored result for environment 'staging' "
                              f"in {root}/var/state (run 'escalator check' or 'escalator run' "
                              "first)\n")
    other = tmp_path / "elsewhere"  # cron and Nagios start in other directories
    other.mkdir()
    assert status(other, "-c", "../escalator.toml", "-e", "prod", "--max-age", "5m")[0] == 1


def test_without_a_config_file_the_state_dir_is_dot_escalator(tmp_path: Path) -> None:
    store(tmp_path, failing_run(None))
    assert (tmp_path / ".escalator" / "results" / "default.json").is_file()
    assert status(tmp_path, "--max-age", "5m")[0] == 1


@pytest.mark.parametrize("argv,reason", [
    (["--max-age", "soon"], "--max-age: bad duration 'soon': give a number with a unit, "
                            "e.g. 500ms, 30s, 5m, 2h"),
    (["--max-age", "0s"], "--max-age: must be longer than 0s"),
    (["-e", "nope", "--max-age", "5m"], "{root}/escalator.toml: no environment 'nope' "
                                        "(known: prod, test)"),
    (["--max-age", "5m"], "choose an environment with -e (known: prod, test)"),
])
def test_bad_arguments_are_unknown(tmp_path: Path, argv: list[str], reason: str) -> None:
    root = project(tmp_path, environments="[environments.test]\n[environments.prod]\n")
    assert status(root, *argv) == (3, f"ESCALATOR UNKNOWN - {reason.format(root=root)}\n", "")


def test_missing_max_age_is_unknown(tmp_path: Path) -> None:
    code, out, _ = status(project(tmp_path))
    assert code == 3
    assert out == ("ESCALATOR UNKNOWN - escalator status: the following arguments are "
                   "required: --max-age\n")


def test_status_mirrors_what_check_printed(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"web.feature": """
        Feature: Web
          Scenario: Home
            Then it passes
          @warning
          Scenario: Login
            When I measure 812 ms against 500
        """}, steps=FAKE_STEPS)
    checked = run_cli(["check", "--label", "WEB"], cwd=root)
    assert checked.code == 1
    assert run_cli(["status", "--max-age", "1m", "--label", "WEB"], cwd=root) == checked


STATUS_IMPORTS = """
import json, sys
from escalator.cli import main
code = main(sys.argv[1:])
heavy = ("behave", "requests", "paramiko", "dns", "urllib3", "jinja2", "escalator.runner")
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(heavy))]))
"""


def test_status_imports_no_engine_and_no_protocol_library(tmp_path: Path) -> None:
    root = project(tmp_path)
    store(root, failing_run(), at=__import__("time").time())
    done = subprocess.run([sys.executable, "-c", STATUS_IMPORTS, "status", "--max-age", "1h"],
                          cwd=root, capture_output=True, text=True, timeout=60, check=True)
    last = done.stdout.strip().splitlines()[-1]
    assert json.loads(last) == [1, []]
    assert done.stdout.startswith("ESCALATOR WARNING - 1 of 2 scenarios failing: Login works |")
