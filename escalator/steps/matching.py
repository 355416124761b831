"""How steps compare what a target said with what a feature expects: numbers and patterns.

Registers three argument types with behave's parse matcher (importing this module is enough):
`{op:Comparison}` reads "less than", "more than", "greater than", "at least", "at most" or
"equal to", `{side:Side}` the "above" or "below" of a warning clause (", warning above 80"), and
`/{pattern:Regex}/` takes everything between the first and the last slash of the phrase. A
comparison is a `Limit` (escalator.limits) that judges the value and is the perfdata range, so
"less than 100" fails at 100 and is written `@100:`. Regular expressions are opt-in by phrase
("should match /.../"): every other text phrase compares literal text. Used by
`escalator.steps.values`, `escalator.steps.network` and the other step modules that judge a
number or a pattern.

>>> c = Comparison("less than", 100)
>>> c.holds(99.5), c.holds(100), str(c.limit), c.describe()
(True, False, '@100:', 'less than 100')
>>> str(c.warning("above", 80)), str(Comparison("at least", 14).warning("below", 30))
('~:80', '30:')
>>> as_number("7.50") == as_number(7.5) == 7.5, as_number("7,5"), as_number(True)
(True, None, None)
>>> compile_pattern("v[0-9]+").search("api v12") is not None
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import parse
from behave import register_type

from escalator.limits import Limit
from escalator.steps.support import StepSetupError, shown, stated

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

# phrase -> the values that pass (a compared number may be negative: no range starts at 0)
_OPERATORS: dict[str, Callable[[float], Limit]] = {
    "less than": Limit.below,
    "at most": lambda n: Limit.at_most(n, start=-math.inf),
    "more than": Limit.above,
    "greater than": Limit.above,
    "at least": Limit.at_least,
    "equal to": lambda n: Limit(n, n),
}
_UPPER = ("less than", "at most")  # the operators that bound a value from above


@dataclass(frozen=True)
class Comparison:
    """A comparison a feature wrote ("at least 14"): its limit, and the words it used."""

    op: str
    n: float

    @property
    def limit(self) -> Limit:
        """What passes, as the Limit that judges and goes to perfdata."""
        return _OPERATORS[self.op](self.n)

    def holds(self, value: float) -> bool:
        return not self.limit.alerts(value)

    def describe(self) -> str:
        return f"{self.op} {self.n:g}"

    def warning(self, side: str, w: float) -> Limit:
        """The warning clause after it (", warning above 80"): the values that raise no
        warning. StepSetupError when it cannot come before this comparison's own limit."""
        if self.op == "equal to":
            raise StepSetupError(f"{self.describe()} has no warning limit: a value is equal or "
                                 "it is not")
        warn = Limit.at_most(w, start=-math.inf) if side == "above" else Limit.at_least(w)
        return stated(self.limit, warn)[1] or warn

    def worst(self, values: list[float]) -> float:
        """The value that decides: the largest against an upper limit, else the smallest
        (for "equal to", the one furthest from the limit)."""
        if self.op in _UPPER:
            return max(values)
        if self.op == "equal to":
            return max(values, key=lambda v: abs(v - self.n))
        return min(values)


@parse.with_pattern("|".join(_OPERATORS))
def _comparison(text: str) -> str:
    return text


@parse.with_pattern(r"above|below")
def _side(text: str) -> str:
    return text


@parse.with_pattern(r".+")
def _regex(text: str) -> str:
    return text


register_type(Comparison=_comparison, Side=_side, Regex=_regex)


def as_number(value: Any) -> float | None:
    """A JSON value or a text as a number ("7.50", 7.5, " 42\\n"), None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value.strip())
    return None


def compile_pattern(text: str) -> re.Pattern[str]:
    """The feature's regular expression; a bad one is our mistake, reported with the reason."""
    try:
        return re.compile(text)
    except re.error as exc:
        raise StepSetupError(f"bad regular expression /{text}/: {exc}") from None


def quoted(context: Any, text: str, limit: int = 120) -> str:
    """A target's text quoted on one line for a reason, bounded; the scenario's secrets are
    masked before the cut (`support.shown`), so no piece of one survives it.

    >>> from types import SimpleNamespace
    >>> from escalator.steps.support import Session
    >>> context = SimpleNamespace(escalator=Session(secrets=("Zq7Passw0rdVx41",)))
    >>> quoted(context, "a\\n  b"), quoted(context, "x" * 200, 10)
    ("'a b'", "'xxxxxxx...'")
    >>> quoted(context, "the key is Zq7Passw0rdVx41, use it", 18)
    "'the key is ***...'"
    """
    return repr(shown(context, text, limit))
