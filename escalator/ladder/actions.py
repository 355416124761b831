"""Run a level's argv or the notifier as a bounded subprocess, and say how it ended.

No shell. The process starts in its own session (so its own process group); at the timeout the
whole group gets SIGTERM, then SIGKILL after a grace period, so a script that started
`sleep 300 &` leaves nothing behind. A stop of the engine (`stop.Stopped`: SIGTERM, SIGHUP) does
the same, and the result says `interrupted`. Output (stdout and stderr together) streams through
a pipe into a bounded buffer, so a level that floods it costs neither disk nor memory; the
buffer keeps the tail and a margin, masks every secret, and only then cuts, so no part of a
secret survives the cut. Reading stops when the level's main process exits: a process it leaves
in the background must not write to the stdout it inherited. Called by the engine and the pager.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from escalator.ladder import stop
from escalator.redact import MASK, masked_forms

TAIL_BYTES = 4096
_CHUNK = 65536
_DRAIN = 1024 * 1024  # after the main process exited: what may still sit in the pipe, at most
_HIDE = "\ue000"  # one masked character until the cut (same length: the cut sees the original)
_POLL = 0.05  # without a pidfd, how often to look whether the main process has exited


@dataclass(frozen=True)
class ActionResult:
    """How one subprocess ended. `exit_code` is None when it timed out, was interrupted or
    never started; `interrupted` names the signal that stopped the engine (and the level)."""

    argv: tuple[str, ...]
    exit_code: int | None
    duration: float
    output: str = ""
    timed_out: bool = False
    error: str | None = None
    interrupted: str | None = None
    started: bool = True

    @property
    def status(self) -> str:
        if self.interrupted is not None:
            return "interrupted"
        if self.error is not None:
            return "error"
        if self.timed_out:
            return "timeout"
        return "succeeded" if self.exit_code == 0 else "failed"

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


class Tail:
    """The last TAIL_BYTES of a stream, secrets masked before the cut.

    It holds TAIL_BYTES plus the longest masked form of a secret: a secret that the start of
    that window cuts in two lies within the margin, which is dropped after masking; a secret
    that the final cut would split is whole in the window, so it is masked, not split.
    """

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        self.forms = masked_forms(secrets)
        self.margin = max((len(form.encode()) for form in self.forms), default=0)
        self.data = bytearray()
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - (TAIL_BYTES + self.margin)
        if excess > 0:
            del self.data[:excess]
            self.truncated = True

    def text(self) -> str:
        text = self.data.decode(errors="replace")
        for form in self.forms:
            text = text.replace(form, _HIDE * len(form))
        if self.truncated:
            text = text[self.margin:]
        text = re.sub(f"{_HIDE}+", MASK, text)
        raw = text.encode()
        return raw[-TAIL_BYTES:].decode(errors="replace") if len(raw) > TAIL_BYTES else text


def run_action(argv: tuple[str, ...], *, timeout: float, environ: Mapping[str, str],
               cwd: Path | None = None, stdin: bytes | None = None, kill_grace: float = 5.0,
               on_start: Callable[[int], None] | None = None, secrets: Sequence[str] = (),
               pass_fds: Sequence[int] = ()) -> ActionResult:
    """Run `argv` to completion or to `timeout`, whichever is first; never raises for the
    program's own failures (a missing program is `error`, a non-zero exit is `failed`).

    `on_start(pid)` runs before a stop signal can interrupt (the engine records the pid there);
    `pass_fds` are inherited by the process (the level lock).
    """
    started = time.monotonic()
    tail = Tail(secrets)
    proc: subprocess.Popen[bytes] | None = None
    try:
        with stop.deferred():
            signum = stop.requested()
            if signum is not None:
                return ActionResult(argv, None, 0.0, interrupted=signal.Signals(signum).name,
                                    started=False)
            try:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=dict(environ), stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                    start_new_session=True, close_fds=True, pass_fds=tuple(pass_fds))
            except OSError as exc:
                return ActionResult(argv, None, time.monotonic() - started,
                                    error=f"could not start {argv[0]}: {exc.strerror or exc}")
            if on_start is not None:
                on_start(proc.pid)
        stop.raise_pending()
        exited = _pump(proc, stdin, tail, started + timeout)
        if not exited:
            _kill_group(proc, kill_grace, tail)
        return ActionResult(argv, proc.returncode if exited else None,
                            time.monotonic() - started, tail.text(), timed_out=not exited)
    except stop.Stopped as stopped:
        assert proc is not None  # raised only once the process is on record
        _kill_group(proc, kill_grace, tail)
        return ActionResult(argv, None, time.monotonic() - started, tail.text(),
                            interrupted=stopped.name)
    except BaseException:
        # Anything else (the pid could not be recorded, a bug): never leave the level running.
        if proc is not None:
            _kill_group(proc, kill_grace, tail)
        raise
    finally:
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()


def _pump(proc: subprocess.Popen[bytes], stdin: bytes | None, tail: Tail,
          deadline: float) -> bool:
    """Feed `stdin` and keep the output's tail until the main process exits (True) or the
    deadline passes (False)."""
    assert proc.stdout is not None
    out = proc.stdout.fileno()
    pending = memoryview(stdin or b"")
    with selectors.DefaultSelector() as selector, _exit_fd(proc.pid) as exit_fd:
        selector.register(out, selectors.EVENT_READ, "out")
        if exit_fd is not None:
            selector.register(exit_fd, selectors.EVENT_READ, "exit")
        if proc.stdin is not None:
            if pending:
                os.set_blocking(proc.stdin.fileno(), False)
                selector.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "in")
            else:
                proc.stdin.close()
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _ in selector.select(remaining if exit_fd is not None
                                          else min(remaining, _POLL)):
                if key.data == "out":
                    chunk = os.read(out, _CHUNK)
                    if chunk:
                        tail.feed(chunk)
                    else:
                        selector.unregister(out)  # every writer closed it; wait for the exit
                elif key.data == "in":
                    pending = _feed(proc, selector, pending)
    _drain(out, tail)
    return True


def _feed(proc: subprocess.Popen[bytes], selector: selectors.BaseSelector,
          pending: memoryview) -> memoryview:
    assert proc.stdin is not None
    try:
        pending = pending[os.write(proc.stdin.fileno(), pending[:_CHUNK]):]
    except BlockingIOError:
        return pending
    except OSError:  # the program closed its stdin: it does not want the rest
        pending = pending[:0]
    if not pending:
        selector.unregister(proc.stdin.fileno())
        proc.stdin.close()
    return pending


@contextlib.contextmanager
def _exit_fd(pid: int) -> Iterator[int | None]:
    """A pidfd that becomes readable when `pid` exits (Linux 5.3+); None where there is none."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _drain(fd: int, tail: Tail) -> None:
    """What is already in the pipe, without waiting for writers that are still alive."""
    with contextlib.suppress(OSError, ValueError):
        os.set_blocking(fd, False)
        taken = 0
        while taken < _DRAIN:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                return
            tail.feed(chunk)
            taken += len(chunk)


def _kill_group(proc: subprocess.Popen[bytes], grace: float, tail: Tail) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it after `grace`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while proc.poll() is None and time.monotonic() < deadline:
        # Keep reading: a level that writes while it cleans up must not block on a full pipe.
        if proc.stdout is not None and not proc.stdout.closed:
            _drain(proc.stdout.fileno(), tail)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(min(_POLL, max(0.0, deadline - time.monotonic())))
    # Children may outlive (or ignore) the TERM that ended the leader: the group goes anyway.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None and not proc.stdout.closed:
        _drain(proc.stdout.fileno(), tail)
