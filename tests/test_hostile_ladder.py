"""Links and FIFOs planted among the ladder's own files: the level lock, the level's recorded
result and the copy of a corrupt state file. None is followed, none hangs the engine, and none
can make root's engine signal a program that merely holds some other file open.

The rules are the state directory's (tests/test_hostile_state.py): below it nothing is opened
through a symlink, no FIFO is read, and a file with a second hard link is refused where a
write, or the recovery's signals, would reach the other name. Real `escalate` processes, as in
tests/test_ladder_crash.py; the planted files stand for what another process of ours, or an
earlier bug, could have left.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_ladder_crash import Engines, engines, finish, quick_kill, wait_for

__all__ = ["engines"]  # the fixture, used by name


def _ladder_dir(root: Path) -> Path:
    directory = root / ".escalator" / "ladder" / "test"
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    for path in (root / ".escalator", directory.parent, directory):
        path.chmod(0o700)
    return directory


def _orphaned_level(root: Path) -> Path:
    """An intent record of level vm whose engine is gone (no pid recorded, so only the level
    lock tells whether anything of it still runs); its 0.5 s timeout is long over."""
    directory = _ladder_dir(root)
    (directory / "intent.json").write_text(json.dumps({
        "run_id": "r0", "level": "vm", "idempotent": False, "started": time.time() - 5,
        "timeout": 0.5}))
    return directory


def _locked_by_another(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)
    return False


@pytest.fixture
def bystander(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """Another program holding an flock on a file of its own (as a package manager holds its
    lock): the engine must never take it for a level."""
    held = tmp_path / "bystander.lock"
    held.write_text("")
    proc = subprocess.Popen(["flock", str(held), "sleep", "300"], start_new_session=True)
    wait_for(lambda: _locked_by_another(held))
    yield held, proc
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("plant", ["symlink", "hard link"])
def test_a_planted_level_lock_never_makes_the_engine_signal_another_program(
        engines: Engines, bystander: tuple[Path, subprocess.Popen[bytes]], plant: str) -> None:
    root = engines.root
    quick_kill(root)
    directory = _orphaned_level(root)
    held, proc = bystander
    if plant == "symlink":
        (directory / "level.lock").symlink_to(held)
        problem = "is a symlink"
    else:
        os.link(held, directory / "level.lock")
        problem = "has 2 hard links (a write would reach the others)"
    code, _, err = finish(engines.start("escalate"), timeout=60)
    assert proc.poll() is None, "the engine killed a program that only held another file"
    assert _locked_by_another(held)
    assert (code, err) == (3, f"escalator: state directory {root / '.escalator'}: "
                              f"{directory}/level.lock {problem}: refusing to use it\n")


@pytest.mark.parametrize("name", ["level.lock", "level.result.json"])
def test_a_fifo_among_the_level_files_does_not_hang_the_engine(engines: Engines,
                                                               name: str) -> None:
    root = engines.root
    directory = _orphaned_level(root)
    os.mkfifo(directory / name, 0o600)
    code, _, err = finish(engines.start("escalate"), timeout=60)
    assert (code, err) == (3, f"escalator: state directory {root / '.escalator'}: "
                              f"{directory}/{name} is a FIFO, not a regular file: refusing "
                              "to use it\n")


def test_a_forged_level_result_linked_in_is_not_believed(engines: Engines,
                                                         tmp_path: Path) -> None:
    root = engines.root
    directory = _orphaned_level(root)
    forged = tmp_path / "result.json"
    forged.write_text(json.dumps({"run_id": "r0", "level": "vm", "argv": ["ops/vm.sh"],
                                  "exit_code": 0, "duration": 1.0, "output": "all fixed"}))
    (directory / "level.result.json").symlink_to(forged)
    code, _, err = finish(engines.start("escalate"), timeout=60)
    assert (code, err) == (3, f"escalator: state directory {root / '.escalator'}: "
                              f"{directory}/level.result.json is a symlink: refusing to use "
                              "it\n")


def test_the_copy_of_a_corrupt_state_never_writes_through_a_planted_link(
        engines: Engines, tmp_path: Path) -> None:
    """Links planted under every name the copy could take in the next two minutes, each to a
    file that does not exist yet: the copy takes a free name, and no link target appears."""
    root = engines.root
    directory = _ladder_dir(root)
    (directory / "state.json").write_text('{"schema": 1, "generation": "torn')
    now = int(time.time())
    targets = [tmp_path / f"planted-{stamp}" for stamp in range(now - 2, now + 120)]
    for stamp, target in zip(range(now - 2, now + 120), targets, strict=True):
        (directory / f"state.json.corrupt-{stamp}").symlink_to(target)
    code, out, _ = finish(engines.start("escalate"), timeout=60)
    assert [t for t in targets if t.exists()] == []
    copies = [p for p in directory.glob("state.json.corrupt-*") if not p.is_symlink()]
    assert len(copies) == 1 and copies[0].name.endswith(".1"), copies
    assert copies[0].read_text() == '{"schema": 1, "generation": "torn'
    assert code == 2 and f"corrupt state file (kept as {copies[0].name})" in out, out
