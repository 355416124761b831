"""SSH through a jump host and the server's version string, against a real sshd on loopback.

The same sshd is the jump host and the target (it opens the direct-tcpip channel to itself, as
`ssh -J` would); the failures show the jump is really in the path: a dead jump host fails a
login to a target that is up, and a jump host that cannot reach the target says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import banner_server, closed_port
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.servers


def feature(s: Sshd, closed: int, smtp: int) -> str:
    a, user = s.address, s.user
    return f"""
    Feature: Jump hosts and versions
      Scenario: through a jump host
        Given I ssh through the jump host "{a}"
        When I ssh to "{a}" with the following credentials:
          | username |
          | {user}   |
        And I run "echo hello through the jump"
        Then I should see "hello through the jump" in the output
        And the file "{s.files}/fresh.bak" on "{a}" should have been modified within the last 1 hour

      Scenario: the jump host as user@host
        Given I ssh through the jump host "{user}@{a}"
        Then I can ssh to "{a}" with the following credentials:
          | username |
          | {user}   |

      Scenario: a jump host that is down
        Given I ssh through the jump host "127.0.0.1:{closed}"
        Then I can ssh to "{a}" with the following credentials:
          | username |
          | {user}   |

      Scenario: a jump host that cannot reach the target
        Given I ssh through the jump host "{a}"
        Then I can ssh to "127.0.0.1:{closed}" with the following credentials:
          | username |
          | {user}   |

      Scenario: numbers and patterns in remote output
        When I ssh to "{a}" with the following credentials:
          | username |
          | {user}   |
        And I run "echo 17"
        Then the output should be less than 20
        And the output should match /^1\\d$/

      Scenario: remote output over its limit
        When I ssh to "{a}" with the following credentials:
          | username |
          | {user}   |
        And I run "echo 17"
        Then the output should be at most 10

      Scenario: remote output that does not match
        When I ssh to "{a}" with the following credentials:
          | username |
          | {user}   |
        And I run "uname -s"
        Then the output should match /^Darwin/

      Scenario: versions
        Then the SSH version of "{a}" should contain "OpenSSH_"
        And the SSH version of "{a}" should not contain "Dropbear"
        And the SSH version of "{a}" should match /^SSH-2\\.0-OpenSSH_\\d+\\.\\d/

      Scenario: the wrong server software
        Then the SSH version of "{a}" should contain "dropbear"

      Scenario: a version that does not match
        Then the SSH version of "{a}" should match /OpenSSH_7\\./

      Scenario: no server
        Then the SSH version of "127.0.0.1:{closed}" should contain "OpenSSH"

      Scenario: not an SSH server
        Then the SSH version of "127.0.0.1:{smtp}" should contain "OpenSSH"
    """


@pytest.fixture(scope="module")
def results(sshd: Sshd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    closed = closed_port()
    with banner_server(b"220 mail ESMTP\r\n", then="reset") as smtp:
        root = make_project(tmp_path_factory.mktemp("jump"),
                            {"jump.feature": feature(sshd, closed, smtp)},
                            variables={"known_hosts": str(sshd.known_hosts),
                                       "ssh_user": sshd.user, "ssh_key": str(sshd.client_key)})
        out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "5s"], cwd=root)
    assert out.code == 1, out.stdout + out.stderr
    return {"closed": closed, "smtp": smtp, "address": sshd.address, "user": sshd.user,
            "scenarios": {s["name"]: s for s in out.json["scenarios"]}}


def verdict(results: dict[str, Any], name: str) -> tuple[str, str]:
    scenario = results["scenarios"][name]
    text = (scenario["reason"] or "").replace(results["address"], "SSHD")
    text = text.replace(f"127.0.0.1:{results['closed']}", "CLOSED").replace(
        f"127.0.0.1:{results['smtp']}", "SMTP").replace(results["user"], "USER")
    return scenario["outcome"], re.sub(r"'SSH-2\.0-OpenSSH_[^']+'", "'VERSION'", text)


@pytest.mark.parametrize("name", ["through a jump host", "the jump host as user@host",
                                  "numbers and patterns in remote output", "versions"])
def test_passing_scenarios(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("passed", "")


FAILURES = {
    "a jump host that is down":
        "cannot ssh to USER@SSHD: through the jump host: cannot ssh to USER@CLOSED: connection "
        "refused",
    "a jump host that cannot reach the target":
        "cannot ssh to USER@CLOSED: the jump host SSHD could not connect to CLOSED: Connect "
        "failed",
    "the wrong server software": "SSHD identifies as 'VERSION', without 'dropbear'",
    "remote output over its limit": "the output of `echo 17` on SSHD is 17, wanted at most 10",
    "remote output that does not match":
        "the output of `uname -s` on SSHD does not match /^Darwin/: 'Linux'",
    "a version that does not match":
        "SSHD identifies as 'VERSION', which does not match /OpenSSH_7\\./",
    "no server": "no SSH version from CLOSED: connection refused",
    "not an SSH server":
        "no SSH version from SMTP: the server closed the connection while waiting for the SSH "
        "banner",
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenarios_say_why(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("failed", FAILURES[name])


def test_a_bad_jump_address_is_our_mistake(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"bad.feature": """
        Feature: bad
          Scenario: a jump host with a bad port
            Given I ssh through the jump host "bastion:99999"
        """})
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert [(s["outcome"], s["reason"]) for s in out.json["scenarios"]] == [
        ("unknown", "bad SSH address 'bastion:99999': write host or host:port")]
