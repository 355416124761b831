"""The board: the step each running scenario is in, shared by the runner's processes without
a record or a wake-up per step (runner/board.py)."""

from __future__ import annotations

import os

from escalator.runner.board import Board, Note


def test_a_forked_process_writes_what_its_parent_reads() -> None:
    board = Board(3)
    pid = os.fork()
    if pid == 0:
        board.write(2, unit=41, assignment=5, index=1, started=12.25)
        os._exit(0)
    os.waitpid(pid, 0)
    assert [board.read(slot) for slot in range(3)] == [None, None, Note(41, 5, 1, 12.25)]


def test_a_write_never_finished_is_not_read_as_a_note() -> None:
    board = Board(1)
    board.write(0, unit=3, assignment=1, index=0, started=1.0)
    board._ints[0] += 1  # a write begun (odd sequence number) and never ended: half a note
    board._ints[3] = 1
    assert board.read(0) is None


def test_a_reader_never_takes_a_write_in_progress() -> None:
    board = Board(1)
    board.write(0, unit=1, assignment=1, index=1, started=1.0)
    pid = os.fork()
    if pid == 0:  # a writer as busy as can be: every note it writes is whole
        for n in range(2, 200_000):
            board.write(0, unit=n, assignment=n, index=n, started=float(n))
        os._exit(0)
    seen = set()
    while not os.waitpid(pid, os.WNOHANG)[0]:
        note = board.read(0)
        if note is not None:  # None: a write under way at every look, which is no note
            assert note.unit == note.assignment == note.step == note.started
            seen.add(note.unit)
    assert len(seen) > 1  # the reader did look while the writer wrote
