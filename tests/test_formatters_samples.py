"""Hand-built runs that the formatter tests render and compare as whole outputs.

Each sample is a small `RunResult` covering one situation an operator meets: all green, a retry
that passed, a warning, a critical failure with an escalation tag and runbook, an unknown, run
errors, nothing selected. The test here checks that they survive the JSON round trip, which the
state store and the report command rely on.
"""

from __future__ import annotations

from functools import partial

from escalator.limits import Limit
from escalator.results import (
    Measurement,
    Outcome,
    RunResult,
    ScenarioResult,
    Severity,
    StepResult,
)
from tests import builders

WEB = "features/web.feature"
DNS = "features/dns.feature"

GO_HOME = StepResult("When", 'I go to "/"', 4, "passed", 0.05)
SEE_WELCOME = StepResult("Then", 'I should see "Welcome"', 5, "passed", 0.001)
MISSING_WELCOME = StepResult(
    "Then", 'I should see "Welcome"', 5, "failed", 0.001,
    error="text not found in 1.2 KiB body of http://127.0.0.1:8080/",
    detail='Traceback (most recent call last):\n  File "web.py", line 9\n'
           "AssertionError: text not found",
)
RESPONSE_TIME = Measurement("response_time", 12.5, "ms", crit=Limit.at_most(500), minimum=0)


scenario = partial(builders.scenario, feature="Web site", file=WEB, duration=0.25)


def home_ok() -> ScenarioResult:
    return scenario("Home page renders", steps=(GO_HOME, SEE_WELCOME),
                    measurements=(RESPONSE_TIME,))


def home_critical() -> ScenarioResult:
    return scenario("Home page renders", Outcome.FAILED, tags=("escalate.redeploy",),
                    level="redeploy", runbook="https://wiki/runbooks/web",
                    steps=(GO_HOME, MISSING_WELCOME), measurements=(RESPONSE_TIME,))


def login_warning() -> ScenarioResult:
    return scenario("Login works", Outcome.FAILED, line=9, severity=Severity.WARNING,
                    tags=("warning",), reason="answered in 1.5s, over 1s",
                    measurements=(Measurement("login_time", 1.5, "s", crit=Limit.at_most(1)),),
                    duration=1.5)


def dns_unknown() -> ScenarioResult:
    return scenario("www resolves", Outcome.UNKNOWN, feature="Names", file=DNS, line=2,
                    reason="never started: the run deadline passed", duration=0.0)


def dns_retried() -> ScenarioResult:
    return scenario("www resolves", feature="Names", file=DNS, line=2, attempts=2,
                    earlier_failures=('When I look up "www": SERVFAIL from 127.0.0.1:15353',),
                    duration=0.5)


run_of = partial(builders.run_of, duration=1.2345, timeout=50.0)


def all_samples() -> list[RunResult]:
    return [
        run_of(home_ok(), dns_retried()),
        run_of(home_critical(), login_warning(), dns_unknown()),
        run_of(errors=("features/web.feature:3: parse error", "steps/x.py: import failed")),
        run_of(),
    ]


def test_samples_round_trip_through_dicts() -> None:
    for run in all_samples():
        assert RunResult.from_dict(run.to_dict()) == run
