"""A limit on a measured value: one object judges the value and writes the Nagios range for it.

A step that states a threshold ("less than 500 ms", "at least 14 days", "warning above 300 ms")
builds a `Limit`; the step judges its measurement with it, the measurement carries it, and the
perfdata renderer writes it with `str()`. One object for both jobs keeps the verdict and what
Nagios reads from perfdata in agreement, boundaries included. The semantics are the plugin
guidelines' ranges (as nagiosplugin's `Range`): `[@][start:]end` is fine from start to end,
both ends included; `~` is minus infinity, an empty end is infinity, and `@` turns it around
(an alert inside).

>>> limit = Limit.below(500)        # "less than 500 ms": 500 itself is too slow
>>> str(limit), limit.alerts(499.9), limit.alerts(500), limit.describe("ms")
('@500:', False, True, 'less than 500 ms')
>>> str(Limit.at_least(14)), Limit.at_least(14).alerts(14), Limit.at_least(14).alerts(13.9)
('14:', False, True)
>>> str(Limit.at_most(300)), Limit.at_most(300).alerts(300), Limit.at_most(300).describe("ms")
('300', False, 'at most 300 ms')
>>> Limit.parse("~:10") == Limit.at_most(10, start=-math.inf), str(Limit.parse("@10:20"))
(True, '@10:20')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"(?P<inside>@)?(?:(?P<start>~|{_NUMBER}):)?(?P<end>{_NUMBER})?")


@dataclass(frozen=True)
class Limit:
    """The values that raise no alert: `start` to `end` (both included), or with `inside` the
    values outside that interval."""

    start: float = 0.0
    end: float = math.inf
    inside: bool = False

    def __post_init__(self) -> None:
        if math.isnan(self.start) or math.isnan(self.end) or self.start > self.end:
            raise ValueError(f"a limit from {self.start:g} to {self.end:g} is empty")

    # ---- making one --------------------------------------------------------------------

    @classmethod
    def below(cls, n: float) -> Limit:
        """Strictly less than `n` ("less than 500 ms"): `n` itself alerts, written `@n:`."""
        return cls(n, math.inf, inside=True)

    @classmethod
    def at_most(cls, n: float, start: float = 0.0) -> Limit:
        """`n` or less ("warning above 300 ms"); `start` is the lowest value that is fine
        (0 for times, which cannot be negative; minus infinity for ages, which can)."""
        return cls(start if start <= n else -math.inf, n)

    @classmethod
    def at_least(cls, n: float) -> Limit:
        """`n` or more ("at least 14 days", "warning below 30"), written `n:`."""
        return cls(n, math.inf)

    @classmethod
    def above(cls, n: float) -> Limit:
        """Strictly more than `n`: `n` itself alerts, written `@~:n`."""
        return cls(-math.inf, n, inside=True)

    @classmethod
    def parse(cls, text: str) -> Limit:
        """A Nagios range as the plugin guidelines write it; ValueError when it is not one.

        >>> Limit.parse("10"), Limit.parse("10:")
        (Limit(start=0.0, end=10.0, inside=False), Limit(start=10.0, end=inf, inside=False))
        """
        found = _RANGE.fullmatch(text.strip())
        if not found or not (found["start"] or found["end"] or text.strip().endswith(":")):
            raise ValueError(f"{text!r} is not a Nagios range (e.g. 10, 10:, ~:10, 10:20, @10:20)")
        start = found["start"]
        return cls(-math.inf if start == "~" else float(start or 0),
                   float(found["end"]) if found["end"] else math.inf, bool(found["inside"]))

    # ---- using one ---------------------------------------------------------------------

    def alerts(self, value: float) -> bool:
        """True when `value` breaks this limit."""
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def bounds(self) -> tuple[float | None, float | None]:
        """(lower, upper): the value alerts below `lower` or above `upper` (at them too for an
        `@` range); None where there is no such bound, as for the 0 a range starts at unless it
        says otherwise, or for an `@` band between two finite ends (alerts inside it).

        >>> Limit.at_most(300).bounds(), Limit.below(500).bounds(), Limit.at_least(14).bounds()
        ((None, 300), (None, 500), (14, None))
        >>> Limit.above(2).bounds(), Limit(10, 20, inside=True).bounds()
        ((2, None), (None, None))
        """
        if self.inside:
            if self.end == math.inf and self.start != -math.inf:
                return None, self.start
            if self.start == -math.inf and self.end != math.inf:
                return self.end, None
            return None, None
        return (None if self.start in (0.0, -math.inf) else self.start,
                None if self.end == math.inf else self.end)

    def __str__(self) -> str:
        """The Nagios range, shortest form (`10`, `10:`, `~:10`, `@10:`)."""
        start = "~:" if self.start == -math.inf else (
            "" if self.start == 0 and self.end != math.inf else f"{_number(self.start)}:")
        end = "" if self.end == math.inf else _number(self.end)
        return ("@" if self.inside else "") + start + end

    def describe(self, unit: str = "", scale: float = 1.0) -> str:
        """What passes, in words: "less than 500 ms", "at least 14 days". `scale` divides the
        numbers (a limit in seconds said in hours), `unit` follows them ("%" without a space).

        >>> Limit.at_most(86400, start=-math.inf).describe("hours", 3600)
        'at most 24 hours'
        >>> Limit(10, 20).describe(), Limit(10, 20, inside=True).describe("%")
        ('between 10 and 20', 'below 10% or above 20%')
        """
        said = _words(unit, scale)
        low = self.start not in (0.0, -math.inf)
        if self.inside:
            if self.end == math.inf:
                return f"less than {said(self.start)}"
            if self.start == -math.inf:
                return f"more than {said(self.end)}"
            return f"below {said(self.start)} or above {said(self.end)}"
        if self.end == math.inf:
            return f"at least {said(self.start)}"
        if low:
            return f"between {said(self.start)} and {said(self.end)}"
        return f"at most {said(self.end)}"

    def violation(self, unit: str = "", scale: float = 1.0) -> str:
        """Where the alerts are, in the words of a phrase's warning clause.

        >>> Limit.at_most(300).violation("ms"), Limit.at_least(30).violation("days")
        ('above 300 ms', 'below 30 days')
        >>> Limit.below(5).violation("s"), Limit(1, 2).violation()
        ('at 5 s or more', 'outside 1 to 2')
        """
        said = _words(unit, scale)
        if self.inside:
            if self.end == math.inf:
                return f"at {said(self.start)} or more"
            if self.start == -math.inf:
                return f"at {said(self.end)} or less"
            return f"between {said(self.start)} and {said(self.end)}"
        if self.end == math.inf:
            return f"below {said(self.start)}"
        if self.start in (0.0, -math.inf):
            return f"above {said(self.end)}"
        return f"outside {said(self.start)} to {said(self.end)}"


def _words(unit: str, scale: float) -> Callable[[float], str]:
    """How a limit's number reads with its unit: "500 ms", "99%", "24 hours"."""

    def said(n: float) -> str:
        text = _number(n / scale)
        return f"{text}{unit}" if unit in ("", "%") else f"{text} {unit}"

    return said


def _number(value: float) -> str:
    """A limit's number as perfdata and reasons write it: 500.0 -> "500", 0.1 -> "0.1".

    >>> _number(500.0), _number(0.1), _number(1e-7), _number(86400 * 30)
    ('500', '0.1', '0.0000001', '2592000')
    """
    text = format(value, "f") if value == int(value) else repr(value)
    if "e" in text:
        text = format(value, ".12f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
