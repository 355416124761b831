"""Files that must never be half-written: atomic replace, append-only logs, private directories,
and an exclusive lock that says who holds it.

The state store (`escalator.state`) and the ladder's store build on these; nothing else writes the
state directory. The directory is created 0700 and every file 0600, because results and audit
logs may name hosts and users an attacker would like to know.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700; return it.

    (`mkdir(parents=True, mode=...)` gives the mode to the last directory only.)
    """
    for directory in [*reversed(path.parents), path]:
        if not directory.exists():
            directory.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def atomic_write(path: Path, data: str | bytes, mode: int = FILE_MODE) -> None:
    """Replace `path` with `data` so a reader sees the old or the new file, never a mix.

    Temp file in the same directory, fsync, rename, fsync of the directory. The file gets
    exactly `mode`: 0600 in a private directory, or e.g. 0644 for the reports others read.
    """
    if mode == FILE_MODE:
        private_dir(path.parent)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # whatever the umask
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON object as a line, fsynced: the audit log and histories use this.

    One `write` of one line on an O_APPEND descriptor: concurrent appenders do not interleave.
    """
    private_dir(path.parent)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file; a torn last line (crash mid-write) is skipped."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


class LockHeld(Exception):
    """Another process holds the lock; str() says who."""


@contextlib.contextmanager
def exclusive_lock(path: Path, owner: str) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on `path`, writing `owner` into it.

    Raises LockHeld at once, naming the holder, when another process has it. The kernel drops
    the lock when the holder dies, even by SIGKILL, so a crash never leaves a stale lock.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise LockHeld(f"{path} is held by {_holder(fd)}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner.encode(), 0)
        os.fsync(fd)
        yield
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    """Who holds the lock on `fd`: the name its holder writes just after taking it. A few looks:
    a process that starts at the same moment can come between the holder's truncate and write."""
    for _ in range(50):
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.002)
    return "unknown"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
