"""Plain behave on an Escalator project: `python -m behave` in a real child process, with the
`environment.py` that `escalator init` writes, and Escalator's formats as behave formatters.

The project is the scaffold itself (its example site step included), pointed at a loopback
server; a secret sent as a bearer token comes back in a failing reason and must be masked in
behave's own output and in every Escalator format.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project import child_environ, run_cli
from tests.servers.api import TOKEN, api_routes
from tests.servers.http import Reply, Request, serve

FEATURE = """\
Feature: Plain behave

  Scenario: The library's phrases
    When I go to "/api/metrics"
    Then the request should succeed
    And the JSON at "$.queue_depth" should be less than 100

  Scenario: The site's own step
    Then the "mail" queue should have fewer than 100 waiting jobs

  @warning
  Scenario: A token the server refuses
    Given I use the bearer token "${token}"
    When I go to "/api/whoami"
    Then the request should succeed
"""


def _queues(req: Request) -> Reply:
    return Reply(200, json.dumps({"waiting": 7}), {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    top = tmp_path_factory.mktemp("plain")
    assert run_cli(["init", "site"], cwd=top).code == 0
    root = top / "site"
    (root / "features/plain.feature").write_text(FEATURE)
    (root / "features/health.feature").unlink()
    with serve({**api_routes(), "/api/queues/": _queues}) as base:
        (root / "escalator.toml").write_text(
            f'[environments.local]\nbase_url = "{base}"\ntoken = {{ env = "PLAIN_TOKEN" }}\n')
        yield root, base


def behave(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "behave", "--no-color", *args], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False,
                          env=child_environ(PLAIN_TOKEN="wrong-" + TOKEN))


def test_plain_behave_runs_the_steps(project: tuple[Path, str]) -> None:
    root, base = project
    done = behave(root, "-D", "env=local", "-f", "plain")
    out = done.stdout.replace(base, "URL")
    assert done.returncode == 1, done.stdout + done.stderr  # the refused token fails
    assert "1 feature passed" not in out
    assert "2 scenarios passed, 1 failed, 0 skipped" in out, out
    assert re.search(r"ASSERT FAILED: GET URL/api/whoami answered 401 Unauthorized in \d+ ms; "
                     r"body: \"unknown token in 'Bearer \*\*\*'\"", out), out
    assert TOKEN not in done.stdout + done.stderr
    assert "must run under" not in out


def test_a_missing_environment_is_one_clear_line(project: tuple[Path, str]) -> None:
    root, _ = project
    done = behave(root, "-D", "env=nowhere", "-f", "plain")
    assert done.returncode == 1
    assert f"ConfigError: {root / 'escalator.toml'}: no environment 'nowhere' (known: local)" in (
        done.stdout + done.stderr)


def test_escalators_formats_as_behave_formatters(project: tuple[Path, str]) -> None:
    root, base = project
    done = behave(root, "-D", "env=local", "-f", "escalator.behave_formats:JUnit", "-o",
                  "junit.xml", "-f", "escalator.behave_formats:Nagios", "-o", "nagios.txt",
                  "-f", "escalator.behave_formats:Json", "-o", "run.json")
    assert done.returncode == 1, done.stdout + done.stderr
    nagios = (root / "nagios.txt").read_text().replace(base, "URL")
    line1 = re.sub(r"=[\d.]+(m?s)?", r"=N\1", nagios.splitlines()[0])
    assert line1 == (
        "ESCALATOR WARNING - 1 of 3 scenarios failing: A token the server refuses | "
        "scenarios=N;;;0 passed=N;;;0 failed=N;;;0 unknown=N;;;0 time=Ns;;;0 "
        "'The librarys phrases response_time'=Nms 'The librarys phrases json_queue_depth'=N;;@100: "
        "'The sites own step response_time'=Nms 'The sites own step mail_waiting'=N;;@100: "
        "'A token the server refuses response_time'=Nms")
    run = json.loads((root / "run.json").read_text())
    assert [(s["name"], s["outcome"], s["severity"]) for s in run["scenarios"]] == [
        ("The library's phrases", "passed", "critical"),
        ("The site's own step", "passed", "critical"),
        ("A token the server refuses", "failed", "warning")]
    measured = {m["name"]: (m["value"], m["crit"]) for m in run["scenarios"][1][
        "measurements"]}
    assert measured["mail_waiting"] == (7, "@100:")
    junit = (root / "junit.xml").read_text()
    assert junit.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="escalator"'
                            ' tests="3" failures="1" errors="0"')
    assert '<testcase classname="features.plain" name="A token the server refuses"' in junit
    for text in (junit, nagios, (root / "run.json").read_text()):
        assert TOKEN not in text and "Bearer ***" in text


def test_escalator_run_ignores_the_hooks(project: tuple[Path, str]) -> None:
    root, _ = project
    out = run_cli(["run", "-e", "local", "-f", "json"], cwd=root,
                  environ={"PLAIN_TOKEN": "wrong-" + TOKEN})
    assert [(s["name"], s["outcome"]) for s in out.json["scenarios"]] == [
        ("The library's phrases", "passed"), ("The site's own step", "passed"),
        ("A token the server refuses", "failed")]


def test_formatters_by_short_name_through_inits_behave_ini(project: tuple[Path, str]) -> None:
    root, _ = project
    done = behave(root, "-D", "env=local", "-f", "escalator.progress", "-o", "progress.txt",
                  "-f", "escalator.behave_formats:junit", "-o", "lower.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert (root / "progress.txt").read_text().splitlines()[0] == "..F"
    assert (root / "lower.xml").read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')


HARD = """\
Feature: Hard secrets under plain behave

  Scenario: a basic-auth password echoed across the cut of the body excerpt
    Given I am HTTP basic authenticated with the following credentials:
      | username | password    |
      | monitor  | ${password} |
    When I go to "/authecho?n=140"
    Then I should see "nothing like this"

  Scenario: a token across the cut of a pattern's quote
    When I go to "/authecho?n=80&v=${token}"
    Then the response body should match /nothing like this/
"""


def _auth_echo(req: Request) -> Reply:
    said = req.query.get("v", [""])[0] or req.headers.get("Authorization", "")
    return Reply(200, "x" * int(req.query["n"][0]) + " " + said + " end",
                 {"Content-Type": "text/plain; charset=utf-8"})


def test_hard_secrets_are_masked_before_the_steps_cut_under_plain_behave(tmp_path: Path) -> None:
    """The hooks give each scenario's session the secrets (and what its steps hide, the
    basic-auth token), so steps mask before they cut, and behave's own output and the
    formatters see no form of them."""
    from tests.test_secrets_hostile import PASSWORD, _leaks
    from tests.test_secrets_hostile import TOKEN as HARD_TOKEN

    assert run_cli(["init", "site"], cwd=tmp_path).code == 0
    root = tmp_path / "site"
    (root / "features/hard.feature").write_text(HARD)
    (root / "features/health.feature").unlink()
    with serve({"/authecho": _auth_echo}) as base:
        (root / "escalator.toml").write_text(
            f'[environments.local]\nbase_url = "{base}"\n'
            'password = { env = "HARD_PASSWORD" }\ntoken = { env = "HARD_TOKEN" }\n')
        done = subprocess.run(
            [sys.executable, "-m", "behave", "--no-color", "-D", "env=local",
             "-f", "escalator.behave_formats:Json", "-o", "run.json", "-f", "plain"], cwd=root,
            capture_output=True, text=True, timeout=120, check=False,
            env=child_environ(HARD_PASSWORD=PASSWORD, HARD_TOKEN=HARD_TOKEN))
    written = (root / "run.json").read_text()
    reasons = [s["reason"] for s in json.loads(written)["scenarios"]]
    assert len(reasons) == 2 and all("***" in r for r in reasons), reasons
    assert _leaks(done.stdout + done.stderr + written) == []
