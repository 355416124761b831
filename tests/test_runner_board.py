"""The board: the step each running scenario is in, shared by the runner's processes without
a record or a wake-up per step (runner/board.py)."""

from __future__ import annotations

import os

from escalator.runner.board import _SLOT, Board


def test_a_forked_process_writes_what_its_parent_reads() -> None:
    board = Board(3)
    pid = os.fork()
    if pid == 0:
        board.write(2, unit=41, index=1, started=12.25)
        os._exit(0)
    os.waitpid(pid, 0)
    assert [board.read(slot) for slot in range(3)] == [None, None, (41, 1, 12.25)]
    board.clear(2)
    assert board.read(2) is None


def test_a_writer_killed_halfway_through_a_write_leaves_a_readable_slot() -> None:
    board = Board(1)
    board.write(0, unit=3, index=0, started=1.0)
    # the first half of the next write only: an odd sequence number, whole fields
    _SLOT.pack_into(board._memory, 0, 3, 3, 1, 2.0)
    assert board.read(0) == (3, 1, 2.0)
