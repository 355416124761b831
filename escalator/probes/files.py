"""The file probe: what is at a path (kind, mode, owner, size, age) and what a file contains.

Called by `escalator.steps.system` (freshness) and `escalator.steps.files` (the cucumber-nagios
file phrases and the new ones). `look(path)` and `search(path, text)` look on this machine; the
SSH probe (`escalator.probes.ssh_files`) gives the same `FileState` and `Found` for a path on
another host, so the steps judge both alike. Nothing here raises for the file: missing,
unreadable or a directory is data. `stat_file` keeps the freshness check's older shape. The
clock is injectable so tests need not age real files.

>>> r = stat_file(FileTarget("/nonexistent/backup.tar"))
>>> (r.exists, r.error)
(False, '/nonexistent/backup.tar does not exist')
>>> look("/nonexistent/x").kind, look("/").kind
(None, 'directory')
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileTarget:
    path: str


@dataclass(frozen=True)
class FileResult:
    """`age` is seconds since the last modification (negative for a file dated in the future)."""

    target: FileTarget
    exists: bool = False
    modified: float | None = None
    age: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class FileState:
    """What is at `path`. `kind` is "file", "directory" or "other" (a device, socket, pipe),
    None when nothing is there; `error` says why we could not look (then `kind` is None too).
    `where` is "" on this machine, else " on host:port", so a reason can name the file whole.
    `mode` is the permission bits; `owner` and `group` are names where the host knows them."""

    path: str
    where: str = ""
    kind: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    owner: str | None = None
    group: str | None = None
    size: int | None = None
    modified: float | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path}{self.where}"

    @property
    def ownership(self) -> str:
        """`user:group` as names where known, `uid 1001:gid 50` where not."""
        user = self.owner or f"uid {self.uid}"
        return f"{user}:{self.group or f'gid {self.gid}'}"


@dataclass(frozen=True)
class Found:
    """How often `text` occurs in a file (counting stopped at the first when asked), at which
    line it first occurs, and how many bytes were read; `error` when the file could not be read."""

    count: int = 0
    first_line: int | None = None
    read: int = 0
    error: str | None = None


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    return "directory" if stat.S_ISDIR(mode) else "other"


def look(path: str, names: bool = False) -> FileState:
    """The state of `path` on this machine (symbolic links followed, as `ls -lL`); with `names`,
    the owner's user and group names too."""
    try:
        info = os.stat(os.path.expanduser(path))
    except (FileNotFoundError, NotADirectoryError):
        return FileState(path)
    except OSError as exc:
        return FileState(path, error=f"cannot look at {path}: {_strerror(exc)}")
    owner = group = None
    if names:
        owner = _name(lambda: pwd.getpwuid(info.st_uid).pw_name)
        group = _name(lambda: grp.getgrgid(info.st_gid).gr_name)
    return FileState(path, "", kind_of(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid,
                     info.st_gid, owner, group, info.st_size, info.st_mtime)


def search(path: str, text: str, first_only: bool = False) -> Found:
    """Count `text` (literal, UTF-8) in the file at `path` on this machine, reading it in chunks."""
    try:
        with open(os.path.expanduser(path), "rb") as file:
            return count_in(iter(lambda: file.read(CHUNK), b""), text.encode(), first_only)
    except OSError as exc:
        return Found(error=f"cannot read {path}: {_strerror(exc)}")


def count_in(chunks: Iterable[bytes], needle: bytes, first_only: bool = False) -> Found:
    """Non-overlapping occurrences of `needle` in the concatenated `chunks`, matched across
    chunk boundaries, with the line of the first one.

    >>> count_in([b"ab\\nxa", b"b ab", b"a"], b"ab")
    Found(count=3, first_line=1, read=10, error=None)
    >>> count_in([b"one\\ntwo\\n", b"two"], b"two", first_only=True)
    Found(count=1, first_line=2, read=8, error=None)
    """
    if not needle:
        raise ValueError("nothing to search for")
    count, first_line, read, lines_before = 0, None, 0, 0
    buffer = b""
    for chunk in chunks:
        read += len(chunk)
        buffer += chunk
        start = 0
        while (index := buffer.find(needle, start)) != -1:
            if first_line is None:
                first_line = lines_before + buffer.count(b"\n", 0, index) + 1
            count += 1
            start = index + len(needle)
            if first_only:
                return Found(count, first_line, read)
        # keep the tail a match could still start in (never inside a match already counted)
        keep = max(start, len(buffer) - len(needle) + 1)
        lines_before += buffer.count(b"\n", 0, keep)
        buffer = buffer[keep:]
    return Found(count, first_line, read)


def stat_file(target: FileTarget, now: Callable[[], float] = time.time) -> FileResult:
    """Look at the file (a directory counts too: its mtime moves when entries change)."""
    path = os.path.expanduser(target.path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return FileResult(target, error=f"{target.path} does not exist")
    except NotADirectoryError:
        return FileResult(target, error=f"{target.path} does not exist (a parent is a file)")
    except OSError as exc:
        return FileResult(target, error=f"cannot read {target.path}: {exc.strerror or exc}")
    return FileResult(target, exists=True, modified=info.st_mtime, age=now() - info.st_mtime)


def _name(find: Callable[[], str]) -> str | None:
    try:
        return find()
    except KeyError:  # an id without a name on this machine
        return None


def _strerror(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
