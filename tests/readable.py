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
