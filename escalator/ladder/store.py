"""The ladder's files for one environment: state, intent record, level lock, audit log, resume
request, engine lock.

Lives in `<state_dir>/ladder/<environment>/` (0700, files 0600), built on a
`escalator.storage.Tree` rooted at the state directory (atomic replace, fsynced appends, flock,
nothing opened through a link, no FIFO read, no file with a second hard link changed in place).
The engine and the `ladder` command are the only callers. A state file that cannot be read
latches the ladder: its counters (and a latch nobody resumed) are rebuilt from the audit log
and the bad file is kept aside, never silently reset; a lost state file is rebuilt the same
way. Damaged audit lines are skipped and reported, and a history that could not be read whole
keeps the ladder latched.

The state file's `schema` is 2 since host-scoped levels (per-host counters and latches); a
schema 1 file (written before them) is read as a state without any, and saved as schema 2.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from escalator import storage
from escalator.ladder.model import Intent, LadderState, Latch, NotifierHealth, Page
from escalator.ladder.rebuild import REASON_CHARS, counters_from_audit
from escalator.redact import redact_value
from escalator.timestamps import AUDIT, utc

SCHEMA = 2
READABLE = (1, 2)  # 1: before host-scoped levels; its state has no per-host counters


def ladder_dir(state_dir: Path, environment: str) -> Path:
    return state_dir / "ladder" / environment


def iso(ts: float) -> str:
    return utc(ts, AUDIT)


def damage_note(lines: list[int]) -> str:
    """'audit.jsonl: 2 damaged lines skipped (lines 3, 9)', or "" for none."""
    if not lines:
        return ""
    many = len(lines) > 1
    shown = ", ".join(str(n) for n in lines[:5]) + (", ..." if len(lines) > 5 else "")
    return (f"audit.jsonl: {len(lines)} damaged line{'s' if many else ''} skipped "
            f"(line{'s' if many else ''} {shown})")


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
        self.level_lock_path = directory / "level.lock"
        self.result_path = directory / "level.result.json"
        self.audit_path = directory / "audit.jsonl"
        self.resume_path = directory / "resume.json"
        self.lock_path = directory / "lock"

    # -- lock ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, command: str) -> Iterator[None]:
        """One engine per environment; raises storage.LockHeld naming the holder."""
        self.tree.ensure(self.directory)
        owner = (f"escalator {command} (pid {os.getpid()} on {os.uname().nodename}, "
                 f"since {iso(self.now())})")
        with self.tree.lock(self.lock_path, owner):
            yield

    # -- level lock: held by a running level's processes, whatever became of its engine -----
    def open_level_lock(self) -> int:
        """A fresh, locked `level.lock` for the level about to start to inherit.

        Fresh each time (the old file unlinked first), so a daemon that some earlier level left
        holding its descriptor locks a file nobody looks at any more; created with O_EXCL, so
        a link planted under its name is removed, never followed.
        """
        fd = self.tree.create_fresh(self.level_lock_path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def level_lock(self) -> int | None:
        """A descriptor of the current `level.lock` for `procs` to test and compare, or None
        when there is none. Opened as every file here is; a file with a second hard link is
        refused (UnsafeDirectory), so a link to another file cannot make the recovery signal
        whoever holds that file open."""
        return self.tree.open(self.level_lock_path, os.O_RDONLY, in_place=True)

    def drop_level_lock(self) -> None:
        """The level is over: whoever still holds the old file no longer counts."""
        self.tree.unlink(self.level_lock_path)

    # -- a level's result, written by its keeper (keeper.py), read by the next engine -------
    def write_result(self, intent: Intent, result: dict[str, Any]) -> None:
        self.tree.write(self.result_path, json.dumps(
            {"run_id": intent.run_id, "level": intent.level, "host": intent.host, **result}))

    def read_result(self, intent: Intent) -> dict[str, Any] | None:
        """The recorded end of the level `intent` names, if its keeper recorded one."""
        raw = self.tree.read(self.result_path)
        try:
            result = None if raw is None else json.loads(raw)
        except ValueError:
            return None
        if not isinstance(result, dict) or (
                result.get("run_id"), result.get("level"), result.get("host", "")) != (
                intent.run_id, intent.level, intent.host):
            return None
        return result

    def clear_result(self) -> None:
        self.tree.unlink(self.result_path)

    # -- state -----------------------------------------------------------------------------
    def load(self) -> LadderState:
        """The stored state; rebuilt from the audit log when lost; latched when unreadable."""
        raw = self.tree.read(self.state_path)
        if raw is None:
            return self._rebuild_lost()
        try:
            return state_from_dict(json.loads(raw), self.environment)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self._recover_corrupt(f"{type(exc).__name__}: {exc}")

    def peek(self) -> LadderState:
        """Read-only load for `ladder status`: a corrupt file shows as latched, untouched."""
        raw = self.tree.read(self.state_path)
        if raw is None:
            return LadderState(self.environment)
        try:
            return state_from_dict(json.loads(raw), self.environment)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return LadderState(self.environment, latch=Latch(
                f"corrupt state file: {type(exc).__name__}: {exc}"[:REASON_CHARS],
                since=self.now()))

    def save(self, state: LadderState) -> LadderState:
        """Write `state` atomically with the next generation; returns what was written."""
        state = state.with_(generation=state.generation + 1)
        self.tree.write(self.state_path, json.dumps(state_to_dict(state), indent=1))
        return state

    def _recover_corrupt(self, why: str) -> LadderState:
        aside = self._keep_aside()
        state, damage = self._from_audit()
        reason = f"corrupt state file (kept as {aside.name}): {why[:160]}" + (
            f"; {damage}" if damage else "")
        state = state.with_(latch=Latch(reason=reason[:REASON_CHARS], since=self.now()))
        saved = self.save(state)
        self.audit("state_corrupt", reason=reason[:REASON_CHARS])
        return saved

    def _rebuild_lost(self) -> LadderState:
        """No state file: a first start, or a lost file whose counters the audit log keeps."""
        state, damage = self._from_audit()
        if not damage and not (state.actions or state.engagements or state.level_runs
                               or state.latches or state.pages):
            return LadderState(self.environment)
        if damage and state.latch is None:
            state = state.with_(latch=Latch(
                f"state file lost and the history is damaged: {damage}"[:REASON_CHARS],
                since=self.now()))
        saved = self.save(state)
        self.audit("state_rebuilt", reason="state file lost: counters rebuilt from the audit "
                   "log" + (f"; {damage}" if damage else ""))
        return saved

    def _from_audit(self) -> tuple[LadderState, str]:
        damaged: list[int] = []
        try:
            records = self.read_audit(damaged)
        except OSError as exc:
            return LadderState(self.environment), f"audit.jsonl unreadable: {exc.strerror}"
        return counters_from_audit(records, self.environment, self.now()), damage_note(damaged)

    def _keep_aside(self) -> Path:
        """A second name for the bad state file, which stays state.json until replaced: a
        name nobody has taken (a link planted under one is skipped, never followed)."""
        stamp, n = int(self.now()), 0
        while True:
            aside = self.state_path.with_name(f"state.json.corrupt-{stamp}" + (f".{n}" * bool(n)))
            with contextlib.suppress(FileExistsError):
                self.tree.link(self.state_path, aside)
                return aside
            n += 1

    # -- intent ----------------------------------------------------------------------------
    def write_intent(self, intent: Intent) -> None:
        """Fsynced before the level's process starts (storage.Tree.write fsyncs)."""
        self.tree.write(self.intent_path, json.dumps(intent.__dict__))

    def read_intent(self) -> Intent | None:
        """The interrupted level, if any; an unreadable record counts as non-idempotent."""
        raw = self.tree.read(self.intent_path)
        if raw is None:
            return None
        try:
            return Intent(**json.loads(raw))
        except (ValueError, TypeError):
            return Intent(run_id="", level="(unreadable intent record)", idempotent=False,
                          started=0.0)

    def clear_intent(self) -> None:
        self.tree.unlink(self.intent_path)

    # -- resume requests (from `ladder resume` while an engine holds the lock) -------------
    def request_resume(self, who: str, why: str, latch: Latch, reset: bool = False,
                       more: tuple[Latch, ...] = ()) -> None:
        """File a request that releases `latch` (and the latches in `more`: hosts'), and no
        later one (`reset`: and clears their loop breakers' and budgets' counters)."""
        self.tree.write(self.resume_path, json.dumps(
            {"who": who, "why": why, "at": self.now(), "latch": latch.key,
             "latches": [latch.key, *(other.key for other in more)],
             "reset_counters": reset}))

    def pending_resume(self) -> dict[str, Any] | None:
        """The request waiting for the running engine, if any (`ladder status`)."""
        raw = self.tree.read(self.resume_path)
        try:
            request = None if raw is None else json.loads(raw)
        except ValueError:
            return None
        return request if isinstance(request, dict) else None

    def take_resume(self) -> dict[str, Any] | None:
        request = self.pending_resume()
        self.tree.unlink(self.resume_path)
        return request

    # -- audit -----------------------------------------------------------------------------
    def audit(self, event: str, run_id: str = "", reason: str = "", actor: str = "engine",
              **data: Any) -> None:
        record = {"ts": iso(self.now()), "env": self.environment, "run_id": run_id,
                  "event": event, "actor": actor, "reason": reason, "data": data}
        self.tree.append(self.audit_path, redact_value(record, self.secrets))

    def read_audit(self, damaged: list[int] | None = None) -> list[dict[str, Any]]:
        """The audit records; the numbers of damaged lines are appended to `damaged`."""
        return self.tree.read_lines(self.audit_path, damaged)


def state_to_dict(state: LadderState) -> dict[str, Any]:
    latch, clock = state.latch, state.clock
    return {
        "schema": SCHEMA, "environment": state.environment, "generation": state.generation,
        "latch": None if latch is None else latch.__dict__,
        "actions": list(state.actions), "engagements": list(state.engagements),
        "level_runs": [list(pair) for pair in state.level_runs],
        "histories": dict(state.histories), "flapping": list(state.flapping),
        "last_engagement": dict(state.last_engagement),
        "pages": [page.__dict__ for page in state.pages],
        "notifier": state.notifier.__dict__,
        "clock": None if clock is None else {"boot": clock[0], "mono": clock[1],
                                             "now": clock[2]},
        "host_latches": [latch.__dict__ for latch in state.host_latches],
        "host_actions": [list(pair) for pair in state.host_actions],
        "host_engagements": [list(pair) for pair in state.host_engagements],
        "host_runs": [list(run) for run in state.host_runs],
    }


def state_from_dict(data: Any, environment: str) -> LadderState:
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, expected an object")
    if data.get("schema") not in READABLE:
        raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
    if data["environment"] != environment:
        raise ValueError(f"state of environment {data['environment']!r}")
    latch, clock = data["latch"], data.get("clock")
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
        pages=tuple(Page(**page) for page in data.get("pages", [])),
        notifier=NotifierHealth(**data.get("notifier") or {}),
        clock=None if clock is None else (str(clock["boot"]), float(clock["mono"]),
                                          float(clock["now"])),
        # schema 1 has none of these: a state from before host-scoped levels
        host_latches=tuple(Latch(**latch) for latch in data.get("host_latches", [])),
        host_actions=tuple((str(h), float(t)) for h, t in data.get("host_actions", [])),
        host_engagements=tuple((str(h), float(t)) for h, t in data.get("host_engagements", [])),
        host_runs=tuple((str(lid), str(h), float(t)) for lid, h, t in data.get("host_runs", [])),
    )
