"""The processes of a level whose engine is gone, found through /proc: wait for them, stop them.

A level runs in its own session, so it outlives an engine that is killed. Its processes are the
members of its process group (pgid = the pid in the intent record, checked against the start
time recorded with it, so a reused pid is never taken for the level) and every process that
still holds the level lock it inherited (`LadderStore.open_level_lock`), even one that left the
group. The lock is looked at through a descriptor the store opened (`LadderStore.level_lock`:
no link followed, no second hard link), so nothing planted in its place can make the engine
signal whoever holds another file open. Linux only (/proc); called by the engine's recovery and
the level's keeper.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

PROC = Path("/proc")


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot); None when `pid` does not run."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def _stat(pid: int) -> list[str] | None:
    """The fields after the command name; None for no such process or a zombie."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text.rsplit(")", 1)[-1].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError):
        for entry in os.scandir(PROC):
            if entry.name.isdigit():
                yield int(entry.name)


def group(pgid: int, leader_start: int) -> list[int]:
    """Live members of process group `pgid`, when it is still the level's group.

    While any member lives the kernel does not hand the number out again; a leader that runs
    with another start time is a new process that reused the number, and its group is not ours.
    """
    members = []
    for pid in _pids():
        fields = _stat(pid)
        if fields is None or int(fields[2]) != pgid:
            continue
        if pid == pgid and int(fields[19]) != leader_start:
            return []
        members.append(pid)
    return members


def lock_held(fd: int) -> bool:
    """True while some process holds an flock on the file open as `fd` (the level lock a level
    inherited); `fd` must be an open file description of our own (a fresh open)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return True
        raise
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def holders(fd: int) -> list[int]:
    """Live processes with a descriptor open on the file open as `fd` (the level lock), but
    this one, which holds `fd` to look."""
    target = os.fstat(fd)
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        fd_dir = PROC / str(pid) / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for entry in fds:
            try:
                info = os.stat(fd_dir / entry)
            except OSError:
                continue
            if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
                if _stat(pid) is not None:
                    found.append(pid)
                break
    return found


class LevelProcesses:
    """The processes of one level, as far as /proc can tell, with a way to stop them."""

    def __init__(self, pgid: int | None, leader_start: int | None,
                 open_lock: Callable[[], int | None]) -> None:
        # A pid without its start time cannot be told from a reused one: only the lock counts.
        self.pgid = pgid if leader_start is not None else None
        self.leader_start, self.open_lock = leader_start, open_lock

    def busy(self) -> bool:
        """Any process of the level still lives (in its group, or holding its lock)."""
        if self.pgid and self._group():
            return True
        with self._lock() as fd:
            return fd is not None and lock_held(fd)

    def pids(self) -> list[int]:
        return sorted(set(self._group()) | set(self._holders()))

    @contextlib.contextmanager
    def _lock(self) -> Iterator[int | None]:
        """The level lock, opened afresh each time (it is unlinked when the level ends)."""
        fd = self.open_lock()
        try:
            yield fd
        finally:
            if fd is not None:
                os.close(fd)

    def _holders(self) -> list[int]:
        with self._lock() as fd:
            return [] if fd is None else holders(fd)

    def _group(self) -> list[int]:
        if self.pgid is None or self.leader_start is None:
            return []
        return group(self.pgid, self.leader_start)

    def stop(self, grace: float, sleep: Callable[[float], None],
             monotonic: Callable[[], float]) -> bool:
        """SIGTERM, `grace` to end, then SIGKILL; True when nothing of the level is left."""
        for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            self._signal(signum)
            deadline = monotonic() + wait
            while self.busy() and monotonic() < deadline:
                sleep(0.05)
            if not self.busy():
                return True
        return False

    def _signal(self, signum: int) -> None:
        if self.pgid and self._group():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signum)
        for pid in self._holders():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
