"""HTTP timing phrases: response time limits, repeated requests, percentiles, benchmarking.

Every request already records its `response_time` (ms, through `http_client`); a limit stated
here restates that measurement with its limits, so perfdata shows value and limits together.
Each limit phrase has a variant with a warning limit (", warning above 300 ms"): one series,
WARNING or CRITICAL by the value.

`When I request "<url>" <N> times` gives itself time for N requests (N step timeouts, within
what is left of the run) and keeps what it sent as `Samples` on the context for the percentile
and success-ratio steps; it records the median as `response_time` and how many requests it sent
as `samples`. Requests it had no time to send are Escalator's limit, not the target's failure: a
figure they could still change is UNKNOWN, naming the budget. cucumber-nagios's benchmarking
pair measures the time since "Given I am benchmarking" and records it as `elapsed`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from behave import given, then, when

from escalator.durations import format_duration
from escalator.limits import Limit
from escalator.steps import http_client as web
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import (
    StepSetupError,
    earlier,
    judge,
    record,
    resolve_url,
    session,
    stated,
)

if TYPE_CHECKING:
    from escalator.probes.http import HttpResult

PROBES = ("escalator.probes.http",)
VARIABLES = web.VARIABLES


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.

    >>> percentile([5, 1, 4, 2, 3], 50), percentile([5, 1, 4, 2, 3], 95), percentile([7], 99)
    (3, 5, 7)
    """
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# ---- one request ------------------------------------------------------------------------

def _response_time(context: Any, crit: Limit, warn: Limit | None = None) -> None:
    result = web.last_response(context)
    timing = web.restate(context, *stated(crit, warn, "ms"))
    if timing.value is None:
        raise AssertionError(result.summary())
    judge(context, timing, f"took {timing.value:.0f} ms", result.summary())


@then("the response time should be less than {n:Number} ms")
def step_the_response_time_should_be_less_than(context: Any, n: float) -> None:
    """Then the response time should be less than 500 ms

    Judges the last request (or the median of "I request ... N times"), recorded with limit N.
    """
    _response_time(context, Limit.below(n))


@then("the response time should be less than {n:Number} ms, warning above {w:Ms}")
def step_the_response_time_should_be_less_than_warning(context: Any, n: float, w: float
                                                       ) -> None:
    """Then the response time should be less than 500 ms, warning above 300 ms

    One measurement, two limits: WARNING above W, CRITICAL at N or more.
    """
    _response_time(context, Limit.below(n), Limit.at_most(w))


# ---- repeated requests ------------------------------------------------------------------

@dataclass(frozen=True)
class Samples:
    """What "I request ... N times" sent: `asked` requests were wanted, `sent` went out within
    the step's `budget` (seconds); `capped` when the run's deadline set that budget."""

    url: str
    asked: int
    sent: tuple[HttpResult, ...]
    budget: float
    capped: bool

    @property
    def shortfall(self) -> str:
        """Why fewer were sent than asked, for a reason."""
        budget = format_duration(round(self.budget, 1))
        why = ("all that was left before the run's deadline (raise --timeout or ask for fewer)"
               if self.capped else f"{self.asked} x the step timeout")
        return (f"only {len(self.sent)} of {self.asked} requests were sent: the step's budget "
                f"of {budget} ran out, {why}")


@when('I request "{url:Q}" {n:Int} times')
def step_i_request_times(context: Any, url: str, n: int) -> None:
    """When I request "/health" 20 times

    Sequential requests, each within the usual client timeout; the step allows itself N step
    timeouts in all (within the run's deadline). Records the median and the number sent.
    """
    if not 0 < n <= 10000:
        raise StepSetupError(f"ask for between 1 and 10000 requests, not {n}")
    target = resolve_url(context, url)
    current = session(context)
    each = current.client_timeout  # what one request may take, as in any other step
    wanted = n * current.step_timeout
    budget = current.extend(wanted)
    sent: list[HttpResult] = []
    while len(sent) < n and current.time_left() > 0.05:
        timeout = min(each, current.client_timeout)
        result = web.send(context, target, timeout=timeout)
        if result.error is not None and timeout < each and result.elapsed >= 0.9 * timeout:
            break  # cut short by what was left of our budget: as good as not sent
        sent.append(result)
    context.http_samples = Samples(target, n, tuple(sent), budget, budget < wanted)
    answered = [s.elapsed_ms for s in sent if s.status is not None]
    record(context, "samples", len(sent), "", None, 0, n)
    web.remember(context, sent[-1] if sent else _never(target), record(
        context, "response_time", percentile(answered, 50) if answered else None, "ms"))


def _never(url: str) -> HttpResult:
    from escalator.probes.http import HttpResult

    return HttpResult("GET", url, url, error="not sent: the step had no time left")


def _samples(context: Any) -> Samples:
    found: Samples = earlier(context, "http_samples",
                             'no repeated requests yet (start with When I request "/" 20 times)')
    return found


def _failures(samples: tuple[HttpResult, ...]) -> str:
    kinds = Counter(s.error or f"{s.status} {s.reason}".strip() for s in samples if not s.ok)
    return ", ".join(f"{count} x {kind}" for kind, count in kinds.most_common(3))


def _decided(samples: Samples, figure: str, low: float, high: float,
             limits: tuple[Limit, Limit | None]) -> None:
    """StepSetupError (UNKNOWN) when the requests not sent could still change the verdict:
    `low` and `high` are the figure with every unsent request at its best and at its worst."""
    if len(samples.sent) == samples.asked:
        return
    for limit in limits:
        if limit is not None and limit.alerts(low) != limit.alerts(high):
            raise StepSetupError(f"{figure} of {samples.url} not judged: {samples.shortfall}")


def _percentile(context: Any, p: float, crit: Limit, warn: Limit | None = None) -> None:
    if not 0 < p <= 100:
        raise StepSetupError(f"a percentile is between 0 and 100, not {p:g}")
    limits = stated(crit, warn, "ms")
    samples = _samples(context)
    times = [s.elapsed_ms for s in samples.sent if s.status is not None]
    if not samples.sent:
        raise StepSetupError(f"{p:g}th percentile of {samples.url} not judged: "
                             f"{samples.shortfall}")
    assert times, f"none of {len(samples.sent)} requests to {samples.url} got an answer: " + (
        _failures(samples.sent))
    value = percentile(times, p)
    measured = record(context, f"response_time_p{p:g}", value, "ms", crit, warn=warn)
    unsent = samples.asked - len(samples.sent)
    _decided(samples, f"{p:g}th percentile", percentile(times + [0.0] * unsent, p),
             percentile(times + [math.inf] * unsent, p), limits)
    left_out = f" ({len(samples.sent) - len(times)} unanswered left out)" if len(times) < len(
        samples.sent) else ""
    judge(context, measured, f"{p:g}th percentile of {len(times)} requests to {samples.url} "
                             f"was {value:.0f} ms{left_out}")


@then("the {p:Number}th percentile response time should be less than {n:Number} ms")
def step_the_percentile_response_time_should_be_less_than(context: Any, p: float, n: float
                                                          ) -> None:
    """Then the 95th percentile response time should be less than 300 ms

    Over the requests that were answered; records `response_time_p95` with limit N.
    """
    _percentile(context, p, Limit.below(n))


@then("the {p:Number}th percentile response time should be less than {n:Number} ms, "
      "warning above {w:Ms}")
def step_the_percentile_response_time_should_be_less_than_warning(
        context: Any, p: float, n: float, w: float) -> None:
    """Then the 95th percentile response time should be less than 300 ms, warning above 200 ms"""
    _percentile(context, p, Limit.below(n), Limit.at_most(w))


def _success(context: Any, crit: Limit, warn: Limit | None = None) -> None:
    limits = stated(crit, warn, "%")
    samples = _samples(context)
    sent, asked = len(samples.sent), samples.asked
    good = sum(1 for s in samples.sent if s.ok)
    ratio = 100.0 * good / sent if sent else 0.0
    measured = record(context, "success_ratio", round(ratio, 3), "%", crit, 0, 100, warn)
    _decided(samples, "success ratio", 100.0 * good / asked,
             100.0 * (good + asked - sent) / asked, limits)
    rest = f"; {asked} asked, the rest not sent" if sent < asked else ""
    judge(context, measured, f"{good} of {sent} requests to {samples.url} succeeded "
                             f"({ratio:.1f}%{rest})", _failures(samples.sent))


@then("at least {p:Number}% of the requests should succeed")
def step_at_least_of_the_requests_should_succeed(context: Any, p: float) -> None:
    """Then at least 99% of the requests should succeed

    Success is a complete answer below 400; records `success_ratio` (%) with limit "P:".
    """
    _success(context, Limit.at_least(p))


@then("at least {p:Number}% of the requests should succeed, warning below {w:Percent}")
def step_at_least_of_the_requests_should_succeed_warning(context: Any, p: float, w: float
                                                         ) -> None:
    """Then at least 99% of the requests should succeed, warning below 99.9%"""
    _success(context, Limit.at_least(p), Limit.at_least(w))


# ---- benchmarking (cucumber-nagios) -----------------------------------------------------

@given("I am benchmarking")
def step_i_am_benchmarking(context: Any) -> None:
    """Given I am benchmarking

    Starts the clock for "the elapsed time should be less than N seconds".
    """
    context.http_benchmark_start = time.monotonic()


def _elapsed(context: Any, crit: Limit, warn: Limit | None = None) -> None:
    stated(crit, warn, "s")
    started: float | None = getattr(context, "http_benchmark_start", None)
    if started is None:
        raise StepSetupError('start the clock first with "Given I am benchmarking"')
    elapsed = time.monotonic() - started
    measured = record(context, "elapsed", round(elapsed, 3), "s", crit, warn=warn)
    judge(context, measured, f"{elapsed:.2f} s since benchmarking began")


@then("the elapsed time should be less than {n:Number} seconds")
def step_the_elapsed_time_should_be_less_than(context: Any, n: float) -> None:
    """Then the elapsed time should be less than 5 seconds

    Time since "Given I am benchmarking" (N may be a decimal); records `elapsed` with limit N.
    """
    _elapsed(context, Limit.below(n))


@then("the elapsed time should be less than {n:Number} seconds, warning above {w:Seconds}")
def step_the_elapsed_time_should_be_less_than_warning(context: Any, n: float, w: float
                                                      ) -> None:
    """Then the elapsed time should be less than 5 seconds, warning above 2 seconds"""
    _elapsed(context, Limit.below(n), Limit.at_most(w))
