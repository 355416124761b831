"""The behave context each scenario runs with: behave's own, noting where an attribute was set
without reading the caller's source file.

behave's `Context.__setattr__` records the file, line, function and source text of every
assignment, for the warning it gives when user code masks an attribute behave set (or the other
way round). It gets them with `traceback.extract_stack`, which checks the source file of each
frame on disk (a `stat` each time) and reads its line: about 7 us, 19 times per scenario of an
HTTP check, a tenth of a worker's time per instant scenario (bench/README.md). Here the record
is the same `FrameSummary`, made from the caller's frame, and its source text is read only if a
warning asks for it. Everything else is behave's: layers, modes, masking rules, the warning.
"""

from __future__ import annotations

import sys
from traceback import FrameSummary
from typing import Any

from behave.runner import Context


class ScenarioContext(Context):  # type: ignore[misc]
    def __setattr__(self, attr: str, value: Any) -> None:
        if attr[0] == "_":  # behave's own bookkeeping: no record, no masking rule
            self.__dict__[attr] = value
            return
        masked = [frame for frame in self._stack[1:] if attr in frame]
        if masked:
            filename, line, _, function = self._record[attr]  # behave names the text "function"
            params = {"attr": attr, "filename": filename, "line": line, "function": function}
            for _ in masked:
                self._emit_warning(attr, params)
        caller = sys._getframe(1)
        self._record[attr] = FrameSummary(caller.f_code.co_filename, caller.f_lineno,
                                          caller.f_code.co_name, lookup_line=False)
        self._stack[0][attr] = value
        self._origin.setdefault(attr, self._mode)
