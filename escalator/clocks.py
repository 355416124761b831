"""How old something stored is, across processes and clock steps: the rule `escalator status`
applies to the latest result, whether it answers in full (`escalator.state.StoredRun.age`) or
from the stored answer (`escalator.laststatus`). Nothing imported but os and math: the stored
answer is read before anything else is loaded.

>>> stored_age(1000.0, None, "", now=1060.0)
60.0
>>> stored_age(1000.0, 5.0, "b1", now=990.0, mono=75.0, boot="b1")  # the wall clock stepped back
70.0
>>> stored_age(1000.0, None, "", now=900.0)  # from the future, with nothing else to go by
inf
"""

from __future__ import annotations

import math

FUTURE_SLACK = 60.0  # seconds a result may seem to come from the future (a clock slewed back)
_BOOT_ID = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str:
    """This boot's id (Linux); "" elsewhere. Within one boot, `time.monotonic()` of every process
    counts from the same start, so elapsed time between processes survives wall-clock steps."""
    try:
        with open(_BOOT_ID) as handle:
            return handle.read().strip()
    except OSError:
        return ""


def stored_age(stored_at: float, stored_mono: float | None, stored_boot: str, now: float,
               mono: float | None = None, boot: str = "") -> float:
    """Seconds since something was stored at `stored_at` (epoch seconds; `stored_mono`,
    time.monotonic() then, in the boot `stored_boot`); never negative (clocks do step back).

    In the boot that stored it, monotonic time tells the age too and the larger answer counts,
    so a wall clock that was ahead when it was stored cannot keep it fresh. Stored in the
    future without that record: the age is unknown (`math.inf`).
    """
    wall = now - stored_at
    if mono is not None and stored_mono is not None and boot and boot == stored_boot \
            and mono >= stored_mono:
        return max(0.0, wall, mono - stored_mono)
    return math.inf if wall < -FUTURE_SLACK else max(0.0, wall)
