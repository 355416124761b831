"""The file state phrases (exists, contents, mode, owner, size) on this machine and over SSH
against a real sshd: one feature, written once, run both ways, with the same verdicts."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.project import make_project, run_cli
from tests.servers.hostile import closed_port
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.servers

CONF = "listen 8080\nworkers 128\n"
SIZE = len(CONF)  # 24 bytes

FEATURE = """
Feature: file state{title}
  Scenario: as the feature says{title}
    Then the file "${{d}}/app.conf"{on} should exist
    And the file "${{d}}/none"{on} should not exist
    And the directory "${{d}}/spool"{on} should exist
    And the file "${{d}}/app.conf"{on} should contain "listen 8080"
    And the file "${{d}}/app.conf"{on} should not contain "debug on"
    And the file "${{d}}/app.conf"{on} should have mode "0644"
    And the file "${{d}}/app.conf"{on} should be owned by "nobody"
    And the file "${{d}}/app.conf"{on} should be owned by "65534:65534"
    And the file "${{d}}/spool"{on} should have mode "0750"
    And the file "${{d}}/spool"{on} should be owned by "root:root"
    And the file "${{d}}/app.conf"{on} should be at most 1 KiB
    And the file "${{d}}/app.conf"{on} should be at least {size} B

  Scenario: a missing file{title}
    Then the file "${{d}}/none"{on} should exist

  Scenario: a directory is not a file{title}
    Then the file "${{d}}/spool"{on} should exist

  Scenario: a file is not a directory{title}
    Then the directory "${{d}}/app.conf"{on} should exist

  Scenario: a file that should not be there{title}
    Then the file "${{d}}/app.conf"{on} should not exist

  Scenario: text not in the file{title}
    Then the file "${{d}}/app.conf"{on} should contain "listen 9090"

  Scenario: text that should not be there{title}
    Then the file "${{d}}/app.conf"{on} should not contain "workers"

  Scenario: the wrong mode{title}
    Then the file "${{d}}/app.conf"{on} should have mode "0600"

  Scenario: the wrong owner{title}
    Then the file "${{d}}/app.conf"{on} should be owned by "root"

  Scenario: too big{title}
    Then the file "${{d}}/app.conf"{on} should be at most 10 B

  Scenario: too small{title}
    Then the file "${{d}}/app.conf"{on} should be at least 1 MB

  Scenario: a root-only file{title}
    Then the file "${{d}}/secret"{on} should contain "token"

  Scenario: an unknown unit{title}
    Then the file "${{d}}/app.conf"{on} should be at most 10 parsecs
"""


@pytest.fixture(scope="module")
def tree() -> Iterator[Path]:
    """A directory the sshd's test user can traverse (tmp_path is root's only)."""
    root = Path(tempfile.mkdtemp(prefix="escalator-files-"))
    root.chmod(0o755)
    conf = root / "app.conf"
    conf.write_text(CONF)
    conf.chmod(0o644)
    os.chown(conf, 65534, 65534)
    (root / "spool").mkdir(mode=0o750)
    (root / "spool").chmod(0o750)
    secret = root / "secret"
    secret.write_text("token=42\n")
    secret.chmod(0o600)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _run(tmp_path: Path, features: dict[str, str], variables: dict[str, Any]
         ) -> dict[str, dict[str, Any]]:
    root = make_project(tmp_path, features, variables=variables)
    out = run_cli(["run", "-e", "test", "-f", "json"], cwd=root)
    assert out.stderr == ""
    return {s["name"]: s for s in out.json["scenarios"]}


def expected(d: Path, where: str) -> dict[str, tuple[str, Any]]:
    """Outcome and reason of each scenario; `where` is "" or " on host:port"."""
    nobody = pwd.getpwuid(65534).pw_name
    group = __import__("grp").getgrgid(65534).gr_name
    conf, spool = f"{d}/app.conf{where}", f"{d}/spool{where}"
    return {
        "as the feature says": ("passed", None),
        "a missing file": ("failed", f"{d}/none{where} does not exist"),
        "a directory is not a file": ("failed", f"{spool} is a directory, not a file"),
        "a file is not a directory": ("failed", f"{conf} is a file, not a directory"),
        "a file that should not be there": ("failed", f"{conf} exists (a file)"),
        "text not in the file": (
            "failed", f"{conf} does not contain 'listen 9090' (read {SIZE} bytes)"),
        "text that should not be there": ("failed", f"{conf} contains 'workers' at line 2"),
        "the wrong mode": ("failed", f"{conf} has mode 0644, not 0600"),
        "the wrong owner": ("failed", f"{conf} is owned by {nobody}:{group}, not root"),
        "too big": ("failed", f"{conf} is {SIZE} bytes, wanted at most 10 B"),
        "too small": ("failed", f"{conf} is {SIZE} bytes, wanted at least 1 MB"),
        "a root-only file": ("passed", None),  # root reads it here; see the SSH test
        "an unknown unit": (
            "unknown", "unknown size unit 'parsecs': use B, KB, MB, GB, KiB, MiB or GiB"),
    }


def test_file_state_on_this_machine(tmp_path: Path, tree: Path) -> None:
    local = FEATURE.format(title="", on="", size=SIZE)
    found = _run(tmp_path, {"files.feature": local}, {"d": str(tree)})
    assert {name: (s["outcome"], s["reason"]) for name, s in found.items()} == expected(tree, "")
    sizes = [(m["name"], m["value"], m["uom"], m["crit"])
             for m in found["as the feature says"]["measurements"]]
    assert sizes == [(f"size {tree}/app.conf", SIZE, "B", "1024"),
                     (f"size {tree}/app.conf_2", SIZE, "B", f"{SIZE}:")]


def test_file_state_over_ssh(tmp_path: Path, tree: Path, sshd: Sshd) -> None:
    remote = FEATURE.format(title=" over SSH", on=' on "${host}"', size=SIZE)
    closed = f"127.0.0.1:{closed_port()}"
    down = ('\n  Scenario: a host that refuses\n'
            f'    Then the file "/etc/hostname" on "{closed}" should exist\n')
    found = _run(tmp_path, {"remote.feature": remote + down}, {
        "d": str(tree), "host": sshd.address, "known_hosts": str(sshd.known_hosts),
        "ssh_user": sshd.user, "ssh_key": str(sshd.client_key)})
    want = {f"{name} over SSH": result
            for name, result in expected(tree, f" on {sshd.address}").items()}
    want["a root-only file over SSH"] = (
        "failed", f"cannot read {tree}/secret on {sshd.address}: permission denied")
    want["a host that refuses"] = (
        "failed", f"cannot ssh to {sshd.user}@{closed}: connection refused")
    assert {name: (s["outcome"], s["reason"]) for name, s in found.items()} == want
    # twelve steps on one host, one login
    logins = [m for m in found["as the feature says over SSH"]["measurements"]
              if m["name"].startswith("ssh ")]
    assert [m["name"] for m in logins] == [f"ssh {sshd.address}"]
