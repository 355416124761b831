"""A lock taken a moment ago still names its holder: a process that starts at the same moment
can look between the holder's truncate and its write of its name (escalator.storage)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from escalator.storage import LockHeld, exclusive_lock


def test_a_lock_taken_a_moment_ago_names_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_text("")
    taken_r, taken_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the holder, caught between taking the lock and writing its name
        fd = os.open(path, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(taken_w, b"x")
        time.sleep(0.05)
        os.pwrite(fd, b"escalator escalate (pid 1)", 0)
        time.sleep(1)
        os._exit(0)
    try:
        os.read(taken_r, 1)
        with pytest.raises(LockHeld) as held, exclusive_lock(path, "me"):
            pass
        assert str(held.value) == f"{path} is held by escalator escalate (pid 1)"
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
