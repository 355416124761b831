"""Argument types for step phrases, registered with behave's parse matcher on import.

A quoted argument must stop at its closing quote, or `the file "{path}" should ...` would also
swallow `the file "/x" on "db1" should ...` and the two phrases would be ambiguous. Step modules
write `"{path:Q}"` (double-quoted), `'{command:SQ}'` (single-quoted), `{n:Number}` (a decimal)
and `{n:Int}`.

>>> _quoted("a b")
'a b'
>>> _number("0.5")
0.5
"""

from __future__ import annotations

import parse
from behave import register_type


@parse.with_pattern(r'[^"]*')
def _quoted(text: str) -> str:
    return text


@parse.with_pattern(r"[^']*")
def _single_quoted(text: str) -> str:
    return text


@parse.with_pattern(r"-?\d+(?:\.\d+)?")
def _number(text: str) -> float:
    return float(text)


@parse.with_pattern(r"-?\d+")
def _integer(text: str) -> int:
    return int(text)


register_type(Q=_quoted, SQ=_single_quoted, Number=_number, Int=_integer)
