"""Nagios service states as values, and the reduction over them.

A run's state is the worst of its scenarios' states. "Worst" ranks by how much an operator must
act, not by the plugin exit code: CRITICAL outranks UNKNOWN, because a confirmed failure of the
monitored thing matters more than a check that could not be made (Icinga sorts the same way).

>>> worst([Status.OK, Status.UNKNOWN, Status.WARNING])
<Status.UNKNOWN: 3>
>>> worst([Status.UNKNOWN, Status.CRITICAL]).name
'CRITICAL'
>>> worst([]).name
'OK'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Status(enum.IntEnum):
    """A Nagios state; the integer value is the plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}


def worst(states: Iterable[Status]) -> Status:
    """The state that needs the most attention; OK for nothing."""
    return max(states, key=lambda s: s.rank, default=Status.OK)
