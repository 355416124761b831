"""What every hostile-target test asserts of the scenario it ran: it failed, its reason is one
line naming the problem in an operator's words, and it ended in time."""

from __future__ import annotations

import re
from typing import Any


def assert_failed_readably(scenario: dict[str, Any], took: float, *words: str,
                           jargon: re.Pattern[str], bound: float,
                           longest: int | None = None) -> None:
    reason = scenario["reason"] or ""
    assert scenario["outcome"] == "failed", reason
    for word in words:
        assert word in reason, f"{word!r} not in {reason!r}"
    assert "\n" not in reason, reason
    assert longest is None or len(reason) < longest, reason
    assert not jargon.search(reason), reason
    assert took < bound


_BUDGET = re.compile(r"(within|after) (\d+(?:\.\d+)?)( ?s)\b")


def client_budget(reason: str, step_timeout: float) -> str:
    """`reason` with the client's time budget ("within 1.5 s", "after 2.25s") written as B.

    The budget is what was left of the step when the call began, less the margin that lets the
    probe name its reason first (a quarter of the step, 0.25 s to 1 s): it may be a little
    under that ceiling, never over it, and it is asserted to lie in that range.
    """
    ceiling = step_timeout - min(1.0, max(0.25, step_timeout * 0.25))

    def check(match: re.Match[str]) -> str:
        seconds = float(match[2])
        assert ceiling - 0.5 <= seconds <= ceiling, f"budget {seconds} s, ceiling {ceiling} s"
        return f"{match[1]} B{match[3]}"

    return _BUDGET.sub(check, reason)
