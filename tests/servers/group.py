"""Stopping a daemon that leads its own process group (started with `start_new_session`):
nsd, RabbitMQ and Nagios fork helpers that must not outlive the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM the group `proc` leads, wait up to `grace` seconds for `proc`, then SIGKILL
    whatever is left of the group (helpers that outlived it too) and reap `proc`."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
