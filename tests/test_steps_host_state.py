"""System state phrases end to end, on this machine and over SSH (a real sshd on loopback, logged
in as its test user): processes, systemd units, packages, mounts, disk space.

The machine's own state is the fixture: a sleeping process started under a chosen name, the
installed openssh-server package, the /proc mount, the root filesystem. systemd does not run
here, so the unit phrase can only be shown to give a clear UNKNOWN; expected reasons that depend
on the machine (mount options, free space) are read from the machine itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escalator.probes.host_state import parse_mounts
from tests.project import make_project, run_cli
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.servers

SHORT = "esc-probe-sleep"  # 15 characters: what the kernel keeps of a program's name
LONG = "escalator-long-sleeper"

FEATURE = """
Feature: System state

  Scenario: Here and there
    Then the process "{short}" should be running
    And the process "{long}" should be running on "{ssh}"
    And the process "not-running-xyz" should not be running on "{ssh}"
    And the package "openssh-server" should be installed
    And the package "openssh-server" should be installed on "{ssh}"
    And the package "escalator-no-such-package" should not be installed on "{ssh}"
    And "/" should be a mount point
    And "/proc" should be mounted with "rw" on "{ssh}"
    And the filesystem of "/" should have at least 0.5% free
    And the filesystem of "/" should have at least 1 MiB free on "{ssh}"

  Scenario: A process that is not running
    Then the process "not-running-xyz" should be running on "{ssh}"

  Scenario: A process that should not run
    Then the process "{short}" should not be running

  Scenario: A package that is missing
    Then the package "escalator-no-such-package" should be installed on "{ssh}"

  Scenario: A package that should not be there
    Then the package "openssh-server" should not be installed

  Scenario: Not a mount point
    Then "/proc/self" should be a mount point on "{ssh}"

  Scenario: Mounted without an option
    Then "/proc" should be mounted with "ro"

  Scenario: Not enough free space
    Then the filesystem of "/" should have at least 100% free on "{ssh}"

  Scenario: Not enough bytes available
    Then the filesystem of "/" should have at least 1000 TiB free

  Scenario: Free space worth a warning
    Then the filesystem of "/" should have at least 0.5% free on "{ssh}", warning below 100%
    And the filesystem of "/" should have at least 1 MiB free, warning below 1000 TiB

  Scenario: A path that does not exist
    Then the filesystem of "/nonexistent/escalator" should have at least 1% free

  Scenario: systemd is not running here
    Then the systemd unit "ssh.service" should be active

  Scenario: systemd is not running there either
    Then the systemd unit "ssh.service" should be active on "{ssh}"
"""


@pytest.fixture(scope="module")
def sleepers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Two sleeping processes under chosen names (a short one and a long one)."""
    directory = tmp_path_factory.mktemp("bin")
    directory.chmod(0o755)
    procs = []
    for name in (SHORT, LONG):
        program = directory / name
        shutil.copy("/bin/sleep", program)
        procs.append(subprocess.Popen([str(program), "120"]))
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def results(sshd: Sshd, sleepers: None, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, Any]:
    text = FEATURE.replace("{short}", SHORT).replace("{long}", LONG).replace(
        "{ssh}", sshd.address)
    root = make_project(tmp_path_factory.mktemp("state"), {"state.feature": text},
                        variables={"known_hosts": str(sshd.known_hosts), "ssh_user": sshd.user,
                                   "ssh_key": str(sshd.client_key)})
    out = run_cli(["run", "-e", "test", "-f", "json", "--step-timeout", "5s"], cwd=root)
    assert out.code == 2, out.stdout + out.stderr  # failures and UNKNOWNs
    return {"address": sshd.address,
            "scenarios": {s["name"]: s for s in out.json["scenarios"]}}


def verdict(results: dict[str, Any], name: str) -> tuple[str, str]:
    scenario = results["scenarios"][name]
    return scenario["outcome"], (scenario["reason"] or "").replace(results["address"], "SSHD")


def test_state_here_and_over_ssh(results: dict[str, Any]) -> None:
    assert verdict(results, "Here and there") == ("passed", "")
    measured = results["scenarios"]["Here and there"]["measurements"]
    kept = [(m["name"], m["value"], m["uom"], m["crit"]) for m in measured
            if not m["name"].startswith("ssh ")]
    assert kept[:3] == [(f"processes_{SHORT}", 1, "", None), (f"processes_{LONG}", 1, "", None),
                        ("processes_not-running-xyz", 0, "", None)]
    assert [(name, uom, threshold) for name, _, uom, threshold in kept[3:]] == [
        ("disk_free", "%", "0.5:"), ("disk_available", "B", f"{1024 * 1024}:")]
    logins = [m for m in measured if m["name"].startswith("ssh ")]
    assert len(logins) == 1  # one login to the host for the whole scenario


FAILURES = {
    "A process that is not running": 'no process "not-running-xyz" is running on SSHD',
    "A process that should not run": f'1 "{SHORT}" process running on this machine',
    "A package that is missing":
        "the package escalator-no-such-package is not installed on SSHD",
    "Not a mount point": "nothing is mounted on /proc/self on SSHD",
    "A path that does not exist":
        "df cannot tell on this machine: df: /nonexistent/escalator: No such file or directory",
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failing_scenarios_say_why(results: dict[str, Any], name: str) -> None:
    assert verdict(results, name) == ("failed", FAILURES[name])


def test_reasons_that_depend_on_the_machine(results: dict[str, Any]) -> None:
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "openssh-server"],
                             capture_output=True, text=True, check=True).stdout
    assert verdict(results, "A package that should not be there") == (
        "failed", f"the package openssh-server {version} is installed on this machine")
    proc = [m for m in parse_mounts(Path("/proc/self/mounts").read_text()) if m[1] == "/proc"][-1]
    assert verdict(results, "Mounted without an option") == (
        "failed", f"/proc ({proc[2]} from {proc[0]}) is mounted with {','.join(proc[3])} on "
                  "this machine, without ro")
    outcome, reason = verdict(results, "Not enough free space")
    assert outcome == "failed"
    assert re.fullmatch(r"the filesystem of / \(/\) on SSHD has \d+\.\d% free, wanted at least "
                        r"100%", reason), reason
    outcome, reason = verdict(results, "Not enough bytes available")
    assert outcome == "failed"
    assert re.fullmatch(r"the filesystem of / \(/\) on this machine has \d+\.\d\d GiB available, "
                        r"wanted at least 1000 TiB", reason), reason


def test_free_space_below_a_warning_limit_warns(results: dict[str, Any]) -> None:
    scenario = results["scenarios"]["Free space worth a warning"]
    assert (scenario["outcome"], scenario["warning_only"]) == ("failed", True)
    assert [s["status"] for s in scenario["steps"]] == ["warning", "warning"]
    assert [(m["name"], m["warn"], m["crit"]) for m in scenario["measurements"]
            if not m["name"].startswith("ssh ")] == [
        ("disk_free", "100:", "0.5:"), ("disk_available", f"{1000 * 1024**4}:", f"{1024**2}:")]
    assert re.fullmatch(r"the filesystem of / \(/\) on SSHD has \d+\.\d% free, warning below "
                        r"100%", scenario["reason"].replace(results["address"], "SSHD")), (
        scenario["reason"])
    second = scenario["steps"][1]["error"]
    assert re.fullmatch(r"the filesystem of / \(/\) on this machine has \d+\.\d\d GiB "
                        r"available, warning below 1000 TiB", second), second


def test_without_systemd_the_unit_phrase_is_unknown(results: dict[str, Any]) -> None:
    # this machine (a container) has systemctl but no running systemd
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd runs here: the UNKNOWN case cannot be shown")
    for name, where in (("systemd is not running here", "this machine"),
                        ("systemd is not running there either", "SSHD")):
        assert verdict(results, name) == (
            "unknown", f"systemd is not running on {where} (System has not been booted with "
                       "systemd as init system (PID 1). Can't operate.)")
