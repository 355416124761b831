"""Hostile state and report directories: another user's directory, one others may write, links
and FIFOs planted in ours, and a store that cannot be written. Each attack runs the real CLI.

The rules (escalator/safe_open.py, as OpenSSH's for ~/.ssh): a state or report directory that
is not ours, or that its group or others may write, is refused with a one-line reason; nothing
in it is opened through a symlink or blocks on a FIFO. "Another user" is `escalator-test` (or
uid 1001 when that user does not exist: chown needs no passwd entry); tests run as root, which
is the interesting case (root's `check` must not write where another user points it). A store
that cannot be written never costs a run its verdict: `check` still answers CRITICAL, with a
line saying the result was not stored.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalator.storage import Tree
from tests.fake_steps import FAKE_STEPS
from tests.project import Outcome, make_project, run_cli, run_escalator

OTHER = "escalator-test"
FEATURE = """
Feature: Shop
  @escalate.fix
  Scenario: broken
    Then it fails with "the shop is down"

  Scenario: fine
    Then it passes
"""
LADDER = """
[ladder]
settle = "10ms"
confirm = 1
verify = 1
retry_interval = "10ms"
max_reconverge = 0
max_failing_fraction = 1.0

[[ladder.level]]
id = "fix"
run = ["ops/fix.sh"]
timeout = "10s"
quiesce = "10ms"
"""
CRITICAL_LINE = ("ESCALATOR CRITICAL - 1 of 2 scenarios failing: broken | scenarios=2;;;0 "
                 "passed=1;;;0 failed=1;;;0 unknown=0;;;0 time=")
VICTIM_TEXT = "precious: must never change\n"


def _other_uid() -> int:
    """Another user: `escalator-test` when it exists (the sshd tests create it), else uid 1001
    (chown needs no passwd entry)."""
    try:
        return pwd.getpwnam(OTHER).pw_uid
    except KeyError:
        return 1001


def _owner(uid: int) -> str:
    """How a reason names a user."""
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "p", {"shop.feature": FEATURE}, steps=FAKE_STEPS,
                        config=LADDER)
    (root / "ops").mkdir()
    (root / "ops" / "fix.sh").write_text(f"#!/bin/sh\ntouch {root}/fix-ran\nexit 1\n")
    (root / "ops" / "fix.sh").chmod(0o755)
    return root


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


def _state(project: Path) -> Path:
    return project / ".escalator"


def _check(project: Path, *argv: str) -> Outcome:
    return run_cli(["check", "-e", "test", *argv], cwd=project)


def _child(project: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as a process: a run that would hang on a FIFO fails the test, never hangs it."""
    return run_escalator(list(argv), project, timeout)


def _assert_critical_not_stored(out: Outcome | subprocess.CompletedProcess[str],
                                why: str) -> None:
    stdout = out.stdout
    code = out.code if isinstance(out, Outcome) else out.returncode
    assert code == 2, stdout + out.stderr
    assert stdout.startswith(CRITICAL_LINE), stdout
    assert f"notice: the result could not be stored: {why}" in stdout, stdout
    assert "Traceback" not in stdout + out.stderr


# ---- a directory another user controls ---------------------------------------------------

def test_a_state_directory_of_another_user_is_refused_by_every_command(project: Path) -> None:
    state = _state(project)
    state.mkdir(mode=0o700)
    os.chown(state, _other_uid(), -1)
    why = (f"state directory {state} is owned by {_owner(_other_uid())}, not by root "
           "(uid 0): refusing to use it")
    _assert_critical_not_stored(_check(project), why)
    assert list(state.iterdir()) == []
    status = run_cli(["status", "-e", "test", "--max-age", "1h"], cwd=project)
    assert (status.code, status.stdout) == (3, f"ESCALATOR UNKNOWN - {why}\n")
    report = run_cli(["report", "-e", "test"], cwd=project)
    assert (report.code, report.stderr) == (2, f"escalator: {why}\n")
    escalate = run_cli(["escalate", "-e", "test"], cwd=project)
    assert (escalate.code, escalate.stderr) == (3, f"escalator: {why}\n")
    assert not (project / "fix-ran").exists()
    assert list(state.iterdir()) == []


def test_forged_results_in_another_users_directory_are_not_believed(project: Path) -> None:
    """The other user copies a genuine OK result into a directory of theirs."""
    assert run_cli(["check", "-e", "test", "-t", "not @escalate.fix"], cwd=project).code == 0
    state = _state(project)
    for path in [state, *state.rglob("*")]:
        os.chown(path, _other_uid(), -1)
    status = run_cli(["status", "-e", "test", "--max-age", "1h"], cwd=project)
    assert status.code == 3, status.stdout
    assert status.stdout.startswith(f"ESCALATOR UNKNOWN - state directory {state} is owned "
                                    f"by {_owner(_other_uid())}"), status.stdout


@pytest.mark.parametrize(("mode", "writers"), [(0o770, "its group"), (0o707, "others"),
                                               (0o777, "its group and others"),
                                               (0o1777, "its group and others")],
                         ids=["0770", "0707", "0777", "1777"])
def test_a_state_directory_others_may_write_is_refused(project: Path, mode: int,
                                                       writers: str) -> None:
    state = _state(project)
    state.mkdir()
    state.chmod(mode)
    why = (f"state directory {state} is writable by {writers} (mode {mode:04o}): "
           "refusing to use it")
    _assert_critical_not_stored(_check(project), why)
    assert list(state.iterdir()) == []


def test_a_state_directory_below_another_users_directory_is_refused(project: Path,
                                                                    tmp_path: Path) -> None:
    """Whoever owns the parent can swap the state directory for one of theirs between runs."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, _other_uid(), -1)
    (project / "escalator.toml").write_text((project / "escalator.toml").read_text()
                                            + f'\n[run]\nstate_dir = "{shared}/state"\n')
    why = (f"state directory {shared}/state: its parent {shared} is owned by "
           f"{_owner(_other_uid())}, who could replace it: refusing to use it")
    _assert_critical_not_stored(_check(project), why)
    assert list(shared.iterdir()) == []


@pytest.mark.parametrize(("mode", "refused"), [(0o777, True), (0o1777, False), (0o775, False)],
                         ids=["0777", "1777 (as /tmp)", "0775 (umask 002)"])
def test_an_ancestor_everybody_may_write_is_refused_unless_sticky(
        project: Path, tmp_path: Path, mode: int, refused: bool) -> None:
    shared = tmp_path / "shared"
    (shared / "deeper").mkdir(parents=True)
    shared.chmod(mode)
    _use_state_dir(project, shared / "deeper" / "state")
    out = _check(project)
    if refused:
        _assert_critical_not_stored(out, (
            f"state directory {shared}/deeper/state: its ancestor {shared} is writable by "
            "everybody (mode 0777), who could replace it: refusing to use it"))
    else:
        assert "could not be stored" not in out.stdout, out.stdout
        assert (shared / "deeper" / "state" / "results" / "test.json").is_file()


def test_a_subdirectory_of_another_user_is_refused(project: Path) -> None:
    state = _state(project)
    (state / "history").mkdir(parents=True, mode=0o700)
    state.chmod(0o700)
    os.chown(state / "history", _other_uid(), -1)
    why = (f"state directory {state}: {state}/history is owned by "
           f"{_owner(_other_uid())}, not by root (uid 0): refusing to use it")
    _assert_critical_not_stored(_check(project), why)


# ---- links planted in our own directory ---------------------------------------------------

def test_a_history_symlink_does_not_append_to_another_file(project: Path, victim: Path) -> None:
    history = _state(project) / "history"
    history.mkdir(parents=True, mode=0o700)
    (history / "test.jsonl").symlink_to(victim)
    why = (f"state directory {_state(project)}: {history}/test.jsonl is a symlink: "
           "refusing to use it")
    _assert_critical_not_stored(_check(project), why)
    assert victim.read_text() == VICTIM_TEXT


def test_a_results_symlink_is_replaced_never_written_through(project: Path,
                                                             victim: Path) -> None:
    results = _state(project) / "results"
    results.mkdir(parents=True, mode=0o700)
    (results / "test.json").symlink_to(victim)
    out = _check(project)
    assert out.code == 2 and "could not be stored" not in out.stdout, out.stdout
    assert victim.read_text() == VICTIM_TEXT
    assert not (results / "test.json").is_symlink()


def test_a_symlinked_subdirectory_is_not_followed(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    _state(project).mkdir(mode=0o700)
    (_state(project) / "results").symlink_to(elsewhere)
    why = (f"state directory {_state(project)}: {_state(project)}/results is a symlink: "
           "refusing to use it")
    _assert_critical_not_stored(_check(project), why)
    assert list(elsewhere.iterdir()) == []


def test_a_forged_result_linked_into_our_directory_is_not_read(project: Path,
                                                               tmp_path: Path) -> None:
    assert _check(project, "-t", "not @escalate.fix").code == 0
    latest = _state(project) / "results" / "test.json"
    forged = tmp_path / "forged.json"
    forged.write_text(latest.read_text())
    latest.unlink()
    latest.symlink_to(forged)
    status = run_cli(["status", "-e", "test", "--max-age", "1h"], cwd=project)
    assert (status.code, status.stdout) == (
        3, f"ESCALATOR UNKNOWN - state directory {_state(project)}: {latest} is a symlink: "
           "refusing to use it\n")


# ---- the answer `status` stores beside the result (results/<env>.status) -------------------

FORGED = "ESCALATOR OK - forged: all is well | scenarios=1;;;0\n"


def _forge_answer(project: Path) -> Path:
    """After a real OK check, the stored answer with its text forged (everything else, the
    identity of the result file included, as genuine): the console script would print it."""
    assert _check(project, "-t", "not @escalate.fix").code == 0
    answer = _state(project) / "results" / "test.status"
    record = json.loads(answer.read_text())
    answer.write_text(json.dumps({**record, "text": FORGED, "code": 0}) + "\n")
    return answer


def _status(project: Path) -> tuple[int, str]:
    """`escalator status` as Nagios runs it: the console script, which reads the answer."""
    out = _child(project, "status", "-e", "test", "--max-age", "1h", timeout=30)
    assert "Traceback" not in out.stderr
    return out.returncode, out.stdout


def test_the_stored_answer_is_what_the_console_prints_while_it_is_ours(project: Path) -> None:
    """The premise of the attacks below: the console believes the record in our directory."""
    _forge_answer(project)
    assert _status(project) == (0, FORGED)


def test_a_stored_answer_in_another_users_directory_is_not_believed(project: Path) -> None:
    _forge_answer(project)
    state = _state(project)
    for path in [state, *state.rglob("*")]:
        os.chown(path, _other_uid(), -1)
    code, stdout = _status(project)
    assert code == 3 and stdout.startswith(
        f"ESCALATOR UNKNOWN - state directory {state} is owned by {_owner(_other_uid())}"), \
        stdout


def test_a_stored_answer_in_a_directory_others_may_write_is_not_believed(project: Path
                                                                         ) -> None:
    _forge_answer(project)
    _state(project).chmod(0o777)
    assert _status(project) == (3, (
        f"ESCALATOR UNKNOWN - state directory {_state(project)} is writable by its group and "
        "others (mode 0777): refusing to use it\n"))


def test_a_stored_answer_linked_in_is_not_followed(project: Path, tmp_path: Path) -> None:
    answer = _forge_answer(project)
    forged = tmp_path / "forged.status"
    forged.write_text(answer.read_text())
    answer.unlink()
    answer.symlink_to(forged)
    genuine = run_cli(["status", "-e", "test", "--max-age", "1h"], cwd=project)
    assert genuine.code == 0 and genuine.stdout != FORGED
    assert _status(project) == (0, genuine.stdout)


def test_a_stored_answer_fifo_does_not_hang_status(project: Path) -> None:
    answer = _forge_answer(project)
    answer.unlink()
    os.mkfifo(answer, 0o600)
    genuine = run_cli(["status", "-e", "test", "--max-age", "1h"], cwd=project)
    assert genuine.code == 0 and genuine.stdout.startswith("ESCALATOR OK - 1 scenario passed")
    assert _status(project) == (0, genuine.stdout)


def test_a_hard_linked_history_is_not_appended_to(project: Path, victim: Path) -> None:
    history = _state(project) / "history"
    history.mkdir(parents=True, mode=0o700)
    os.link(victim, history / "test.jsonl")
    why = (f"state directory {_state(project)}: {history}/test.jsonl has 2 hard links "
           "(a write would reach the others): refusing to use it")
    _assert_critical_not_stored(_check(project), why)
    assert victim.read_text() == VICTIM_TEXT


def test_the_ladder_lock_symlink_does_not_truncate_another_file(project: Path,
                                                                victim: Path) -> None:
    ladder = _state(project) / "ladder" / "test"
    ladder.mkdir(parents=True, mode=0o700)
    for directory in (_state(project), ladder.parent):
        directory.chmod(0o700)
    (ladder / "lock").symlink_to(victim)
    out = run_cli(["escalate", "-e", "test"], cwd=project)
    assert (out.code, out.stderr) == (
        3, f"escalator: state directory {_state(project)}: {ladder}/lock is a symlink: "
           "refusing to use it\n")
    assert victim.read_text() == VICTIM_TEXT
    assert not (project / "fix-ran").exists()


def test_a_forged_ladder_state_linked_in_is_not_believed(project: Path, tmp_path: Path) -> None:
    ladder = _state(project) / "ladder" / "test"
    ladder.mkdir(parents=True, mode=0o700)
    for directory in (_state(project), ladder.parent):
        directory.chmod(0o700)
    forged = tmp_path / "state.json"
    forged.write_text('{"schema": 1, "environment": "test", "generation": 9, "latch": null, '
                      '"actions": [], "engagements": [], "level_runs": [], "histories": {}, '
                      '"flapping": [], "last_engagement": {}}')
    (ladder / "state.json").symlink_to(forged)
    out = run_cli(["ladder", "status", "-e", "test"], cwd=project)
    assert out.code != 0
    assert f"{ladder}/state.json is a symlink: refusing to use it" in out.stderr


# ---- FIFOs: nothing may hang past --timeout ----------------------------------------------

def test_a_history_fifo_does_not_hang_check(project: Path) -> None:
    history = _state(project) / "history"
    history.mkdir(parents=True, mode=0o700)
    _state(project).chmod(0o700)
    os.mkfifo(history / "test.jsonl", 0o600)
    out = _child(project, "check", "-e", "test", "--timeout", "10s")
    why = (f"state directory {_state(project)}: {history}/test.jsonl is a FIFO, not a regular "
           "file: refusing to use it")
    _assert_critical_not_stored(out, why)


def test_a_history_fifo_does_not_hang_report(project: Path) -> None:
    assert _check(project).code == 2
    history = _state(project) / "history" / "test.jsonl"
    history.unlink()
    os.mkfifo(history, 0o600)
    out = _child(project, "report", "-e", "test")
    assert (out.returncode, out.stderr) == (
        2, f"escalator: state directory {_state(project)}: {history} is a FIFO, not a regular "
           "file: refusing to use it\n")


def test_a_results_fifo_does_not_hang_status(project: Path) -> None:
    results = _state(project) / "results"
    results.mkdir(parents=True, mode=0o700)
    _state(project).chmod(0o700)
    os.mkfifo(results / "test.json", 0o600)
    out = _child(project, "status", "-e", "test", "--max-age", "1h", timeout=30)
    assert (out.returncode, out.stdout) == (
        3, f"ESCALATOR UNKNOWN - state directory {_state(project)}: {results}/test.json is a "
           "FIFO, not a regular file: refusing to use it\n")


def test_a_lock_fifo_does_not_hang_escalate(project: Path) -> None:
    ladder = _state(project) / "ladder" / "test"
    ladder.mkdir(parents=True, mode=0o700)
    for directory in (_state(project), ladder.parent):
        directory.chmod(0o700)
    os.mkfifo(ladder / "lock", 0o600)
    out = _child(project, "escalate", "-e", "test")
    assert (out.returncode, out.stderr) == (
        3, f"escalator: state directory {_state(project)}: {ladder}/lock is a FIFO, not a "
           "regular file: refusing to use it\n")


# ---- the report directory ----------------------------------------------------------------

def test_a_report_directory_of_another_user_is_refused(project: Path) -> None:
    assert _check(project).code == 2
    reports = project / "reports"
    reports.mkdir()
    os.chown(reports, _other_uid(), -1)
    out = run_cli(["report", "-e", "test"], cwd=project)
    assert (out.code, out.stderr) == (
        2, f"escalator: report directory {reports} is owned by "
           f"{_owner(_other_uid())}, not by root (uid 0): refusing to use it\n")
    assert list(reports.iterdir()) == []


def test_a_report_symlink_is_replaced_never_written_through(project: Path,
                                                            victim: Path) -> None:
    assert _check(project).code == 2
    reports = project / "reports"
    reports.mkdir(mode=0o755)
    (reports / "index.html").symlink_to(victim)
    out = run_cli(["report", "-e", "test"], cwd=project)
    assert out.code == 0, out.stderr
    assert victim.read_text() == VICTIM_TEXT
    assert "broken" in (reports / "index.html").read_text()
    assert oct((reports / "index.html").stat().st_mode & 0o777) == "0o644"


# ---- a store that cannot be written: the verdict stands ----------------------------------

@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (tests run as root); unmounted however the test ends."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (tests need root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _use_state_dir(project: Path, state: Path) -> None:
    (project / "escalator.toml").write_text((project / "escalator.toml").read_text()
                                            + f'\n[run]\nstate_dir = "{state}"\n')


def test_a_full_disk_keeps_the_verdict(project: Path, tiny_tmpfs: Path) -> None:
    _use_state_dir(project, tiny_tmpfs)
    with open(tiny_tmpfs / "filler", "wb", buffering=0) as filler, \
            contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 4096)
    out = _check(project)
    _assert_critical_not_stored(out, f"cannot write {tiny_tmpfs}/results/test.json: "
                                     "No space left on device")
    run = run_cli(["run", "-e", "test", "-f", "progress"], cwd=project)
    assert run.code == 1 and "the result could not be stored: " in run.stdout, run.stdout


def test_a_read_only_state_directory_keeps_the_verdict(project: Path, tiny_tmpfs: Path) -> None:
    _use_state_dir(project, tiny_tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    _assert_critical_not_stored(_check(project), f"cannot write {tiny_tmpfs}/results: "
                                                 "Read-only file system")


def test_a_directory_where_the_results_file_belongs_keeps_the_verdict(project: Path) -> None:
    results = _state(project) / "results"
    (results / "test.json").mkdir(parents=True, mode=0o700)
    _state(project).chmod(0o700)
    results.chmod(0o700)
    why = (f"state directory {_state(project)}: {results}/test.json is a directory, not a "
           "regular file: refusing to use it")
    _assert_critical_not_stored(_check(project), why)


def _append_many(directory: str, count: int) -> None:
    tree = Tree(Path(directory))
    for i in range(count):  # lines of 1.5-4.5 KB: many cross a page boundary
        tree.append(Path(directory) / "log.jsonl", {"n": i, "pad": "x" * (1500 + i * 37 % 3000)})


def test_appenders_at_once_leave_no_empty_line(tmp_path: Path) -> None:
    # Found by CI: an appender looked at the last byte while another's long line was half
    # written, took it for a torn line, ended it, and so left an empty line after it.
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    workers = [multiprocessing.get_context("fork").Process(
        target=_append_many, args=(str(directory), 150)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    lines = (directory / "log.jsonl").read_text().splitlines()
    assert [line for line in lines if not line.strip()] == []
    assert sorted(json.loads(line)["n"] for line in lines) == sorted(list(range(150)) * 4)


def test_a_torn_history_line_costs_only_itself(project: Path) -> None:
    assert _check(project).code == 2
    history = _state(project) / "history" / "test.jsonl"
    with history.open("a") as torn:
        torn.write('{"v": 1, "stored_at": 1.0, "sta')  # a full disk cut the last write
    assert _check(project).code == 2
    report = run_cli(["report", "-e", "test", "--table"], cwd=project)
    assert report.code == 0
    lines = history.read_text().splitlines()
    assert len(lines) == 3 and lines[1].endswith('"sta') and lines[2].startswith('{"duration"')
