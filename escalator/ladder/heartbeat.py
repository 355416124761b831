"""Who watches the watcher: the heartbeat `escalator watch` leaves in its environment's ladder
directory (`watch.json`), and the judgement of it.

`watch` writes it at start, after every run it stores and at the end of every cycle (atomic,
small), and once more when it stops in order (the signal, or the error that ended it). A
watcher that is killed writes nothing more: its process is then gone, which `judge` tells
from /proc (the pid with its start time, in the same boot). `escalator status` turns UNKNOWN
while the stored result is the watcher's and the watcher is not there any more; `ladder
status` and the report show it; the metrics carry `escalator_watch_last_cycle_timestamp_seconds`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from escalator.timestamps import TABLE, utc

if TYPE_CHECKING:
    from escalator.ladder.store import LadderStore

# `status` reads the heartbeat on its fast path: /proc (procs) is imported where it is needed.

FILE = "watch.json"


@dataclass(frozen=True)
class Heartbeat:
    """The watcher as it last said: who, since when, its last cycle and beat, how it ended."""

    pid: int
    host: str
    boot: str
    started: float
    interval: float
    beat: float  # the latest sign of life (a stored run, a cycle's end)
    last_cycle: float | None = None  # when the latest whole cycle ended
    verdict: str = ""
    pid_start: int | None = None
    stopped: float | None = None
    stopped_by: str = ""


def read(store: LadderStore) -> Heartbeat | None:
    """The heartbeat, or None when no watcher ever ran here (or the file cannot be read)."""
    try:
        raw = store.tree.read(store.directory / FILE)
        data = json.loads(raw) if raw is not None else None
        return Heartbeat(**data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def write(store: LadderStore, beat: Heartbeat) -> None:
    """Under the state directory's rules, as every ladder file (`LadderStore.tree`)."""
    store.tree.write(store.directory / FILE, json.dumps(asdict(beat)))


def host() -> str:
    return os.uname().nodename


def starting(now: float, interval: float, boot: str) -> Heartbeat:
    from escalator.ladder import procs

    pid = os.getpid()
    return Heartbeat(pid, host(), boot, now, interval, now, pid_start=procs.start_time(pid))


def cycled(beat: Heartbeat, now: float, verdict: str) -> Heartbeat:
    return replace(beat, beat=now, last_cycle=now, verdict=verdict)


def stopping(beat: Heartbeat, now: float, why: str) -> Heartbeat:
    return replace(beat, beat=now, stopped=now, stopped_by=why)


def judge(beat: Heartbeat | None, stored_at: float | None, boot: str) -> str | None:
    """Why the watcher is not there any more, or None (running, unknown from this host, or
    not the one that stores the results now: a result newer than its last beat is another
    command's)."""
    if beat is None or (stored_at is not None and stored_at > beat.beat):
        return None
    gone = _gone(beat, boot)
    return None if gone is None else (f"the watcher (escalator watch, pid {beat.pid} on "
                                      f"{beat.host}) {gone}")


def _gone(beat: Heartbeat, boot: str) -> str | None:
    if beat.stopped is not None:
        return f"stopped at {utc(beat.stopped, TABLE)} ({beat.stopped_by})"
    if beat.host != host():
        return None  # its /proc is not ours
    from escalator.ladder import procs

    last = utc(beat.beat, TABLE)
    if beat.boot and boot and beat.boot != boot:
        return f"is gone: the machine restarted after its last sign of life at {last}"
    if beat.pid_start is None or procs.start_time(beat.pid) != beat.pid_start:
        return f"is gone since its last sign of life at {last}"
    return None


def running(beat: Heartbeat | None, boot: str) -> bool:
    return beat is not None and _gone(beat, boot) is None and beat.stopped is None


def describe(beat: Heartbeat | None, boot: str) -> str:
    """One line for `ladder status`."""
    if beat is None:
        return "-"
    cycle = utc(beat.last_cycle, TABLE) if beat.last_cycle is not None else "none yet"
    gone = _gone(beat, boot)
    if gone is not None:
        return f"pid {beat.pid} on {beat.host} {gone}; last cycle {cycle}"
    return (f"running (pid {beat.pid} on {beat.host}, since {utc(beat.started, TABLE)}); "
            f"last cycle {cycle}")
