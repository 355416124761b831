"""The result store: the latest run per environment and a bounded history of every run.

`run` and `check` call `ResultStore(state_dir).save(run)` after a run; `escalator status` reads
`latest()` and `escalator report` reads `latest()` and `history()`. Nothing else touches these
files. Layout under the state directory (0700, files 0600, via `escalator.storage`):

    results/<environment>.json          the latest RunResult, replaced atomically
    results/<environment>.status        what `escalator status` prints for it (laststatus.py)
    history/<environment>.jsonl         one compact line per run, appended
    history/<environment>.jsonl.1       the previous generation, after rotation

A run without an environment is stored as "default". History lines keep only what the reports
need over time (each scenario's outcome, state, duration and measured values, at most
MARK_VALUES of them), so a bounded file holds many runs. Lines written before measurements were
kept (no "m") are read as runs that measured nothing. A deploy gate's or a converge's run also
keeps what made it (`o`, see `origin_of`) and, for a gate, when each scenario turned green
(`g`): the deployment report reads them.

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
import functools
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from escalator import project, storage
from escalator.clocks import boot_id, stored_age
from escalator.errors import EscalatorError
from escalator.laststatus import SUFFIX, Rendered
from escalator.results import Outcome, RunResult, ScenarioResult
from escalator.status import Status

DEFAULT_ENVIRONMENT = project.DEFAULT_ENVIRONMENT
FORMAT_VERSION = 1
HISTORY_BYTES = 2 * 1024 * 1024
MARK_VALUES = 20     # measurements kept per scenario and run: a history line stays bounded
_VALUE_NAME = 80     # characters of a measurement's name kept in history


class StateError(EscalatorError):
    """A stored result exists but cannot be read; str() names the file and the reason."""


@dataclass(frozen=True)
class StoredRun:
    """The latest run of an environment and when it was stored (epoch seconds)."""

    run: RunResult
    stored_at: float
    environment: str
    path: Path
    mono: float | None = None  # time.monotonic() when stored, in the boot `boot`
    boot: str = ""

    def age(self, now: float, mono: float | None = None, boot: str = "") -> float:
        """Seconds since the run was stored; never negative (clocks do step back).

        In the boot that stored it, monotonic time (`mono`) tells the age too and the larger
        answer counts, so a wall clock that was ahead when the result was stored cannot keep it
        fresh. Stored in the future without that record: the age is unknown (`math.inf`).
        """
        return stored_age(self.stored_at, self.mono, self.boot, now, mono, boot)


@dataclass(frozen=True)
class ScenarioMark:
    """One scenario's verdict in one past run, and what its steps measured (name, value)."""

    key: str
    outcome: Outcome
    status: Status
    duration: float = 0.0
    values: tuple[tuple[str, float], ...] = ()
    green_after: float | None = None  # a gate's run: seconds from its start to this passing

    def value(self, name: str) -> float | None:
        """The value the measurement `name` had in this run, if it was taken."""
        return next((v for n, v in self.values if n == name), None)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "outcome": self.outcome.value,
                                "status": self.status.name, "duration": self.duration}
        if self.values:
            data["m"] = dict(self.values)
        if self.green_after is not None:
            data["g"] = self.green_after
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioMark:
        values = tuple((str(name), float(value)) for name, value in data.get("m", {}).items()
                       if isinstance(value, int | float))
        green = data.get("g")
        return cls(str(data["key"]), Outcome(data["outcome"]), Status[data["status"]],
                   float(data.get("duration", 0.0)), values,
                   float(green) if isinstance(green, int | float) else None)


@dataclass(frozen=True)
class HistoryEntry:
    """One past run, as compact as the reports allow."""

    stored_at: float
    started: float
    duration: float
    status: Status
    marks: tuple[ScenarioMark, ...]
    origin: Mapping[str, str | float] = field(default_factory=dict)  # see `origin_of`

    def mark(self, key: str) -> ScenarioMark | None:
        """The verdict of the scenario with this `ScenarioResult.key`, if it ran."""
        return self._by_key.get(key)

    @functools.cached_property
    def _by_key(self) -> dict[str, ScenarioMark]:
        # A report asks every run of a long history about every scenario: look up, not scan.
        return {m.key: m for m in reversed(self.marks)}

    def to_dict(self) -> dict[str, Any]:
        data = {
            "v": FORMAT_VERSION, "stored_at": self.stored_at, "started": self.started,
            "duration": self.duration, "status": self.status.name,
            "scenarios": [m.to_dict() for m in self.marks],
        }
        if self.origin:
            data["o"] = dict(self.origin)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryEntry:
        marks = tuple(ScenarioMark.from_dict(m) for m in data.get("scenarios", ()))
        return cls(float(data["stored_at"]), float(data.get("started", 0.0)),
                   float(data.get("duration", 0.0)), Status[data["status"]], marks,
                   origin_of(data.get("o")))

    @classmethod
    def of(cls, run: RunResult, stored_at: float) -> HistoryEntry:
        green = run.extra.get("green_after")
        green = green if isinstance(green, Mapping) else {}
        return cls(stored_at, run.started, run.duration, run.status,
                   tuple(_mark(s, green.get(s.key)) for s in run.scenarios),
                   origin_of(run.extra.get("origin")))


def origin_of(data: Any) -> dict[str, str | float]:
    """What made a run, as its history keeps it: `kind` ("gate" from `run --until-green`,
    "converge" from `escalator converge`), `by` (a gate's deploy name), `began` (when the
    gate or converge began), `run_id` and `after` (converge: the level the run followed, ""
    before the first). Set in `RunResult.extra["origin"]`; text is cut, other keys dropped.

    >>> origin_of({"kind": "gate", "by": "v1.4.3", "began": 10, "other": [1]})
    {'kind': 'gate', 'by': 'v1.4.3', 'began': 10.0}
    >>> origin_of("nonsense")
    {}
    """
    if not isinstance(data, Mapping):
        return {}
    kept: dict[str, str | float] = {}
    for key in ("kind", "by", "run_id", "after"):
        if isinstance(data.get(key), str):
            kept[key] = data[key][:_VALUE_NAME]
    if isinstance(data.get("began"), int | float) and math.isfinite(data["began"]):
        kept["began"] = float(data["began"])
    return kept


def _mark(scenario: ScenarioResult, green_after: Any = None) -> ScenarioMark:
    # None (or not-a-number) means nothing was measured; JSON has no NaN anyway.
    values = tuple((m.name[:_VALUE_NAME], m.value) for m in scenario.measurements
                   if m.value is not None and math.isfinite(m.value))
    green = float(green_after) if isinstance(green_after, int | float) else None
    return ScenarioMark(scenario.key, scenario.outcome, scenario.status, scenario.duration,
                        values[:MARK_VALUES], green)


class ResultStore:
    """Reads and writes results under one state directory."""

    def __init__(self, state_dir: Path, *, history_bytes: int = HISTORY_BYTES,
                 now: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.state_dir = Path(state_dir)
        self.tree = storage.Tree(self.state_dir)
        self.history_bytes = history_bytes
        self._now, self._monotonic = now, monotonic

    def latest_path(self, environment: str | None, suffix: str = ".json") -> Path:
        return Path(project.result_file(str(self.state_dir), environment, suffix))

    def history_path(self, environment: str | None) -> Path:
        return self.state_dir / "history" / f"{_file_name(environment)}.jsonl"

    def save(self, run: RunResult, answer: Rendered | None = None) -> None:
        """Keep `run` as the environment's latest result and append it to its history; with
        `answer`, what `escalator status` prints for it too (escalator.laststatus)."""
        stored_at, mono, boot = self._now(), self._monotonic(), boot_id()
        record = {"v": FORMAT_VERSION, "stored_at": stored_at, "mono": mono, "boot": boot,
                  "environment": run.environment or DEFAULT_ENVIRONMENT, "run": run.to_dict()}
        # compact: with `indent` json falls back to its pure-Python encoder (0.5 s at 5,000)
        text = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
        latest = self.latest_path(run.environment)
        written = self.tree.write(latest, text + "\n")
        status = self.latest_path(run.environment, SUFFIX)
        if answer is None:
            self.tree.unlink(status)  # an earlier run's answer: it names an older file anyway
        else:
            self.tree.write(status, answer.encode(int(run.status), stored_at, mono, boot,
                                                  written))
        path = self.history_path(run.environment)
        self._rotate_if_large(path)
        self.tree.append(path, HistoryEntry.of(run, stored_at).to_dict())

    def latest(self, environment: str | None) -> StoredRun | None:
        """The latest stored run; None when there is none; StateError when it is unreadable."""
        path = self.latest_path(environment)
        try:
            text = self.tree.read_text(path)
            if text is None:
                return None
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read stored result {path}: {_reason(exc)}") from None
        try:
            mono = data.get("mono")
            return StoredRun(RunResult.from_dict(data["run"]), float(data["stored_at"]),
                             str(data.get("environment", _name(environment))), path,
                             None if mono is None else float(mono), str(data.get("boot", "")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"cannot read stored result {path}: bad content "
                             f"({type(exc).__name__}: {exc})") from None

    def history(self, environment: str | None, limit: int = 100) -> list[HistoryEntry]:
        """The last `limit` runs of the environment, oldest first; unreadable lines are skipped."""
        path = self.history_path(environment)
        records = self.tree.read_lines(_rotated(path)) + self.tree.read_lines(path)
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
        if self.tree.size(path) < self.history_bytes:
            return
        lock = path.with_name(f".{path.name}.lock")
        try:
            with self.tree.lock(lock, f"rotation by pid {os.getpid()}"):
                if self.tree.size(path) >= self.history_bytes:
                    self.tree.replace(path, _rotated(path))
        except storage.LockHeld:
            return  # another run is rotating this very file


def _name(environment: str | None) -> str:
    return environment or DEFAULT_ENVIRONMENT


def _file_name(environment: str | None) -> str:
    return project.state_file_name(environment)


def _rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return f"not JSON ({exc})"
