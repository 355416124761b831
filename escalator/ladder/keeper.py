"""A level's keeper: the process that runs one level for the engine and outlives it.

The engine forks one keeper per level (`start`). The keeper leaves the engine's session and
descriptors behind (the engine lock included: a new engine may start and wait), keeps the level
lock, and runs the level with `actions.run_action`: its own process group, the output through a
bounded tail, the timeout and the kill. It records the level's pid in the intent, and when the
level ends it writes the result (`level.result.json`) and audits `step_finished` itself before
telling the engine (JSON lines over a pipe, `escalator.pipe`). So an engine that is
killed (SIGKILL, the OOM killer) leaves a level that still ends at its timeout and whose end
and output are on record; the next engine waits for it (`recovery`). A stop of the engine
(SIGTERM, SIGHUP) is passed on to the keeper, which kills the level's group and records it as
interrupted. Called by the engine; the keeper never returns into its caller (`os._exit`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from escalator import pipe
from escalator.ladder import procs, stop
from escalator.ladder.actions import ActionResult, run_action
from escalator.ladder.model import Intent, Level
from escalator.ladder.plans import label
from escalator.ladder.store import LadderStore

MARGIN = 10.0  # seconds a keeper may take beyond the level's timeout and kill grace to answer
POLL = 0.1  # how often the engine looks whether it was asked to stop while it waits


@dataclass
class Keeper:
    """A running keeper, as the engine sees it."""

    pid: int
    reader: pipe.LineReader
    deadline: float  # monotonic: the keeper must have answered by then
    store: LadderStore

    def wait(self, kill_grace: float) -> tuple[ActionResult, bool]:
        """The level's result, and whether the keeper audited it. Call inside
        `stop.deferred()`: a stop of the engine is passed on to the keeper, which ends the
        level and answers. A keeper that does not answer in time is killed, and so is what
        is left of the level."""
        forwarded: int | None = None
        deadline = self.deadline
        try:
            while True:
                signum = stop.requested()
                if signum is not None and forwarded is None:
                    forwarded = signum
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signum)
                    deadline = min(deadline, time.monotonic() + kill_grace + MARGIN)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._abandon(kill_grace, "did not answer"), False
                ready, _, _ = select.select([self.reader.fd], [], [], min(remaining, POLL))
                if not ready:
                    continue
                records, closed = self.reader.read()
                for record in records:
                    if record.get("t") == "result":
                        return result_of(record), bool(record.get("audited"))
                if closed:
                    return self._abandon(kill_grace, "died"), False
        finally:
            os.close(self.reader.fd)
            _reap(self.pid)

    def _abandon(self, kill_grace: float, what: str) -> ActionResult:
        """The keeper failed: stop it and whatever of the level it left running."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        intent = self.store.read_intent()
        level = procs.LevelProcesses(intent.pid if intent else None,
                                     intent.pid_start if intent else None,
                                     self.store.level_lock)
        level.stop(kill_grace, time.sleep, time.monotonic)
        return ActionResult((), None, 0.0, error=f"the level's keeper {what}")


def start(level: Level, intent: Intent, store: LadderStore, *, environ: Mapping[str, str],
          cwd: Path | None, kill_grace: float, lock_fd: int) -> Keeper:
    """Fork the keeper of `level`; the intent is already on record."""
    read_fd, write_fd = os.pipe()
    with _signals_blocked():  # the keeper installs its own handlers before it hears one
        pid = os.fork()
        if pid == 0:
            _keep(level, intent, store, dict(environ), cwd, kill_grace, lock_fd, write_fd)
    os.close(write_fd)
    deadline = time.monotonic() + level.timeout + kill_grace + MARGIN
    return Keeper(pid, pipe.LineReader(read_fd), deadline, store)


def _keep(level: Level, intent: Intent, store: LadderStore, environ: dict[str, str],
          cwd: Path | None, kill_grace: float, lock_fd: int, out: int) -> None:
    """The keeper's whole life (in the forked child); never returns."""
    code = 70
    try:
        os.setsid()
        _quiet_stdio()
        for fd in range(3, _max_fd()):  # the engine's lock among them: a new engine may start
            if fd not in (lock_fd, out):
                with contextlib.suppress(OSError):
                    os.close(fd)
        with stop.handling():
            result = _run(level, intent, store, environ, cwd, kill_grace, lock_fd)
            with stop.deferred():  # the level has ended: a late stop must not lose its record
                audited = _record(store, intent, result)
                with contextlib.suppress(OSError):  # an engine that is gone does not listen
                    pipe.send(out, {"t": "result", "audited": audited, **_to_record(result)})
        code = 0
    finally:
        os._exit(code)


def _run(level: Level, intent: Intent, store: LadderStore, environ: dict[str, str],
         cwd: Path | None, kill_grace: float, lock_fd: int) -> ActionResult:
    def started(pid: int) -> None:
        # The pid and its start time let the next engine find the level if all else dies.
        store.write_intent(replace(intent, pid=pid, pid_start=procs.start_time(pid),
                                   keeper_pid=os.getpid()))

    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop.SIGNALS)  # a stop may arrive now
        return run_action(level.run, timeout=level.timeout, environ=environ, cwd=cwd,
                          kill_grace=kill_grace, on_start=started, secrets=store.secrets,
                          pass_fds=(lock_fd,))
    except stop.Stopped as stopped:  # before the level could start
        return ActionResult(level.run, None, 0.0, interrupted=stopped.name, started=False)


def _record(store: LadderStore, intent: Intent, result: ActionResult) -> bool:
    """The result file, then the audit line: on record even when no engine listens."""
    try:
        store.write_result(intent, _to_record(result))
        on = {"host": intent.host} if intent.host else {}
        store.audit("step_finished", intent.run_id,
                    f"level {label(intent.level, intent.host)} {result.status}",
                    level=intent.level, status=result.status, exit_code=result.exit_code,
                    duration=round(result.duration, 3), output=result.output,
                    error=result.error, **on)
    except OSError:
        return False
    return True


def _to_record(result: ActionResult) -> dict[str, Any]:
    return {**result.__dict__, "argv": list(result.argv)}


def result_of(record: dict[str, Any]) -> ActionResult:
    """The ActionResult a keeper sent or recorded (`level.result.json`)."""
    fields = {k: v for k, v in record.items() if k in ActionResult.__dataclass_fields__}
    return ActionResult(**{**fields, "argv": tuple(fields.get("argv", ()))})


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    old = signal.pthread_sigmask(signal.SIG_BLOCK, stop.SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _quiet_stdio() -> None:
    """The engine's streams are not the keeper's: a caller waiting for their end must not
    wait for the level."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _max_fd() -> int:
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return os.sysconf("SC_OPEN_MAX")


def _reap(pid: int) -> None:
    """Collect the keeper, which exits right after it answered (or was killed)."""
    deadline = time.monotonic() + MARGIN
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
