"""JSON Lines over a pipe: how the runner's processes talk, and the ladder's level keeper.

Runner: worker -> coordinator -> CLI; keeper -> engine (escalator.ladder.keeper). One writer
per pipe, one record per line, written whole; the reader keeps a partial line until the rest
arrives (the coordinator's commands to a worker are not records: runner/worker.py `COMMAND`).
The runner's records are plain dicts with a `t` (type) key (the step each scenario is
in, and a limit its step extended, are not records: they are on the board, runner/board.py):

| t | from | fields |
|---|---|---|
| units | coordinator | units (id, file, line, name, feature, tags, steps...), a batch of the plan |
| plan | coordinator | units (more of them, if any), errors, notices: the plan is complete |
| start | coordinator | id, attempt, here (true: the coordinator runs it itself) [1] |
| result | worker | id, outcome, duration; then scenario (ScenarioResult.to_dict()), notices [2] |
| result | coordinator | id, attempts, earlier_failures; then the worker's scenario, notices [2] |
| error | coordinator | message (the suite could not be loaded) |
| done | coordinator | |

[1] Sent when a worker is handed the unit with nothing before it, or when the unit before it
ends (a worker may hold several: runner/coordinator.py). Not sent when the unit's result goes
out in the same write: the result says all the start would have.

[2] A result's line has a head and a body, split by a tab (`encode` with `lead`). A tab is
JSON whitespace, so the line is one JSON object to any reader; the coordinator decodes only the
head, which says what it needs, and passes the body on as the bytes it came as (`head`, `join`).
The CLI takes the attempts from the head (runner/assemble.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any


def send(fd: int, record: Mapping[str, Any]) -> None:
    send_all(fd, [record])


def send_all(fd: int, records: Iterable[Mapping[str, Any] | bytes]) -> None:
    """Write `records` (dicts, or lines already encoded) in one write where the pipe takes it:
    one wake-up of the reader for all the records of a round, not one per record."""
    data = b"".join(r if isinstance(r, bytes) else encode(r) for r in records)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def encode(record: Mapping[str, Any], lead: int = 0) -> bytes:
    """`record` as one line. With `lead`, its first `lead` fields are its head: they come
    before a tab, and `head` reads them without decoding the rest."""
    if not lead or len(record) <= lead:
        return json.dumps(record, default=str).encode() + b"\n"
    items = list(record.items())
    body = json.dumps(dict(items[lead:]), default=str).encode()
    return join(dict(items[:lead]), body[1:] + b"\n")


def head(line: bytes) -> dict[str, Any]:
    """The head of a line (the whole record, when it has none), decoded alone."""
    end = line.find(b"\t")
    record: dict[str, Any] = json.loads(line if end < 0 else line[:end - 1] + b"}")
    return record


def body(line: bytes) -> bytes:
    """The rest of a line with a head, as it was encoded, its newline included."""
    return line[line.index(b"\t") + 1:]


def join(first: Mapping[str, Any], rest: bytes) -> bytes:
    """A line whose head is `first` and whose body is `rest` (from `body`)."""
    return json.dumps(first, default=str).encode()[:-1] + b",\t" + rest


class LineReader:
    """Reassembles records from chunks read off one pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def lines(self) -> tuple[list[bytes], bool]:
        """Lines now complete (each with its newline), and whether the writer has closed the
        pipe."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return [], True
        self._buffer += chunk
        end = self._buffer.rfind(b"\n") + 1
        if not end:
            return [], False
        complete, self._buffer = self._buffer[:end], self._buffer[end:]
        return complete.splitlines(keepends=True), False

    def read(self) -> tuple[list[dict[str, Any]], bool]:
        """Records now complete, and whether the writer has closed the pipe."""
        lines, closed = self.lines()
        lines = [line for line in lines if line.strip()]
        if not lines:
            return [], closed
        return json.loads(b"[" + b",".join(lines) + b"]"), closed  # one call for them all
