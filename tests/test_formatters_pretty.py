"""The terminal formats, pretty and progress, compared as whole texts on hand-built runs."""

from __future__ import annotations

from escalator.formatters import FormatOptions, render
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, StepResult
from tests.test_formatters_samples import (
    GO_HOME,
    dns_retried,
    dns_unknown,
    home_critical,
    home_ok,
    login_warning,
    run_of,
    scenario,
)

FAILING = (home_critical(), login_warning(), dns_unknown())


def pretty(run: RunResult, **options: bool) -> str:
    return render("pretty", run, FormatOptions(**options))


def progress(run: RunResult, **options: bool) -> str:
    return render("progress", run, FormatOptions(**options))


def test_pretty_groups_by_feature_and_explains_failures() -> None:
    assert pretty(run_of(*FAILING)) == (
        "Feature: Web site (features/web.feature)\n"
        "  FAIL  Home page renders  0.25s  @escalate.redeploy\n"
        '      Then I should see "Welcome": text not found in 1.2 KiB body of'
        " http://127.0.0.1:8080/\n"
        "      runbook: https://wiki/runbooks/web\n"
        "  WARN  Login works  1.50s  @warning\n"
        "      answered in 1.5s, over 1s\n"
        "\n"
        "Feature: Names (features/dns.feature)\n"
        "  UNKN  www resolves  0.00s\n"
        "      never started: the run deadline passed\n"
        "\n"
        "3 scenarios (2 failed, 1 unknown) in 1.23s\n"
    )


def test_pretty_all_passed_shows_the_retry() -> None:
    assert pretty(run_of(home_ok(), dns_retried())) == (
        "Feature: Web site (features/web.feature)\n"
        "  PASS  Home page renders  0.25s\n"
        "\n"
        "Feature: Names (features/dns.feature)\n"
        "  PASS  www resolves  0.50s (passed on attempt 2)\n"
        '      attempt 1 failed: When I look up "www": SERVFAIL from 127.0.0.1:15353\n'
        "\n"
        "2 scenarios (2 passed; 1 retried) in 1.23s\n"
    )


def test_pretty_verbose_lists_steps_measurements_and_the_traceback() -> None:
    assert pretty(run_of(home_critical()), verbose=True) == (
        "Feature: Web site (features/web.feature)\n"
        "  FAIL  Home page renders  0.25s  @escalate.redeploy\n"
        '      passed    When I go to "/" (0.05s)\n'
        '      failed    Then I should see "Welcome" (0.00s)\n'
        "      measured  response_time = 12.5ms (wanted at most 500 ms)\n"
        '      Then I should see "Welcome": text not found in 1.2 KiB body of'
        " http://127.0.0.1:8080/\n"
        "      runbook: https://wiki/runbooks/web\n"
        "        Traceback (most recent call last):\n"
        '          File "web.py", line 9\n'
        "        AssertionError: text not found\n"
        "\n"
        "1 scenario (1 failed) in 1.23s\n"
    )


def test_pretty_colours_marks_and_summary_only_when_asked() -> None:
    run = run_of(home_ok(), login_warning(), dns_unknown())
    assert "\x1b[" not in pretty(run)
    assert pretty(run, color=True) == (
        "Feature: Web site (features/web.feature)\n"
        "  \x1b[32mPASS\x1b[0m  Home page renders  0.25s\n"
        "  \x1b[33mWARN\x1b[0m  Login works  1.50s  @warning\n"
        "      answered in 1.5s, over 1s\n"
        "\n"
        "Feature: Names (features/dns.feature)\n"
        "  \x1b[35mUNKN\x1b[0m  www resolves  0.00s\n"
        "      never started: the run deadline passed\n"
        "\n"
        "\x1b[35m3 scenarios (1 passed, 1 failed, 1 unknown) in 1.23s\x1b[0m\n"
    )


def test_pretty_run_errors_notices_and_nothing_selected() -> None:
    run = run_of(errors=("features/web.feature:3: parse error\n  near: Gvien",),
                 notices=("TLS verification is off in environment staging",))
    assert pretty(run) == (
        "notice: TLS verification is off in environment staging\n"
        "error: features/web.feature:3: parse error\n"
        "    near: Gvien\n"
        "\n"
        "no scenario ran, 1 run error in 1.23s\n"
    )
    assert pretty(run_of()) == "no scenario selected in 1.23s\n"


def test_progress_one_character_per_scenario_then_the_blocks() -> None:
    assert progress(run_of(home_ok(), dns_retried(), *FAILING)) == (
        ".RFFU\n"
        "\n"
        "RETRIED www resolves (features/dns.feature:2)\n"
        '  attempt 1 failed: When I look up "www": SERVFAIL from 127.0.0.1:15353\n'
        "\n"
        "CRITICAL Home page renders (features/web.feature:3) @escalate.redeploy\n"
        '  Then I should see "Welcome": text not found in 1.2 KiB body of'
        " http://127.0.0.1:8080/\n"
        "  runbook: https://wiki/runbooks/web\n"
        "\n"
        "WARNING Login works (features/web.feature:9) @warning\n"
        "  answered in 1.5s, over 1s\n"
        "\n"
        "UNKNOWN www resolves (features/dns.feature:2)\n"
        "  never started: the run deadline passed\n"
        "\n"
        "5 scenarios (2 passed, 2 failed, 1 unknown; 1 retried) in 1.23s\n"
    )


def test_progress_wraps_at_80_columns() -> None:
    many = [scenario(f"s{n}") for n in range(170)] + [scenario("x", Outcome.UNKNOWN,
                                                               reason="no key")]
    assert progress(run_of(*many, duration=3.0)) == (
        "." * 80 + "\n" + "." * 80 + "\n" + "." * 10 + "U\n"
        "\n"
        "UNKNOWN x (features/web.feature:3)\n"
        "  no key\n"
        "\n"
        "171 scenarios (170 passed, 1 unknown) in 3.00s\n"
    )


def test_progress_colours_characters_when_asked() -> None:
    out = progress(run_of(home_ok(), dns_unknown()), color=True)
    assert out.split("\n")[0] == "\x1b[32m.\x1b[0m\x1b[35mU\x1b[0m"


def test_progress_nothing_selected() -> None:
    assert progress(run_of()) == "no scenario selected in 1.23s\n"


def test_pretty_verbose_shows_a_warning_step_and_both_limits() -> None:
    """A measurement with a warning and a critical limit reads both (the JUnit system-out
    line is the same text)."""
    slow = StepResult("Then", "the response time should be less than 500 ms, warning above "
                      "300 ms", 5, "warning", 0.35, "took 350 ms, warning above 300 ms")
    warned = scenario("Home page renders", Outcome.FAILED, warning_only=True,
                      steps=(GO_HOME, slow), reason="took 350 ms, warning above 300 ms",
                      measurements=(Measurement("response_time", 350.0, "ms", Limit.below(500),
                                                warn=Limit.at_most(300)),))
    assert pretty(run_of(warned), verbose=True) == (
        "Feature: Web site (features/web.feature)\n"
        "  WARN  Home page renders  0.25s\n"
        '      passed    When I go to "/" (0.05s)\n'
        "      warning   Then the response time should be less than 500 ms, warning above 300 ms"
        " (0.35s)\n"
        "      measured  response_time = 350ms (wanted less than 500 ms, warning above 300 ms)\n"
        "      Then the response time should be less than 500 ms, warning above 300 ms: took 350 "
        "ms, warning above 300 ms\n"
        "\n"
        "1 scenario (1 failed) in 1.23s\n"
    )
    assert ("measured  response_time = 350ms (wanted less than 500 ms, warning above 300 ms)"
            in render("junit", run_of(warned), FormatOptions()))
