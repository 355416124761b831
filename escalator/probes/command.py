"""The local command probe: one shell command line, bounded in time and in output.

Called by `escalator.steps.system` and the site-step API (`escalator.steps.api.run_command`);
returns the `CommandResult` the SSH probe returns too. `run(CommandTarget)` runs the line
through `/bin/sh` (cucumber-nagios users wrote pipes and redirects) under a keeper process
forked from this one (`escalator.probes.keeper`): the line reaches the shell on a pipe, never
in an argv that every user's `ps` can read (it may hold a `${secret}`), and the keeper kills
everything the command started when the shell ends, at the deadline, or when this worker dies,
even a daemon that left the process group with `setsid`. stdout and stderr are read as they
come and kept up to `max_output` bytes each; the rest is drained and dropped, so a chatty
command cannot block on a full pipe nor fill our memory. A non-zero exit, a signal or a
timeout is data, never raised.

>>> r = run(CommandTarget("echo out; echo err >&2; exit 3", timeout=5))
>>> (r.exit_status, r.stdout, r.stderr, r.timed_out, r.error)
(3, 'out\\n', 'err\\n', False, None)
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time
from dataclasses import dataclass

from escalator.probes import keeper
from escalator.probes.command_result import CommandResult

# After the keeper exits (having killed what the command left), how long we keep reading what
# is still in the pipes.
_LINGER = 0.2


@dataclass(frozen=True)
class CommandTarget:
    command: str
    timeout: float = 10.0
    max_output: int = 64 * 1024
    cwd: str | None = None


def run(target: CommandTarget) -> CommandResult:
    """Run the command line; never raises for what the command does."""
    if target.cwd is not None and not os.path.isdir(target.cwd):
        return CommandResult(target.command, timeout=target.timeout,
                             error=f"cannot start /bin/sh: no directory {target.cwd}")
    start = time.monotonic()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        pid = _fork_keeper(target, out_write, err_write)
    except OSError as exc:
        for fd in (out_read, err_read):
            os.close(fd)
        return CommandResult(target.command, timeout=target.timeout,
                             error=f"cannot start /bin/sh: {exc.strerror or exc}")
    finally:
        os.close(out_write)
        os.close(err_write)
    try:
        out, err, truncated, timed_out = _collect(pid, out_read, err_read, target,
                                                  start + target.timeout)
    finally:
        # Whatever happened (timeout, the step's own alarm), nothing the command started
        # survives.
        status = _end(pid)
        os.close(out_read)
        os.close(err_read)
    return CommandResult(
        target.command, timeout=target.timeout,
        exit_status=os.WEXITSTATUS(status) if os.WIFEXITED(status) and not timed_out else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) and not timed_out else None,
        stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"),
        truncated=truncated, timed_out=timed_out, elapsed=time.monotonic() - start)


def _fork_keeper(target: CommandTarget, stdout: int, stderr: int) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            code = keeper.keep(target.command, target.timeout + 1, parent, stdout, stderr,
                               target.cwd)
        finally:
            os._exit(code)
    return pid


def _collect(pid: int, stdout: int, stderr: int, target: CommandTarget, deadline: float
             ) -> tuple[bytes, bytes, bool, bool]:
    """Read both pipes until they close and the keeper exits, or the deadline passes.

    Returns (stdout, stderr, truncated, timed out). The keeper is never reaped here: while it
    is a zombie its PID cannot be reused, so signalling it is safe.
    """
    kept = {stdout: bytearray(), stderr: bytearray()}
    truncated = False
    with selectors.DefaultSelector() as selector:
        for fd in kept:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() or not _exited(pid):
            now = time.monotonic()
            if now >= deadline:
                return bytes(kept[stdout]), bytes(kept[stderr]), truncated, not _exited(pid)
            if selector.get_map() and _exited(pid):
                # The command is gone; what it wrote only gets a moment more.
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
    return bytes(kept[stdout]), bytes(kept[stderr]), truncated, False


def _exited(pid: int) -> bool:
    """Whether the keeper has exited, without reaping it (WNOWAIT)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _end(pid: int) -> int:
    """Have the keeper kill what is left of the command (it has, if the shell ended), reap it
    and return its wait status; a keeper that does not answer within `_KEEPER_GRACE` dies."""
    if not _exited(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        give_up = time.monotonic() + _KEEPER_GRACE
        while not _exited(pid) and time.monotonic() < give_up:
            time.sleep(0.005)
    if not _exited(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


_KEEPER_GRACE = 3.0  # seconds the keeper may take to kill the command's processes

