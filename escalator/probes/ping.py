"""The ping probe: does a host answer ICMP echo, and how fast.

Called by `escalator.steps.system`. `ping(PingTarget)` runs iputils `ping` with a packet count
AND a deadline (`-c 3 -w 3`), so it always ends: cucumber-nagios ran `ping host` without either
and hung forever on Linux. The host is passed as one argument, never through a shell. The
result counts packets and keeps the average round-trip time; an unknown name or an unreachable
network is data in `error`. ping runs under the command probe's keeper
(`escalator.probes.command.program`), so it ends with the check even when the check is killed.

>>> parse_summary("3 packets transmitted, 2 received, 33% packet loss, time 404ms\\n"
...               "rtt min/avg/max/mdev = 0.035/0.037/0.040/0.002 ms\\n")
(3, 2, 0.037)
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

from escalator.probes import ProbeSetupError
from escalator.probes.command import program, run

_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT = re.compile(r"= [\d.]+/([\d.]+)/")
_PROGRAM = re.compile(r"^\S*ping: ")  # ping's messages start with its argv[0]


@dataclass(frozen=True)
class PingTarget:
    """`wait` is how long to keep trying a silent host (whole seconds, at most `timeout`)."""

    host: str
    timeout: float = 5.0
    count: int = 3
    wait: int = 3


@dataclass(frozen=True)
class PingResult:
    target: PingTarget
    transmitted: int = 0
    received: int = 0
    rtt_ms: float | None = None
    elapsed: float = 0.0
    error: str | None = None

    @property
    def responded(self) -> bool:
        return self.received > 0

    @property
    def loss(self) -> float:
        """Packet loss in percent (100 when nothing could be sent)."""
        if not self.transmitted:
            return 100.0
        return 100.0 * (self.transmitted - self.received) / self.transmitted


def ping(target: PingTarget) -> PingResult:
    """Send `count` echo requests, stop at the first of all replies or the deadline."""
    done = run(program(_argv(target), target.timeout, environ={**os.environ, "LC_ALL": "C"}))
    if done.timed_out or done.error is not None:
        return PingResult(target, elapsed=done.elapsed, error=done.error or (
            f"ping {target.host} did not finish within {target.timeout:.1f} s"))
    transmitted, received, rtt = parse_summary(done.stdout)
    error = None
    if done.exit_status not in (0, 1) or not transmitted:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        error = f"cannot ping {target.host}: {_PROGRAM.sub('', last)}"
    return PingResult(target, transmitted, received, rtt, done.elapsed, error)


def parse_summary(output: str) -> tuple[int, int, float | None]:
    """(transmitted, received, average rtt in ms) from ping's closing lines."""
    summary = _SUMMARY.search(output)
    if summary is None:
        return 0, 0, None
    rtt = _RTT.search(output)
    return int(summary.group(1)), int(summary.group(2)), float(rtt.group(1)) if rtt else None


def _argv(target: PingTarget) -> list[str]:
    host = target.host.strip()
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise ProbeSetupError(f"bad host {target.host!r} to ping")
    binary = shutil.which("ping") or next(
        (p for p in ("/usr/bin/ping", "/bin/ping") if os.path.exists(p)), None)
    if binary is None:
        raise ProbeSetupError("ping is not installed (Debian package iputils-ping)")
    # -w is whole seconds; keep it inside our own timeout so ping ends before we kill it.
    deadline = max(1, min(target.wait, int(target.timeout - 0.5)))
    return [binary, "-n", "-c", str(target.count), "-i", "0.2", "-W", "1", "-w", str(deadline),
            host]
