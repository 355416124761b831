"""The local command probe: one shell command line, bounded in time and in output.

Called by `escalator.steps.system` (and by the ping probe). `run(CommandTarget)` runs the line
through `/bin/sh -c` (cucumber-nagios users wrote pipes and redirects), in its own session so
the whole process group can be killed: on timeout, and also when the shell has exited, so a
background child never outlives the check. stdout and stderr are read as they come and kept up
to `max_output` bytes each; the rest is drained and dropped, so a chatty command cannot block on
a full pipe nor fill our memory. A non-zero exit, a signal or a timeout is data, never raised.

>>> r = run(CommandTarget("echo out; echo err >&2; exit 3", timeout=5))
>>> (r.exit_status, r.stdout, r.stderr, r.timed_out, r.error)
(3, 'out\\n', 'err\\n', False, None)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from escalator.probes.command_result import CommandResult

# After the shell exits, how long a background child that still holds the pipes may keep
# writing before we stop listening and kill it.
_LINGER = 0.2


@dataclass(frozen=True)
class CommandTarget:
    """`command` is a shell line; with `argv` that program runs without a shell (an
    inventory's host command) and `command` is only how it is named."""

    command: str
    timeout: float = 10.0
    max_output: int = 64 * 1024
    cwd: str | None = None
    argv: tuple[str, ...] = ()


def run(target: CommandTarget) -> CommandResult:
    """Run the command line; never raises for what the command does."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(_argv(target), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=target.cwd, start_new_session=True,
                                preexec_fn=_die_with_parent)
    except OSError as exc:
        program = target.argv[0] if target.argv else "/bin/sh"
        return CommandResult(target.command, timeout=target.timeout,
                             error=f"cannot start {program}: {exc.strerror or exc}")
    try:
        out, err, truncated, timed_out = _collect(proc, target, start + target.timeout)
    finally:
        # Whatever happened (timeout, the step's own alarm), nothing of the group survives.
        _kill_group(proc)
    code = proc.returncode
    return CommandResult(
        target.command, timeout=target.timeout,
        exit_status=None if timed_out or code is None or code < 0 else code,
        signal=-code if code is not None and code < 0 and not timed_out else None,
        stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"),
        truncated=truncated, timed_out=timed_out, elapsed=time.monotonic() - start)


def _collect(proc: subprocess.Popen[bytes], target: CommandTarget, deadline: float
             ) -> tuple[bytes, bytes, bool, bool]:
    """Read both pipes until they close and the shell exits, or the deadline passes.

    Returns (stdout, stderr, truncated, timed out). The shell is never reaped here: while it is
    a zombie its PID, which is the group's id, cannot be reused, so killing the group is safe.
    """
    assert proc.stdout is not None and proc.stderr is not None
    kept = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    truncated = False
    with selectors.DefaultSelector() as selector:
        for fd in kept:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() or not _exited(proc):
            now = time.monotonic()
            if now >= deadline:
                return bytes(kept[proc.stdout.fileno()]), bytes(kept[proc.stderr.fileno()]), \
                    truncated, not _exited(proc)
            if selector.get_map() and _exited(proc):
                # The shell is gone; a child still holding the pipes only gets a moment more.
                deadline = min(deadline, now + _LINGER)
            if not selector.get_map():
                time.sleep(min(0.01, deadline - now))
                continue
            for key, _ in selector.select(timeout=min(0.05, deadline - now)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                room = target.max_output - len(kept[key.fd])
                truncated = truncated or len(chunk) > room
                kept[key.fd] += chunk[:max(0, room)]
    return bytes(kept[proc.stdout.fileno()]), bytes(kept[proc.stderr.fileno()]), truncated, False


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the shell has exited, without reaping it (WNOWAIT)."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left of the command's process group, then reap the shell."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


_PR_SET_PDEATHSIG = 1


def _argv(target: CommandTarget) -> list[str]:
    """`/bin/sh -c LINE`, under coreutils `timeout` when there is one.

    The command has its own session so that its whole group can be killed; that also puts it out
    of reach of a kill aimed at the runner's processes. `timeout` is the group's leader and is
    told (parent-death signal) when our worker dies: it then kills the group it leads, grandchildren
    included. Its own limit, a little beyond ours, is a second line of defence.
    """
    wrapper = shutil.which("timeout")
    shell = list(target.argv) or ["/bin/sh", "-c", target.command]
    if wrapper is None:
        return shell
    return [wrapper, "-k", "1", f"{target.timeout + 1:.3f}", *shell]


def _die_with_parent() -> None:
    """In the child, before exec: the parent-death signal (SIGTERM, which `timeout` forwards)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
