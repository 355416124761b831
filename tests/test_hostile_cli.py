"""The command line against inputs that once fooled it: a tag expression that merely contains
"wip", a feature named twice, a feature file with a byte-order mark, and a stdout that is closed
or full (Nagios reads the exit code even when it reads nothing else).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_steps import FAKE_STEPS
from tests.project import child_environ, make_project, run_cli

FEATURE = """
Feature: Tags
  Scenario: plain
    Then it passes

  @wip
  Scenario: unfinished
    Then it fails with "work in progress must not run"

  @swipe
  Scenario: swiping
    Then it passes
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, {"tags.feature": FEATURE}, steps=FAKE_STEPS)


def _names(project: Path, *argv: str) -> list[str]:
    out = run_cli(["run", "-e", "test", "-f", "json", *argv], cwd=project)
    assert out.stderr == "", out.stderr
    return [s["name"] for s in out.json["scenarios"]]


# ---- @wip -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "names"), [
    ("not @swipe", ["plain"]),
    ("@swipe or not @swipe", ["plain", "swiping"]),
    ("not @wipe", ["plain", "swiping"]),
    ("@wip", ["unfinished"]),
    ("not @wip or @wip", ["plain", "unfinished", "swiping"]),
    ("wip", ["unfinished"]),
])
def test_wip_is_left_out_unless_the_expression_names_it(project: Path, expression: str,
                                                        names: list[str]) -> None:
    assert _names(project, "-t", expression) == names


# ---- a feature named twice ------------------------------------------------------------------

@pytest.mark.parametrize(("paths", "names"), [
    (["features/tags.feature", "features/tags.feature"], ["plain", "swiping"]),
    (["features/tags.feature", "features"], ["plain", "swiping"]),
    (["./features/tags.feature", "features/../features/tags.feature"], ["plain", "swiping"]),
    (["features/tags.feature:2", "features/tags.feature"], ["plain", "swiping"]),
    (["features/tags.feature:2", "features/tags.feature:2"], ["plain"]),
])
def test_a_feature_named_twice_runs_once(project: Path, paths: list[str],
                                         names: list[str]) -> None:
    assert _names(project, *paths) == names


def test_two_lines_of_one_feature_run_both(project: Path) -> None:
    assert _names(project, "features/tags.feature:2", "features/tags.feature:11") == [
        "plain", "swiping"]


def test_a_feature_named_twice_has_one_prometheus_series(project: Path) -> None:
    out = run_cli(["run", "-e", "test", "-f", "prometheus", "features/tags.feature",
                   "features/tags.feature"], cwd=project)
    series = [line.rsplit(" ", 1)[0] for line in out.stdout.splitlines()
              if line.startswith("escalator_")]
    assert len(series) == len(set(series)), out.stdout
    assert 'escalator_run_scenarios{environment="test",outcome="passed"} 2\n' in out.stdout


# ---- a byte-order mark ----------------------------------------------------------------------

def test_a_feature_file_with_a_byte_order_mark_runs(project: Path) -> None:
    path = project / "features" / "tags.feature"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    out = run_cli(["check", "-e", "test"], cwd=project)
    assert (out.code, out.line1.split(" |")[0]) == (0, "ESCALATOR OK - 2 scenarios passed")


# ---- stdout closed or full ------------------------------------------------------------------

def _shell(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    """`escalator ...` with a redirection that only a shell makes (`>&-`, `>/dev/full`)."""
    return subprocess.run(["/bin/sh", "-c", f"exec {sys.executable} -m escalator {command}"],
                          cwd=project, env=child_environ(), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("redirect", [">&-", ">/dev/full"], ids=["closed", "full"])
@pytest.mark.parametrize(("tags", "code"), [("not @wip", 0), ("@wip", 2)], ids=["OK", "CRITICAL"])
def test_check_with_a_closed_or_full_stdout_keeps_its_verdict(project: Path, redirect: str,
                                                              tags: str, code: int) -> None:
    done = _shell(project, f"check -e test -t '{tags}' {redirect}")
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("escalator: cannot write the output: "), \
        done.stderr


@pytest.mark.parametrize("redirect", [">&-", ">/dev/full"], ids=["closed", "full"])
def test_other_commands_with_a_closed_or_full_stdout_say_so_once(project: Path,
                                                                 redirect: str) -> None:
    assert run_cli(["check", "-e", "test"], cwd=project).code == 0
    for command, code in (("status -e test --max-age 1h", 0), ("run -e test", 0),
                          ("check -e test -t '@nope and'", 3)):
        done = _shell(project, f"{command} {redirect}")
        assert done.returncode == code, (command, done.stderr)
        assert "Traceback" not in done.stderr, command
        assert done.stderr.count("\n") == 1, (command, done.stderr)
