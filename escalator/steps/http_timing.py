"""HTTP timing phrases: response time limits, repeated requests, percentiles, benchmarking.

Every request already records its `response_time` (ms, through `http_client`); a limit stated
here restates that measurement with its threshold, so perfdata shows value and limit together.
`When I request "<url>" <N> times` keeps every sample on the context for the percentile and
success-ratio steps, and records the median as `response_time`. cucumber-nagios's benchmarking
pair measures the time since "Given I am benchmarking" and records it as `elapsed`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from behave import given, then, when

from escalator.steps import http_client as web
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import StepSetupError, record, resolve_url, session

if TYPE_CHECKING:
    from escalator.probes.http import HttpResult

PROBES = ("escalator.probes.http",)


def _limit(n: float) -> str:
    """A threshold as perfdata writes it: 500.0 -> "500".

    >>> _limit(500.0), _limit(0.5)
    ('500', '0.5')
    """
    return f"{n:g}"


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.

    >>> percentile([5, 1, 4, 2, 3], 50), percentile([5, 1, 4, 2, 3], 95), percentile([7], 99)
    (3, 5, 7)
    """
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# ---- one request ------------------------------------------------------------------------

@then("the response time should be less than {n:Number} ms")
def step_the_response_time_should_be_less_than(context: Any, n: float) -> None:
    """Then the response time should be less than 500 ms

    Judges the last request (or the median of "I request ... N times"), recorded with limit N.
    """
    result = web.last_response(context)
    timing = web.restate(context, _limit(n))
    assert timing.value < n, f"took {timing.value:.0f} ms, limit {_limit(n)} ms: {result.summary()}"


# ---- repeated requests ------------------------------------------------------------------

def _not_sent(url: str) -> HttpResult:
    from escalator.probes.http import HttpResult

    return HttpResult("GET", url, url, error="not sent: the step's time ran out "
                      "(raise --step-timeout for this many requests)")


@when('I request "{url:Q}" {n:Int} times')
def step_i_request_times(context: Any, url: str, n: int) -> None:
    """When I request "/health" 20 times

    Sequential requests inside the step's time budget; every sample is kept for the steps below.
    """
    if not 0 < n <= 10000:
        raise StepSetupError(f"ask for between 1 and 10000 requests, not {n}")
    target = resolve_url(context, url)
    deadline = time.monotonic() + session(context).client_timeout
    samples: list[HttpResult] = []
    for _ in range(n):
        remaining = deadline - time.monotonic()
        samples.append(web.send(context, target, timeout=remaining) if remaining > 0.05
                       else _not_sent(target))
    context.http_samples = samples
    answered = [s.elapsed_ms for s in samples if s.status is not None] or [0.0]
    web.remember(context, samples[-1],
                 record(context, "response_time", percentile(answered, 50), "ms"))


def _samples(context: Any) -> list[HttpResult]:
    found: list[HttpResult] | None = getattr(context, "http_samples", None)
    if not found:
        raise StepSetupError('no repeated requests yet (start with When I request "/" 20 times)')
    return found


def _failures(samples: list[HttpResult]) -> str:
    kinds = Counter(s.error or f"{s.status} {s.reason}".strip() for s in samples if not s.ok)
    return ", ".join(f"{count} x {kind}" for kind, count in kinds.most_common(3))


@then("the {p:Number}th percentile response time should be less than {n:Number} ms")
def step_the_percentile_response_time_should_be_less_than(context: Any, p: float, n: float
                                                          ) -> None:
    """Then the 95th percentile response time should be less than 300 ms

    Over the requests that were answered; records `response_time_p95` with limit N.
    """
    if not 0 < p <= 100:
        raise StepSetupError(f"a percentile is between 0 and 100, not {p:g}")
    samples = _samples(context)
    times = [s.elapsed_ms for s in samples if s.status is not None]
    assert times, f"none of {len(samples)} requests to {samples[0].url} got an answer: " + (
        _failures(samples))
    value = percentile(times, p)
    record(context, f"response_time_p{p:g}", value, "ms", _limit(n))
    left_out = f" ({len(samples) - len(times)} unanswered left out)" if len(times) < len(
        samples) else ""
    assert value < n, (f"{p:g}th percentile of {len(times)} requests to {samples[0].url} was "
                       f"{value:.0f} ms, limit {_limit(n)} ms{left_out}")


@then("at least {p:Number}% of the requests should succeed")
def step_at_least_of_the_requests_should_succeed(context: Any, p: float) -> None:
    """Then at least 99% of the requests should succeed

    Success is a complete answer below 400; records `success_ratio` (%) with limit "P:".
    """
    samples = _samples(context)
    good = sum(1 for s in samples if s.ok)
    ratio = 100.0 * good / len(samples)
    record(context, "success_ratio", round(ratio, 2), "%", f"{_limit(p)}:", 0, 100)
    assert ratio >= p, (f"{good} of {len(samples)} requests to {samples[0].url} succeeded "
                        f"({ratio:.1f}%), wanted at least {_limit(p)}%: {_failures(samples)}")


# ---- benchmarking (cucumber-nagios) -----------------------------------------------------

@given("I am benchmarking")
def step_i_am_benchmarking(context: Any) -> None:
    """Given I am benchmarking

    Starts the clock for "the elapsed time should be less than N seconds".
    """
    context.http_benchmark_start = time.monotonic()


@then("the elapsed time should be less than {n:Number} seconds")
def step_the_elapsed_time_should_be_less_than(context: Any, n: float) -> None:
    """Then the elapsed time should be less than 5 seconds

    Time since "Given I am benchmarking" (N may be a decimal); records `elapsed` with limit N.
    """
    started: float | None = getattr(context, "http_benchmark_start", None)
    if started is None:
        raise StepSetupError('start the clock first with "Given I am benchmarking"')
    elapsed = time.monotonic() - started
    record(context, "elapsed", round(elapsed, 3), "s", _limit(n))
    assert elapsed < n, f"{elapsed:.2f} s since benchmarking began, limit {_limit(n)} s"
