"""The coordinator: a process forked by the CLI that loads the suite once and runs its scenarios
in at most `jobs` worker processes forked from that warm state.

A worker runs one scenario after another, each with a fresh behave context and `Session`, and
is retired (and replaced by a fresh fork) after a scenario that did not pass or after
`RECYCLE_AFTER` scenarios, so a scenario that broke something in its process cannot touch the
next. Reuse matters: a fresh fork pays thousands of copy-on-write page faults (about 20 ms of CPU
per scenario measured here; bench/README.md), a reused worker pays them once.

The coordinator forwards the workers' records to the CLI over one pipe, re-runs failing scenarios
when retries are allowed, and kills a worker whose step outlives its timeout by a second (a call
stuck in C code that ignores SIGALRM). The run deadline is not its business: the CLI kills this
whole process group when the deadline comes.
"""

from __future__ import annotations

import os
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from escalator import pipe
from escalator.durations import format_duration
from escalator.lifetime import die_with_parent
from escalator.options import RunOptions
from escalator.redact import redactor_for
from escalator.results import Outcome, ScenarioResult
from escalator.runner.suite import LoadError, Suite, Unit, load_suite
from escalator.runner.usage import unused_variables
from escalator.runner.worker import serve

_GRACE = 1.0  # seconds a step may outlive its alarm before its worker is killed
RECYCLE_AFTER = 100  # scenarios one worker runs before a fresh fork replaces it


@dataclass
class _Worker:
    pid: int
    reader: pipe.LineReader
    commands: int  # write end of the worker's command pipe; -1 once closed
    unit: Unit | None = None
    attempt: int = 0
    ran: int = 0
    step_index: int = -1
    step_started: float = field(default_factory=time.monotonic)
    step_limit: float | None = None  # set when the running step extended its own limit

    def retire(self) -> None:
        """Close its command pipe: the worker finishes its loop and exits."""
        if self.commands >= 0:
            os.close(self.commands)
            self.commands = -1


def main(options: RunOptions, out: int) -> None:
    """Entry point in the forked coordinator; never returns (the caller os._exits)."""
    os.setsid()
    run_deadline = time.monotonic() + options.timeout  # the CLI's, give or take the fork
    _quiet_stdio()
    os.chdir(options.cwd)
    try:
        suite = load_suite(options)
    except LoadError as exc:
        pipe.send(out, {"t": "error", "message": str(exc)})
        return
    notices = unused_variables(suite, options)
    pipe.send(out, {"t": "plan", "units": [u.describe() for u in suite.units],
                    "errors": suite.errors, "notices": notices})
    redactor_for(tuple(options.secrets))  # built once here, inherited by every worker
    # A broken file is a run error, but the other files' scenarios still get their verdicts.
    _Pool(suite, options, out, run_deadline).run()
    pipe.send(out, {"t": "done"})


class _Pool:
    def __init__(self, suite: Suite, options: RunOptions, out: int,
                 run_deadline: float | None = None) -> None:
        self.suite, self.options, self.out = suite, options, out
        self.run_deadline = run_deadline
        for unit in suite.units:
            if unit.problem is not None:  # cannot run: UNKNOWN with its reason, no worker
                pipe.send(out, _lost(unit, 0, None))
        self.pending: deque[tuple[Unit, int, tuple[str, ...]]] = deque(
            (unit, 1, ()) for unit in suite.units if unit.problem is None)
        self.earlier: dict[int, tuple[str, ...]] = {}
        self.workers: dict[int, _Worker] = {}  # every live worker, by pid
        self.selector = selectors.DefaultSelector()

    def run(self) -> None:
        while self.pending or self.workers:
            while self.pending and (idle := self._idle()) is not None:
                self._assign(idle, *self.pending.popleft())
            if not self.pending:
                for worker in self.workers.values():
                    if worker.unit is None:
                        worker.retire()
            for key, _ in self.selector.select(timeout=0.2):
                self._read(key.data)
            self._kill_overruns()

    def _idle(self) -> _Worker | None:
        for worker in self.workers.values():
            if worker.unit is None and worker.commands >= 0:
                return worker
        active = sum(1 for w in self.workers.values() if w.commands >= 0)
        return self._spawn() if active < self.options.jobs else None

    def _spawn(self) -> _Worker:
        read_fd, write_fd = os.pipe()
        command_read, command_write = os.pipe()
        coordinator = os.getpid()
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
                serve(self.suite, self.options, command_read, write_fd, self.run_deadline)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        os.close(command_read)
        worker = _Worker(pid, pipe.LineReader(read_fd), command_write)
        self.workers[pid] = worker
        self.selector.register(read_fd, selectors.EVENT_READ, worker)
        return worker

    def _assign(self, worker: _Worker, unit: Unit, attempt: int, earlier: tuple[str, ...]
                ) -> None:
        self.earlier[unit.id] = earlier
        pipe.send(self.out, {"t": "start", "id": unit.id, "attempt": attempt})
        worker.unit, worker.attempt, worker.step_index = unit, attempt, -1
        os.write(worker.commands, f"{unit.id}\n".encode())

    def _read(self, worker: _Worker) -> None:
        records, closed = worker.reader.read()
        for record in records:
            if record["t"] == "step":
                worker.step_index, worker.step_started = record["index"], time.monotonic()
                worker.step_limit = None
                pipe.send(self.out, record)
            elif record["t"] == "extend":
                worker.step_limit = float(record["limit"])
            elif record["t"] == "result" and worker.unit is not None:
                self._report(worker, record)
        if closed:
            self._reap(worker, None)

    def _report(self, worker: _Worker, record: dict[str, Any]) -> None:
        unit, attempt = worker.unit, worker.attempt
        assert unit is not None
        worker.unit, worker.ran = None, worker.ran + 1
        scenario = ScenarioResult.from_dict(record["scenario"])
        if scenario.outcome is not Outcome.PASSED or worker.ran >= RECYCLE_AFTER:
            worker.retire()
        earlier = self.earlier[unit.id]
        if scenario.outcome is Outcome.FAILED and attempt <= unit.retries:
            why = scenario.reason or "failed"
            self.pending.appendleft((unit, attempt + 1, (*earlier, why)))
            return
        scenario = replace(scenario, attempts=attempt, earlier_failures=earlier)
        pipe.send(self.out, {**record, "scenario": scenario.to_dict()})

    def _reap(self, worker: _Worker, killed_reason: str | None) -> None:
        """The worker's pipe closed (it exited or was killed): wait for it; a scenario it was
        running gets a result saying what happened."""
        self.selector.unregister(worker.reader.fd)
        os.close(worker.reader.fd)
        worker.retire()
        del self.workers[worker.pid]
        _, status = os.waitpid(worker.pid, 0)
        if worker.unit is not None:
            self._report(worker, _lost(worker.unit, status, killed_reason))

    def _kill_overruns(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            unit = worker.unit
            if unit is None or worker.step_index < 0:
                continue
            limit = worker.step_limit or unit.step_timeout
            if now - worker.step_started > limit + _GRACE:
                os.kill(worker.pid, signal.SIGKILL)
                step = unit.describe()["steps"][worker.step_index]
                self._reap(worker, f"{step[0]} {step[1]}: step timed out after "
                                   f"{format_duration(limit)} "
                                   "(it ignored its alarm; the worker was killed)")


def _lost(unit: Unit, status: int, killed_reason: str | None) -> dict[str, Any]:
    """The record for a scenario that cannot run (`unit.problem`) or whose worker died without
    sending one."""
    if unit.problem is not None:
        outcome, reason = Outcome.UNKNOWN, unit.problem
    elif killed_reason is not None:
        outcome, reason = Outcome.FAILED, killed_reason
    else:
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.WEXITSTATUS(status)}")
        outcome, reason = Outcome.UNKNOWN, f"the scenario's worker died ({how})"
    desc = unit.describe()
    scenario = ScenarioResult(
        feature=desc["feature"], file=unit.file, line=desc["line"], name=desc["name"],
        outcome=outcome, severity=unit.meta.severity, tags=tuple(desc["tags"]),
        level=unit.meta.level, runbook=unit.meta.runbook, reason=reason, host=desc["host"],
        group=desc["group"])
    return {"t": "result", "id": unit.id, "scenario": scenario.to_dict(), "notices": []}


def _quiet_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
