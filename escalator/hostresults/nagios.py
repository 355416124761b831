"""Passive check results into Nagios: `PROCESS_SERVICE_CHECK_RESULT` lines written to the
external command file (a FIFO Nagios reads), within a time limit.

The FIFO is opened without blocking: with no reader (Nagios stopped) the open fails at once,
and a reader that stops reading cannot hold the check past `timeout`. Each line is written
whole and kept under PIPE_BUF (4096 bytes), so it is never interleaved with another writer's.
Long output goes as Nagios expects it in a command, with newlines written as `\\n`. Returns
notices, never raises. Called by `escalator.hostresults.send`.
"""

from __future__ import annotations

import errno
import os
import select
import stat
from collections.abc import Callable, Sequence

from escalator.formatters.host_results import HostResult
from escalator.hostresults_config import NagiosCommandFile

_PIPE_BUF = 4096


def command_line(result: HostResult, timestamp: int) -> str | None:
    """The external command for one result; None when a name cannot be written in one.

    >>> from escalator.status import Status
    >>> command_line(HostResult("db-7", "Backup", Status.CRITICAL, "X CRITICAL - old",
    ...                         ("age=9s",), ("runbook: https://wiki/b",)), 1700000000)
    '[1700000000] PROCESS_SERVICE_CHECK_RESULT;db-7;Backup;2;X CRITICAL - old | age=9s\\\\nrunbook: https://wiki/b\\n'
    """
    if any(c in name for name in (result.host, result.service) for c in ";\n"):
        return None
    head = f"[{timestamp}] PROCESS_SERVICE_CHECK_RESULT;{result.host};{result.service};" \
           f"{int(result.status)};"
    output = result.plugin_output().replace("\\", "\\\\").replace("\n", "\\n")
    room = _PIPE_BUF - len(head.encode()) - 1
    data = output.encode()
    if len(data) > room:
        output = data[:room - 3].decode(errors="ignore").rstrip("\\") + "..."
    return f"{head}{output}\n"


def submit(results: Sequence[HostResult], settings: NagiosCommandFile, timestamp: int,
           clock: Callable[[], float]) -> list[str]:
    deadline = clock() + settings.timeout
    lines = [line for r in results if (line := command_line(r, timestamp)) is not None]
    notices = []
    if len(lines) < len(results):
        notices.append(f"{len(results) - len(lines)} host results not sent to Nagios: a host "
                       "or service name holds ';' or a newline")
    path = settings.command_file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
    except OSError as exc:
        why = ("no process reads it (is Nagios running?)" if exc.errno == errno.ENXIO
               else exc.strerror or str(exc))
        return [*notices, f"host results not sent to Nagios: {path}: {why}"]
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return [*notices, f"host results not sent to Nagios: {path} is not a FIFO "
                              "(command_file of nagios.cfg)"]
        sent = _write_lines(fd, lines, deadline, clock)
    finally:
        os.close(fd)
    if sent < len(lines):
        notices.append(f"Nagios took {sent} of {len(lines)} host results from {path} within "
                       f"{settings.timeout:g} s; the rest were not sent")
    return notices


def _write_lines(fd: int, lines: list[str], deadline: float, clock: Callable[[], float]
                 ) -> int:
    """Write whole lines while the FIFO has room and time is left; how many went."""
    for n, line in enumerate(lines):
        data = line.encode()
        while True:
            left = deadline - clock()
            if left <= 0:
                return n
            _, ready, _ = select.select([], [fd], [], left)
            if not ready:
                continue
            try:
                os.write(fd, data)  # <= PIPE_BUF: all of it or nothing (EAGAIN)
                break
            except BlockingIOError:
                continue  # a FIFO reports room for fewer bytes than a whole line: wait
            except BrokenPipeError:
                return n
    return len(lines)
