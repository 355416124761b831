"""The local command probe: one shell command line, or one program without a shell, bounded in
time and in output, and never outliving the check.

Called by `escalator.steps.system` and the site-step API (`escalator.steps.api.run_command`)
for shell lines, and by the probes that ask a host's own tools (`host_state`'s pgrep, systemctl
and dpkg-query, `tls`'s `openssl s_client`, `ping`) through `program(argv, ...)`; returns the
`CommandResult` the SSH probe returns too. `run(CommandTarget)` runs under a keeper process
forked from this one (`escalator.probes.keeper`): a shell line reaches `/bin/sh` on a pipe,
never in an argv that every user's `ps` can read (it may hold a `${secret}`), and the keeper
kills everything the command started when it ends, at the deadline, or when this worker dies
(the runner killed it, or Nagios killed the check's group), even a daemon that left the process
group with `setsid`. stdout and stderr are read as they come and kept up to `max_output` bytes
each; the rest is drained and dropped, so a chatty command cannot block on a full pipe nor fill
our memory. A non-zero exit, a signal or a timeout is data, never raised.

>>> r = run(CommandTarget("echo out; echo err >&2; exit 3", timeout=5))
>>> (r.exit_status, r.stdout, r.stderr, r.timed_out, r.error)
(3, 'out\\n', 'err\\n', False, None)
>>> r = run(program(["sh", "-c", "echo out; echo err >&2"], timeout=5, merge_stderr=True))
>>> (r.command, r.exit_status, r.stdout, r.stderr)
("sh -c 'echo out; echo err >&2'", 0, 'out\\nerr\\n', '')
>>> run(program(["no-such-tool-here"], timeout=5)).exit_status
127
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from escalator.probes import keeper
from escalator.probes.command_result import CommandResult

# After the keeper exits (having killed what the command left), how long we keep reading what
# is still in the pipes.
_LINGER = 0.2


@dataclass(frozen=True)
class CommandTarget:
    """A shell line (`command`), or with `argv` a program run without a shell (a probe's tool,
    an inventory's host command; `command` then only names it). `environ` is the program's
    whole environment (None: the worker's); `merge_stderr` sends stderr into stdout, in the
    order written."""

    command: str
    timeout: float = 10.0
    max_output: int = 64 * 1024
    cwd: str | None = None
    argv: tuple[str, ...] = ()
    environ: tuple[tuple[str, str], ...] | None = None
    merge_stderr: bool = False

    @property
    def executable(self) -> str:
        return self.argv[0] if self.argv else "/bin/sh"


def program(argv: Sequence[str], timeout: float, environ: Mapping[str, str] | None = None,
            merge_stderr: bool = False, max_output: int = 64 * 1024) -> CommandTarget:
    """A target that runs `argv` (looked up on `environ`'s PATH) without a shell."""
    return CommandTarget(shlex.join(argv), timeout, max_output, argv=tuple(argv),
                         environ=None if environ is None else tuple(environ.items()),
                         merge_stderr=merge_stderr)


def run(target: CommandTarget) -> CommandResult:
    """Run the command line or program; never raises for what it does."""
    if target.cwd is not None and not os.path.isdir(target.cwd):
        return CommandResult(target.command, timeout=target.timeout,
                             error=f"cannot start {target.executable}: no directory {target.cwd}")
    start = time.monotonic()
    out_read, out_write = os.pipe()
    err_read, err_write = (out_read, out_write) if target.merge_stderr else os.pipe()
    reading = tuple(dict.fromkeys((out_read, err_read)))
    try:
        pid = _fork_keeper(target, out_write, err_write)
    except OSError as exc:
        for fd in reading:
            os.close(fd)
        return CommandResult(target.command, timeout=target.timeout,
                             error=f"cannot start {target.executable}: {exc.strerror or exc}")
    finally:
        for fd in dict.fromkeys((out_write, err_write)):
            os.close(fd)
    try:
        kept, truncated, timed_out = _collect(pid, reading, target, start + target.timeout)
    finally:
        # Whatever happened (timeout, the step's own alarm), nothing the command started
        # survives.
        status = _end(pid)
        for fd in reading:
            os.close(fd)
    out = kept[out_read]
    err = b"" if target.merge_stderr else kept[err_read]
    return CommandResult(
        target.command, timeout=target.timeout,
        exit_status=os.WEXITSTATUS(status) if os.WIFEXITED(status) and not timed_out else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) and not timed_out else None,
        stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"),
        truncated=truncated, timed_out=timed_out, elapsed=time.monotonic() - start)


def _fork_keeper(target: CommandTarget, stdout: int, stderr: int) -> int:
    if target.argv:
        argv, script = list(target.argv), None
    else:  # the line on the shell's stdin, never in an argv
        argv, script = ["/bin/sh", "-s"], target.command.encode(errors="surrogateescape") + b"\n"
    environ = None if target.environ is None else dict(target.environ)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            code = keeper.keep(argv, script, target.timeout + 1, parent, stdout, stderr,
                               target.cwd, environ)
        finally:
            os._exit(code)
    return pid


def _collect(pid: int, fds: tuple[int, ...], target: CommandTarget, deadline: float
             ) -> tuple[dict[int, bytes], bool, bool]:
    """Read the pipes until they close and the keeper exits, or the deadline passes.

    Returns (what each pipe gave, truncated, timed out). The keeper is never reaped here: while
    it is a zombie its PID cannot be reused, so signalling it is safe.
    """
    kept = {fd: bytearray() for fd in fds}
    truncated = False
    with selectors.DefaultSelector() as selector:
        for fd in kept:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() or not _exited(pid):
            now = time.monotonic()
            if now >= deadline:
                return _bytes(kept), truncated, not _exited(pid)
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
    return _bytes(kept), truncated, False


def _bytes(kept: dict[int, bytearray]) -> dict[int, bytes]:
    return {fd: bytes(data) for fd, data in kept.items()}


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

