"""Every exit status a command returns, named by what it means.

`check` and `status` exit with the Nagios state itself (`escalator.status.Status`, whose values
are these same numbers); `run` follows CI's convention; the ladder commands mix the two: 2 for a
service still failing (CRITICAL), 3 when they could not run at all (UNKNOWN).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # run: every scenario passed; escalate and watch: healthy at the end
    FAILED = 1  # run: a scenario failed
    NOT_RUN = 2  # run, and commands without an answer of their own: could not run
    FAILING = 2  # escalate: still failing, or latched (Nagios CRITICAL)
    UNKNOWN = 3  # check, status, escalate, watch, ladder: could not run (Nagios UNKNOWN)
