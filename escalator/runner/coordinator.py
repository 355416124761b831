"""The coordinator: a process forked by the CLI that loads the suite once and runs its scenarios
in at most `jobs` worker processes forked from that warm state, or itself for a plan of one.

A worker runs one scenario after another, each with a fresh behave context and `Session`, and
is retired (and replaced by a fresh fork) after a scenario that did not pass or after
`RECYCLE_AFTER` scenarios, so a scenario that broke something in its process cannot touch the
next. Reuse matters: a fresh fork pays thousands of copy-on-write page faults (about 10 ms of CPU
measured here; bench/README.md), a reused worker pays them once. So the pool grows only while
it helps: one more worker when work is waiting, no worker is free and fewer of the busy ones are
computing than there are CPUs (the others wait on their targets). A suite of instant scenarios on
two cores runs in about two workers whatever `--jobs` says; one that waits on slow targets grows
to `--jobs`. Forks are interleaved with reading results, so early workers never sit idle.

A plan of one scenario that will not be retried runs in this process: a fork would only copy
the state it is in. The CLI then applies the hard step kill (runner/__init__.py), since nothing
in a process can interrupt a step that ignores its alarm.

The coordinator forwards the workers' results to the CLI over one pipe, re-runs failing scenarios
when retries are allowed, and kills a worker whose step outlives its timeout by a second (a call
stuck in C code that ignores SIGALRM): each worker notes the step it is in on its slot of the
board (runner/board.py). The run deadline is not its business: the CLI kills this whole process
group when the deadline comes.
"""

from __future__ import annotations

import gc
import math
import os
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from escalator import pipe
from escalator.lifetime import die_with_parent
from escalator.options import RunOptions
from escalator.redact import redactor_for
from escalator.results import Outcome
from escalator.runner.assemble import STEP_GRACE, lost_record, overrun_reason
from escalator.runner.board import Board, Note
from escalator.runner.suite import LoadError, Suite, Unit, load_suite
from escalator.runner.usage import unused_variables
from escalator.runner.worker import run_unit, serve

# Scenarios one worker runs before a fresh fork replaces it (one that did not pass retires it at
# once). Not for memory: a worker's RSS stays flat over 3,000 scenarios (bench/README.md).
RECYCLE_AFTER = 1000
_PLAN_BATCH = 200  # units described per record of the plan
_POLL = 0.2  # seconds between checks for overrunning steps when nothing arrives
_GROW_POLL = 0.005  # ... and between looks at whether the busy workers still compute
_QUICK = 0.02  # a scenario this short is instant to the pool (see _Pool._computes)
_WAITING = 0.01  # ... and a step of one blocked this long waits on its target
# Records for the CLI go out at once, except that a burst of results (instant scenarios, one
# every millisecond or so) goes out at most this often: each write wakes the CLI, which then
# costs more than the record. In the last moments before the run deadline every record goes out
# at once, so that none is lost when the CLI kills this process group.
_FLUSH_EVERY = 0.02
_DEADLINE_NEAR = 0.5
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class _Worker:
    pid: int
    reader: pipe.LineReader
    commands: int  # write end of the worker's command pipe; -1 once closed
    slot: int  # its slot on the board
    unit: Unit | None = None
    assignment: int = 0  # the number its unit was handed out as
    attempt: int = 0
    ran: int = 0


def main(options: RunOptions, out: int, board: Board) -> None:
    """Entry point in the forked coordinator; never returns (the caller os._exits). Slot 0 of
    `board` is this process's own, the others are its workers'."""
    os.setsid()
    run_deadline = time.monotonic() + options.timeout  # the CLI's, give or take the fork
    _quiet_stdio()
    os.chdir(options.cwd)
    try:
        suite = load_suite(options)
    except LoadError as exc:
        pipe.send(out, {"t": "error", "message": str(exc)})
        return
    # The cyclic collector was off while behave, requests and the suite loaded (runner's
    # _coordinate): a collection then only walks objects that all stay (8 % of a cold check's
    # CPU). They stay until the end, so they are frozen out of every later collection, and the
    # workers forked from here do not copy the pages such a walk would touch.
    gc.freeze()
    gc.enable()
    for start in range(0, len(suite.units), _PLAN_BATCH):  # a few at a time: 5,000 at once
        batch = suite.units[start:start + _PLAN_BATCH]  # held ~8 MB more of this process
        pipe.send(out, {"t": "units", "units": [unit.describe() for unit in batch]})
    pipe.send(out, {"t": "plan", "units": [], "errors": suite.errors,
                    "notices": unused_variables(suite, options)})
    redactor_for(tuple(options.secrets))  # built once here, inherited by every worker
    # A broken file is a run error, but the other files' scenarios still get their verdicts.
    pool = _Pool(suite, options, out, board, run_deadline)
    if len(pool.pending) == 1 and pool.pending[0][0].retries == 0:
        pool.run_here()
    else:
        pool.run()
    pipe.send(out, {"t": "done"})


class _Pool:
    def __init__(self, suite: Suite, options: RunOptions, out: int, board: Board,
                 run_deadline: float | None = None) -> None:
        self.suite, self.options, self.out, self.board = suite, options, out, board
        self.run_deadline = run_deadline
        self.free_slots = list(range(board.slots - 1, 0, -1))
        self.assignments = 0
        self.finished = self.quick = 0  # scenarios that ended in a worker; of them, instant
        self.outbox: list[dict[str, Any]] = []  # records for the CLI (see _flush)
        self.flushed = 0.0  # when the outbox was last written
        for unit in suite.units:
            if unit.problem is not None:  # cannot run: UNKNOWN with its reason, no worker
                self.outbox.append(lost_record(unit.describe(), 0, None, unit.problem))
        self.pending: deque[tuple[Unit, int, tuple[str, ...]]] = deque(
            (unit, 1, ()) for unit in suite.units if unit.problem is None)
        self.earlier: dict[int, tuple[str, ...]] = {}
        self.workers: dict[int, _Worker] = {}  # every live worker, by pid
        self.selector = selectors.DefaultSelector()

    def run_here(self) -> None:
        """Run the plan's only runnable unit in this process: no worker, no fork. It notes its
        steps on slot 0 of the board, which the CLI watches to kill this process if a step
        outlives its alarm."""
        unit, attempt, earlier = self.pending.popleft()
        self.earlier[unit.id] = earlier
        self.outbox.append({"t": "start", "id": unit.id, "attempt": attempt, "here": True})
        self._flush(now=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a worker
        self._finish(unit, attempt, run_unit(self.suite, unit, self.options, self.board, 0, 0,
                                             self.run_deadline))
        self._flush(now=True)

    def run(self) -> None:
        while self.pending or self.workers:
            while self.pending and (idle := self._idle()) is not None:
                self._assign(idle, *self.pending.popleft())
            grew = self._should_grow()
            if grew:
                self._assign(self._spawn(), *self.pending.popleft())
            if not self.pending:
                for worker in self.workers.values():
                    if worker.unit is None:
                        self._retire(worker)
            held = self._flush()
            timeout = 0 if grew else _GROW_POLL if self._may_grow() else _POLL
            for key, _ in self.selector.select(timeout=min(timeout, held)):
                self._read(key.data)
            self._kill_overruns()
        self._flush(now=True)

    def _idle(self) -> _Worker | None:
        for worker in self.workers.values():
            if worker.unit is None and worker.commands >= 0:
                return worker
        return None

    def _may_grow(self) -> bool:
        """Work is waiting and fewer than `jobs` workers are alive to take it."""
        active = sum(1 for w in self.workers.values() if w.commands >= 0)
        return bool(self.pending) and active < self.options.jobs

    def _should_grow(self) -> bool:
        """Fork one more worker: work is waiting, none is free, and fewer busy workers than
        CPUs are computing (more CPU-bound workers would add their fork and nothing else). A
        worker that has not started a step of its unit yet is still forking or setting up."""
        if not self._may_grow() or self._idle() is not None:
            return False
        computing, now = 0, time.monotonic()
        for worker in self.workers.values():
            if worker.unit is not None and self._computes(worker, now):
                computing += 1
                if computing >= _CPUS:
                    return False
        return True

    def _computes(self, worker: _Worker, now: float) -> bool:
        """Whether a busy worker counts as using a CPU: it is on one (or waiting for one), it
        has not begun a step yet, or, while most scenarios so far took less than `_QUICK`, its
        step began less than `_WAITING` ago. An instant scenario waits on its target for a
        fraction of a millisecond between computing, and a worker forked for that wait only
        shares the CPUs (a fifth more CPU for a suite of instant scenarios, no time saved); a
        step of such a suite that does wait longer still lets the pool grow. Until scenarios
        end, and while they are slow, a waiting worker lets the pool grow at once: slow
        targets need their workers from the start."""
        note = self._step(worker)
        if note is None or (2 * self.quick > self.finished and now - note.started < _WAITING):
            return True  # (asked first: reading /proc costs more than a quick scenario's step)
        return _computing(worker.pid)

    def _step(self, worker: _Worker) -> Note | None:
        """Which step of its unit the worker is in, and since when; None before its first."""
        note = self.board.read(worker.slot)
        if worker.unit is None or note is None or note.assignment != worker.assignment \
                or note.step < 0:
            return None
        return note

    def _spawn(self) -> _Worker:
        read_fd, write_fd = os.pipe()
        command_read, command_write = os.pipe()
        coordinator = os.getpid()
        slot = self.free_slots.pop()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                if not die_with_parent(coordinator, signal.SIGKILL):
                    os._exit(1)  # the coordinator is gone: nobody to report to
                os.close(read_fd)
                os.close(command_write)
                os.close(self.out)
                for sibling in self.workers.values():  # or their pipes never reach EOF
                    if sibling.commands >= 0:
                        os.close(sibling.commands)
                    os.close(sibling.reader.fd)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                serve(self.suite, self.options, command_read, write_fd, self.board, slot,
                      self.run_deadline)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        os.close(command_read)
        worker = _Worker(pid, pipe.LineReader(read_fd), command_write, slot)
        self.workers[pid] = worker
        self.selector.register(read_fd, selectors.EVENT_READ, worker)
        return worker

    def _assign(self, worker: _Worker, unit: Unit, attempt: int, earlier: tuple[str, ...]
                ) -> None:
        self.earlier[unit.id] = earlier
        self.outbox.append({"t": "start", "id": unit.id, "attempt": attempt})
        self.assignments += 1
        worker.unit, worker.attempt, worker.assignment = unit, attempt, self.assignments
        os.write(worker.commands, f"{unit.id} {worker.assignment}\n".encode())

    def _read(self, worker: _Worker) -> None:
        records, closed = worker.reader.read()
        for record in records:
            if record["t"] == "result" and worker.unit is not None:
                self._report(worker, record)
        if closed:
            self._reap(worker, None)

    def _retire(self, worker: _Worker) -> None:
        """Close its command pipe (it finishes its loop and exits) and give its slot on the
        board to the next fork: it is idle or dead, and writes no more."""
        if worker.commands >= 0:
            os.close(worker.commands)
            worker.commands = -1
            self.free_slots.append(worker.slot)

    def _report(self, worker: _Worker, record: dict[str, Any]) -> None:
        unit, attempt = worker.unit, worker.attempt
        assert unit is not None
        worker.unit, worker.ran = None, worker.ran + 1
        self.finished += 1
        self.quick += record["scenario"].get("duration", 0.0) < _QUICK
        if record["scenario"]["outcome"] != Outcome.PASSED or worker.ran >= RECYCLE_AFTER:
            self._retire(worker)
        self._finish(unit, attempt, record)

    def _finish(self, unit: Unit, attempt: int, record: dict[str, Any]) -> None:
        """Queue a retry of a failed unit that has retries left, or pass its result on (as
        the plain data it arrived as: converting it here would only be converted back)."""
        scenario, earlier = record["scenario"], self.earlier[unit.id]
        if scenario["outcome"] == Outcome.FAILED and attempt <= unit.retries:
            why = scenario["reason"] or "failed"
            self.pending.appendleft((unit, attempt + 1, (*earlier, why)))
            return
        scenario = {**scenario, "attempts": attempt, "earlier_failures": list(earlier)}
        self.outbox.append({**record, "scenario": scenario})

    def _flush(self, now: bool = False) -> float:
        """Write the outbox to the CLI, unless it was written less than `_FLUSH_EVERY` ago and
        the run deadline is not near; how long the records left are held (inf: none is)."""
        if not self.outbox:
            return math.inf
        at = time.monotonic()
        due = self.flushed + _FLUSH_EVERY
        near = self.run_deadline is not None and at >= self.run_deadline - _DEADLINE_NEAR
        if now or near or at >= due:
            pipe.send_all(self.out, self.outbox)
            self.outbox, self.flushed = [], at
            return math.inf
        return due - at

    def _reap(self, worker: _Worker, killed_reason: str | None) -> None:
        """The worker's pipe closed (it exited or was killed): wait for it; a scenario it was
        running gets a result saying what happened."""
        self.selector.unregister(worker.reader.fd)
        os.close(worker.reader.fd)
        self._retire(worker)
        del self.workers[worker.pid]
        _, status = os.waitpid(worker.pid, 0)
        if worker.unit is not None:
            self._report(worker, lost_record(worker.unit.describe(), status, killed_reason))

    def _kill_overruns(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            step, unit = self._step(worker), worker.unit
            if step is not None and unit is not None \
                    and now > step.alarm(unit.step_timeout) + STEP_GRACE:
                os.kill(worker.pid, signal.SIGKILL)
                self._reap(worker, overrun_reason(unit.describe(), step.step, step.limit))


def _computing(pid: int) -> bool:
    """Whether process `pid` is on a CPU or waiting for one (state R), rather than sleeping
    on a socket or a pipe. False when /proc cannot tell: the pool then grows as it asks."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] == b"R"


def _quiet_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
