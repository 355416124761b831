"""How a command ended, on this machine or over SSH: one result shape for both transports.

Returned by `escalator.probes.command.run` (a local shell line) and by
`escalator.probes.ssh.Connection.run` (a remote command), as pytest-testinfra's `CommandResult`
serves each of its backends; read by `escalator.steps.system` and `escalator.steps.ssh`. A bad
exit, a signal or a timeout is data, never raised.

>>> CommandResult("systemctl is-active nginx", exit_status=3, stdout="inactive\\n").ended
'exited 3'
>>> CommandResult("sleep 9", timeout=2.0, timed_out=True).ended
'did not finish within 2.0 s and was killed'
>>> CommandResult("df", address="db1:22", stdout="out", stderr="err").output
'outerr'
"""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandResult:
    """`exit_status` is None when the command was killed, timed out or never ran (`error`
    says why it could not run). Output beyond the probe's limit is dropped (`truncated`);
    `output_bytes` counts all that was written where the transport tells (SSH). Over SSH,
    stderr comes combined into `stdout`; `address` is where it ran (None: this machine)."""

    command: str
    address: str | None = None
    exit_status: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    output_bytes: int | None = None
    truncated: bool = False
    timeout: float = 0.0
    timed_out: bool = False
    elapsed: float = 0.0
    error: str | None = None

    @property
    def output(self) -> str:
        """Everything the command wrote: stdout, then stderr."""
        return self.stdout + self.stderr

    @property
    def ended(self) -> str:
        """How it ended, in words: "exited 0", "was killed by signal 9", "timed out after 2.0 s"."""
        if self.error is not None:
            return self.error
        if self.timed_out:
            return f"did not finish within {self.timeout:.1f} s and was killed"
        if self.signal is not None:
            return f"was killed by signal {self.signal} ({_signal_name(self.signal)})"
        return f"exited {self.exit_status}"


def _signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name
    except ValueError:
        return "unknown"
