"""Argument types for step phrases, registered with behave's parse matcher on import.

A quoted argument must stop at its closing quote, or `the file "{path}" should ...` would also
swallow `the file "/x" on "db1" should ...` and the two phrases would be ambiguous. Step modules
write `"{path:Q}"` (double-quoted), `'{command:SQ}'` (single-quoted), `{n:Number}` (a decimal)
and `{n:Int}`. A number may also be written `${name}`: it arrives as a `Deferred` that the
runner's step guard resolves against the environment before the step runs, so thresholds, ports
and counts can come from escalator.toml like any other argument.

The warning clause of a threshold phrase (", warning above 300 ms") takes its number with the
unit optional, since the unit is the phrase's own: `{w:Ms}`, `{w:Seconds}`, `{w:Days}`,
`{w:Minutes}` and `{w:Percent}`.

>>> _quoted("a b")
'a b'
>>> _number("0.5"), _integer("${port}").name, _ms("300 ms"), _ms("300ms"), _percent("99.9%")
(0.5, 'port', 300.0, 300.0, 99.9)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import parse
from behave import register_type

from escalator.variables import DEFERRED, Deferred

_REFERENCE = DEFERRED.pattern
_DECIMAL = r"-?\d+(?:\.\d+)?"


@parse.with_pattern(r'[^"]*')
def _quoted(text: str) -> str:
    return text


@parse.with_pattern(r"[^']*")
def _single_quoted(text: str) -> str:
    return text


def _numeric(number: str, convert: Callable[[str], Any], kind: str,
             unit: str = "") -> Callable[[str], Any]:
    """A converter for `number` or `${name}`, then optionally `unit` (dropped)."""
    suffix = re.compile(rf"\s*(?:{unit})$") if unit else None

    @parse.with_pattern(rf"(?:{number}|{_REFERENCE})" + (rf"(?: ?(?:{unit}))?" if unit else ""))
    def converted(text: str) -> Any:
        text = suffix.sub("", text) if suffix else text
        reference = DEFERRED.fullmatch(text)
        return Deferred(reference.group(1), convert, kind) if reference else convert(text)

    return converted  # type: ignore[no-any-return]  # parse.with_pattern is untyped


_number = _numeric(_DECIMAL, float, "number")
_integer = _numeric(r"-?\d+", int, "whole number")
_ms = _numeric(_DECIMAL, float, "number", "ms")
_percent = _numeric(_DECIMAL, float, "number", "%")

register_type(Q=_quoted, SQ=_single_quoted, Number=_number, Int=_integer, Ms=_ms,
              Seconds=_numeric(_DECIMAL, float, "number", "seconds|second|s"),
              Days=_numeric(_DECIMAL, float, "number", "days|day"),
              Minutes=_numeric(_DECIMAL, float, "number", "minutes|minute"),
              Percent=_percent)
