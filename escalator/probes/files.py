"""The local file probe: does a file exist, and how long ago was it last modified.

Called by `escalator.steps.system` for freshness checks ("the backup was written within the last
24 hours"). `stat_file(FileTarget)` never raises for the file: missing or unreadable is data.
The clock is injectable so tests need not age real files.

>>> r = stat_file(FileTarget("/nonexistent/backup.tar"))
>>> (r.exists, r.error)
(False, '/nonexistent/backup.tar does not exist')
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass


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
