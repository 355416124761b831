"""The limit value object: the verdict it gives and the Nagios range it writes always agree.

The reference is the plugin guidelines' range grammar, evaluated here independently (as
nagiosplugin's `Range.match` does): whatever a step judges, a Nagios reader of the perfdata
judges the same, at the boundary too.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from escalator.limits import Limit


def nagios_alerts(text: str, value: float) -> bool:
    """The plugin guidelines' reading of a range: alert outside start..end (inside with @)."""
    inside = text.startswith("@")
    text = text.removeprefix("@")
    start_text, _, end_text = text.rpartition(":") if ":" in text else ("", "", text)
    start = -math.inf if start_text == "~" else float(start_text or 0)
    end = float(end_text) if end_text else math.inf
    within = start <= value <= end
    return within if inside else not within


numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3))
limits = st.one_of(
    numbers.map(Limit.below), numbers.map(Limit.above), numbers.map(Limit.at_least),
    numbers.filter(lambda n: n >= 0).map(Limit.at_most),
    numbers.map(lambda n: Limit.at_most(n, start=-math.inf)),
    st.tuples(numbers, numbers).map(lambda p: Limit(min(p), max(p))),
    st.tuples(numbers, numbers).map(lambda p: Limit(min(p), max(p), inside=True)),
)


@given(limits, numbers)
@example(Limit.below(500), 500.0)
@example(Limit.at_least(14), 14.0)
@example(Limit.at_most(300), 300.0)
def test_the_verdict_and_the_written_range_agree(limit: Limit, value: float) -> None:
    assert limit.alerts(value) == nagios_alerts(str(limit), value)
    assert Limit.parse(str(limit)) == limit


@given(limits, numbers)
def test_the_boundary_itself_is_judged_as_written(limit: Limit, value: float) -> None:
    for edge in (limit.start, limit.end):
        if math.isfinite(edge):
            assert limit.alerts(edge) == nagios_alerts(str(limit), edge)


@pytest.mark.parametrize(("limit", "text", "words"), [
    (Limit.below(500), "@500:", "less than 500 ms"),
    (Limit.at_most(300), "300", "at most 300 ms"),
    (Limit.at_least(14), "14:", "at least 14 ms"),
    (Limit.above(5), "@~:5", "more than 5 ms"),
    (Limit.at_most(0.1), "0.1", "at most 0.1 ms"),
    (Limit.at_most(86400, start=-math.inf), "~:86400", "at most 86400 ms"),
    (Limit(10, 20), "10:20", "between 10 ms and 20 ms"),
    (Limit(10, 20, inside=True), "@10:20", "below 10 ms or above 20 ms"),
])
def test_ranges_and_words(limit: Limit, text: str, words: str) -> None:
    assert (str(limit), limit.describe("ms")) == (text, words)


@pytest.mark.parametrize("text", ["", ":", "@", "abc", "1;2", "10:5", "1:2:3", "~"])
def test_what_is_not_a_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Limit.parse(text)
