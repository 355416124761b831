"""The merged JUnit XML: whole documents for hand-built runs, and validity with nasty text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lxml import etree

from escalator.formatters import FormatOptions, render
from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, StepResult
from escalator.runner.assemble import Progress, assemble
from tests.test_formatters_samples import (
    all_samples,
    dns_retried,
    dns_unknown,
    home_critical,
    login_warning,
    run_of,
    scenario,
)

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def junit(run: RunResult, verbose: bool = False) -> str:
    return render("junit", run, FormatOptions(verbose=verbose))


def test_a_suite_per_feature_with_failures_errors_and_system_out() -> None:
    assert junit(run_of(home_critical(), login_warning(), dns_unknown(), dns_retried())) == (
        HEAD
        + '<testsuites name="escalator" tests="4" failures="2" errors="1"'
        ' time="1.234">\n'
        '  <testsuite name="Web site" tests="2" failures="2" errors="0" skipped="0"'
        ' time="1.750">\n'
        '    <testcase classname="features.web" name="Home page renders" time="0.250">\n'
        '      <failure message="Then I should see &quot;Welcome&quot;: text not found in'
        ' 1.2 KiB body of http://127.0.0.1:8080/" type="failed">CRITICAL features/web.feature:3:'
        ' Then I should see "Welcome": text not found in 1.2 KiB body of'
        " http://127.0.0.1:8080/\n"
        "runbook: https://wiki/runbooks/web</failure>\n"
        '      <system-out>passed    When I go to "/" (0.050s)\n'
        'failed    Then I should see "Welcome" (0.001s)\n'
        "measured  response_time = 12.5ms (wanted at most 500 ms)</system-out>\n"
        "    </testcase>\n"
        '    <testcase classname="features.web" name="Login works" time="1.500">\n'
        '      <failure message="answered in 1.5s, over 1s" type="failed">WARNING'
        " features/web.feature:9: answered in 1.5s, over 1s</failure>\n"
        "      <system-out>measured  login_time = 1.5s (wanted at most 1 s)</system-out>\n"
        "    </testcase>\n"
        "  </testsuite>\n"
        '  <testsuite name="Names" tests="2" failures="0" errors="1" skipped="0"'
        ' time="0.500">\n'
        '    <testcase classname="features.dns" name="www resolves" time="0.000">\n'
        '      <error message="never started: the run deadline passed" type="unknown">UNKNOWN'
        " features/dns.feature:2: never started: the run deadline passed</error>\n"
        "    </testcase>\n"
        '    <testcase classname="features.dns" name="www resolves" time="0.500">\n'
        '      <system-out>attempt 1 failed: When I look up "www": SERVFAIL from'
        " 127.0.0.1:15353</system-out>\n"
        "    </testcase>\n"
        "  </testsuite>\n"
        "</testsuites>\n"
    )


def test_run_errors_become_an_extra_suite_of_error_testcases() -> None:
    run = run_of(scenario("Up"), errors=("features/x.feature:2: parse error\nnear Gvien",))
    assert junit(run) == (
        HEAD
        + '<testsuites name="escalator" tests="2" failures="0" errors="1"'
        ' time="1.234">\n'
        '  <testsuite name="Web site" tests="1" failures="0" errors="0" skipped="0"'
        ' time="0.250">\n'
        '    <testcase classname="features.web" name="Up" time="0.250" />\n'
        "  </testsuite>\n"
        '  <testsuite name="run errors" tests="1" failures="0" errors="1" skipped="0"'
        ' time="0.000">\n'
        '    <testcase classname="escalator" name="run error 1" time="0.000">\n'
        '      <error message="features/x.feature:2: parse error near Gvien" type="error">'
        "features/x.feature:2: parse error\nnear Gvien</error>\n"
        "    </testcase>\n"
        "  </testsuite>\n"
        "</testsuites>\n"
    )


def test_nothing_selected_is_an_error_so_ci_never_reads_an_empty_report_as_green() -> None:
    assert junit(run_of(duration=0.0)) == (
        HEAD
        + '<testsuites name="escalator" tests="1" failures="0" errors="1"'
        ' time="0.000">\n'
        '  <testsuite name="run errors" tests="1" failures="0" errors="1" skipped="0"'
        ' time="0.000">\n'
        '    <testcase classname="escalator" name="run error 1" time="0.000">\n'
        '      <error message="no scenario selected" type="error">no scenario selected</error>\n'
        "    </testcase>\n"
        "  </testsuite>\n"
        "</testsuites>\n"
    )


def test_verbose_puts_the_traceback_into_the_failure() -> None:
    text = ET.fromstring(junit(run_of(home_critical()), verbose=True)).findtext(".//failure")
    assert text is not None
    assert text.endswith('\nTraceback (most recent call last):\n  File "web.py", line 9\n'
                         "AssertionError: text not found")
    quiet = ET.fromstring(junit(run_of(home_critical()))).findtext(".//failure")
    assert quiet is not None and "Traceback" not in quiet


NASTY = 'a<b>&"c\'\x00\x01\x08\x0b\x0c\x1b[31m\x7f\ud800\udfff\ufffe\uffff é ☃ 😀 ]]> --><!--'
CLEAN = 'a<b>&"c\'[31m\x7f é ☃ 😀 ]]> --><!--'
LINE = 'a<b>&"c\' [31m é ☃ 😀 ]]> --><!--'  # one-line messages also lose controls and runs of space


def test_nasty_text_still_gives_valid_xml_with_the_forbidden_characters_removed() -> None:
    step = StepResult("Then", NASTY, 4, "failed", error=NASTY, detail=NASTY)
    bad = scenario(NASTY, Outcome.FAILED, feature=NASTY, file=f"features/{NASTY}.feature",
                   steps=(step,), runbook=NASTY,
                   measurements=(Measurement(NASTY, float("nan"), NASTY, crit=Limit.at_most(2)),))
    out = junit(run_of(bad, scenario(NASTY, Outcome.UNKNOWN), errors=(NASTY,)), verbose=True)
    root = etree.fromstring(out.encode())  # lxml: strict about XML 1.0 characters
    case = root.find("testsuite/testcase")
    assert case.get("name") == CLEAN
    assert case.find("failure").get("message") == f"Then {LINE}: {LINE}"
    assert root.find("testsuite").get("name") == CLEAN
    assert [s.get("name") for s in root.findall("testsuite")] == [CLEAN, "Web site", "run errors"]
    assert root.find("testsuite[@name='run errors']/testcase/error").text == CLEAN


SCHEMA = Path(__file__).parent / "fixtures" / "junit-10.xsd"


def jenkins_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def test_every_sample_is_valid_against_jenkins_junit_10_schema() -> None:
    """Issue 18: Jenkins' junit-10.xsd rejects `skipped` on <testsuites>."""
    schema = jenkins_schema()
    nasty = scenario(NASTY, Outcome.FAILED, steps=(StepResult("Then", NASTY, 4, "failed",
                                                              error=NASTY),))
    for run in [*all_samples(), run_of(nasty, errors=(NASTY,))]:
        for verbose in (False, True):
            document = etree.fromstring(junit(run, verbose).encode())
            assert schema.validate(document), schema.error_log.last_error


def test_the_schema_fixture_rejects_what_jenkins_rejects() -> None:
    """The fixture is strict where it matters, so the test above can fail."""
    schema = jenkins_schema()
    assert not schema.validate(etree.fromstring(b'<testsuites skipped="0"/>'))
    assert not schema.validate(etree.fromstring(
        b'<testsuites><testsuite name="x" tests="1" failures="0" errors="0" time="1s"/>'
        b"</testsuites>"))
    assert schema.validate(etree.fromstring(
        b'<testsuites tests="0"><testsuite name="x" tests="0" failures="0" errors="0"'
        b' skipped="0" time="0.000"/></testsuites>'))


def test_a_scenario_cut_by_the_run_deadline_reports_the_time_it_ran() -> None:
    """Issue 18: the cut scenario said time="0.000" although it ran until the deadline."""
    unit = {"id": 0, "file": "features/web.feature", "line": 3, "name": "Home", "feature": "Web",
            "tags": [], "severity": "critical", "level": None, "runbook": None,
            "steps": [["When", 'I go to "/"', 4]]}
    heard = Progress()
    heard.take({"t": "plan", "units": [unit], "errors": []}, at=0.1)
    heard.take({"t": "start", "id": 0, "attempt": 1}, at=0.5)
    heard.take({"t": "step", "id": 0, "index": 0}, at=0.6)
    run = assemble(heard, started=1000.0, duration=2.0, timeout=2.0, environment=None,
                   cut_off=True)
    assert (run.scenarios[0].outcome, run.scenarios[0].duration) == (Outcome.FAILED, 1.5)
    case = etree.fromstring(junit(run).encode()).find("testsuite/testcase")
    assert case.get("time") == "1.500"
