"""JSON phrases: JSONPath equality and freshness on the last HTTP response.

"Freshness" turns absence of activity into a failure: a status page that stopped updating its
`last_backup` or `heartbeat` time fails the scenario, and a missing value fails too, saying what
was found. Times are ISO 8601 or epoch seconds. Shares the last response through `http_client`.
"""

from __future__ import annotations

import time
from typing import Any

from behave import then

from escalator.steps import http_client as web
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import age_limit, expand, judge, record, shown, stated

PROBES = ("escalator.probes.http", "escalator.probes.jsonpath")
VARIABLES = web.VARIABLES

_FUTURE_SLACK = 60.0  # seconds a peer's clock may run ahead of ours before a time is "future"


def _values(context: Any, path: str) -> list[Any]:
    from escalator.probes import jsonpath

    result = web.answered(context)
    try:
        document = jsonpath.load(result.text)
    except ValueError as exc:
        raise AssertionError(f"the answer of {result.final_url} ({result.status}) is {exc}; "
                             f"{web.excerpt(context, result)}") from None
    values = jsonpath.find(document, expand(context, path))
    assert values, f"nothing at {path} in the JSON of {result.final_url} ({result.status}); " + (
        web.excerpt(context, result))
    return values


def _shown(context: Any, values: list[Any]) -> str:
    from escalator.probes.jsonpath import as_text

    texts = [repr(shown(context, as_text(v), 77)) for v in values[:5]]
    return ", ".join(texts) + (f" and {len(values) - 5} more" if len(values) > 5 else "")


@then('the JSON at "{path:Q}" should be "{value:Q}"')
def step_the_json_at_should_be(context: Any, path: str, value: str) -> None:
    """Then the JSON at "$.status" should be "ok"

    Every value the path finds equals the text (numbers, true/false and null as JSON writes them).
    """
    from escalator.probes.jsonpath import as_text

    wanted = expand(context, value)
    values = _values(context, path)
    wrong = [v for v in values if as_text(v) != wanted]
    assert not wrong, f"{path} is {_shown(context, wrong)}, not {wanted!r}"


def _age(context: Any, path: str, values: list[Any]) -> float:
    """Seconds since the newest time found; fails when no value is a time."""
    from escalator.probes.jsonpath import parse_time

    times = [t for t in (parse_time(v) for v in values) if t is not None]
    assert times, f"{path} is {_shown(context, values)}: not an ISO 8601 time or epoch seconds"
    return time.time() - max(times).timestamp()


def _fresh(context: Any, path: str, n: float, w: float | None = None) -> None:
    crit, size = age_limit(n, "minutes")
    warn = age_limit(w, "minutes")[0] if w is not None else None
    stated(crit, warn, "minutes", size)
    values = _values(context, path)
    age = _age(context, path, values)
    measured = record(context, "json_age", round(age, 3), "s", crit, warn=warn)
    assert age >= -_FUTURE_SLACK, (
        f"{path} is {_shown(context, values)}, {-age / 60:.0f} minutes in the future")
    judge(context, measured, f"{path} is {_shown(context, values)}, {_ago(age)} old",
          unit="minutes", scale=size, wanted=f"within the last {n:g} minutes")


@then('the JSON at "{path:Q}" should be a time within the last {n:Number} minutes')
def step_the_json_at_should_be_a_recent_time(context: Any, path: str, n: float) -> None:
    """Then the JSON at "$.last_backup" should be a time within the last 60 minutes

    The newest time found is at most N minutes old; records `json_age` (s) with limit N*60.
    """
    _fresh(context, path, n)


@then('the JSON at "{path:Q}" should be a time within the last {n:Number} minutes, '
      "warning above {w:Minutes}")
def step_the_json_at_should_be_a_recent_time_warning(context: Any, path: str, n: float,
                                                     w: float) -> None:
    """Then the JSON at "$.last_backup" should be a time within the last 60 minutes, warning above 30 minutes

    WARNING once the newest time is older than W minutes, CRITICAL older than N.
    """  # noqa: E501 - the example is one line of a feature file
    _fresh(context, path, n, w)


def _ago(seconds: float) -> str:
    """
    >>> _ago(90), _ago(7200), _ago(3 * 86400)
    ('1.5 minutes', '2.0 hours', '3.0 days')
    """
    if seconds < 3600:
        return f"{seconds / 60:.1f} minutes"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"
