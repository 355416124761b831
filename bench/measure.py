"""Timing commands: one wall-clock run of a command line, and cases run alternately.

Called by `bench/run` for every case. A case is a subject (an `escalator` command) and the
baselines it is compared against; `alternate()` runs them A, B, C, A, B, C ... so that drift in
the machine's load (other people's tests on two shared cores) falls on all of them alike, and
keeps every wall time and CPU time so the table can show medians. CPU time is the user and
system time of the command and every process it waited for (Escalator's coordinator and
workers): on a machine shared with others it moves less than wall time does.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Command:
    """One command line of a case: what the table calls it, what runs, where."""

    label: str
    argv: tuple[str, ...]
    cwd: Path
    expect: tuple[int, ...] = (0,)  # exit codes that mean "it ran as intended"


@dataclass(frozen=True)
class Timing:
    seconds: float
    code: int
    first_line: str
    cpu: float = 0.0  # user + system seconds, the command's waited-for descendants included


@dataclass
class Samples:
    command: Command
    timings: list[Timing] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(t.seconds for t in self.timings)

    @property
    def cpu_median(self) -> float:
        return statistics.median(t.cpu for t in self.timings)

    @property
    def unexpected(self) -> list[Timing]:
        """Runs that exited with a code the case did not expect (the figure is suspect)."""
        return [t for t in self.timings if t.code not in self.command.expect]


def run_once(command: Command, timeout: float = 600) -> Timing:
    """Wall time from spawn to exit, with output captured (as Nagios would capture it), and
    the CPU time the command took (the bench runs one command at a time, so the difference in
    this process's children's usage is that command's)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command.argv, cwd=command.cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return Timing(seconds, done.returncode, lines[0][:160] if lines else "", cpu)


def alternate(commands: Sequence[Command], runs: int,
              before_each: Callable[[], None] | None = None, warm: bool = True
              ) -> list[Samples]:
    """Run every command `runs` times, interleaved; `before_each` resets state between runs.

    One untimed run of each comes first (`warm`): it writes the bytecode cache and fills the
    page cache, so the figures are those of a machine that has run the command before.
    """
    samples = [Samples(command) for command in commands]
    for sample in samples if warm else ():
        run_once(sample.command)
    for _ in range(runs):
        for sample in samples:
            if before_each is not None:
                before_each()
            sample.timings.append(run_once(sample.command))
    return samples


def load_average() -> tuple[float, float, float]:
    with open("/proc/loadavg") as handle:
        one, five, fifteen = handle.read().split()[:3]
    return float(one), float(five), float(fifteen)
