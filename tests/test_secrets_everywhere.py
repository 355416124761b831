"""Secrets never leak: a suite whose environment holds a password, an API token and a key
passphrase runs passing, failing and unknown scenarios that handle all three, in every output
format, with and without -v, through `check`, `report`, `status` and a ladder engagement whose
level prints the secrets; then every byte that reached a stream or a file is searched.

The secret values are plain letters and digits on purpose: an escaping renderer (XML, HTML,
JSON) cannot hide a leak of them by accident. Encoded forms (a URL's percent-encoding) have
their own test; tests/test_secrets_hostile.py runs 64-character secrets with backslashes,
quotes, spaces, tabs, `%` and non-ASCII letters through every form they travel in.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.project import Outcome, ladder_level, ladder_toml, make_project, run_cli
from tests.servers import sshd as sshd_server
from tests.servers.http import Handler, Reply, Request, serve

PASSWORD = "Zq7PasswordVx41"
TOKEN = "tok9Hq2TokenLm55"
PASSPHRASE = sshd_server.PASSPHRASE  # the one that opens the test sshd's locked key
SECRETS = {"ADMIN_PASSWORD": PASSWORD, "API_TOKEN": TOKEN, "KEY_PASSPHRASE": PASSPHRASE}

FEATURE = """
Feature: Secrets in use

  @escalate.fix
  Scenario: private page with the password
    Given I am HTTP basic authenticated with the following credentials:
      | username | password          |
      | monitor  | ${admin_password} |
    When I go to "/private"
    Then I should see "private ok"

  Scenario: token accepted and sent back in a header
    When I go to "/token?t=${api_token}"
    Then the request should succeed
    And the "X-Api-Token" header should be "${api_token}"

  @escalate.fix
  Scenario: password expected on the page
    Given I am HTTP basic authenticated with the following credentials:
      | username | password          |
      | monitor  | ${admin_password} |
    When I go to "/private"
    Then I should see "${admin_password}"

  @escalate.fix
  Scenario: token and passphrase echoed back
    When I go to "/echo?token=${api_token}&pass=${key_passphrase}"
    Then I should see "nothing like this"

  @escalate.fix
  Scenario: token leaks in a header
    When I go to "/token?t=${api_token}"
    Then the "X-Api-Token" header should not contain "${api_token}"

  Scenario: passphrase where a JSON path belongs
    When I go to "/json"
    Then the JSON at "$[${key_passphrase}" should be "ok"
"""

SSH_FEATURE = """
Feature: Secrets over SSH

  Scenario: encrypted key opened with the passphrase
    When I ssh to "{address}" with the following credentials:
      | username | keyfile  | passphrase          |
      | {user}   | {locked} | ${{key_passphrase}} |
    And I run "echo opened"
    Then the exit status should be 0

  @escalate.fix
  Scenario: passphrase in a command's output
    When I ssh to "{address}" with the following credentials:
      | username | keyfile  | passphrase          |
      | {user}   | {locked} | ${{key_passphrase}} |
    And I run "echo the passphrase is ${{key_passphrase}}"
    Then I should see "nothing like this" in the output
"""

SSH_OUTCOMES = {"encrypted key opened with the passphrase": "passed",
                "passphrase in a command's output": "failed"}

CONFIG = ladder_toml(
    ladder_level("fix", timeout="30s", quiesce="100ms"),
    settle="100ms", confirm=1, verify=1, retry_interval="100ms", max_reconverge=0,
    max_failing_fraction=1.0, notify=["ops/page.sh"])

FIX = """#!/bin/sh
echo "fixing with password $ADMIN_PASSWORD token $API_TOKEN passphrase $KEY_PASSPHRASE"
echo "on stderr: $ADMIN_PASSWORD" >&2
exit 1
"""

PAGE = """#!/bin/sh
cat > "{root}/page.json"
echo "paged with $API_TOKEN"
"""


def _private(req: Request) -> Reply:
    good = "Basic " + base64.b64encode(f"monitor:{PASSWORD}".encode()).decode()
    if req.headers.get("Authorization") == good:
        return Reply(200, "private ok", {"Content-Type": "text/plain"})
    return Reply(401, "no", {"WWW-Authenticate": 'Basic realm="secrets"'})


def _token(req: Request) -> Reply:
    sent = req.query.get("t", [""])[0]
    status = 200 if sent == TOKEN else 403
    return Reply(status, "token checked", {"Content-Type": "text/plain", "X-Api-Token": sent})


def _echo(req: Request) -> Reply:
    fields = "; ".join(f"{k}={v[0]}" for k, v in sorted(req.query.items()))
    return Reply(200, f"you sent {fields}", {"Content-Type": "text/plain"})


ROUTES: dict[str, Handler | object] = {"/private": _private, "/token": _token, "/echo": _echo}


def _project(root: Path, url: str, sshd: sshd_server.Sshd | None) -> Path:
    """The suite; with a real sshd, also the scenarios that open a key with the passphrase."""
    variables: dict[str, Any] = {"base_url": url,
                                 **{name.lower(): {"env": name} for name in SECRETS}}
    features = {"secrets.feature": FEATURE}
    if sshd is not None:
        variables["known_hosts"] = str(sshd.known_hosts)
        features["ssh.feature"] = SSH_FEATURE.format(address=sshd.address, user=sshd.user,
                                                     locked=sshd.locked_key)
    root = make_project(root, features, variables=variables, config=CONFIG)
    (root / "ops").mkdir()
    for name, text in (("fix.sh", FIX), ("page.sh", PAGE.format(root=root))):
        (root / "ops" / name).write_text(text)
        (root / "ops" / name).chmod(0o755)
    return root


def _environ() -> dict[str, str]:
    return {**SECRETS, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "USER": "tester"}


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def _files_with_secrets(root: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            leaks = _leaks(path.read_bytes().decode("utf-8", errors="replace"))
            if leaks:
                found[str(path.relative_to(root))] = leaks
    return found


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Outcome]]:
    """Everything an operator can run against the project, run once; all outcomes kept."""
    root = tmp_path_factory.mktemp("secrets")
    outcomes: dict[str, Outcome] = {}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(serve(ROUTES))
        sshd = None if sshd_server.available() else stack.enter_context(
            sshd_server.running_sshd())
        _project(root, url, sshd)
        env = _environ()
        out = root / "out"
        outcomes["run"] = run_cli(
            ["run", "-e", "test", "-f", "pretty", "-f", "progress", "-o", str(out / "p.txt"),
             "-f", "json", "-o", str(out / "r.json"), "-f", "junit", "-o", str(out / "j.xml"),
             "-f", "nagios", "-o", str(out / "n.txt"), "-f", "prometheus",
             "-o", str(out / "m.prom")], cwd=root, environ=env)
        for name in ("pretty", "progress", "json", "junit", "nagios", "prometheus"):
            outcomes[f"run -v -f {name}"] = run_cli(["run", "-e", "test", "-v", "-f", name],
                                                    cwd=root, environ=env)
        outcomes["check -v"] = run_cli(["check", "-e", "test", "-v"], cwd=root, environ=env)
        outcomes["report"] = run_cli(["report", "-e", "test", "--table"], cwd=root, environ=env)
        outcomes["status"] = run_cli(["status", "-e", "test"], cwd=root, environ=env)
        outcomes["escalate"] = run_cli(["escalate", "-e", "test"], cwd=root, environ=env)
        for sub in ("status", "history"):
            outcomes[f"ladder {sub}"] = run_cli(["ladder", sub, "-e", "test"], cwd=root,
                                                environ=env)
    return root, outcomes


def test_the_suite_really_used_the_secrets(suite: tuple[Path, dict[str, Outcome]]) -> None:
    """Guard against a vacuous pass: the passing scenarios needed the right values."""
    _, outcomes = suite
    run = outcomes["run -v -f json"].json
    got = {s["name"]: s["outcome"] for s in run["scenarios"]}
    assert got == {"private page with the password": "passed",
                   "token accepted and sent back in a header": "passed",
                   "password expected on the page": "failed",
                   "token and passphrase echoed back": "failed",
                   "token leaks in a header": "failed",
                   "passphrase where a JSON path belongs": "unknown",
                   **(SSH_OUTCOMES if sshd_server.available() is None else {})}
    reasons = " ".join(s["reason"] or "" for s in run["scenarios"])
    assert reasons.count("***") >= 4, reasons
    assert outcomes["escalate"].code == 2, outcomes["escalate"]
    assert "fix" in outcomes["ladder history"].stdout


@pytest.mark.parametrize("command", [
    "run", "run -v -f pretty", "run -v -f progress", "run -v -f json", "run -v -f junit",
    "run -v -f nagios", "run -v -f prometheus", "check -v", "report", "status", "escalate",
    "ladder status", "ladder history"])
def test_no_secret_in_any_output(suite: tuple[Path, dict[str, Outcome]], command: str) -> None:
    out = suite[1][command]
    assert out.stdout, f"{command} printed nothing: {out}"
    assert (_leaks(out.stdout), _leaks(out.stderr)) == ([], []), out


def test_no_secret_in_any_file(suite: tuple[Path, dict[str, Outcome]]) -> None:
    """Format outfiles, reports/, the state directory, the ladder's audit log, the page."""
    root, _ = suite
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert {"out/j.xml", "out/m.prom", "reports/index.html", "page.json",
            ".escalator/ladder/test/audit.jsonl"} <= written, sorted(written)
    assert _files_with_secrets(root) == {}


def test_the_audit_log_shows_the_level_output_masked(
        suite: tuple[Path, dict[str, Outcome]]) -> None:
    audit = (suite[0] / ".escalator" / "ladder" / "test" / "audit.jsonl").read_text()
    assert "fixing with password *** token *** passphrase ***" in audit
    assert "on stderr: ***" in audit


def test_percent_encoded_secrets_do_not_leak(tmp_path: Path) -> None:
    """A token with characters a URL must encode: the encoded form is the secret too."""
    token = "Kx9 Qm7/Zr2+Wp4"
    with serve(ROUTES) as url:
        root = make_project(tmp_path, {"t.feature": """
            Feature: Encoded
              Scenario: token in a query
                When I go to "/echo?t=${api_token}"
                Then I should see "nothing like this"
            """}, variables={"base_url": url, "api_token": {"env": "API_TOKEN"}})
        out = run_cli(["run", "-e", "test", "-v", "-f", "json"], cwd=root,
                      environ={"API_TOKEN": token})
    [scenario] = out.json["scenarios"]
    assert scenario["outcome"] == "failed"
    assert re.findall(r"Kx9(?:%20|\+| )Qm7", out.stdout) == [], scenario["reason"]


@pytest.mark.parametrize("value", ["x", "e", "passed", "critical", "1"])
def test_a_short_or_common_secret_cannot_break_the_run(tmp_path: Path, value: str) -> None:
    """Masking works on text, never on the shape of a result: a one-letter secret or one
    that equals a field name or an outcome must not turn the run into an internal error."""
    with serve(ROUTES) as url:
        root = make_project(tmp_path, {"t.feature": """
            Feature: Short
              Scenario: a page without the token
                When I go to "/echo?t=${api_token}"
                Then I should see "nothing like this"
            """}, variables={"base_url": url, "api_token": {"env": "API_TOKEN"}})
        out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root,
                      environ={"API_TOKEN": value})
    assert (out.code, out.stderr) == (1, ""), out
    [scenario] = out.json["scenarios"]
    assert scenario["outcome"] == "failed" and "***" in scenario["reason"]
