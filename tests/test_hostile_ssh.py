"""Hostile SSH targets through the real CLI, each with a time bound and a readable reason: a
changed host key, a refused password, a banner that never comes, a banner followed by silence,
a reset after the banner, something that is not SSH at all, a closed port, a command that never
ends and one that prints without end (kept in bounded memory).

The real sshd comes from tests/servers/sshd.py; the broken servers that speak a little SSH are
`banner_server` from tests/servers/hostile.py: a loopback listener that sends fixed bytes,
then stays silent or resets.
tests/test_steps_ssh.py asserts the exact wording of the common reasons; this module asserts
what holds for all of them: failed, one line, no Python jargon, in time.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests import readable
from tests.project import make_project, run_cli, run_escalator_measured
from tests.servers.hostile import banner_server, closed_port, silent_server
from tests.servers.http import serve
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.servers

STEP_TIMEOUT = "3s"  # for the targets that never finish: the run waits for it
TIME_BOUND = 9.0  # a 3 s step timeout plus start-up on a busy machine
# The real sshd answers at once, but a key exchange on a loaded CI machine has taken over 3 s;
# these cases assert its wording, so they give it room (they end as soon as sshd answers).
REAL_STEP_TIMEOUT = "10s"
REAL_TIME_BOUND = 16.0
MEMORY_BOUND = 200 * 1024 * 1024
# Python and paramiko wording that means nothing to an operator
JARGON = re.compile(r"\b\w+(?:Error|Exception)\b|Traceback|paramiko|codec|Error reading")
WRONG_PASSWORD = "Not-The-Password-913"


def _project(root: Path, sshd: Sshd, address: str, body: str, **variables: Any) -> Path:
    return make_project(root, {"ssh.feature": f"""
        Feature: Hostile SSH
          Scenario: the hostile target
            {body.format(address=address, user=sshd.user, key=sshd.client_key)}
        """}, variables={"known_hosts": str(sshd.known_hosts),
                         "password": {"env": "SSH_TEST_PASSWORD"}, **variables})


LOGIN = """Then I can ssh to "{address}" with the following credentials:
              | username | keyfile |
              | {user}   | {key}   |"""
PASSWORD_LOGIN = """Given I have no public keys set
            Then I can ssh to "{address}" with the following credentials:
              | username | password    |
              | {user}   | ${{password}} |"""
COMMAND = """When I ssh to "{address}" with the following credentials:
              | username | keyfile |
              | {user}   | {key}   |
            And I run "%s"
            Then the exit status should be 0"""


def run_case(root: Path, sshd: Sshd, address: str, body: str, step_timeout: str = STEP_TIMEOUT,
             **variables: Any) -> tuple[dict[str, Any], float]:
    project = _project(root, sshd, address, body, **variables)
    begun = time.monotonic()
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", step_timeout],
                  cwd=project, environ={"SSH_TEST_PASSWORD": WRONG_PASSWORD})
    took = time.monotonic() - begun
    assert out.stderr == ""
    [scenario] = out.json["scenarios"]
    return scenario, took


def assert_failed_readably(scenario: dict[str, Any], took: float, *words: str,
                           bound: float = TIME_BOUND) -> None:
    readable.assert_failed_readably(scenario, took, *words, jargon=JARGON, bound=bound,
                                    longest=600)


def test_changed_host_key(tmp_path: Path, sshd: Sshd) -> None:
    scenario, took = run_case(tmp_path, sshd, sshd.address, LOGIN, REAL_STEP_TIMEOUT,
                              known_hosts=str(sshd.wrong_known_hosts))
    assert_failed_readably(scenario, took, "host key", "CHANGED", bound=REAL_TIME_BOUND)


def test_refused_password(tmp_path: Path, sshd: Sshd) -> None:
    scenario, took = run_case(tmp_path, sshd, sshd.address, PASSWORD_LOGIN, REAL_STEP_TIMEOUT)
    assert_failed_readably(scenario, took, "authentication failed", bound=REAL_TIME_BOUND)
    assert WRONG_PASSWORD not in json.dumps(scenario)


def test_banner_that_never_comes(tmp_path: Path, sshd: Sshd) -> None:
    with silent_server() as port:
        scenario, took = run_case(tmp_path, sshd, f"127.0.0.1:{port}", LOGIN)
    assert_failed_readably(scenario, took, "no SSH banner within")


def test_closed_port(tmp_path: Path, sshd: Sshd) -> None:
    scenario, took = run_case(tmp_path, sshd, f"127.0.0.1:{closed_port()}", LOGIN)
    assert_failed_readably(scenario, took, "connection refused")


def test_banner_then_silence(tmp_path: Path, sshd: Sshd) -> None:
    """The key exchange never completes: the client timeout must cover it too."""
    with banner_server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as port:
        address = f"127.0.0.1:{port}"
        scenario, took = run_case(tmp_path, sshd, address, LOGIN)
    assert_failed_readably(scenario, took, address)


def test_reset_after_the_banner(tmp_path: Path, sshd: Sshd) -> None:
    with banner_server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", then="reset") as port:
        address = f"127.0.0.1:{port}"
        scenario, took = run_case(tmp_path, sshd, address, LOGIN)
    assert_failed_readably(scenario, took, address)


def test_garbage_instead_of_a_banner(tmp_path: Path, sshd: Sshd) -> None:
    with banner_server(b"\x00\xff\xfe garbage \x1b[31m\r\n" * 3) as port:
        address = f"127.0.0.1:{port}"
        scenario, took = run_case(tmp_path, sshd, address, LOGIN)
    assert_failed_readably(scenario, took, address, "banner")


def test_a_web_server_on_the_ssh_port(tmp_path: Path, sshd: Sshd) -> None:
    with serve() as url:
        address = url.split("://", 1)[1]
        scenario, took = run_case(tmp_path, sshd, address, LOGIN)
    assert_failed_readably(scenario, took, address, "banner")


def test_a_command_that_never_ends(tmp_path: Path, sshd: Sshd) -> None:
    scenario, took = run_case(tmp_path, sshd, sshd.address, COMMAND % "sleep 600")
    assert_failed_readably(scenario, took, "sleep 600", "still running")


def test_a_command_that_prints_without_end_stays_in_bounded_memory(tmp_path: Path,
                                                                   sshd: Sshd) -> None:
    """`yes` prints as fast as sshd can carry it; the run is cut in time and the CLI with its
    workers stays small (peak RSS of the CLI as a child process, workers included)."""
    project = _project(tmp_path, sshd, sshd.address, COMMAND % "yes")
    begun = time.monotonic()
    output, peak = run_escalator_measured(
        ["run", "-e", "test", "-f", "json", "--step-timeout", STEP_TIMEOUT], project,
        SSH_TEST_PASSWORD=WRONG_PASSWORD)
    took = time.monotonic() - begun
    [scenario] = json.loads(output)["scenarios"]
    assert_failed_readably(scenario, took, "yes")
    assert peak < MEMORY_BOUND, f"peak RSS {peak // 2**20} MiB"
