"""The coordinator started before the command line is read: its imports overlap the CLI's.

A cold `escalator check` spends its first ~40 ms importing the CLI, argparse and the config
classes and reading escalator.toml, and only then forks the coordinator, which spends ~100 ms
importing behave. The console script (escalator.console) calls `start()` for `check` and `run`
before it imports anything else: the coordinator is forked at once, imports behave while this
process parses the command line and the config, and then waits for its RunOptions on a pipe.
`run_suite` takes it with `take(options)`; a command that never gets that far (a usage error)
leaves it waiting, and it ends when this process does (the pipe closes). Imports only the board:
this runs before anything else in the process.
"""

from __future__ import annotations

import os
import signal

from escalator.runner.board import Board

SLOTS = 1025  # board slots of an early coordinator: --jobs up to 1,024 (more: a fresh fork)

_started: tuple[int, int, int, Board] | None = None  # pid, records fd, options fd, board


def start() -> None:
    """Fork the coordinator now; it runs when `take` sends it the options."""
    global _started
    board = Board(SLOTS)
    read_fd, write_fd = os.pipe()  # records: coordinator -> this process
    options_read, options_write = os.pipe()  # the RunOptions, pickled: this process -> it
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.close(options_write)
            _wait_for_options(options_read, write_fd, board)
        finally:
            os._exit(70)  # never back into the CLI's code (the run itself exits in _coordinate)
    os.close(write_fd)
    os.close(options_read)
    _started = (pid, read_fd, options_write, board)


def take(options: object, slots: int) -> tuple[int, int, Board] | None:
    """The early coordinator, given `options`, as (pid, records fd, board); None when there is
    none or its board has fewer than `slots` slots (then it is stopped)."""
    global _started
    if _started is None:
        return None
    pid, read_fd, options_write, board = _started
    _started = None
    if slots > board.slots:
        os.close(options_write)
        os.close(read_fd)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    import pickle

    with os.fdopen(options_write, "wb") as pipe:
        pipe.write(pickle.dumps(options))
    return pid, read_fd, board


def _wait_for_options(options_read: int, write_fd: int, board: Board) -> None:
    """In the child: import behave, then coordinate the run the options describe; leave quietly
    when the options never come."""
    # what loading a suite needs first, while the CLI reads its command line and config
    import behave.configuration
    import behave.runner
    import behave.runner_util  # noqa: F401

    from escalator.runner import _coordinate, coordinator  # noqa: F401

    with os.fdopen(options_read, "rb") as pipe:
        data = pipe.read()
    if not data:
        os._exit(0)
    import pickle

    _coordinate(pickle.loads(data), write_fd, board)
