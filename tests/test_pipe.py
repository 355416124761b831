"""The records the runner's processes send each other (escalator.pipe): a result's head is
read without its body, the body is passed on as it came, and every line stays one JSON object
to a reader that knows nothing of heads."""

from __future__ import annotations

import json
import os

from escalator import pipe
from escalator.results import Outcome
from escalator.runner.assemble import Progress

RESULT = {"t": "result", "id": 7, "outcome": "failed", "duration": 0.25,
          "scenario": {"feature": "Web", "file": "web.feature", "line": 3, "name": "Home",
                       "outcome": "failed", "severity": "critical",
                       "reason": 'body said "a\tb",\t{"t": "x"}\nand more', "attempts": 1,
                       "earlier_failures": []},
          "notices": ["tab\there"]}


def test_a_result_line_is_one_record_whose_head_is_read_alone() -> None:
    line = pipe.encode(RESULT, lead=4)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == RESULT  # a tab is JSON whitespace
    assert pipe.head(line) == {"t": "result", "id": 7, "outcome": "failed", "duration": 0.25}
    forwarded = pipe.join({"t": "result", "id": 7, "attempts": 2,
                           "earlier_failures": ["timeout"]}, pipe.body(line))
    record = json.loads(forwarded)
    assert record == {"t": "result", "id": 7, "attempts": 2, "earlier_failures": ["timeout"],
                      "scenario": RESULT["scenario"], "notices": ["tab\there"]}
    result = Progress().take(record)
    assert result is not None
    assert (result.outcome, result.reason, result.attempts, result.earlier_failures) == (
        Outcome.FAILED, RESULT["scenario"]["reason"], 2, ("timeout",))


def test_a_record_without_a_head_is_whole() -> None:
    line = pipe.encode({"t": "start", "id": 1, "attempt": 1}, lead=4)
    assert b"\t" not in line and pipe.head(line) == {"t": "start", "id": 1, "attempt": 1}


def test_records_come_whole_whatever_pieces_the_pipe_gives() -> None:
    read_fd, write_fd = os.pipe()
    reader = pipe.LineReader(read_fd)
    data = pipe.encode(RESULT, lead=4) + pipe.encode({"t": "done"})
    got: list[dict[str, object]] = []
    try:
        for piece in (data[:5], data[5:len(data) - 9], data[len(data) - 9:]):
            os.write(write_fd, piece)
            records, closed = reader.read()
            assert not closed
            got += records
        os.close(write_fd)
        assert reader.read() == ([], True)
    finally:
        os.close(read_fd)
    assert got == [RESULT, {"t": "done"}]
