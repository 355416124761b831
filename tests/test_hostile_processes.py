"""Everything a check starts ends with it: real processes, found by their argv in /proc.

Nagios (and Icinga) start a plugin as the leader of its own process group and, at their
timeout, kill that group. The runner, its workers and the commands that steps started live in
other sessions (so the runner can kill its own groups), so they must go down by another route:
each dies with its parent, and each command's keeper kills whatever the command left, even a
daemon that called `setsid`. The same keeper ends such a daemon when a check finishes normally.
The tools the probes run (`openssl s_client` for OCSP stapling, ping, pgrep, systemctl,
dpkg-query) run under the same keeper.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_steps import FAKE_STEPS
from tests.project import child_environ, make_project
from tests.servers.hostile import silent_server

BOUND = 15.0  # seconds for the whole tree to go, on a busy machine


def _processes(*markers: str) -> dict[int, str]:
    """pid -> argv of every process whose argv holds one of `markers`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z" and any(marker in argv for marker in markers):
                    found[int(entry.name)] = argv
    return found


def _wait_for(test: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if test():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(test())  # type: ignore[operator]


@contextlib.contextmanager
def _cleanup(*markers: str) -> Iterator[None]:
    """Whatever the outcome, leave no test process behind."""
    try:
        yield
    finally:
        for pid in _processes(*markers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _check(root: Path, label: str) -> subprocess.Popen[bytes]:
    """`escalator check` as Nagios starts a plugin: the leader of a process group of its own."""
    return subprocess.Popen([sys.executable, "-m", "escalator", "check", "-e", "test",
                             "--label", label, "--timeout", "60s", "--step-timeout", "50s"],
                            cwd=root, env=child_environ(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killing_the_checks_group_ends_runner_workers_commands_and_daemons(
        tmp_path: Path) -> None:
    label = "KILLTREE4711"
    daemon, command, step = "sleep 91.91", "sleep 92.92", "I sleep 93.93 seconds"
    root = make_project(tmp_path, {"slow.feature": f"""
        Feature: Slow
          Scenario: a command with a daemon
            When I run 'setsid {daemon} >/dev/null 2>&1 </dev/null & {command}'
            Then it should exit '0'

          Scenario: a slow step
            Given {step}
        """}, steps=FAKE_STEPS)
    with _cleanup(label, daemon, command):
        check = _check(root, label)
        try:
            # the CLI, the runner and two workers share the CLI's argv
            assert _wait_for(lambda: len(_processes(label)) >= 4 and _processes(daemon)
                             and _processes(command), 30), _processes(label, daemon, command)
            os.killpg(check.pid, signal.SIGKILL)
        finally:
            check.wait(30)
        assert _wait_for(lambda: not _processes(label, daemon, command), BOUND), \
            _processes(label, daemon, command)


def test_killing_the_checks_group_ends_the_tools_its_probes_started(tmp_path: Path) -> None:
    """The OCSP probe's `openssl s_client`, stuck on a server that accepts and never answers
    (s_client has no timeout of its own), goes with the check's group."""
    label = "OPENSSL4714"
    with silent_server() as port:
        tool = f"-connect 127.0.0.1:{port}"
        phrase = f'the TLS handshake with "127.0.0.1:{port}" should include a stapled OCSP'
        root = make_project(tmp_path, {"ocsp.feature": f"""
            Feature: OCSP
              Scenario: a server that never answers the handshake
                Then {phrase} response
            """})
        with _cleanup(label, tool):
            check = _check(root, label)
            try:
                assert _wait_for(lambda: len(_processes(label)) >= 3 and _processes(tool),
                                 30), _processes(label, tool)
                os.killpg(check.pid, signal.SIGKILL)
            finally:
                check.wait(30)
            assert _wait_for(lambda: not _processes(label, tool), BOUND), \
                _processes(label, tool)


def test_a_daemon_a_command_started_ends_with_the_check(tmp_path: Path) -> None:
    label, daemon = "DAEMON4712", "sleep 94.94"
    root = make_project(tmp_path, {"daemon.feature": f"""
        Feature: Daemon
          Scenario: a command that leaves a daemon behind
            When I run 'setsid sh -c "{daemon} & exit 0" >/dev/null 2>&1 </dev/null &'
            Then it should exit '0'
        """}, steps=FAKE_STEPS)
    with _cleanup(label, daemon):
        check = _check(root, label)
        out, err = check.communicate(timeout=60)
        assert check.returncode == 0, out + err
        assert _wait_for(lambda: not _processes(daemon), 5), _processes(daemon)


def test_a_killed_worker_takes_a_setsid_daemon_with_it() -> None:
    """The runner SIGKILLs a worker whose step ignores its alarm: its command's daemon goes."""
    daemon = "sleep 95.95"
    code = ("from escalator.probes.command import CommandTarget, run\n"  # no marker in argv
            "run(CommandTarget('setsid sleep ' + '95.95 >/dev/null 2>&1 </dev/null & sleep 60',"
            " timeout=60))")
    with _cleanup(daemon):
        worker = subprocess.Popen([sys.executable, "-c", code], env=child_environ())
        try:
            assert _wait_for(lambda: _processes(daemon), 30)
        finally:
            worker.kill()
            worker.wait()
        assert _wait_for(lambda: not _processes(daemon), 5), _processes(daemon)


@pytest.mark.parametrize(("scenarios", "processes"), [(1, 2), (2, 4)],
                         ids=["run in the coordinator", "in workers"])
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_the_runner_dies_with_the_cli(tmp_path: Path, how: str, scenarios: int,
                                      processes: int) -> None:
    """A plan of one runs in the coordinator (CLI and coordinator); two run in two workers."""
    label = f"RUNNER{how}{scenarios}4713"
    root = make_project(tmp_path, {"slow.feature": "Feature: Slow\n" + "".join(
        f"  Scenario: slow step {n}\n    Given I sleep 96.96 seconds\n"
        for n in range(scenarios))}, steps=FAKE_STEPS)
    with _cleanup(label):
        check = _check(root, label)
        try:
            assert _wait_for(lambda: len(_processes(label)) >= processes, 30), \
                _processes(label)
            check.send_signal(getattr(signal, how))  # the CLI alone, not its group
        finally:
            check.wait(30)
        assert _wait_for(lambda: not _processes(label), BOUND), _processes(label)
