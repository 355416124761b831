"""The result store: the latest run per environment and a bounded history of every run.

`run` and `check` call `ResultStore(state_dir).save(run)` after a run; `escalator status` reads
`latest()` and `escalator report` reads `latest()` and `history()`. Nothing else touches these
files. Layout under the state directory (0700, files 0600, via `escalator.storage`):

    results/<environment>.json          the latest RunResult, replaced atomically
    results/<environment>.status        what `escalator status` prints for it (laststatus.py)
    history/<environment>.jsonl         one compact line per run, appended
    history/<environment>.jsonl.1       the previous generation, after rotation

A run without an environment is stored as "default". History lines keep only what the reports
need over time (each scenario's outcome, state and duration), so a bounded file holds many runs.

>>> import tempfile
>>> from escalator.results import RunResult, ScenarioResult, Outcome
>>> store = ResultStore(Path(tempfile.mkdtemp()), now=lambda: 1000.0)
>>> s = ScenarioResult(feature="Web", file="web.feature", line=3, name="Home",
...                    outcome=Outcome.PASSED)
>>> store.save(RunResult(scenarios=(s,), started=990.0, duration=2.5))
>>> stored = store.latest(None)
>>> stored.stored_at, stored.run.status.name, stored.age(1060.0)
(1000.0, 'OK', 60.0)
>>> [entry.mark("web.feature::Home").outcome.value for entry in store.history(None)]
['passed']
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escalator import project, storage
from escalator.errors import EscalatorError
from escalator.laststatus import SUFFIX, Rendered, file_identity
from escalator.results import Outcome, RunResult, ScenarioResult
from escalator.status import Status

DEFAULT_ENVIRONMENT = project.DEFAULT_ENVIRONMENT
FORMAT_VERSION = 1
HISTORY_BYTES = 2 * 1024 * 1024


class StateError(EscalatorError):
    """A stored result exists but cannot be read; str() names the file and the reason."""


@dataclass(frozen=True)
class StoredRun:
    """The latest run of an environment and when it was stored (epoch seconds)."""

    run: RunResult
    stored_at: float
    environment: str
    path: Path

    def age(self, now: float) -> float:
        """Seconds since the run was stored; never negative (clocks do step back)."""
        return max(0.0, now - self.stored_at)


@dataclass(frozen=True)
class ScenarioMark:
    """One scenario's verdict in one past run."""

    key: str
    outcome: Outcome
    status: Status
    duration: float = 0.0


@dataclass(frozen=True)
class HistoryEntry:
    """One past run, as compact as the reports allow."""

    stored_at: float
    started: float
    duration: float
    status: Status
    marks: tuple[ScenarioMark, ...]

    def mark(self, key: str) -> ScenarioMark | None:
        """The verdict of the scenario with this `ScenarioResult.key`, if it ran."""
        return next((m for m in self.marks if m.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION, "stored_at": self.stored_at, "started": self.started,
            "duration": self.duration, "status": self.status.name,
            "scenarios": [{"key": m.key, "outcome": m.outcome.value, "status": m.status.name,
                           "duration": m.duration} for m in self.marks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryEntry:
        marks = tuple(ScenarioMark(str(m["key"]), Outcome(m["outcome"]), Status[m["status"]],
                                   float(m.get("duration", 0.0)))
                      for m in data.get("scenarios", ()))
        return cls(float(data["stored_at"]), float(data.get("started", 0.0)),
                   float(data.get("duration", 0.0)), Status[data["status"]], marks)

    @classmethod
    def of(cls, run: RunResult, stored_at: float) -> HistoryEntry:
        return cls(stored_at, run.started, run.duration, run.status,
                   tuple(_mark(s) for s in run.scenarios))


def _mark(scenario: ScenarioResult) -> ScenarioMark:
    return ScenarioMark(scenario.key, scenario.outcome, scenario.status, scenario.duration)


class ResultStore:
    """Reads and writes results under one state directory."""

    def __init__(self, state_dir: Path, *, history_bytes: int = HISTORY_BYTES,
                 now: Callable[[], float] = time.time) -> None:
        self.state_dir = Path(state_dir)
        self.history_bytes = history_bytes
        self._now = now

    def latest_path(self, environment: str | None, suffix: str = ".json") -> Path:
        return Path(project.result_file(str(self.state_dir), environment, suffix))

    def history_path(self, environment: str | None) -> Path:
        return self.state_dir / "history" / f"{_file_name(environment)}.jsonl"

    def save(self, run: RunResult, answer: Rendered | None = None) -> None:
        """Keep `run` as the environment's latest result and append it to its history; with
        `answer`, what `escalator status` prints for it too (escalator.laststatus)."""
        stored_at = self._now()
        record = {"v": FORMAT_VERSION, "stored_at": stored_at,
                  "environment": run.environment or DEFAULT_ENVIRONMENT, "run": run.to_dict()}
        # compact: with `indent` json falls back to its pure-Python encoder (0.5 s at 5,000)
        text = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
        latest = self.latest_path(run.environment)
        storage.atomic_write(latest, text + "\n")
        if answer is not None:
            storage.atomic_write(self.latest_path(run.environment, SUFFIX), answer.encode(
                int(run.status), stored_at, file_identity(str(latest))))
        path = self.history_path(run.environment)
        self._rotate_if_large(path)
        storage.append_line(path, HistoryEntry.of(run, stored_at).to_dict())

    def latest(self, environment: str | None) -> StoredRun | None:
        """The latest stored run; None when there is none; StateError when it is unreadable."""
        path = self.latest_path(environment)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read stored result {path}: {_reason(exc)}") from None
        try:
            return StoredRun(RunResult.from_dict(data["run"]), float(data["stored_at"]),
                             str(data.get("environment", _name(environment))), path)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"cannot read stored result {path}: bad content "
                             f"({type(exc).__name__}: {exc})") from None

    def history(self, environment: str | None, limit: int = 100) -> list[HistoryEntry]:
        """The last `limit` runs of the environment, oldest first; unreadable lines are skipped."""
        path = self.history_path(environment)
        records = storage.read_lines(_rotated(path)) + storage.read_lines(path)
        entries = []
        for record in records:
            with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
                entries.append(HistoryEntry.from_dict(record))
        return entries[-limit:] if limit > 0 else []

    def _rotate_if_large(self, path: Path) -> None:
        """Move a full history aside (one older generation is kept) under a lock.

        Two overlapping runs may both see a full file: the lock lets one rotate, and the size is
        checked again under it so the other does not rotate the fresh file away. An appender
        that opened the file before the rename writes into the old generation, which is read.
        """
        if _size(path) < self.history_bytes:
            return
        lock = path.with_name(f".{path.name}.lock")
        try:
            with storage.exclusive_lock(lock, f"rotation by pid {os.getpid()}"):
                if _size(path) >= self.history_bytes:
                    path.replace(_rotated(path))
        except storage.LockHeld:
            return  # another run is rotating this very file


def _name(environment: str | None) -> str:
    return environment or DEFAULT_ENVIRONMENT


def _file_name(environment: str | None) -> str:
    return project.state_file_name(environment)


def _rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return f"not JSON ({exc})"
