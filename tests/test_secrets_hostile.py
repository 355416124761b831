"""Secrets that leak through escaping and cutting: 64-character values with backslashes,
quotes, spaces, a tab, `%` and non-ASCII letters travel through every path that once leaked
them, and no output, report or state file may hold them in any form they travel in.

The paths: a reason that quotes a secret with repr() (backslashes doubled), a page that echoes
a passphrase (its whitespace collapsed in the body excerpt), a target that echoes the
Authorization header (base64 of user:password), a secret straddling the 160-character body
excerpt, the 57-character command label, the tail of a command's output and the 80-character
JSON value: redaction happens in the worker before the text is cut, so no piece survives. The
newer step modules' paths too: a bearer token the target echoes (a pattern's 120-character
quote; the passphrase, as a header carries only Latin-1), the login of an AMQP URL a real broker
refuses (user and password secrets, the user quoted with repr), a remote command over a real
sshd whose output quotes the command line, and a JSON body sent with a secret (valid JSON,
however the secret is quoted) that the target echoes. A command step keeps secrets out of
argv, where every user's `ps` could read them.

tests/test_secrets_everywhere.py keeps plain letters-and-digits secrets, which an escaping
renderer cannot hide by accident; here every encoded form is searched, and every piece of each
(8 characters of the secret, 12 of an escaped form).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.project import Outcome, child_environ, make_project, run_cli
from tests.servers.http import Handler, Reply, Request, serve
from tests.servers.rabbitmq import Rabbit
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.servers

PASSWORD = "C:\\tmp\\N0pe \"Qv8\" 'Zk3' 97% süß€ Lm4\\Rt7\tWx2 \"Yp5\" Kb9%z Hd6 ÄÖx"
TOKEN = "Tk7\\Gh2 \"Jq4\" 'Vn8' 55%z ñandú€ Rb3\tPs6  Xc1\\Fm9 \"Ld0\" Wy Qo5Pe2"
PASSPHRASE = "correct  horse\tbattery 'st4ple' \"Qm\" 12% ünï\\cödé  Jx\tzr Gu7Nk3W"
SECRETS = {"ADMIN_PASSWORD": PASSWORD, "API_TOKEN": TOKEN, "KEY_PASSPHRASE": PASSPHRASE}
USER = "monitor"
PIECE = 8  # no run of this many characters of a secret may appear anywhere
ESCAPED_PIECE = 12  # nor this many of an escaped form (shorter ones are mostly `&quot;`, `\\`)

FEATURE = """
Feature: Hard secrets

  Scenario: password expected on the page
    Given I am HTTP basic authenticated with the following credentials:
      | username | password          |
      | monitor  | ${admin_password} |
    When I go to "/private"
    Then I should see "${admin_password}"

  Scenario: the target echoes the Authorization header
    Given I am HTTP basic authenticated with the following credentials:
      | username | password          |
      | monitor  | ${admin_password} |
    When I go to "/headers"
    Then I should see "nothing like this"

  Scenario: passphrase echoed with its whitespace
    When I go to "/echo?pass=${key_passphrase}"
    Then I should see "nothing like this"

  Scenario: token across the end of the body excerpt
    When I go to "/pad?n=140&s=${api_token}"
    Then I should see "nothing like this"

  Scenario: token in a long command line
    When I run 'true ${api_token}'
    Then it should exit '1'

  Scenario: token at the tail of a command's output
    When I run 'printenv API_TOKEN; head -c 190 /dev/zero | tr "\\0" y'
    Then 'stdout' should have 'nothing like this'

  Scenario: token in a long JSON value
    When I go to "/jsonecho?pad=30&v=${api_token}"
    Then the JSON at "$.token" should be "nothing like this"

  Scenario: a bearer token the target echoes
    Given I use the bearer token "${key_passphrase}"
    When I go to "/bearer?n=60"
    Then the response body should match /nothing like this/

  Scenario: the login of an AMQP URL refused
    Given I have a AMQP server on amqp://${api_token}:${admin_password}@${rabbit}/
    When I want to check on the jobs queue

  Scenario: token in a remote command that its output quotes
    When I ssh to "${ssh_host}" with the following credentials:
      | username    |
      | ${ssh_user} |
    And I run "tr '\\0' ' ' < /proc/$$/cmdline # PADDING ${api_token}"
    Then the output should match /nothing like this/

  Scenario: a JSON body sent with a secret
    When I send a POST request to "/bodyecho" with the JSON '{"token": "PADDING${api_token}"}'
    Then the response body should match /nothing like this/
""".replace("PADDING", "z" * 50)

OUTCOMES = {"password expected on the page": "failed",
            "the target echoes the Authorization header": "failed",
            "passphrase echoed with its whitespace": "failed",
            "token across the end of the body excerpt": "failed",
            "token in a long command line": "failed",
            "token at the tail of a command's output": "failed",
            "token in a long JSON value": "failed",
            "a bearer token the target echoes": "failed",
            "the login of an AMQP URL refused": "failed",
            "token in a remote command that its output quotes": "failed",
            "a JSON body sent with a secret": "failed"}


def _private(req: Request) -> Reply:
    good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if req.headers.get("Authorization") == good:
        return Reply(200, "private ok", {"Content-Type": "text/plain"})
    return Reply(401, "no", {"WWW-Authenticate": 'Basic realm="secrets"'})


def _headers(req: Request) -> Reply:
    lines = "\n".join(f"{k}: {v}" for k, v in sorted(req.headers.items()))
    return Reply(200, f"you sent\n{lines}", {"Content-Type": "text/plain"})


def _echo(req: Request) -> Reply:
    fields = "; ".join(f"{k}={v[0]}" for k, v in sorted(req.query.items()))
    return Reply(200, f"<html><body><p>you sent {html.escape(fields)}</p></body></html>",
                 {"Content-Type": "text/html; charset=utf-8"})


def _pad(req: Request) -> Reply:
    body = "x" * int(req.query["n"][0]) + req.query["s"][0] + " and more"
    return Reply(200, body, {"Content-Type": "text/plain; charset=utf-8"})


def _json_echo(req: Request) -> Reply:
    value = "z" * int(req.query["pad"][0]) + req.query["v"][0]
    return Reply(200, json.dumps({"token": value}), {"Content-Type": "application/json"})


def _bearer(req: Request) -> Reply:
    body = "x" * int(req.query["n"][0]) + " " + req.headers.get("Authorization", "") + " end"
    return Reply(200, body, {"Content-Type": "text/plain; charset=utf-8"})


def _body_echo(req: Request) -> Reply:
    return Reply(200, req.body.decode(), {"Content-Type": "application/json"})


ROUTES: dict[str, Handler | object] = {"/private": _private, "/headers": _headers,
                                       "/echo": _echo, "/pad": _pad, "/jsonecho": _json_echo,
                                       "/bearer": _bearer, "/bodyecho": _body_echo}


def _escapes(secret: str) -> dict[str, str]:
    """Every form a secret may travel in: as written, escaped, encoded, collapsed."""
    forms = {"as written": secret, "repr": repr(secret)[1:-1], "ascii": ascii(secret)[1:-1],
             "repr, double-quoted": repr(secret + '"')[1:-2],
             "JSON": json.dumps(secret)[1:-1],
             "JSON, UTF-8": json.dumps(secret, ensure_ascii=False)[1:-1],
             "HTML": html.escape(secret), "HTML, no quotes": html.escape(secret, quote=False),
             "URL": quote(secret), "URL form": quote_plus(secret),
             "collapsed": " ".join(secret.split()),
             "base64": base64.b64encode(secret.encode()).decode(),
             "basic auth": base64.b64encode(f"{USER}:{secret}".encode()).decode()}
    forms.update({f"{name}, collapsed": " ".join(text.split()) for name, text in list(
        forms.items())})
    return forms


def _leaks(text: str) -> list[str]:
    found = []
    for name, secret in SECRETS.items():
        for form_name, form in _escapes(secret).items():
            size = PIECE if form_name in ("as written", "collapsed") else ESCAPED_PIECE
            pieces = {form[i:i + size] for i in range(len(form) - size + 1)}
            leaked = sorted(p for p in pieces if p in text)
            if leaked:
                found.append(f"{name} ({form_name}): {leaked[0]!r}")
    return found


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, rabbitmq: Rabbit, sshd: Sshd
          ) -> Iterator[tuple[Path, dict[str, Outcome]]]:
    root = tmp_path_factory.mktemp("hard-secrets")
    environ = {**SECRETS, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    outcomes: dict[str, Outcome] = {}
    servers = {"rabbit": rabbitmq.address, "ssh_host": sshd.address, "ssh_user": sshd.user,
               "ssh_key": str(sshd.client_key), "known_hosts": str(sshd.known_hosts)}
    # the workers fork from this process: a command step sees this process's environment
    with pytest.MonkeyPatch.context() as patch, serve(ROUTES) as url:
        patch.setenv("API_TOKEN", TOKEN)
        make_project(root, {"secrets.feature": FEATURE},
                     variables={"base_url": url, **servers,
                                **{k.lower(): {"env": k} for k in SECRETS}})
        for name in ("json", "junit", "pretty", "progress", "nagios", "prometheus"):
            outcomes[f"run -v -f {name}"] = run_cli(["run", "-e", "test", "-v", "-f", name],
                                                    cwd=root, environ=environ)
        outcomes["check -v"] = run_cli(["check", "-e", "test", "-v"], cwd=root, environ=environ)
        outcomes["status"] = run_cli(["status", "-e", "test", "--max-age", "1h"], cwd=root,
                                     environ=environ)
        outcomes["report"] = run_cli(["report", "-e", "test", "--table"], cwd=root,
                                     environ=environ)
    yield root, outcomes


def test_the_secrets_are_hard_ones() -> None:
    for secret in SECRETS.values():
        assert len(secret) == 64
        assert {"\\", '"', "'", " ", "\t", "%"} <= set(secret), secret
        assert any(ord(c) > 127 for c in secret)
    assert "  " in PASSPHRASE


def test_every_scenario_ran_into_its_secret(suite: tuple[Path, dict[str, Outcome]]) -> None:
    """Guard against a vacuous pass: each scenario failed where the secret travels, and the
    reasons show the mask where the secret was."""
    scenarios = suite[1]["run -v -f json"].json["scenarios"]
    assert {s["name"]: s["outcome"] for s in scenarios} == OUTCOMES
    reasons = {s["name"]: s["reason"] for s in scenarios}
    label = reasons.pop("token in a long command line")
    assert label == "`true ${api_token}` exited 0, expected exit 1"  # quoted as written
    for name, reason in reasons.items():
        assert "***" in reason, (name, reason)
    assert "Basic ***" in reasons["the target echoes the Authorization header"]


@pytest.mark.parametrize("command", ["run -v -f json", "run -v -f junit", "run -v -f pretty",
                                     "run -v -f progress", "run -v -f nagios",
                                     "run -v -f prometheus", "check -v", "status", "report"])
def test_no_form_of_a_secret_in_any_output(suite: tuple[Path, dict[str, Outcome]],
                                           command: str) -> None:
    out = suite[1][command]
    assert out.stdout, out
    assert _leaks(out.stdout + out.stderr) == [], out.stdout


def test_no_form_of_a_secret_in_any_file(suite: tuple[Path, dict[str, Outcome]]) -> None:
    root = suite[0]
    written = sorted(p for p in root.rglob("*") if p.is_file() and "steps" not in p.parts)
    assert {"reports/index.html", ".escalator/results/test.json",
            ".escalator/history/test.jsonl"} <= {str(p.relative_to(root)) for p in written}
    leaks = {str(p.relative_to(root)): _leaks(p.read_bytes().decode(errors="replace"))
             for p in written}
    assert {name: found for name, found in leaks.items() if found} == {}


# ---- argv: what every user's `ps` shows -------------------------------------------------------

def _argv_holding(secret: bytes) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes()
                if secret in argv:
                    found.append(argv.replace(b"\0", b" ").decode(errors="replace"))
    return found


def test_a_command_step_keeps_the_secret_out_of_argv(tmp_path: Path) -> None:
    marker = "2.7182"
    root = make_project(tmp_path, {"argv.feature": f"""
        Feature: argv
          Scenario: a secret on a command line
            When I run 'sleep {marker} # ${{api_token}}'
            Then it should exit '0'
        """}, variables={"api_token": {"env": "API_TOKEN"}})
    proc = subprocess.Popen([sys.executable, "-m", "escalator", "check", "-e", "test"],
                            cwd=root, env=child_environ(API_TOKEN=TOKEN),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen_sleep, holding = False, []
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        holding += _argv_holding(TOKEN.encode())
        seen_sleep = seen_sleep or bool(_argv_holding(f"sleep\0{marker}".encode()))
        time.sleep(0.02)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert seen_sleep, "the command never ran"
    assert holding == []


def test_icinga_s_answer_in_a_notice_is_masked_before_it_is_cut() -> None:
    """A host-results notice quotes 120 characters of what Icinga 2 (or a proxy before it)
    answered; an answer that echoes the API password leaves no piece of it."""
    from escalator.hostresults.icinga2 import _status_text
    from escalator.redact import Redactor

    quoted = _status_text("x" * 100 + " " + PASSWORD + " end", Redactor((PASSWORD,)))
    assert quoted == "x" * 100 + " *** end"
    quoted = _status_text("y" * 200 + " " + PASSWORD, Redactor((PASSWORD,)))
    assert quoted == "y" * 117 + "..."
    cut = _status_text('{"status": "' + "z" * 90 + " " + json.dumps(PASSWORD)[1:-1] + '"}',
                       Redactor((PASSWORD,)))
    assert cut == "z" * 90 + " ***" and _leaks(cut) == []
