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
| result | worker/coordinator | id, scenario (ScenarioResult.to_dict()), notices |
| error | coordinator | message (the suite could not be loaded) |
| done | coordinator | |

[1] Sent when a worker is handed the unit with nothing before it, or when the unit before it
ends (a worker may hold several: runner/coordinator.py).
"""

from __future__ import annotations

import json
import os
from typing import Any


def send(fd: int, record: dict[str, Any]) -> None:
    send_all(fd, [record])


def send_all(fd: int, records: list[dict[str, Any]]) -> None:
    """Write `records` in one write where the pipe takes it: one wake-up of the reader for
    all the records of a round, not one per record."""
    data = "".join(json.dumps(record, default=str) + "\n" for record in records).encode()
    while data:
        written = os.write(fd, data)
        data = data[written:]


class LineReader:
    """Reassembles records from chunks read off one pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def read(self) -> tuple[list[dict[str, Any]], bool]:
        """Records now complete, and whether the writer has closed the pipe."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return [], True
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()], False
