"""The coordinator: a process forked by the CLI that loads the suite once and forks a worker per
scenario from that warm state, up to `jobs` at a time.

It forwards the workers' records to the CLI over one pipe, re-runs failing scenarios when retries
are allowed, and kills a worker whose step outlives its timeout by a second (a call stuck in C
code that ignores SIGALRM). The run deadline is not its business: the CLI kills this whole process
group when the deadline comes.
"""

from __future__ import annotations

import os
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from escalator.durations import format_duration
from escalator.results import Outcome, ScenarioResult
from escalator.runner import pipe
from escalator.runner.suite import LoadError, Suite, Unit, load_suite
from escalator.runner.worker import run_unit

_GRACE = 1.0  # seconds a step may outlive its alarm before its worker is killed


@dataclass
class _Worker:
    unit: Unit
    attempt: int
    pid: int
    reader: pipe.LineReader
    step_index: int = -1
    step_started: float = field(default_factory=time.monotonic)
    result: dict[str, Any] | None = None


def main(options: Any, out: int) -> None:
    """Entry point in the forked coordinator; never returns (the caller os._exits)."""
    os.setsid()
    _quiet_stdio()
    os.chdir(options.cwd)
    try:
        suite = load_suite(options)
    except LoadError as exc:
        pipe.send(out, {"t": "error", "message": str(exc)})
        return
    pipe.send(out, {"t": "plan", "units": [u.describe() for u in suite.units],
                    "errors": suite.errors})
    if not suite.errors:
        _Pool(suite, options, out).run()
    pipe.send(out, {"t": "done"})


class _Pool:
    def __init__(self, suite: Suite, options: Any, out: int) -> None:
        self.suite, self.options, self.out = suite, options, out
        self.pending: deque[tuple[Unit, int, tuple[str, ...]]] = deque(
            (unit, 1, ()) for unit in suite.units)
        self.earlier: dict[int, tuple[str, ...]] = {}
        self.workers: dict[int, _Worker] = {}
        self.selector = selectors.DefaultSelector()

    def run(self) -> None:
        while self.pending or self.workers:
            while self.pending and len(self.workers) < self.options.jobs:
                self._start(*self.pending.popleft())
            for key, _ in self.selector.select(timeout=0.2):
                self._read(key.data)
            self._kill_overruns()

    def _start(self, unit: Unit, attempt: int, earlier: tuple[str, ...]) -> None:
        self.earlier[unit.id] = earlier
        pipe.send(self.out, {"t": "start", "id": unit.id, "attempt": attempt})
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.close(read_fd)
                os.close(self.out)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                pipe.send(write_fd, run_unit(self.suite, unit, self.options, write_fd))
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        worker = _Worker(unit, attempt, pid, pipe.LineReader(read_fd))
        self.workers[pid] = worker
        self.selector.register(read_fd, selectors.EVENT_READ, worker)

    def _read(self, worker: _Worker) -> None:
        records, closed = worker.reader.read()
        for record in records:
            if record["t"] == "step":
                worker.step_index, worker.step_started = record["index"], time.monotonic()
                pipe.send(self.out, record)
            elif record["t"] == "result":
                worker.result = record
        if closed:
            self._finish(worker)

    def _finish(self, worker: _Worker, killed_reason: str | None = None) -> None:
        self.selector.unregister(worker.reader.fd)
        os.close(worker.reader.fd)
        del self.workers[worker.pid]
        _, status = os.waitpid(worker.pid, 0)
        record = worker.result or self._lost(worker, status, killed_reason)
        scenario = ScenarioResult.from_dict(record["scenario"])
        earlier = self.earlier[worker.unit.id]
        if scenario.outcome is Outcome.FAILED and worker.attempt <= worker.unit.retries:
            why = scenario.reason or "failed"
            self.pending.appendleft((worker.unit, worker.attempt + 1, (*earlier, why)))
            return
        scenario = replace(scenario, attempts=worker.attempt, earlier_failures=earlier)
        pipe.send(self.out, {**record, "scenario": scenario.to_dict()})

    def _lost(self, worker: _Worker, status: int, killed_reason: str | None) -> dict[str, Any]:
        """The record for a worker that died without one."""
        unit = worker.unit
        if killed_reason is not None:
            outcome, reason = Outcome.FAILED, killed_reason
        else:
            how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                   else f"exit status {os.WEXITSTATUS(status)}")
            outcome, reason = Outcome.UNKNOWN, f"the scenario's worker died ({how})"
        desc = unit.describe()
        scenario = ScenarioResult(
            feature=desc["feature"], file=unit.file, line=desc["line"], name=desc["name"],
            outcome=outcome, severity=unit.meta.severity, tags=tuple(desc["tags"]),
            level=unit.meta.level, runbook=unit.meta.runbook, reason=reason)
        return {"t": "result", "id": unit.id, "scenario": scenario.to_dict(), "notices": []}

    def _kill_overruns(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            limit = worker.unit.step_timeout + _GRACE
            if worker.step_index >= 0 and now - worker.step_started > limit:
                os.kill(worker.pid, signal.SIGKILL)
                step = worker.unit.describe()["steps"][worker.step_index]
                self._finish(worker, f"{step[0]} {step[1]}: step timed out after "
                                     f"{format_duration(worker.unit.step_timeout)} "
                                     "(it ignored its alarm; the worker was killed)")


def _quiet_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
