"""Run a level's argv or the notifier as a bounded subprocess, and say how it ended.

No shell. The process starts in its own session (so its own process group); at the timeout the
whole group gets SIGTERM, then SIGKILL after a grace period, so a script that started
`sleep 300 &` leaves nothing behind. Output (stdout and stderr together) goes to a temporary
file, never a pipe that could fill and block, and only its tail is kept. Called by the engine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TAIL_BYTES = 4096


@dataclass(frozen=True)
class ActionResult:
    """How one subprocess ended. `exit_code` is None when it timed out or never started."""

    argv: tuple[str, ...]
    exit_code: int | None
    duration: float
    output: str = ""
    timed_out: bool = False
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.timed_out:
            return "timeout"
        return "succeeded" if self.exit_code == 0 else "failed"

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def run_action(argv: tuple[str, ...], *, timeout: float, environ: Mapping[str, str],
               cwd: Path | None = None, stdin: bytes | None = None, kill_grace: float = 5.0,
               on_start: Callable[[int], None] | None = None) -> ActionResult:
    """Run `argv` to completion or to `timeout`, whichever is first; never raises for the
    program's own failures (a missing program is `error`, a non-zero exit is `failed`)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=dict(environ), stdout=output, stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                start_new_session=True, close_fds=True)
        except OSError as exc:
            return ActionResult(argv, None, time.monotonic() - started,
                                error=f"could not start {argv[0]}: {exc.strerror or exc}")
        if on_start is not None:
            on_start(proc.pid)
        timed_out = False
        try:
            proc.communicate(input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc, kill_grace)
        except BaseException:
            # The engine itself is being stopped (SIGTERM, ^C): never leave the level running.
            _kill_group(proc, kill_grace)
            raise
        return ActionResult(argv, None if timed_out else proc.returncode,
                            time.monotonic() - started, _tail(output), timed_out=timed_out)


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it after `grace`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    # Children may outlive (or ignore) the TERM that ended the leader: the group goes anyway.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(output: IO[bytes]) -> str:
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - TAIL_BYTES))
    return output.read().decode(errors="replace")
