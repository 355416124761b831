"""Which step each running scenario is in: a small table in memory that the CLI process, the
coordinator and the workers share (an anonymous shared mapping, made before the first fork).

A worker (or the coordinator, running a plan of one itself) owns one slot and writes it when it
begins a unit and when a step starts: the unit, the assignment (a number the coordinator gives
each unit it hands out, so that what a slot's earlier holder wrote about an earlier attempt of
the same unit is never taken for the present one), the step's index (-1 before the first) and
the monotonic time it started (CLOCK_MONOTONIC is one clock for every process of the machine),
and the step's own limit when it extended it (`Session.extend`: a hundred requests) and so
asked for a later hard kill; 0 while the unit's step timeout is the limit.
Nobody is woken by that: the coordinator reads the slots when it looks for steps that outlived
their alarm, the CLI when the run deadline passes (to name the step each cut-off scenario was
in) and while it watches a scenario the coordinator runs itself. It replaces a record per step
over the pipes, which cost more than all the rest of an instant scenario's overhead: every step
woke the coordinator and the CLI in turn.

One writer per slot at a time: a slot passes to a new process only once its holder is idle or
dead, and is never cleared by anyone else. A reader takes a slot when its sequence number is
even and the same before and after the read, so it never sees half of a write.

>>> board = Board(2)
>>> board.read(1) is None
True
>>> board.write(1, unit=7, assignment=12, index=2, started=100.5)
>>> board.read(1)
Note(unit=7, assignment=12, step=2, started=100.5, limit=0.0)
"""

from __future__ import annotations

import mmap
from typing import NamedTuple

_WORDS = 6  # per slot: sequence, unit id, assignment, step index (int64), started, limit (float64)
_FREE = -1
_TRIES = 1000


class Note(NamedTuple):
    """What a slot says: its holder is in step `step` (-1: none yet) of `unit`, handed out as
    `assignment`, since `started` (time.monotonic()), with its own `limit` (seconds; 0: the
    unit's step timeout)."""

    unit: int
    assignment: int
    step: int
    started: float
    limit: float = 0.0

    def alarm(self, step_timeout: float) -> float:
        """When the step's alarm goes off (time.monotonic()): its start and its limit, the unit's
        `step_timeout` unless it extended its own."""
        return self.started + (self.limit or step_timeout)


class Board:
    """`slots` slots, all free; the mapping is shared with every process forked after this.

    Every field is one aligned 8-byte word, written and read as a whole (a memoryview item):
    `struct.pack_into` would zero the whole slot before writing it, and a reader could take
    those zeros, sequence number included, for a slot at rest.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._memory = mmap.mmap(-1, max(1, slots) * _WORDS * 8)
        self._ints = memoryview(self._memory).cast("q")
        self._floats = memoryview(self._memory).cast("d")
        for slot in range(slots):
            self._ints[slot * _WORDS + 1] = _FREE

    def write(self, slot: int, unit: int, assignment: int, index: int, started: float,
              limit: float = 0.0) -> None:
        """The holder of `slot` is in step `index` of `unit` (as `assignment`) since `started`,
        with `limit` (0: the unit's step timeout)."""
        base = slot * _WORDS
        sequence = self._ints[base]
        self._ints[base] = sequence + 1  # odd: a write is under way
        self._ints[base + 1], self._ints[base + 2], self._ints[base + 3] = unit, assignment, index
        self._floats[base + 4], self._floats[base + 5] = started, limit
        self._ints[base] = sequence + 2

    def read(self, slot: int) -> Note | None:
        """The slot's last whole write; None when nothing was ever written to it, or when a
        write is still under way after many looks (its writer was killed in the middle of it,
        or is not running just now: a later look will tell)."""
        base = slot * _WORDS
        for _ in range(_TRIES):
            sequence = self._ints[base]
            note = Note(self._ints[base + 1], self._ints[base + 2], self._ints[base + 3],
                        self._floats[base + 4], self._floats[base + 5])
            if sequence % 2 == 0 and self._ints[base] == sequence:
                return None if note.unit == _FREE else note
        return None
