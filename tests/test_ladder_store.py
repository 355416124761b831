"""The ladder's files: state round trip, corrupt state, intent record, audit, lock, modes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from escalator.ladder.model import Intent, LadderState, Latch
from escalator.ladder.store import LadderStore, ladder_dir
from escalator.redact import redact_value
from escalator.storage import LockHeld


def store(tmp_path: Path) -> LadderStore:
    return LadderStore(ladder_dir(tmp_path / ".escalator", "prod"), "prod", ("s3cr3t",),
                       now=lambda: 1_800_000_000.0)


def test_state_round_trips_and_each_write_is_a_new_generation(tmp_path: Path) -> None:
    s = store(tmp_path)
    state = LadderState("prod", latch=Latch("budget", 5.0, "r1", paged=True), actions=(1.0,),
                        engagements=(2.0,), level_runs=(("vm", 1.0),),
                        histories=(("f::a", "PPF"),), flapping=("f::a",),
                        last_engagement=(("run_id", "r1"),))
    first = s.save(state)
    second = s.save(first)
    assert (first.generation, second.generation) == (1, 2)
    assert s.load() == second
    assert s.directory == tmp_path / ".escalator" / "ladder" / "prod"


def test_files_are_private(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.save(LadderState("prod"))
    s.audit("observed")
    s.write_intent(Intent("r", "vm", False, 1.0))
    assert stat.S_IMODE(s.directory.stat().st_mode) == 0o700
    for path in (s.state_path, s.audit_path, s.intent_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("garbage", ['{"schema": 1, "gen', "[]", '{"schema": 7}', ""])
def test_a_corrupt_state_latches_and_rebuilds_counters_from_the_audit(
        tmp_path: Path, garbage: str) -> None:
    s = store(tmp_path)
    s.audit("engaged", "r1")
    s.audit("step_intent", "r1", level="vm")
    s.audit("step_intent", "r1", level="deploy")
    s.state_path.parent.mkdir(parents=True, exist_ok=True)
    s.state_path.write_text(garbage)
    state = s.load()
    assert state.latch is not None and state.latch.reason.startswith(
        "corrupt state file (kept as state.json.corrupt-1800000000): ")
    assert (state.actions, state.engagements, state.level_runs) == (
        (1_800_000_000.0,) * 2, (1_800_000_000.0,),
        (("vm", 1_800_000_000.0), ("deploy", 1_800_000_000.0)))
    assert (s.directory / "state.json.corrupt-1800000000").read_text() == garbage
    assert s.load() == state  # the latch is now stored, not re-derived


def test_intent_record(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.read_intent() is None
    s.write_intent(Intent("r1", "vm", False, 3.0, pid=42))
    assert s.read_intent() == Intent("r1", "vm", False, 3.0, pid=42)
    s.intent_path.write_text("{torn")
    assert s.read_intent() == Intent("", "(unreadable intent record)", False, 0.0)
    s.clear_intent()
    assert s.read_intent() is None


def test_audit_lines_carry_who_when_and_are_redacted(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.audit("resumed", "r1", "pw was s3cr3t", actor="alice", output=["x s3cr3t y"])
    assert s.read_audit() == [{
        "ts": "2027-01-15T08:00:00.000000Z", "env": "prod", "run_id": "r1",
        "event": "resumed", "actor": "alice", "reason": "pw was ***",
        "data": {"output": ["x *** y"]}}]


def test_redact_walks_nested_values() -> None:
    assert redact_value({"a": ("k=pw", 3, {"b": "pwpw"})}, ("pw",)) == {"a": ("k=***", 3,
                                                                             {"b": "******"})}


def test_a_second_holder_is_refused_at_once_and_told_who_holds_the_lock(tmp_path: Path) -> None:
    s = store(tmp_path)
    with s.lock("escalate"), pytest.raises(LockHeld) as caught, store(tmp_path).lock("watch"):
        pass
    assert "is held by escalator escalate (pid " in str(caught.value)
    with s.lock("escalate"):
        pass  # released when the holder left


def test_resume_request_is_taken_once(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.request_resume("alice", "fixed", Latch("budget", 5.0, "r1"))
    assert s.take_resume() == {"who": "alice", "why": "fixed", "at": 1_800_000_000.0,
                               "latch": "r1@5.000000", "latches": ["r1@5.000000"],
                               "reset_counters": False}
    assert s.take_resume() is None
