"""SSH phrases end to end: `escalator run` against a real sshd, a closed port and a silent one.

One project holds every phrase's success and failure as scenarios and runs once; the host-key
policies (changed, unknown, check off, missing file) each need their own environment and run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.project import Outcome, make_project, run_cli
from tests.servers.hostile import closed_port, silent_server
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.servers

SECRET = "Wrong-Secret-4711"


def feature(s: Sshd, closed: int, silent: int) -> str:
    a, user, key, locked, f = s.address, s.user, s.client_key, s.locked_key, s.files
    ed, ec = s.fingerprints["ssh-ed25519"], s.fingerprints["ecdsa-sha2-nistp256"]
    return f"""
    Feature: SSH
      Scenario: key from a keyfile column
        Then I can ssh to "{a}" with the following credentials:
          | username | password | keyfile |
          | {user}   |          | {key}   |

      Scenario: password from a secret
        Given I have no public keys set
        Then I can ssh to "{a}" with the following credentials:
          | username | password          |
          | {user}   | ${{ssh_password}} |

      Scenario: refused password
        Given I have no public keys set
        Then I can ssh to "{a}" with the following credentials:
          | username | password         |
          | {user}   | ${{bad_password}} |

      Scenario: keys from the public keys table
        Given I have the following public keys:
          | keyfile |
          | {key}   |
        Then I can ssh to "{a}" with the following credentials:
          | username | password |
          | {user}   |          |

      Scenario: the environment's ssh_key
        Then I can ssh to "{a}" with the following credentials:
          | username |
          | {user}   |

      Scenario: encrypted key with its passphrase
        Then I can ssh to "{a}" with the following credentials:
          | username | keyfile  | passphrase          |
          | {user}   | {locked} | ${{key_passphrase}} |

      Scenario: encrypted key without its passphrase
        Then I can ssh to "{a}" with the following credentials:
          | username | keyfile  |
          | {user}   | {locked} |

      Scenario: remote command
        When I ssh to "{a}" with the following credentials:
          | username | password          |
          | {user}   | ${{ssh_password}} |
        And I run "echo hello from $(whoami); exit 3"
        Then I should see "hello from {user}" in the output
        And the exit status should be 3

      Scenario: refused key
        When I ssh to "{a}" with the following credentials:
          | username | keyfile           |
          | {user}   | {s.stranger_key}  |

      Scenario: text missing from the output
        When I ssh to "{a}" with the following credentials:
          | username |
          | {user}   |
        And I run "echo all good"
        Then I should see "Welcome" in the output

      Scenario: wrong exit status
        When I ssh to "{a}" with the following credentials:
          | username |
          | {user}   |
        And I run "echo broken >&2; exit 2"
        Then the exit status should be 0

      Scenario: command that hangs
        When I ssh to "{a}" with the following credentials:
          | username |
          | {user}   |
        And I run "sleep 60"

      Scenario: command without a connection
        When I run "uptime"

      Scenario: pinned host keys
        Then the host key of "{a}" should have the fingerprint "{ed}"
        And the host key of "{a}" should have the fingerprint "{ec}"

      Scenario: wrong fingerprint
        Then the host key of "{a}" should have the fingerprint "SHA256:AAAAbogus"

      Scenario: fresh backup
        Then the file "{f}/fresh.bak" on "{a}" should have been modified within the last 10 minutes

      Scenario: stale backup
        Then the file "{f}/old.bak" on "{a}" should have been modified within the last 2 hours

      Scenario: missing backup
        Then the file "{f}/none.bak" on "{a}" should have been modified within the last 1 hours

      Scenario: one of two hosts down
        Then I can ssh to the following hosts with these credentials:
          | hostname          | username | password          | keyfile |
          | {a}               | {user}   | ${{ssh_password}} |         |
          | 127.0.0.1:{closed} | {user}   |                   | {key}   |

      Scenario: banner that never comes
        Then I can ssh to "127.0.0.1:{silent}" with the following credentials:
          | username | keyfile |
          | {user}   | {key}   |
    """


def variables(s: Sshd, **more: object) -> dict[str, Any]:
    return {"known_hosts": str(s.known_hosts), "ssh_user": s.user, "ssh_key": str(s.client_key),
            "ssh_password": {"env": "SSH_PW"}, "bad_password": {"env": "BAD_PW"},
            "key_passphrase": {"env": "KEY_PW"}, **more}


def environ(s: Sshd) -> dict[str, str]:
    return {"SSH_PW": s.password, "BAD_PW": SECRET, "KEY_PW": s.passphrase}


@pytest.fixture(scope="module")
def run(sshd: Sshd, tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, dict[str, Any]]:
    closed = closed_port()
    with silent_server() as silent:
        root = make_project(tmp_path_factory.mktemp("ssh"),
                            {"ssh.feature": feature(sshd, closed, silent)}, variables(sshd))
        out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", STEP_TIMEOUT], cwd=root,
                      environ=environ(sshd))
    scenarios = {sc["name"]: sc for sc in out.json["scenarios"]}
    scenarios["closed port"] = closed
    scenarios["silent port"] = silent
    return out, scenarios


STEP_TIMEOUT = "6s"
# A client call gets what is left of the step, less a 1 s margin: at most 5 s, a little less
# for what the step did before the call.
BUDGET = r"(\d+\.\d)"


def within_budget(seconds: str) -> bool:
    return 4.0 <= float(seconds) <= 5.0


def outcome(run: tuple[Outcome, dict[str, Any]], name: str) -> tuple[str, str | None]:
    sc = run[1][name]
    return sc["outcome"], sc["reason"]


def test_every_scenario_ran_and_the_run_is_critical(run: tuple[Outcome, dict[str, Any]]
                                                    ) -> None:
    out, _ = run
    assert out.code == 2  # some scenarios are unknown (our mistakes, on purpose)
    assert (out.json["status"], len(out.json["scenarios"])) == ("CRITICAL", 20)


@pytest.mark.parametrize("name", [
    "key from a keyfile column", "password from a secret", "keys from the public keys table",
    "the environment's ssh_key", "encrypted key with its passphrase", "remote command",
    "pinned host keys", "fresh backup"])
def test_phrases_that_pass(run: tuple[Outcome, dict[str, Any]], name: str) -> None:
    assert outcome(run, name) == ("passed", None)


def test_login_time_is_recorded(run: tuple[Outcome, dict[str, Any]], sshd: Sshd) -> None:
    [m] = run[1]["key from a keyfile column"]["measurements"]
    assert (m["name"], m["uom"], m["crit"]) == (f"ssh {sshd.address}", "s", None)
    assert 0 < m["value"] < 10


def test_refused_password_fails_without_showing_it(run: tuple[Outcome, dict[str, Any]],
                                                   sshd: Sshd) -> None:
    assert outcome(run, "refused password") == (
        "failed", f"cannot ssh to {sshd.user}@{sshd.address}: authentication failed for "
                  f"{sshd.user} (refused: password)")
    assert SECRET not in run[0].stdout


def test_refused_key_fails_the_ssh_step(run: tuple[Outcome, dict[str, Any]], sshd: Sshd) -> None:
    assert outcome(run, "refused key") == (
        "failed", f"cannot ssh to {sshd.user}@{sshd.address}: authentication failed for "
                  f"{sshd.user} (refused: key stranger_key)")


def test_encrypted_key_without_passphrase_is_unknown(run: tuple[Outcome, dict[str, Any]],
                                                     sshd: Sshd) -> None:
    assert outcome(run, "encrypted key without its passphrase") == (
        "unknown", f"SSH key file {sshd.locked_key} is encrypted: give its passphrase "
                   "(a passphrase column or ssh_key_passphrase)")


def test_missing_text_names_command_output_and_status(run: tuple[Outcome, dict[str, Any]],
                                                      sshd: Sshd) -> None:
    assert outcome(run, "text missing from the output") == (
        "failed", f'"Welcome" not in the 9 B of output of `echo all good` on {sshd.address} '
                  "(exit 0): all good")


def test_wrong_exit_status(run: tuple[Outcome, dict[str, Any]], sshd: Sshd) -> None:
    assert outcome(run, "wrong exit status") == (
        "failed", f"`echo broken >&2; exit 2` on {sshd.address} exited 2, expected 0; "
                  "output (7 B): broken")


def test_hanging_command_is_cut_and_fails(run: tuple[Outcome, dict[str, Any]],
                                          sshd: Sshd) -> None:
    state, reason = outcome(run, "command that hangs")
    assert state == "failed"
    assert reason is not None
    match = re.fullmatch(rf"`sleep 60`: still running after {BUDGET} s on {sshd.address}: cut",
                         reason)
    assert match, reason
    assert within_budget(match[1]), reason


def test_command_without_connection_is_unknown(run: tuple[Outcome, dict[str, Any]]) -> None:
    assert outcome(run, "command without a connection") == (
        "unknown", 'no SSH connection: write When I ssh to "<host>" with the following '
                   "credentials: first")


def test_wrong_fingerprint_lists_what_the_server_offers(run: tuple[Outcome, dict[str, Any]],
                                                        sshd: Sshd) -> None:
    ed, ec = sshd.fingerprints["ssh-ed25519"], sshd.fingerprints["ecdsa-sha2-nistp256"]
    assert outcome(run, "wrong fingerprint") == (
        "failed", f"no host key of {sshd.address} has the fingerprint SHA256:AAAAbogus: it "
                  f"offers ssh-ed25519 {ed}, ecdsa-sha2-nistp256 {ec}")


def test_backup_age_is_measured_against_its_limit(run: tuple[Outcome, dict[str, Any]],
                                                  sshd: Sshd) -> None:
    fresh = run[1]["fresh backup"]["measurements"]
    age = next(m for m in fresh if m["name"] == f"age {sshd.files}/fresh.bak")
    assert (age["uom"], age["crit"]) == ("s", "~:600")
    assert 55 <= age["value"] < 600
    assert outcome(run, "stale backup") == (
        "failed", f"{sshd.files}/old.bak on {sshd.address} was last modified 3.0 h ago, "
                  "wanted within the last 2 hours")
    assert outcome(run, "missing backup") == (
        "failed", f"cannot stat {sshd.files}/none.bak on {sshd.address}: No such file")


def test_host_table_names_only_the_unreachable_host(run: tuple[Outcome, dict[str, Any]],
                                                    sshd: Sshd) -> None:
    closed = run[1]["closed port"]
    assert outcome(run, "one of two hosts down") == (
        "failed", f"cannot ssh to 1 of 2 hosts: {sshd.user}@127.0.0.1:{closed}: "
                  "connection refused")


def test_banner_that_never_comes_fails_at_the_client_timeout(
        run: tuple[Outcome, dict[str, Any]], sshd: Sshd) -> None:
    silent = run[1]["silent port"]
    state, reason = outcome(run, "banner that never comes")
    assert state == "failed"
    assert reason is not None
    match = re.fullmatch(rf"cannot ssh to {sshd.user}@127.0.0.1:{silent}: no SSH banner within "
                         rf"{BUDGET} s", reason)
    assert match, reason
    assert within_budget(match[1]), reason


# ---- host-key policies, one environment each ------------------------------------------------

LOGIN = """
Feature: host keys
  Scenario: login
    Then I can ssh to "{address}" with the following credentials:
      | username |
      | {user}   |
"""


def login_run(tmp_path: Path, s: Sshd, **env: object) -> Outcome:
    root = make_project(tmp_path, {"login.feature": LOGIN.format(address=s.address, user=s.user)},
                        variables(s, **env))
    return run_cli(["run", "-e", "test", "-f", "json"], cwd=root, environ=environ(s))


def test_changed_host_key_fails(tmp_path: Path, sshd: Sshd) -> None:
    out = login_run(tmp_path, sshd, known_hosts=str(sshd.wrong_known_hosts))
    [sc] = out.json["scenarios"]
    assert sc["outcome"] == "failed"
    assert sc["reason"].startswith(
        f"cannot ssh to {sshd.user}@{sshd.address}: host key of [127.0.0.1]:{sshd.port} has "
        f"CHANGED: the server offers ssh-ed25519 {sshd.fingerprints['ssh-ed25519']}, "
        f"{sshd.wrong_known_hosts} has SHA256:")


def test_unknown_host_key_fails(tmp_path: Path, sshd: Sshd) -> None:
    out = login_run(tmp_path, sshd, known_hosts=str(sshd.empty_known_hosts))
    [sc] = out.json["scenarios"]
    assert (sc["outcome"], sc["reason"]) == (
        "failed", f"cannot ssh to {sshd.user}@{sshd.address}: host key ssh-ed25519 "
                  f"{sshd.fingerprints['ssh-ed25519']} of [127.0.0.1]:{sshd.port} is not in "
                  f"{sshd.empty_known_hosts} (unknown host)")


def test_host_key_check_off_passes_with_a_notice(tmp_path: Path, sshd: Sshd) -> None:
    out = login_run(tmp_path, sshd, known_hosts=str(sshd.wrong_known_hosts),
                    ssh_host_key_check=False)
    assert [sc["outcome"] for sc in out.json["scenarios"]] == ["passed"]
    notices = [n for n in out.json["notices"] if " is used by no step or feature" not in n]
    assert notices == [  # the shared environment has variables this feature does not use
        "SSH host key checking is off (ssh_host_key_check = false): the servers' identity is "
        "not verified"]


def test_missing_known_hosts_file_is_unknown(tmp_path: Path, sshd: Sshd) -> None:
    out = login_run(tmp_path, sshd, known_hosts=str(tmp_path / "nope"))
    [sc] = out.json["scenarios"]
    assert (sc["outcome"], sc["reason"]) == (
        "unknown", f"the environment's known_hosts file {tmp_path / 'nope'} does not exist")
