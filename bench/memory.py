"""Peak memory of an `escalator` run, per role: the CLI process, the coordinator, the workers.

Called by `bench/run` for the 1,000-scenario case. `watch(argv, cwd)` starts the command and
samples its process tree from /proc every few milliseconds until it exits. Roles follow the
runner's shape (docs/internals.md): the process we started is the CLI, its children are the
coordinator, their children are workers. For each sample it reads VmRSS (/proc/PID/status) and
Pss (/proc/PID/smaps_rollup). RSS counts every page a process maps, so the copy-on-write pages
that all forked workers share with the coordinator are counted once per worker; PSS divides each
shared page by the number of processes sharing it, so a sum of PSS is memory really used.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_KIB = 1024


@dataclass
class Peaks:
    """Peak values in bytes; `workers_*` are sums over the workers alive in one sample."""

    cli_rss: int = 0
    cli_pss: int = 0
    coordinator_rss: int = 0
    coordinator_pss: int = 0
    worker_rss_max: int = 0
    workers_rss: int = 0
    workers_pss: int = 0
    workers_alive: int = 0
    samples: int = 0
    seconds: float = 0.0
    code: int = 0
    first_line: str = ""
    roles_seen: set[str] = field(default_factory=set)

    @property
    def largest_rss(self) -> int:
        return max(self.cli_rss, self.coordinator_rss, self.worker_rss_max)


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:  # the process ended between listing and reading: skip it
        return ""


def _field_kib(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * _KIB
    return 0


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process on the machine."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read(f"/proc/{entry}/stat")
            if stat:
                # the command name may hold spaces and parentheses: split after the last ')'
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _roles(root: int) -> dict[int, str]:
    parents = _parents()
    roles = {root: "cli"}
    coordinators = {pid for pid, parent in parents.items() if parent == root}
    roles.update(dict.fromkeys(coordinators, "coordinator"))
    roles.update({pid: "worker" for pid, parent in parents.items() if parent in coordinators})
    return roles


def _sample(root: int, peaks: Peaks) -> None:
    rss_sum = pss_sum = alive = 0
    for pid, role in _roles(root).items():
        rss = _field_kib(_read(f"/proc/{pid}/status"), "VmRSS")
        pss = _field_kib(_read(f"/proc/{pid}/smaps_rollup"), "Pss")
        if not rss:
            continue  # a zombie, or gone
        peaks.roles_seen.add(role)
        if role == "cli":
            peaks.cli_rss, peaks.cli_pss = max(peaks.cli_rss, rss), max(peaks.cli_pss, pss)
        elif role == "coordinator":
            peaks.coordinator_rss = max(peaks.coordinator_rss, rss)
            peaks.coordinator_pss = max(peaks.coordinator_pss, pss)
        else:
            rss_sum, pss_sum, alive = rss_sum + rss, pss_sum + pss, alive + 1
            peaks.worker_rss_max = max(peaks.worker_rss_max, rss)
    peaks.workers_rss = max(peaks.workers_rss, rss_sum)
    peaks.workers_pss = max(peaks.workers_pss, pss_sum)
    peaks.workers_alive = max(peaks.workers_alive, alive)
    peaks.samples += 1


def watch(argv: Sequence[str], cwd: Path, interval: float = 0.01, timeout: float = 600
          ) -> Peaks:
    """Run `argv` and sample its process tree until it exits."""
    peaks = Peaks()
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, text=True)
    try:
        while process.poll() is None:
            if time.perf_counter() - started > timeout:
                process.kill()
                break
            _sample(process.pid, peaks)
            time.sleep(interval)
        output = process.communicate()[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    peaks.seconds = time.perf_counter() - started
    peaks.code = process.returncode
    peaks.first_line = (output.splitlines() or [""])[0][:160]
    return peaks


def mib(n: int) -> str:
    return f"{n / _KIB / _KIB:.1f}"
