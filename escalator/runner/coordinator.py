"""The coordinator: a process forked by the CLI that loads the suite once and runs its scenarios
in at most `jobs` worker processes forked from that warm state, or itself for a plan of one.

A worker runs one scenario after another, each with a fresh behave context and `Session`, and
stops (a fresh fork replaces it) after a scenario that did not pass or after `RECYCLE_AFTER`
scenarios, so a scenario that broke something in its process cannot touch the next. Reuse
matters: a fresh fork pays thousands of copy-on-write page faults (about 10 ms of CPU
measured here; bench/README.md), a reused worker pays them once. So the pool grows only while
it helps: one more worker when work is waiting, no worker is free and fewer of the busy ones are
computing than there are CPUs (the others wait on their targets). A suite of instant scenarios on
two cores runs in about two workers whatever `--jobs` says; one that waits on slow targets grows
to `--jobs`. Forks are interleaved with reading results, so early workers never sit idle.

A worker is handed one unit at a time until most finished scenarios turn out instant; then it
holds a few (`_depth`), so it goes from one to the next without waiting for this process, which
reads results every `_NAP` instead of waking for each. A unit queued behind a step that turns
out slow, and every queued unit as the run deadline nears, is taken back from what the worker
has not read (runner/handle.py).

A plan of one scenario that will not be retried runs in this process: a fork would only copy
the state it is in. The CLI then applies the hard step kill (runner/__init__.py), since nothing
in a process can interrupt a step that ignores its alarm.

The coordinator forwards the workers' results to the CLI over one pipe (reading only each
result's head, escalator/pipe.py), re-runs failing scenarios when retries are allowed, and kills
a worker whose step outlives its timeout by a second (a call stuck in C code that ignores
SIGALRM): each worker notes the step it is in on its slot of the board (runner/board.py). The
run deadline is not its business: the CLI kills this whole process group when the deadline
comes.
"""

from __future__ import annotations

import gc
import json
import math
import os
import selectors
import signal
import time
from collections import deque
from typing import Any

from escalator import pipe
from escalator.options import RunOptions
from escalator.redact import redactor_for
from escalator.results import Outcome
from escalator.runner.assemble import STEP_GRACE, lost_record, overrun_reason
from escalator.runner.board import Board, Note
from escalator.runner.handle import Job, Worker, spawn
from escalator.runner.suite import LoadError, Suite, Unit, load_suite
from escalator.runner.usage import unused_variables
from escalator.runner.worker import RECYCLE_AFTER, result_line, run_unit, serve

_PLAN_BATCH = 200  # units described per record of the plan
_POLL = 0.2  # seconds between checks for overrunning steps when nothing arrives
_GROW_POLL = 0.005  # ... and between looks at whether the busy workers still compute
_QUICK = 0.02  # a scenario this short is instant to the pool (see _Pool._computes)
_WAITING = 0.01  # ... and a step of one blocked this long waits on its target
# Records for the CLI go out at once, except that a burst of results (instant scenarios, one
# every millisecond or so) goes out at most this often: each write wakes the CLI, which then
# costs more than the record. In the last second before the run deadline every record goes out
# at once, and workers hold one unit at a time (_depth), so that when the CLI kills this process
# group it knows what finished, and only the unit each worker was in is cut off.
_FLUSH_EVERY = 0.05
_DEADLINE_NEAR = 1.0
# A worker is handed one unit at a time until most finished scenarios turn out instant (_QUICK,
# after _AHEAD_AFTER of them); then enough units ahead for about _AHEAD seconds of work, at most
# _AHEAD_MAX, so that it never waits on this process for the next one (see _Pool._depth).
_AHEAD_AFTER = 20
_AHEAD = 0.02
_AHEAD_MAX = 16
_NAP = 0.008  # ... and this process reads their results this often, not as each one comes
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(options: RunOptions, out: int, board: Board, run_deadline: float) -> None:
    """Entry point in the forked coordinator; never returns (the caller os._exits). Slot 0 of
    `board` is this process's own, the others are its workers'. `run_deadline` is the CLI's
    (time.monotonic()), taken as the coordinator began, before it imported behave."""
    os.setsid()
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
        self.quick_time = 0.0  # the instant ones' total duration
        self.outbox: list[dict[str, Any] | bytes] = []  # records for the CLI (see _flush)
        self.ended: set[int] = set()  # units whose result is in the outbox
        self.flushed = 0.0  # when the outbox was last written
        for unit in suite.units:
            if unit.problem is not None:  # cannot run: UNKNOWN with its reason, no worker
                self.outbox.append(result_line(lost_record(unit.describe(), 0, None, unit.problem)))
        self.pending: deque[tuple[Unit, int, tuple[str, ...]]] = deque(
            (unit, 1, ()) for unit in suite.units if unit.problem is None)
        self.earlier: dict[int, tuple[str, ...]] = {}
        self.workers: dict[int, Worker] = {}  # every live worker, by pid
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
        line = result_line(run_unit(self.suite, unit, self.options, self.board, 0, 0,
                                    self.run_deadline))
        self._finish(unit, attempt, pipe.head(line), line)
        self._flush(now=True)

    def run(self) -> None:
        while self.pending or self.workers:
            self._hand_out()
            grew = self._should_grow()
            if grew:
                self._assign(self._spawn(), *self.pending.popleft())
            if not self.pending:
                for worker in self.workers.values():
                    if not worker.jobs:
                        self._retire(worker)
            held = self._flush()
            timeout = 0 if grew else _GROW_POLL if self._may_grow() else _POLL
            if not grew and self._ahead():
                time.sleep(min(_NAP, held))
            for key, _ in self.selector.select(timeout=min(timeout, held)):
                self._read(key.data)
            self._unblock()
            self._kill_overruns()
        self._flush(now=True)

    def _hand_out(self) -> None:
        """Give each idle worker a unit; in a suite of instant scenarios, top every worker up
        to `_depth` units."""
        while self.pending and (idle := self._idle()) is not None:
            self._assign(idle, *self.pending.popleft())
        depth = self._depth()
        if depth > 1:
            for worker in self.workers.values():
                if self._waits(worker):
                    continue
                while self.pending and worker.open and len(worker.jobs) < depth:
                    self._assign(worker, *self.pending.popleft())

    def _near(self, now: float) -> bool:
        """The run deadline is less than `_DEADLINE_NEAR` away."""
        return self.run_deadline is not None and now >= self.run_deadline - _DEADLINE_NEAR

    def _depth(self) -> int:
        """How many units a worker holds at once. One while scenarios take time, or might: a
        unit queued behind a slow one waits for it, while another worker could have run it.
        Once most finished scenarios were instant, enough for `_AHEAD` seconds of them: the
        worker then runs one after the other without waiting for this process to read its
        result and send the next (a round trip, and two wakeups, per scenario)."""
        if self.finished < _AHEAD_AFTER or 2 * self.quick <= self.finished \
                or self._near(time.monotonic()):
            return 1
        mean = self.quick_time / self.quick
        return max(1, min(_AHEAD_MAX, int(_AHEAD / max(mean, _AHEAD / _AHEAD_MAX))))

    def _ahead(self) -> bool:
        """Every worker holds more than the unit it runs: none will wait for the next for a
        while, so this process need not wake for each result."""
        return bool(self.workers) and all(len(w.jobs) > 1 for w in self.workers.values()) \
            and not self._near(time.monotonic())

    def _idle(self) -> Worker | None:
        for worker in self.workers.values():
            if not worker.jobs and worker.open:
                return worker
        return None

    def _may_grow(self) -> bool:
        """Work is waiting and fewer than `jobs` workers are alive to take it."""
        active = sum(1 for w in self.workers.values() if w.open)
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

    def _computes(self, worker: Worker, now: float) -> bool:
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

    def _step(self, worker: Worker) -> Note | None:
        """Which step of its unit the worker is in, and since when; None before its first."""
        note = self.board.read(worker.slot)
        if not worker.jobs or note is None or note.assignment != worker.jobs[0].assignment \
                or note.step < 0:
            return None
        return note

    def _spawn(self) -> Worker:
        slot = self.free_slots.pop()
        worker = spawn(slot, self.workers.values(), self.out, lambda commands, results: serve(
            self.suite, self.options, commands, results, self.board, slot, self.run_deadline))
        self.workers[worker.pid] = worker
        self.selector.register(worker.reader.fd, selectors.EVENT_READ, worker)
        return worker

    def _assign(self, worker: Worker, unit: Unit, attempt: int, earlier: tuple[str, ...]
                ) -> None:
        self.earlier[unit.id] = earlier
        self.assignments += 1
        job = Job(unit, attempt, self.assignments)
        if not worker.jobs:
            self._started(job)
        worker.hand(job)

    def _started(self, job: Job) -> None:
        """Tell the CLI that a unit began (or begins now: it is next in its worker's queue)."""
        self.outbox.append({"t": "start", "id": job.unit.id, "attempt": job.attempt})

    def _read(self, worker: Worker) -> None:
        lines, closed = worker.reader.lines()
        for line in lines:
            head = pipe.head(line)  # what a result says about itself; its body is passed on
            if head["t"] == "result" and worker.jobs:
                self._report(worker, head, line)
        if closed:
            self._reap(worker, None)

    def _retire(self, worker: Worker) -> None:
        """Hand it nothing more (it finishes its loop and exits) and give its slot on the
        board to the next fork: it is idle or dead, or stops by itself, and writes no more."""
        if worker.close():
            self.free_slots.append(worker.slot)

    def _report(self, worker: Worker, head: dict[str, Any], line: bytes) -> None:
        """A worker's result: `line` as it came, `head` its first fields (pipe.head)."""
        job = worker.jobs.popleft()
        worker.ran += 1
        self.finished += 1
        duration = head["duration"]
        if duration < _QUICK:
            self.quick, self.quick_time = self.quick + 1, self.quick_time + duration
        if head["outcome"] != Outcome.PASSED or worker.ran >= RECYCLE_AFTER:
            self._retire(worker)  # it stops by itself (worker.serve): its other units go back
            self._take_back(worker)
        elif worker.jobs:
            self._started(worker.jobs[0])
        self._finish(job.unit, job.attempt, head, line)

    def _waits(self, worker: Worker) -> bool:
        """The worker's step has run for `_WAITING` or more: what it holds behind it waits."""
        note = self._step(worker)
        return note is not None and time.monotonic() - note.started >= _WAITING

    def _unblock(self) -> None:
        """Take back the units queued behind a step that turned out slow, and all queued
        units as the run deadline nears, that the worker has not read (runner/handle.py):
        they go to a worker that is free, or to a new one."""
        near = self._near(time.monotonic())
        for worker in self.workers.values():
            if len(worker.jobs) > 1 and worker.open and (near or self._waits(worker)):
                self._give_back(worker.take_back_unread())

    def _take_back(self, worker: Worker) -> None:
        """All the units a worker holds go back: it will not run them."""
        self._give_back(list(worker.jobs))
        worker.jobs.clear()

    def _give_back(self, jobs: list[Job]) -> None:
        """Units handed out but never started go back to the front of the queue, in order
        (the CLI was never told they started)."""
        for job in reversed(jobs):
            self.pending.appendleft((job.unit, job.attempt, self.earlier[job.unit.id]))

    def _finish(self, unit: Unit, attempt: int, head: dict[str, Any], line: bytes) -> None:
        """Queue a retry of a failed unit that has retries left, or pass its result on with
        the attempts it took, its body as the bytes it arrived as (decoding and encoding it
        again here would cost more than the rest of this process's part in a scenario)."""
        earlier = self.earlier[unit.id]
        if head["outcome"] == Outcome.FAILED and attempt <= unit.retries:
            why = json.loads(line)["scenario"]["reason"] or "failed"
            self.pending.appendleft((unit, attempt + 1, (*earlier, why)))
            return
        self.outbox.append(pipe.join({"t": "result", "id": unit.id, "attempts": attempt,
                                      "earlier_failures": list(earlier)}, pipe.body(line)))
        self.ended.add(unit.id)

    def _flush(self, now: bool = False) -> float:
        """Write the outbox to the CLI, unless it was written less than `_FLUSH_EVERY` ago and
        the run deadline is not near; how long the records left are held (inf: none is). A
        unit's start is left out when its result goes in the same write, except near the
        deadline, when the CLI may kill this process in the middle of a write."""
        if not self.outbox:
            return math.inf
        at = time.monotonic()
        due = self.flushed + _FLUSH_EVERY
        near = self._near(at)
        if now or near or at >= due:
            pipe.send_all(self.out, self.outbox if near else [record for record in self.outbox
                                                              if not _said(record, self.ended)])
            self.outbox, self.flushed = [], at
            self.ended.clear()
            return math.inf
        return due - at

    def _reap(self, worker: Worker, killed_reason: str | None) -> None:
        """The worker's pipe closed (it exited or was killed): wait for it; a scenario it was
        running gets a result saying what happened."""
        self.selector.unregister(worker.reader.fd)
        os.close(worker.reader.fd)
        self._retire(worker)
        del self.workers[worker.pid]
        _, status = os.waitpid(worker.pid, 0)
        if worker.jobs:
            line = result_line(lost_record(worker.jobs[0].unit.describe(), status, killed_reason))
            self._report(worker, pipe.head(line), line)

    def _kill_overruns(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            step, unit = self._step(worker), worker.unit
            if step is not None and unit is not None \
                    and now > step.alarm(unit.step_timeout) + STEP_GRACE:
                os.kill(worker.pid, signal.SIGKILL)
                self._reap(worker, overrun_reason(unit.describe(), step.step, step.limit))


def _said(record: dict[str, Any] | bytes, ended: set[int]) -> bool:
    """Whether `record` is the start of a unit whose result is among `ended`: the result says
    all the start would have."""
    return isinstance(record, dict) and record["t"] == "start" and record["id"] in ended \
        and not record.get("here")


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
