"""Durations as operators write them: "500ms", "30s", "5m", "2h", "1d", or "1m30s".

>>> parse_duration("500ms")
0.5
>>> parse_duration("1m30s")
90.0
>>> format_duration(90.0)
'1m30s'
>>> format_duration(0.25)
'250ms'
>>> parse_duration("5")
Traceback (most recent call last):
...
ValueError: bad duration '5': give a number with a unit, e.g. 500ms, 30s, 5m, 2h
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
LONGEST = 3650 * 86400.0  # beyond this a timer overflows; nobody means it
_HINT = "give a number with a unit, e.g. 500ms, 30s, 5m, 2h"


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError with the reason for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"bad duration {text!r}: {_HINT}")
    compact = text.strip().replace(" ", "")
    if not compact or not _WHOLE.fullmatch(compact):
        raise ValueError(f"bad duration {text!r}: {_HINT}")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(compact))
    if seconds > LONGEST:
        raise ValueError(f"bad duration {text!r}: longer than ten years")
    return seconds


def positive_duration(text: str) -> float:
    """Seconds in `text`, which must be more than none: a timeout, an interval, an age.

    >>> positive_duration("0s")
    Traceback (most recent call last):
    ...
    ValueError: must be longer than 0s
    """
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form of `seconds` (the inverse of parse_duration for whole units)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:g}s" if seconds != int(seconds) else f"{int(seconds)}s"
    out, rest = "", round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out
