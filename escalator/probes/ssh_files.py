"""Files on another host, over SFTP: the SSH side of the file probe.

Called by `escalator.steps.files` for the phrases that name a host (`the file "..." on "db1"
should ...`). `look(connection, path)` and `search(connection, path, text)` give the same
`FileState` and `Found` as `escalator.probes.files` does on this machine, so one set of steps
judges both. SFTP works where the account may not run commands; user and group names come from
the host's /etc/passwd and /etc/group read over the same session (an SFTP stat carries only
numbers). Each call runs in one SFTP session bounded by its timeout; nothing raises for the host.
"""

from __future__ import annotations

import errno
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING

import paramiko

from escalator.probes.files import CHUNK, FileState, Found, count_in, kind_of
from escalator.text import one_line

if TYPE_CHECKING:
    from escalator.probes.ssh import Connection

_NAMES_LIMIT = 1024 * 1024  # bytes of /etc/passwd or /etc/group read for names
_MISSING = (errno.ENOENT, errno.ENOTDIR)


def look(connection: Connection, path: str, timeout: float, names: bool = False) -> FileState:
    """The state of `path` on the connection's host (symbolic links followed)."""
    where = f" on {connection.target.address}"
    try:
        with connection.sftp(timeout) as (sftp, fired):
            try:
                attrs = sftp.stat(path)
                owner = group = None
                if names:
                    owner = _names(sftp, "/etc/passwd").get(attrs.st_uid or 0)
                    group = _names(sftp, "/etc/group").get(attrs.st_gid or 0)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                if fired.is_set():
                    return FileState(path, where, error=_late(connection, timeout))
                if isinstance(exc, OSError) and exc.errno in _MISSING:
                    return FileState(path, where)
                return FileState(path, where, error=f"cannot look at {path}{where}: "
                                 f"{_reason(exc)}")
    except (OSError, paramiko.SSHException) as exc:
        return FileState(path, where, error=_no_session(connection, exc))
    mode = attrs.st_mode or 0
    return FileState(path, where, kind_of(mode), stat.S_IMODE(mode), attrs.st_uid, attrs.st_gid,
                     owner, group, attrs.st_size, attrs.st_mtime)


def search(connection: Connection, path: str, text: str, timeout: float,
           first_only: bool = False) -> Found:
    """Count `text` (literal, UTF-8) in the file at `path` on the connection's host."""
    try:
        with connection.sftp(timeout) as (sftp, fired):
            try:
                with sftp.open(path, "rb") as file:
                    return count_in(_chunks(file), text.encode(), first_only)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                if fired.is_set():
                    return Found(error=_late(connection, timeout))
                return Found(error=f"cannot read {path} on {connection.target.address}: "
                             f"{_reason(exc)}")
    except (OSError, paramiko.SSHException) as exc:
        return Found(error=_no_session(connection, exc))


def _chunks(file: paramiko.SFTPFile) -> Iterator[bytes]:
    while chunk := file.read(CHUNK):
        yield chunk


def _names(sftp: paramiko.SFTPClient, path: str) -> dict[int, str]:
    """id -> name from a passwd- or group-style file; empty when it cannot be read."""
    try:
        with sftp.open(path, "rb") as file:
            text = file.read(_NAMES_LIMIT).decode("utf-8", "replace")
    except OSError:
        return {}
    found: dict[int, str] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            found.setdefault(int(fields[2]), fields[0])
    return found


def _reason(exc: BaseException) -> str:
    strerror = getattr(exc, "strerror", None)
    return strerror.lower() if isinstance(strerror, str) else one_line(exc)


def _late(connection: Connection, timeout: float) -> str:
    return f"no SFTP answer from {connection.target.address} within {timeout:.1f} s"


def _no_session(connection: Connection, exc: BaseException) -> str:
    return f"cannot open an SFTP session on {connection.target.address}: {one_line(exc)}"
