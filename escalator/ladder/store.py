"""The ladder's files for one environment: state, intent record, audit log, resume request, lock.

Lives in `<state_dir>/ladder/<environment>/` (0700, files 0600), built on
`escalator.storage` (atomic replace, fsynced appends, flock). The engine and the `ladder`
command are the only callers. A state file that cannot be read latches the ladder: its counters
are rebuilt from the audit log and the bad file is kept aside, never silently reset.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from escalator import storage
from escalator.ladder.model import Intent, LadderState, Latch
from escalator.redact import redact_value

SCHEMA = 1


def ladder_dir(state_dir: Path, environment: str) -> Path:
    return state_dir / "ladder" / environment


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LadderStore:
    """Reads and writes one environment's ladder files; `now` stamps the audit lines."""

    def __init__(self, directory: Path, environment: str, secrets: tuple[str, ...] = (),
                 now: Callable[[], float] | None = None, state_dir: Path | None = None) -> None:
        self.directory, self.environment, self.secrets = directory, environment, secrets
        self.now = now or time.time
        # every file is opened below the state directory without following a link
        self.tree = storage.Tree(state_dir or directory)
        self.state_path = directory / "state.json"
        self.intent_path = directory / "intent.json"
        self.audit_path = directory / "audit.jsonl"
        self.resume_path = directory / "resume.json"
        self.lock_path = directory / "lock"

    # -- lock ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, command: str) -> Iterator[None]:
        """One engine per environment; raises storage.LockHeld naming the holder."""
        self.tree.ensure(self.directory)
        owner = (f"escalator {command} (pid {os.getpid()} on {socket.gethostname()}, "
                 f"since {iso(self.now())})")
        with self.tree.lock(self.lock_path, owner):
            yield

    # -- state -----------------------------------------------------------------------------
    def load(self) -> LadderState:
        """The stored state; a fresh one when there is none; latched when it is unreadable."""
        text = self.tree.read_text(self.state_path)
        if text is None:
            return LadderState(self.environment)
        try:
            return state_from_dict(json.loads(text), self.environment)
        except (ValueError, KeyError, TypeError) as exc:
            return self._recover_corrupt(f"{type(exc).__name__}: {exc}")

    def peek(self) -> LadderState:
        """Read-only load for `ladder status`: a corrupt file shows as latched, untouched."""
        text = self.tree.read_text(self.state_path)
        if text is None:
            return LadderState(self.environment)
        try:
            return state_from_dict(json.loads(text), self.environment)
        except (ValueError, KeyError, TypeError) as exc:
            return LadderState(self.environment, latch=Latch(
                f"corrupt state file: {type(exc).__name__}: {exc}"[:300], since=self.now()))

    def save(self, state: LadderState) -> LadderState:
        """Write `state` atomically with the next generation; returns what was written."""
        state = state.with_(generation=state.generation + 1)
        self.tree.write(self.state_path, json.dumps(state_to_dict(state), indent=1))
        return state

    def _recover_corrupt(self, why: str) -> LadderState:
        aside = self.state_path.with_name(f"state.json.corrupt-{int(self.now())}")
        self.tree.replace(self.state_path, aside)
        state = counters_from_audit(self.read_audit(), self.environment)
        reason = f"corrupt state file (kept as {aside.name}): {why}"
        state = state.with_(latch=Latch(reason=reason[:300], since=self.now()))
        self.audit("state_corrupt", reason=reason[:300])
        return self.save(state)

    # -- intent ----------------------------------------------------------------------------
    def write_intent(self, intent: Intent) -> None:
        """Fsynced before the level's process starts (storage.Tree.write fsyncs)."""
        self.tree.write(self.intent_path, json.dumps(intent.__dict__))

    def read_intent(self) -> Intent | None:
        """The interrupted level, if any; an unreadable record counts as non-idempotent."""
        text = self.tree.read_text(self.intent_path)
        if text is None:
            return None
        try:
            return Intent(**json.loads(text))
        except (ValueError, TypeError):
            return Intent(run_id="", level="(unreadable intent record)", idempotent=False,
                          started=0.0)

    def clear_intent(self) -> None:
        self.tree.unlink(self.intent_path)

    # -- resume requests (from `ladder resume` while an engine holds the lock) -------------
    def request_resume(self, who: str, why: str) -> None:
        self.tree.write(self.resume_path,
                        json.dumps({"who": who, "why": why, "at": self.now()}))

    def take_resume(self) -> dict[str, Any] | None:
        text = self.tree.read_text(self.resume_path)
        if text is None:
            return None
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        self.tree.unlink(self.resume_path)
        return request if isinstance(request, dict) else None

    # -- audit -----------------------------------------------------------------------------
    def audit(self, event: str, run_id: str = "", reason: str = "", actor: str = "engine",
              **data: Any) -> None:
        record = {"ts": iso(self.now()), "env": self.environment, "run_id": run_id,
                  "event": event, "actor": actor, "reason": reason, "data": data}
        self.tree.append(self.audit_path, redact_value(record, self.secrets))

    def read_audit(self) -> list[dict[str, Any]]:
        return self.tree.read_lines(self.audit_path)


def state_to_dict(state: LadderState) -> dict[str, Any]:
    latch = state.latch
    return {
        "schema": SCHEMA, "environment": state.environment, "generation": state.generation,
        "latch": None if latch is None else latch.__dict__,
        "actions": list(state.actions), "engagements": list(state.engagements),
        "level_runs": [list(pair) for pair in state.level_runs],
        "histories": dict(state.histories), "flapping": list(state.flapping),
        "last_engagement": dict(state.last_engagement),
    }


def state_from_dict(data: Any, environment: str) -> LadderState:
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, expected an object")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
    if data["environment"] != environment:
        raise ValueError(f"state of environment {data['environment']!r}")
    latch = data["latch"]
    return LadderState(
        environment=environment,
        generation=int(data["generation"]),
        latch=None if latch is None else Latch(**latch),
        actions=tuple(float(t) for t in data["actions"]),
        engagements=tuple(float(t) for t in data["engagements"]),
        level_runs=tuple((str(lid), float(t)) for lid, t in data["level_runs"]),
        histories=tuple(sorted((str(k), str(v)) for k, v in data["histories"].items())),
        flapping=tuple(str(k) for k in data["flapping"]),
        last_engagement=tuple(sorted(data["last_engagement"].items())),
    )


def counters_from_audit(records: list[dict[str, Any]], environment: str) -> LadderState:
    """Counters rebuilt from the audit log, so a lost state file never resets the budget."""
    actions, engagements, runs = [], [], []
    for record in records:
        ts = _parse_iso(record.get("ts"))
        if ts is None:
            continue
        if record.get("event") == "step_intent":
            actions.append(ts)
            runs.append((str(record.get("data", {}).get("level")), ts))
        elif record.get("event") == "engaged":
            engagements.append(ts)
    return LadderState(environment, actions=tuple(actions), engagements=tuple(engagements),
                       level_runs=tuple(runs))


def _parse_iso(text: Any) -> float | None:
    try:
        return dt.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None
