"""How steps compare what a target said with what a feature expects: numbers and patterns.

Registers two argument types with behave's parse matcher (importing this module is enough):
`{op:Comparison}` reads "less than", "more than", "greater than", "at least", "at most" or
"equal to", and `/{pattern:Regex}/` takes everything between the first and the last slash of
the phrase. Regular expressions are opt-in by phrase ("should match /.../"): every other text
phrase compares literal text. Used by `escalator.steps.values`, `escalator.steps.network` and
the other step modules that judge a number or a pattern.

>>> c = Comparison("less than", 100)
>>> c.holds(99.5), c.holds(100), c.threshold, c.describe()
(True, False, '~:100', 'less than 100')
>>> as_number("7.50") == as_number(7.5) == 7.5, as_number("7,5"), as_number(True)
(True, None, None)
>>> compile_pattern("v[0-9]+").search("api v12") is not None
True
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import parse
from behave import register_type

from escalator.steps.support import StepSetupError, shown

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

_OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    # phrase -> (test, Nagios range of the values that pass; {n} is the limit)
    "less than": (operator.lt, "~:{n}"),
    "at most": (operator.le, "~:{n}"),
    "more than": (operator.gt, "{n}:"),
    "greater than": (operator.gt, "{n}:"),
    "at least": (operator.ge, "{n}:"),
    "equal to": (operator.eq, "{n}:{n}"),
}


@dataclass(frozen=True)
class Comparison:
    """A comparison a feature wrote ("at least 14"): its test and its perfdata range."""

    op: str
    limit: float

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op][0](value, self.limit)

    @property
    def threshold(self) -> str:
        return _OPERATORS[self.op][1].format(n=f"{self.limit:g}")

    def describe(self) -> str:
        return f"{self.op} {self.limit:g}"

    def worst(self, values: list[float]) -> float:
        """The value that decides: the largest against an upper limit, else the smallest
        (for "equal to", the one furthest from the limit)."""
        if self.op in ("less than", "at most"):
            return max(values)
        if self.op == "equal to":
            return max(values, key=lambda v: abs(v - self.limit))
        return min(values)


@parse.with_pattern("|".join(_OPERATORS))
def _comparison(text: str) -> str:
    return text


@parse.with_pattern(r".+")
def _regex(text: str) -> str:
    return text


register_type(Comparison=_comparison, Regex=_regex)


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
