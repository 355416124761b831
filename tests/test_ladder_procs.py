"""/proc as the ladder reads it, with real processes: a level's group checked against the
leader's start time (a reused pid is not the level), holders of the level lock, and stopping
them all."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from escalator.ladder.procs import LevelProcesses, group, holders, lock_held, start_time
from escalator.storage import Tree


def opener(lock: Path) -> Callable[[], int | None]:
    """The level lock as the store opens it (LadderStore.level_lock)."""
    return lambda: Tree(lock.parent).open(lock, os.O_RDONLY, in_place=True)


def held(lock: Path) -> tuple[bool, list[int]]:
    fd = opener(lock)()
    if fd is None:
        return False, []
    try:
        return lock_held(fd), holders(fd)
    finally:
        os.close(fd)


@pytest.fixture
def level_group(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A shell in its own session with a background child; both inherit a locked file."""
    lock = tmp_path / "level.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ready = tmp_path / "ready"
    proc = subprocess.Popen(["sh", "-c", f'sleep 300 & touch "{ready}"; wait'],
                            start_new_session=True, pass_fds=(fd,))
    os.close(fd)
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    yield proc, lock
    proc.kill()
    proc.wait()
    for pid in held(lock)[1]:
        os.kill(pid, 9)


def test_a_group_is_the_levels_only_with_the_leaders_start_time(
        level_group: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, _ = level_group
    started = start_time(proc.pid)
    assert started is not None
    members = group(proc.pid, started)
    assert proc.pid in members and len(members) == 2
    assert group(proc.pid, started - 1) == []  # a reused pid: another process, not the level


def test_the_level_lock_is_held_while_any_holder_lives_and_stop_ends_them_all(
        level_group: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, lock = level_group
    is_held, holding = held(lock)
    assert is_held
    assert len(holding) == 2
    level = LevelProcesses(proc.pid, start_time(proc.pid), opener(lock))
    assert level.busy() and set(level.pids()) == set(holding)
    assert level.stop(1.0, time.sleep, time.monotonic) is True
    proc.wait(10)
    assert not level.busy() and held(lock) == (False, [])


def test_without_a_start_time_only_the_lock_counts(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        level = LevelProcesses(stranger.pid, None, opener(tmp_path / "level.lock"))
        assert not level.busy() and level.pids() == []
        assert level.stop(0.1, time.sleep, time.monotonic) is True
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
