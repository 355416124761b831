"""The coordinator's hold on one worker process: fork it, hand it units, take back those it has
not started, stop handing it any.

Commands go over a socket pair of whole messages (`worker.COMMAND`: unit id and assignment), not
a pipe: a worker reads one message when it is about to start that unit, so what the coordinator
reads back from the worker's end (`take_back_unread`) is what the worker will never see (a
socket gives each message to one reader; a pipe's bytes could be read in any pieces). Results
come back over a pipe of JSON lines (`escalator.pipe`). Used only by
`escalator.runner.coordinator`, which decides what to hand out and when.
"""

from __future__ import annotations

import os
import signal
import socket
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from escalator import pipe
from escalator.lifetime import die_with_parent
from escalator.runner.suite import Unit
from escalator.runner.worker import COMMAND


@dataclass
class Job:
    unit: Unit
    attempt: int
    assignment: int  # the number it was handed out as (see runner/board.py)


@dataclass
class Worker:
    pid: int
    reader: pipe.LineReader  # its results
    commands: int  # this end of its command socket; -1 once closed
    unsent: int  # its own end, kept to take back what it has not read
    slot: int  # its slot on the board
    jobs: deque[Job] = field(default_factory=deque)  # handed to it, in order: the first runs
    ran: int = 0

    @property
    def unit(self) -> Unit | None:
        """The unit it is running (or about to), None when it has nothing to do."""
        return self.jobs[0].unit if self.jobs else None

    @property
    def open(self) -> bool:
        """Whether it may still be handed units."""
        return self.commands >= 0

    def hand(self, job: Job) -> None:
        self.jobs.append(job)
        os.write(self.commands, COMMAND.pack(job.unit.id, job.assignment))

    def take_back_unread(self) -> list[Job]:
        """The jobs it holds but has not read, in order, now no longer its own."""
        taken: set[int] = set()
        with socket.socket(fileno=os.dup(self.unsent)) as end:
            while len(taken) < len(self.jobs):
                try:
                    command = end.recv(COMMAND.size, socket.MSG_DONTWAIT)
                except BlockingIOError:  # it has read the rest
                    break
                taken.add(COMMAND.unpack(command)[1])
        back = [job for job in self.jobs if job.assignment in taken]
        self.jobs = deque(job for job in self.jobs if job.assignment not in taken)
        return back

    def close(self) -> bool:
        """Hand it nothing more: it ends its loop once it has run what it read. Whether it was
        still open."""
        if not self.open:
            return False
        os.close(self.commands)
        os.close(self.unsent)
        self.commands = self.unsent = -1
        return True


def spawn(slot: int, siblings: Iterable[Worker], out: int,
          serve: Callable[[int, int], None]) -> Worker:
    """Fork a worker that runs `serve(commands, results)` on its ends of the two channels and
    exits; `out` (the CLI's pipe) and the siblings' channels are closed in it, or their
    readers would never see the end of them."""
    read_fd, write_fd = os.pipe()
    command_write, command_read = (end.detach() for end in socket.socketpair(
        socket.AF_UNIX, socket.SOCK_SEQPACKET))
    coordinator = os.getpid()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            if not die_with_parent(coordinator, signal.SIGKILL):
                os._exit(1)  # the coordinator is gone: nobody to report to
            os.close(read_fd)
            os.close(command_write)
            os.close(out)
            for sibling in siblings:
                sibling.close()
                os.close(sibling.reader.fd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            serve(command_read, write_fd)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return Worker(pid, pipe.LineReader(read_fd), command_write, command_read, slot)
