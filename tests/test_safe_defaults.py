"""Safe defaults, tested: TLS verification and SSH host-key checking are on unless an
environment opts out (and then every output format says so); the state directory is 0700 and
its files 0600 whatever the umask; ladder actions get secrets through their environment only,
never on a command line that `ps` shows to every user.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project import ladder_level, ladder_toml, make_project, run_cli
from tests.servers.sshd import Sshd
from tests.servers.tls import TestCA

TLS_NOTICE = "TLS verification is off in this environment"
SSH_NOTICE = ("SSH host key checking is off (ssh_host_key_check = false): the servers' identity "
              "is not verified")
SECRET = "Qv8LadderSecret27"

PAGE = """
    Feature: TLS
      Scenario: the page over https
        When I go to "/"
        Then I should see "Welcome"
    """


@pytest.fixture(scope="module")
def https_self_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with TestCA(tmp_path_factory.mktemp("ca")).serve("self-signed") as url:
        yield url


# ---- TLS verification ----------------------------------------------------------------------

def test_tls_verification_is_on_by_default(tmp_path: Path, https_self_signed: str) -> None:
    root = make_project(tmp_path, {"tls.feature": PAGE}, variables={"base_url": https_self_signed})
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    [scenario] = out.json["scenarios"]
    assert (out.code, scenario["outcome"]) == (1, "failed")
    assert "TLS" in scenario["reason"] and "self-signed" in scenario["reason"]
    assert out.json["notices"] == []


@pytest.mark.parametrize("value", [False, "no", "off", "0", "FALSE"])
def test_tls_opt_out_passes_and_warns(tmp_path: Path, https_self_signed: str,
                                      value: bool | str) -> None:
    root = make_project(tmp_path, {"tls.feature": PAGE},
                        variables={"base_url": https_self_signed, "tls_verify": value})
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert (out.code, out.json["notices"]) == (0, [TLS_NOTICE])


@pytest.mark.parametrize("value", ["", "maybe", "yes", "true", "1", "on"])
def test_anything_but_a_clear_no_keeps_tls_verification_on(tmp_path: Path,
                                                           https_self_signed: str,
                                                           value: str) -> None:
    root = make_project(tmp_path, {"tls.feature": PAGE},
                        variables={"base_url": https_self_signed, "tls_verify": value})
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert (out.code, out.json["notices"]) == (1, [])


def test_the_tls_warning_is_in_every_human_format(tmp_path: Path, https_self_signed: str
                                                  ) -> None:
    root = make_project(tmp_path, {"tls.feature": PAGE},
                        variables={"base_url": https_self_signed, "tls_verify": False})
    for fmt in ("pretty", "progress", "nagios"):
        out = run_cli(["run", "-e", "test", "-f", fmt], cwd=root)
        assert out.code == 0
        assert f"notice: {TLS_NOTICE}\n" in out.stdout, (fmt, out.stdout)
    check = run_cli(["check", "-e", "test"], cwd=root)
    assert check.code == 0 and f"notice: {TLS_NOTICE}\n" in check.stdout


def test_the_opt_out_is_per_environment(tmp_path: Path, https_self_signed: str) -> None:
    root = make_project(tmp_path, {"tls.feature": PAGE},
                        variables={"base_url": https_self_signed, "tls_verify": False},
                        config=f'[environments.prod]\nbase_url = "{https_self_signed}"\n')
    prod = run_cli(["run", "-e", "prod", "-f", "json"], cwd=root)
    assert (prod.code, prod.json["notices"]) == (1, [])


# ---- SSH host-key checking -----------------------------------------------------------------

def _login(root: Path, sshd: Sshd, **variables: object) -> Path:
    return make_project(root, {"ssh.feature": f"""
        Feature: SSH
          Scenario: login
            Then I can ssh to "{sshd.address}" with the following credentials:
              | username    | keyfile           |
              | {sshd.user} | {sshd.client_key} |
        """}, variables=variables)


def test_host_key_checking_is_on_by_default(tmp_path: Path, sshd: Sshd,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No known_hosts configured and an empty home: the key is unknown, so the login fails
    (it is never accepted on first use)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))  # the workers fork from this process
    root = _login(tmp_path / "p", sshd)
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    [scenario] = out.json["scenarios"]
    assert scenario["outcome"] == "failed", scenario["reason"]
    assert "host key" in scenario["reason"] and "unknown host" in scenario["reason"]
    assert out.json["notices"] == []
    assert not (home / ".ssh" / "known_hosts").exists()  # nothing learnt behind our back


def test_host_key_opt_out_warns_in_every_human_format(tmp_path: Path, sshd: Sshd) -> None:
    root = _login(tmp_path, sshd, known_hosts=str(sshd.wrong_known_hosts),
                  ssh_host_key_check=False)
    for fmt in ("pretty", "nagios"):
        out = run_cli(["run", "-e", "test", "-f", fmt], cwd=root)
        assert out.code == 0, out.stdout
        assert f"notice: {SSH_NOTICE}\n" in out.stdout, (fmt, out.stdout)


# ---- the state directory -------------------------------------------------------------------

@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000: modes must come from the code, not from a friendly umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): oct(stat.S_IMODE(p.stat().st_mode))
            for p in sorted([root, *root.rglob("*")])}


def test_state_directory_is_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    root = make_project(tmp_path, {"ok.feature": """
        Feature: F
          Scenario: nothing to do
            Given I have no public keys set
        """})
    assert run_cli(["run", "-e", "test"], cwd=root).code == 0
    assert run_cli(["check", "-e", "test"], cwd=root).code == 0
    state = root / ".escalator"
    modes = _modes(state)
    assert {"results/test.json", "history/test.jsonl"} <= set(modes), modes
    for name, mode in modes.items():
        wanted = "0o700" if (state / name).is_dir() else "0o600"
        assert mode == wanted, f"{name} is {mode}"


# ---- ladder actions and secrets ------------------------------------------------------------

LADDER = ladder_toml(
    ladder_level("fix", run=["ops/fix.sh", "--level", "fix"], timeout="30s"),
    settle="100ms", confirm=1, verify=1, retry_interval="100ms", max_reconverge=0,
    max_failing_fraction=1.0)

FIX = """#!/bin/sh
tr '\\0' ' ' < /proc/$$/cmdline > "{root}/level.cmdline"
tr '\\0' ' ' < /proc/$PPID/cmdline > "{root}/engine.cmdline"
echo "$#" > "{root}/level.argc"
if [ "$ADMIN_PASSWORD" = "{secret}" ]; then echo yes; else echo no; fi > "{root}/level.has-secret"
exit 1
"""


def test_ladder_actions_get_secrets_from_their_environment_only(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"f.feature": """
        Feature: F
          @escalate.fix
          Scenario: always broken
            When I go to "/"
            Then the request should succeed
        """}, variables={"base_url": "http://127.0.0.1:9",
                         "admin_password": {"env": "ADMIN_PASSWORD"}}, config=LADDER)
    (root / "ops").mkdir()
    (root / "ops" / "fix.sh").write_text(FIX.format(root=root, secret=SECRET))
    (root / "ops" / "fix.sh").chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "escalator", "escalate", "-e", "test"],
                          cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ADMIN_PASSWORD": SECRET, "USER": "tester"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert (root / "level.has-secret").read_text() == "yes\n"
    assert (root / "level.argc").read_text() == "2\n"
    level, engine = (root / "level.cmdline").read_text(), (root / "engine.cmdline").read_text()
    assert level.endswith("ops/fix.sh --level fix ")
    assert "escalator escalate -e test" in engine
    assert SECRET not in level + engine
