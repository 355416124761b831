"""The behave context each scenario runs with: behave's own, noting where an attribute was set
without reading the caller's source file.

behave's `Context.__setattr__` records the file, line, function and source text of every
assignment, for the warning it gives when user code masks an attribute behave set (or the other
way round). It gets them with `traceback.extract_stack`, which checks the source file of each
frame on disk (a `stat` each time) and reads its line: about 7 us, 19 times per scenario of an
HTTP check, a tenth of a worker's time per instant scenario (bench/README.md). Here the record
is the same `FrameSummary`, made from the caller's frame when a warning reads it (`_Where`),
and its source text is read only then. Everything else is behave's: layers, modes, masking
rules, the warning.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from traceback import FrameSummary
from types import CodeType
from typing import Any

from behave.runner import Context


class ScenarioContext(Context):  # type: ignore[misc]
    def __setattr__(self, attr: str, value: Any) -> None:
        if attr[0] == "_":  # behave's own bookkeeping: no record, no masking rule
            self.__dict__[attr] = value
            return
        for frame in self._stack[1:]:
            if attr in frame:  # masked: behave may warn, naming where it was set
                self._emit_warning(attr, _Masked(attr, self._record[attr]))
        caller = sys._getframe(1)
        self._record[attr] = _Where(caller.f_code, caller.f_lineno)
        self._stack[0][attr] = value
        self._origin.setdefault(attr, self._mode)


class _Masked:
    """The parameters of behave's warning about a masked attribute, read from where it was set
    only when a warning is given: behave masks `table` and `text` at every step and warns only
    in some modes."""

    __slots__ = ("_attr", "_where")

    def __init__(self, attr: str, where: Any) -> None:
        self._attr, self._where = attr, where

    def __getitem__(self, key: str) -> Any:
        if key == "attr":
            return self._attr
        filename, line, _, function = self._where  # behave names the source text "function"
        return {"filename": filename, "line": line, "function": function}[key]


class _Where:
    """Where an attribute was set: behave's record, a `FrameSummary` (file, line, function,
    source text), made when something reads it: a warning, which is rare. Making it at every
    assignment cost 0.7 us, 34 times per scenario of an HTTP check."""

    __slots__ = ("_code", "_line", "_summary")

    def __init__(self, code: CodeType, line: int) -> None:
        self._code, self._line = code, line
        self._summary: FrameSummary | None = None

    @property
    def summary(self) -> FrameSummary:
        if self._summary is None:
            self._summary = FrameSummary(self._code.co_filename, self._line,
                                         self._code.co_name, lookup_line=False)
        return self._summary

    def __getitem__(self, index: int) -> Any:
        return self.summary[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.summary)

    def __getattr__(self, name: str) -> Any:  # filename, lineno, name, line
        return getattr(self.summary, name)
