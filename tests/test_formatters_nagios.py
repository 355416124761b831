"""The Nagios output of `escalator check`, compared as whole texts on hand-built runs."""

from __future__ import annotations

import re

from escalator.formatters import FormatOptions, render
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, Severity, StepResult
from tests.test_formatters_samples import (
    dns_retried,
    dns_unknown,
    home_critical,
    home_ok,
    login_warning,
    run_of,
    scenario,
)

COUNTERS_3 = "scenarios=3;;;0 passed=0;;;0 failed=2;;;0 unknown=1;;;0 time=1.234s;;50;0"


def nagios(run: object, **options: object) -> str:
    return render("nagios", run, FormatOptions(**options))  # type: ignore[arg-type]


def test_all_passed_with_a_retry_names_it_and_says_what_failed_first() -> None:
    assert nagios(run_of(home_ok(), dns_retried())) == (
        "ESCALATOR OK - 2 scenarios passed, 1 after a retry: www resolves"
        " | scenarios=2;;;0 passed=2;;;0 failed=0;;;0 unknown=0;;;0 time=1.234s;;50;0"
        " retried=1;;;0 'Home page renders response_time'=12.5ms;;500;0\n"
        "RETRIED www resolves (features/dns.feature:2)\n"
        "  passed on attempt 2\n"
        '  attempt 1 failed: When I look up "www": SERVFAIL from 127.0.0.1:15353\n'
    )


def test_one_passing_scenario_without_timeout() -> None:
    assert nagios(run_of(scenario("Up"), timeout=None, duration=0.5)) == (
        "ESCALATOR OK - 1 scenario passed | scenarios=1;;;0 passed=1;;;0 failed=0;;;0"
        " unknown=0;;;0 time=0.5s;;;0\n"
    )


def test_failures_warning_and_unknown_each_get_a_block_in_run_order() -> None:
    assert nagios(run_of(home_critical(), login_warning(), dns_unknown())) == (
        "ESCALATOR CRITICAL - 2 of 3 scenarios failing: Home page renders, Login works,"
        f" 1 unknown: www resolves | {COUNTERS_3}"
        " 'Home page renders response_time'=12.5ms;;500;0 'Login works login_time'=1.5s;1\n"
        "CRITICAL Home page renders (features/web.feature:3) @escalate.redeploy\n"
        '  Then I should see "Welcome": text not found in 1.2 KiB body of'
        " http://127.0.0.1:8080/\n"
        "  runbook: https://wiki/runbooks/web\n"
        "WARNING Login works (features/web.feature:9) @warning\n"
        "  answered in 1.5s, over 1s\n"
        "UNKNOWN www resolves (features/dns.feature:2)\n"
        "  never started: the run deadline passed\n"
    )


def test_a_warning_alone_is_warning_with_its_threshold_in_the_warn_slot() -> None:
    assert nagios(run_of(login_warning(), home_ok()), label="WEB") == (
        "WEB WARNING - 1 of 2 scenarios failing: Login works | scenarios=2;;;0 passed=1;;;0"
        " failed=1;;;0 unknown=0;;;0 time=1.234s;;50;0 'Login works login_time'=1.5s;1"
        " 'Home page renders response_time'=12.5ms;;500;0\n"
        "WARNING Login works (features/web.feature:9) @warning\n"
        "  answered in 1.5s, over 1s\n"
    )


def test_unknown_alone_is_counted_against_the_total() -> None:
    first = nagios(run_of(home_ok(), dns_unknown())).split("\n")[0]
    assert first.startswith("ESCALATOR UNKNOWN - 1 of 2 scenarios unknown: www resolves | ")


def test_critical_names_come_before_warnings_in_the_summary() -> None:
    run = run_of(login_warning(), home_critical())
    first = nagios(run).split("\n")[0]
    assert first.startswith(
        "ESCALATOR CRITICAL - 2 of 2 scenarios failing: Home page renders, Login works | ")


def test_run_errors_put_the_first_in_the_summary_and_all_in_the_long_output() -> None:
    run = run_of(errors=("features/web.feature:3: parse error: expected Given",
                         "steps/web.py: cannot import requests"),
                 notices=("TLS verification is off in environment staging",))
    assert nagios(run) == (
        "ESCALATOR UNKNOWN - features/web.feature:3: parse error: expected Given"
        " | scenarios=0;;;0 passed=0;;;0 failed=0;;;0 unknown=0;;;0 time=1.234s;;50;0\n"
        "notice: TLS verification is off in environment staging\n"
        "error: features/web.feature:3: parse error: expected Given\n"
        "error: steps/web.py: cannot import requests\n"
    )


def test_nothing_selected_is_unknown() -> None:
    assert nagios(run_of()) == (
        "ESCALATOR UNKNOWN - no scenario selected"
        " | scenarios=0;;;0 passed=0;;;0 failed=0;;;0 unknown=0;;;0 time=1.234s;;50;0\n"
    )


def test_verbose_adds_tracebacks_and_passed_scenarios() -> None:
    out = nagios(run_of(home_critical(), scenario("Login works", line=9)), verbose=True)
    assert out.split("\n", 1)[1] == (
        "CRITICAL Home page renders (features/web.feature:3) @escalate.redeploy\n"
        '  Then I should see "Welcome": text not found in 1.2 KiB body of'
        " http://127.0.0.1:8080/\n"
        "  runbook: https://wiki/runbooks/web\n"
        "    Traceback (most recent call last):\n"
        '    File "web.py", line 9\n'
        "    AssertionError: text not found\n"
        "OK Login works (features/web.feature:9)\n"
    )


def test_pipes_and_newlines_never_reach_the_text() -> None:
    bad = scenario("A | B\nsecond line", Outcome.FAILED, reason="got 500 | 502\n\tfrom lb",
                   runbook="https://wiki/a|b",
                   measurements=(Measurement("t|x'=", 1.0, "s", crit=Limit.at_most(2)),))
    run = run_of(bad, errors=(), notices=("off | on\nnow",))
    assert nagios(run, label="MY|SVC") == (
        "MY/SVC CRITICAL - 1 of 1 scenario failing: A / B second line"
        " | scenarios=1;;;0 passed=0;;;0 failed=1;;;0 unknown=0;;;0 time=1.234s;;50;0"
        " 'A / B second line t/x'=1s;;2\n"
        "CRITICAL A / B second line (features/web.feature:3)\n"
        "  got 500 / 502 from lb\n"
        "  runbook: https://wiki/a/b\n"
        "notice: off / on now\n"
    )


def test_many_failures_name_five_and_count_the_rest() -> None:
    failing = [scenario(f"Scenario number {n} with a rather long descriptive name",
                        Outcome.FAILED, line=n, reason="down") for n in range(1, 8)]
    first = nagios(run_of(*failing)).split(" | ")[0]
    cut = "with a rather long..."
    assert first == (
        "ESCALATOR CRITICAL - 7 of 7 scenarios failing: "
        + ", ".join(f"Scenario number {n} {cut}" for n in range(1, 6))
        + " and 2 more"
    )


def test_output_over_8_kib_drops_blocks_from_the_end_with_a_note() -> None:
    reason = "connection refused by 127.0.0.1:8080 after 3 attempts " * 4
    failing = [scenario(f"Service {n:03} answers", Outcome.FAILED, line=n, reason=reason)
               for n in range(1, 201)]
    out = nagios(run_of(*failing, notices=("TLS verification is off",)))
    lines = out.split("\n")
    assert len(out.encode()) <= 8191
    blocks = [line for line in lines if line.startswith("CRITICAL Service")]
    shown = len(blocks)
    assert 10 < shown < 200
    assert blocks[-1] == f"CRITICAL Service {shown:03} answers (features/web.feature:{shown})"
    assert lines[-4:] == [
        f"  {reason.strip()}",
        f"... {200 - shown} more scenarios not shown",
        "notice: TLS verification is off",
        "",
    ]


def test_too_much_perfdata_drops_measurements_and_keeps_counters() -> None:
    limit = Limit.at_most(500)
    many = [scenario(f"Page {n:03} renders", line=n,
                     measurements=(Measurement("response_time", 12.5, "ms", crit=limit),))
            for n in range(1, 301)]
    first = nagios(run_of(*many)).split("\n")[0]
    items = re.findall(r"'[^']*'=\S+|\S+", first.split(" | ")[1])
    assert len(first.encode()) <= 4096
    assert items[:5] == ["scenarios=300;;;0", "passed=300;;;0", "failed=0;;;0",
                         "unknown=0;;;0", "time=1.234s;;50;0"]
    kept = items[5:]
    assert kept == [f"'Page {n:03} renders response_time'=12.5ms;;500"
                    for n in range(1, len(kept) + 1)]
    assert 50 < len(kept) < 300


def test_failing_step_keyword_and_text_are_shown_with_its_error() -> None:
    step = StepResult("When", 'I connect to "db1" on port 5432', 7, "failed",
                      error="connection refused")
    failed = scenario("Database answers", Outcome.FAILED, severity=Severity.CRITICAL,
                      steps=(step,), reason="ignored when the step has an error")
    assert nagios(run_of(failed)).split("\n")[1:] == [
        "CRITICAL Database answers (features/web.feature:3)",
        '  When I connect to "db1" on port 5432: connection refused',
        "",
    ]
