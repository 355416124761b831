"""Which step each running scenario is in: a small table in memory that the CLI process, the
coordinator and the workers share (an anonymous shared mapping, made before the first fork).

A worker (or the coordinator, running a plan of one itself) owns one slot and writes it when a
step starts: the unit, the step's index and the monotonic time it started (CLOCK_MONOTONIC is
one clock for every process of the machine). Nobody is woken by that: the coordinator reads the
slots when it looks for steps that outlived their alarm, the CLI when the run deadline passes
(to name the step each cut-off scenario was in) and while it watches a scenario the coordinator
runs itself. It replaces a record per step over the pipes, which cost more than all the rest of
an instant scenario's overhead: every step woke the coordinator and the CLI in turn.

One writer per slot; a reader takes a slot when its sequence number is even and the same before
and after the read, so it never sees half of a write (a writer killed between the halves of a
write leaves the number odd: after a while the reader takes the first half, which is whole).

>>> board = Board(2)
>>> board.read(1) is None
True
>>> board.write(1, unit=7, index=2, started=100.5)
>>> board.read(1)
(7, 2, 100.5)
"""

from __future__ import annotations

import mmap
import struct

_SLOT = struct.Struct("=qqqd")  # sequence, unit id, step index, started (monotonic)
_FREE = -1
_TRIES = 1000


class Board:
    """`slots` slots, all free; the mapping is shared with every process forked after this."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._memory = mmap.mmap(-1, max(1, slots) * _SLOT.size)
        for slot in range(slots):
            _SLOT.pack_into(self._memory, slot * _SLOT.size, 0, _FREE, -1, 0.0)

    def write(self, slot: int, unit: int, index: int, started: float) -> None:
        """Slot `slot` is in step `index` of unit `unit` since `started`."""
        offset = slot * _SLOT.size
        sequence = _SLOT.unpack_from(self._memory, offset)[0]
        _SLOT.pack_into(self._memory, offset, sequence + 1, unit, index, started)  # odd: busy
        _SLOT.pack_into(self._memory, offset, sequence + 2, unit, index, started)

    def read(self, slot: int) -> tuple[int, int, float] | None:
        """(unit, step index, started) of the slot's last write; None when it is free."""
        offset = slot * _SLOT.size
        for _ in range(_TRIES):
            sequence, unit, index, started = _SLOT.unpack_from(self._memory, offset)
            if sequence % 2 == 0 and _SLOT.unpack_from(self._memory, offset)[0] == sequence:
                break
        # else: its writer was killed between the halves of a write; the first half is whole
        return None if unit == _FREE else (unit, index, started)

    def clear(self, slot: int) -> None:
        """Free the slot (its process is gone)."""
        self.write(slot, _FREE, -1, 0.0)
