"""Files that must never be half-written, in directories nobody else can touch: atomic replace,
append-only logs, an exclusive lock that says who holds it, all below one checked directory.

The state store (`escalator.state`), the ladder's store and `escalator report` build on a `Tree`
(a state or report directory); nothing else writes there. The state directory is created 0700
and every file 0600, because results and audit logs may name hosts and users an attacker would
like to know. Every path is opened through `escalator.safe_open` (as OpenSSH treats ~/.ssh: a
directory another user owns or may write is refused, no symlink is followed below the root, no
FIFO can block a read or a write), so another user cannot steer what we write or read even when
the state directory lives under /tmp and `check` runs as root.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escalator.safe_open import OPEN_FLAGS, Opener, UnsafeDirectory, identity, naming

__all__ = ["DIR_MODE", "FILE_MODE", "LockHeld", "Tree", "UnsafeDirectory", "append_line",
           "atomic_write", "exclusive_lock", "private_dir", "read_lines"]

DIR_MODE = 0o700
FILE_MODE = 0o600
REPORT_DIR_MODE = 0o755  # reports are read by people and other users' daemons


class LockHeld(Exception):
    """Another process holds the lock; str() says who."""


@dataclass(frozen=True)
class Tree:
    """A directory we own and everything below it, opened without following links.

    Paths given to the methods are full paths inside `root` (as the stores build them).
    `what` names the directory in reasons ("state directory", "report directory").
    """

    root: Path
    what: str = "state directory"
    dir_mode: int = DIR_MODE
    file_mode: int = FILE_MODE

    @property
    def _opener(self) -> Opener:
        return Opener(self.root, self.what, self.dir_mode, self.file_mode)

    def ensure(self, directory: Path | None = None) -> Path:
        """Create (`dir_mode`) and check `directory` (the root by default) and its parents."""
        target = self.root if directory is None else directory
        with self._opener.directory(target, create=True):
            return target

    def write(self, path: Path, data: str | bytes) -> list[int]:
        """Replace `path` with `data` so a reader sees the old or the new file, never a mix;
        the `identity` of the file written (whoever replaces it next, it names this one).

        Temp file in the same directory (O_EXCL), fsync, rename, fsync of the directory.
        """
        raw = data.encode() if isinstance(data, str) else data
        with self._opener.directory(path.parent, create=True) as parent:
            assert parent is not None
            self._opener.no_directory_at(parent, path)
            tmp = f".{path.name}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError), naming(path):
                os.unlink(tmp, dir_fd=parent)  # left by a crashed run with our pid
            with naming(path):
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | OPEN_FLAGS,
                             self.file_mode, dir_fd=parent)
            try:
                with naming(path):
                    os.fchmod(fd, self.file_mode)  # the mode we mean, whatever the umask
                    _write_all(fd, raw)
                    os.fsync(fd)
                    written = identity(fd)
                    os.close(fd)
                    fd = -1
                    os.replace(tmp, path.name, src_dir_fd=parent, dst_dir_fd=parent)
                    os.fsync(parent)
                    return written
            except BaseException:
                if fd >= 0:
                    os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=parent)
                raise

    def append(self, path: Path, record: dict[str, Any]) -> None:
        """Append one JSON object as a line, fsynced: the audit log and histories use this.

        One `write` of one line on an O_APPEND descriptor: concurrent appenders do not
        interleave. A torn last line (a full disk, a crash) is ended first, so it costs only
        itself, never the record after it. Appenders take turns (an exclusive flock on the
        file) to look at the last byte: a look in the middle of another's long write took its
        line for a torn one and left an empty line after it.
        """
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        with self._opener.directory(path.parent, create=True) as parent:
            assert parent is not None
            fd = self._opener.file(parent, path, os.O_RDWR | os.O_CREAT | os.O_APPEND,
                                   in_place=True)
            try:
                with naming(path):
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        line = b"\n" + line
                    _write_all(fd, line)
                    fcntl.flock(fd, fcntl.LOCK_UN)  # the next may look; fsync needs no turn
                    os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, path: Path) -> bytes | None:
        """The file's bytes; None when it (or its directory) does not exist."""
        found = self._opener.read(path)
        return None if found is None else found[0]

    def identity(self, path: Path) -> list[int] | None:
        """Which file is at `path` now (`safe_open.identity`); None when there is none."""
        return self._opener.identity(path)

    def read_text(self, path: Path) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode(errors="replace")

    def read_lines(self, path: Path, damaged: list[int] | None = None) -> list[dict[str, Any]]:
        """The JSON objects of a JSON Lines file. A line that is not one (a torn last line after
        a crash, a damaged byte anywhere) is skipped; its number is appended to `damaged`."""
        out = []
        for number, line in enumerate((self.read(path) or b"").split(b"\n"), start=1):
            try:
                value = json.loads(line)  # bytes: invalid UTF-8 is a ValueError like bad JSON
            except ValueError:
                value = None
            if isinstance(value, dict):
                out.append(value)
            elif damaged is not None and line.strip():
                damaged.append(number)
        return out

    @contextlib.contextmanager
    def lock(self, path: Path, owner: str) -> Iterator[None]:
        """Hold an exclusive, non-blocking flock on `path`, writing `owner` into it.

        Raises LockHeld at once, naming the holder, when another process has it. The kernel
        drops the lock when the holder dies, even by SIGKILL, so a crash never leaves a stale
        lock.
        """
        with self._opener.directory(path.parent, create=True) as parent:
            assert parent is not None
            fd = self._opener.file(parent, path, os.O_RDWR | os.O_CREAT, in_place=True)
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

    def open(self, path: Path, flags: int, in_place: bool = False) -> int | None:
        """A descriptor of the existing file `path`, opened as every file here is (with no
        other hard link when `in_place`); None when it is not there. The caller closes it."""
        with self._opener.directory(path.parent, create=False) as parent:
            if parent is None:
                return None
            try:
                return self._opener.file(parent, path, flags, in_place=in_place)
            except FileNotFoundError:
                return None

    def create_fresh(self, path: Path) -> int:
        """A new, empty `path` open for reading and writing: whatever had the name is removed
        first (a link is removed, never followed) and the file is created with O_EXCL. The
        caller closes the descriptor."""
        with self._opener.directory(path.parent, create=True) as parent:
            assert parent is not None
            self._opener.no_directory_at(parent, path)
            with contextlib.suppress(FileNotFoundError), naming(path):
                os.unlink(path.name, dir_fd=parent)
            fd = self._opener.file(parent, path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
            with naming(path):
                os.fchmod(fd, self.file_mode)
            return fd

    def link(self, source: Path, target: Path) -> None:
        """Give the file `source` a second name `target` in the same directory (a file kept
        aside): a hard link, or a copy where the file system has none. FileExistsError when
        `target` is taken, by anything: a link planted there is never followed."""
        if source.parent != target.parent:
            raise ValueError(f"{source} and {target} are in different directories")
        with self._opener.directory(source.parent, create=False) as parent:
            if parent is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(source))
            fd = self._opener.file(parent, source, os.O_RDONLY)  # a regular file of ours
            try:
                with naming(source):
                    try:
                        os.link(source.name, target.name, src_dir_fd=parent,
                                dst_dir_fd=parent, follow_symlinks=False)
                        return
                    except FileExistsError:
                        raise
                    except OSError as exc:
                        if exc.errno not in (errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP):
                            raise
                    data = _read_all(fd)
                copy = self._opener.file(parent, target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
                try:
                    with naming(target):
                        os.fchmod(copy, self.file_mode)
                        _write_all(copy, data)
                        os.fsync(copy)
                finally:
                    os.close(copy)
            finally:
                os.close(fd)

    def replace(self, source: Path, target: Path) -> None:
        """Rename `source` to `target` in the same directory (rotation, a file kept aside)."""
        if source.parent != target.parent:
            raise ValueError(f"{source} and {target} are in different directories")
        with self._opener.directory(source.parent, create=False) as parent:
            if parent is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(source))
            self._opener.no_directory_at(parent, target)
            with naming(source):
                os.replace(source.name, target.name, src_dir_fd=parent, dst_dir_fd=parent)

    def unlink(self, path: Path) -> None:
        """Remove `path` if it is there (a link is removed, never followed)."""
        with self._opener.directory(path.parent, create=False) as parent:
            if parent is not None:
                with contextlib.suppress(FileNotFoundError), naming(path):
                    os.unlink(path.name, dir_fd=parent)

    def size(self, path: Path) -> int:
        """The size of `path`; 0 when it does not exist."""
        with self._opener.directory(path.parent, create=False) as parent:
            if parent is None:
                return 0
            try:
                return os.stat(path.name, dir_fd=parent, follow_symlinks=False).st_size
            except FileNotFoundError:
                return 0

# ---- the same operations for one directory (callers that know no wider root) ------------------

def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 (checked as a `Tree` root); return it."""
    return Tree(path).ensure()


def atomic_write(path: Path, data: str | bytes, mode: int = FILE_MODE, *,
                 root: Path | None = None) -> None:
    """`Tree(root).write`, the root being the file's directory unless given. A `mode` other than
    0600 is a report others read (0644): its tree is a report directory, created 0755."""
    if mode == FILE_MODE:
        tree = Tree(root or path.parent)
    else:
        tree = Tree(root or path.parent, "report directory", REPORT_DIR_MODE, mode)
    tree.write(path, data)


def append_line(path: Path, record: dict[str, Any]) -> None:
    Tree(path.parent).append(path, record)


def read_lines(path: Path, damaged: list[int] | None = None) -> list[dict[str, Any]]:
    return Tree(path.parent).read_lines(path, damaged)


def exclusive_lock(path: Path, owner: str) -> contextlib.AbstractContextManager[None]:
    return Tree(path.parent).lock(path, owner)


# ---- helpers ---------------------------------------------------------------------------------

def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it; a holder that has just taken the lock may
    not have written yet, so an empty file is read again for a moment."""
    for _ in range(50):
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        if holder:
            return holder
        time.sleep(0.01)
    return "unknown"


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

