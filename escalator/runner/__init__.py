"""The runner: run a suite's selected scenarios in parallel workers under hard deadlines.

`run_suite(options, env)` is called by the commands that run checks (run, check, escalate, watch).
This process (the CLI) forks a coordinator (escalator.runner.coordinator) that loads behave, the
steps and the features, and forks one worker per scenario. This process only reads their records
and owns the run deadline: when it passes, it kills the coordinator's whole process group and
reports what finished, what was cut off and what never started (escalator.runner.assemble).
When this process dies first (Nagios kills a plugin's group at its timeout), the coordinator
and its workers die with it (escalator.lifetime), and each command's keeper cleans up after it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from escalator import pipe
from escalator.errors import UsageError
from escalator.lifetime import die_with_parent
from escalator.redact import redact_run
from escalator.results import RunResult, ScenarioResult
from escalator.runner.assemble import Progress, assemble

if TYPE_CHECKING:
    from escalator.env import Env
    from escalator.options import RunOptions

ProgressCallback = Callable[[ScenarioResult, int, int], None]


def run_suite(options: RunOptions, env: Env, progress: ProgressCallback | None = None
              ) -> RunResult:
    """Run the suite; the result is redacted of every secret value."""
    started, begun = env.now(), env.monotonic()
    deadline = begun + options.timeout
    read_fd, write_fd = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # or the fork writes what is buffered twice
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _coordinate(options, parent, read_fd, write_fd)
    os.close(write_fd)
    _load_what_comes_after(options)
    heard = Progress()
    cut_off = _listen(read_fd, heard, begun, deadline, env, progress)
    os.close(read_fd)
    crashed = _reap(pid, kill=cut_off)
    run = assemble(heard, started=started, duration=env.monotonic() - begun,
                   timeout=options.timeout, environment=options.environment,
                   cut_off=cut_off, crashed=crashed)
    return redact_run(run, options.secrets)


def _load_what_comes_after(options: RunOptions) -> None:
    """Import what this process needs once the run is over (the state store, the formats) now,
    while the coordinator spends a tenth of a second importing behave in its own process: on
    two cores that time is free, and a Nagios check pays it every minute."""
    from escalator import formatters, state  # noqa: F401

    names = {name for name, _ in options.formats} or {"nagios", "pretty"}
    for name in names | ({"graphite"} if options.graphite else set()):
        with contextlib.suppress(UsageError):
            formatters.load(name)


def _coordinate(options: RunOptions, parent: int, read_fd: int, write_fd: int) -> None:
    code = 70
    try:
        # The coordinator leaves our process group, where Nagios's kill would reach it: it
        # dies with this process instead, and its workers die with it.
        if not die_with_parent(parent, signal.SIGKILL):
            return
        os.close(read_fd)
        from escalator.runner import coordinator

        coordinator.main(options, write_fd)
        code = 0
    except BaseException as exc:
        with contextlib.suppress(OSError):
            message = f"runner error: {type(exc).__name__}: {exc}"
            pipe.send(write_fd, {"t": "error", "message": message})
    finally:
        os._exit(code)


def _listen(fd: int, heard: Progress, begun: float, deadline: float, env: Env,
            progress: ProgressCallback | None) -> bool:
    """Read records until the coordinator closes the pipe; True when the deadline cut it off."""
    reader = pipe.LineReader(fd)
    while True:
        left = deadline - env.monotonic()
        if left <= 0:
            return True
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        records, closed = reader.read()
        at = env.monotonic() - begun
        for record in records:
            result = heard.take(record, at)
            if result is not None and progress is not None:
                progress(result, len(heard.results), len(heard.units))
        if closed:
            return False


def _reap(pid: int, kill: bool) -> str | None:
    if kill:
        try:
            os.killpg(pid, signal.SIGKILL)  # the coordinator leads its group, workers included
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # killed before it could call setsid
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and not kill:
        return f"runner died (signal {os.WTERMSIG(status)})"
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) not in (0,):
        return f"runner exited with status {os.WEXITSTATUS(status)}"
    return None
