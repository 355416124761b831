"""Processes that end with their parent: the Linux prctl settings the runner and the command
keeper rely on, so that everything a check starts ends with it.

Nagios kills a plugin's process group at its timeout; the runner's processes and the commands
live in other sessions (each must be killable as a group of its own), so they learn of the
death another way. `die_with_parent` asks the kernel to signal a process when the process that
forked it dies (the coordinator and each worker, with SIGKILL; a command's keeper with SIGTERM,
which it answers by killing the command's processes). `become_subreaper` makes orphaned
descendants re-parent to the caller instead of init, so the keeper can find a daemon that left
with `setsid`. The libc function is looked up at import, before any fork: a forked child of a
threaded process must not wait on the dynamic loader's lock.
"""

from __future__ import annotations

import ctypes
import os
import sys

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent(parent: int, signal_number: int) -> bool:
    """In a forked child: be sent `signal_number` when the parent (pid `parent`) dies. False
    when the parent is already gone (it died before the setting took): the caller should exit."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0)
    return os.getppid() == parent


def become_subreaper() -> None:
    """Orphaned descendants of the caller re-parent to it, not to init."""
    if _prctl is not None:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
