"""The runner: run a suite's selected scenarios in parallel workers under hard deadlines.

`run_suite(options, env)` is called by the commands that run checks (run, check, escalate, watch).
This process (the CLI) forks a coordinator (escalator.runner.coordinator) that loads behave, the
steps and the features, and runs the scenarios in workers it forks (or itself, for a plan of one
scenario). This process only reads their records and owns the run deadline: when it passes, it
kills the coordinator's whole process group and reports what finished, what was cut off and what
never started (escalator.runner.assemble). For a scenario the coordinator runs itself it also
owns the hard step kill the coordinator applies to workers, and reports that scenario's end as
the coordinator would have reported a worker's. When this process dies first (Nagios kills a
plugin's group at its timeout), the coordinator and its workers die with it
(escalator.lifetime), and each command's keeper cleans up after it.
"""

from __future__ import annotations

import contextlib
import decimal  # noqa: F401 (both processes load it after the fork otherwise: see below)
import gc
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from escalator import pipe
from escalator.errors import UsageError
from escalator.lifetime import die_with_parent
from escalator.redact import redact_run
from escalator.results import RunResult, ScenarioResult
from escalator.runner.assemble import (
    STEP_GRACE,
    Progress,
    assemble,
    lost_record,
    overrun_reason,
)
from escalator.runner.board import Board

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
    board = Board(options.jobs + 1)  # slot 0 the coordinator's, one per worker it may fork
    for stream in (sys.stdout, sys.stderr):  # or the fork writes what is buffered twice
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _coordinate(options, parent, read_fd, write_fd, board)
    os.close(write_fd)
    _load_what_comes_after(options)
    heard = Progress()
    reader = pipe.LineReader(read_fd)
    ending = _listen(reader, heard, begun, deadline, env, progress, board)
    status = _reap(pid, kill=ending != "closed")
    if ending != "closed":  # what was sent before the kill is what happened
        _drain(reader, heard, env.monotonic() - begun, progress)
    os.close(read_fd)
    _steps_from(board, heard, env.monotonic() - begun)
    cut_off = ending == "deadline"
    if not cut_off:
        _end_here(heard, status, board if ending == "overrun" else None, progress)
    run = assemble(heard, started=started, duration=env.monotonic() - begun,
                   timeout=options.timeout, environment=options.environment,
                   cut_off=cut_off, crashed=_crashed(status, killed=ending != "closed"))
    return redact_run(run, options.secrets)


def _load_what_comes_after(options: RunOptions) -> None:
    """Import what this process needs once the run is over (the state store, the formats) now,
    while the coordinator spends a tenth of a second importing behave in its own process: on
    two cores that time is free, and a Nagios check pays it every minute. The nagios format
    always (`check` prints it, and storing a run renders what `status` will print), the others
    asked for; `run`'s default pretty format is loaded when it prints. (`decimal`, which the
    perfdata here and `parse` in the coordinator both import, is imported once, before the
    fork.)"""
    from escalator import formatters, state  # noqa: F401

    names = {"nagios", *(name for name, _ in options.formats)}
    for name in names | ({"graphite"} if options.graphite else set()):
        with contextlib.suppress(UsageError):
            formatters.load(name)


def _coordinate(options: RunOptions, parent: int, read_fd: int, write_fd: int, board: Board
                ) -> None:
    code = 70
    run_deadline = time.monotonic() + options.timeout  # the CLI's, give or take the fork
    try:
        # The coordinator leaves our process group, where Nagios's kill would reach it: it
        # dies with this process instead, and its workers die with it.
        if not die_with_parent(parent, signal.SIGKILL):
            return
        os.close(read_fd)
        gc.disable()  # until the suite is loaded (coordinator.main): imports make no garbage
        from escalator.runner import deferred

        deferred.install()  # before behave and requests are imported; the workers inherit it
        from escalator.runner import coordinator

        coordinator.main(options, write_fd, board, run_deadline)
        code = 0
    except BaseException as exc:
        with contextlib.suppress(OSError):
            message = f"runner error: {type(exc).__name__}: {exc}"
            pipe.send(write_fd, {"t": "error", "message": message})
    finally:
        os._exit(code)


def _listen(reader: pipe.LineReader, heard: Progress, begun: float, deadline: float, env: Env,
            progress: ProgressCallback | None, board: Board) -> str:
    """Read records until the coordinator closes the pipe ("closed"), the run deadline passes
    ("deadline"), or a step of a scenario the coordinator runs itself outlives its alarm
    ("overrun": that slot of the board is looked at as often as the coordinator looks at its
    workers')."""
    fd = reader.fd
    while True:
        now = env.monotonic()
        if now >= deadline:
            return "deadline"
        watched = _watched(heard, board)
        if watched is not None and now >= watched:
            return "overrun"
        wait = min(deadline - now, 1.0 if watched is None else min(watched - now, _WATCH))
        ready, _, _ = select.select([fd], [], [], wait)
        if ready and _absorb(reader, heard, env.monotonic() - begun, progress):
            return "closed"


def _drain(reader: pipe.LineReader, heard: Progress, at: float,
           progress: ProgressCallback | None) -> None:
    """Take the records still in the pipe once the coordinator's group is killed: a result
    sent just before the deadline is a result, not a scenario cut off (and the unit its
    worker began next is the one that was). Only what is there already: a process that
    escaped the kill and still holds the pipe cannot keep this one waiting."""
    while select.select([reader.fd], [], [], 0)[0]:
        if _absorb(reader, heard, at, progress):
            return


def _absorb(reader: pipe.LineReader, heard: Progress, at: float,
            progress: ProgressCallback | None) -> bool:
    """Take what one read of the pipe brings; whether the pipe is closed."""
    records, closed = reader.read()
    for record in records:
        result = heard.take(record, at)
        if result is not None and progress is not None:
            progress(result, len(heard.results), len(heard.units))
    return closed


_WATCH = 0.2  # seconds between looks at the step of a scenario the coordinator runs itself


def _watched(heard: Progress, board: Board) -> float | None:
    """When the step of the scenario the coordinator runs itself must end (its timeout and the
    grace), None while there is no such step."""
    note = board.read(0)
    if note is None or note.unit not in heard.here or note.unit in heard.results \
            or note.step < 0:
        return None
    heard.take({"t": "step", "id": note.unit, "index": note.step})
    return note.alarm(float(heard.unit(note.unit)["step_timeout"])) + STEP_GRACE


def _steps_from(board: Board, heard: Progress, now: float) -> None:
    """The step each scenario still running when the run ended was in, from the board. A unit
    on the board that the coordinator had not yet said began (a worker starts the next unit it
    holds as soon as it sends a result) was running all the same."""
    for slot in range(board.slots):
        note = board.read(slot)
        if note is None or note.unit in heard.results:
            continue
        if note.unit not in heard.running:
            heard.take({"t": "start", "id": note.unit}, now)  # since when: not known here
        heard.take({"t": "step", "id": note.unit, "index": note.step})


def _end_here(heard: Progress, status: int, overran: Board | None,
              progress: ProgressCallback | None) -> None:
    """A scenario the coordinator ran itself and did not finish: killed by this process for
    a step that ignored its alarm (`overran`: the board that says which, and its limit), or the
    coordinator died in it. Its result says so, as the coordinator says it of a worker; the run
    itself ended as planned."""
    for unit_id in sorted(heard.here - heard.results.keys()):
        unit = heard.unit(unit_id)
        note = overran.read(0) if overran is not None else None
        reason = (overrun_reason(unit, heard.running[unit_id], note.limit)
                  if note is not None else None)
        result = heard.take(lost_record(unit, status, reason))
        heard.done = True
        if result is not None and progress is not None:
            progress(result, len(heard.results), len(heard.units))


def _reap(pid: int, kill: bool) -> int:
    """Wait for the coordinator, killing its whole group first if asked; its wait status."""
    if kill:
        try:
            os.killpg(pid, signal.SIGKILL)  # the coordinator leads its group, workers included
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # killed before it could call setsid
    return os.waitpid(pid, 0)[1]


def _crashed(status: int, killed: bool) -> str | None:
    if os.WIFSIGNALED(status) and not killed:
        return f"runner died (signal {os.WTERMSIG(status)})"
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) not in (0,):
        return f"runner exited with status {os.WEXITSTATUS(status)}"
    return None
