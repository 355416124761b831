"""The reports: since-when and strips from history, the HTML page, tables, metrics, the command."""

from __future__ import annotations

import io
import json
import stat
import textwrap
from pathlib import Path

import lxml.html
import pytest

from escalator.cli import main
from escalator.env import Env
from escalator.formatters import render
from escalator.limits import Limit
from escalator.reports import html, tables
from escalator.reports.timeline import rows
from escalator.results import Measurement, Outcome, RunResult, ScenarioResult, Severity, StepResult
from escalator.state import HistoryEntry, ResultStore, StoredRun
from escalator.status import Status

T0 = 1_700_000_000.0
P, F, U = Outcome.PASSED, Outcome.FAILED, Outcome.UNKNOWN


def scenario(name: str, outcome: Outcome, line: int = 3, **kw: object) -> ScenarioResult:
    return ScenarioResult(feature="Web", file="features/web.feature", line=line, name=name,
                          outcome=outcome, **kw)  # type: ignore[arg-type]


def run_of(*scenarios: ScenarioResult) -> RunResult:
    return RunResult(scenarios=scenarios, started=T0, duration=1.5, environment="prod")


def stored_with_past(outcomes: list[Outcome]) -> tuple[StoredRun, list[HistoryEntry]]:
    """One scenario "Home" whose runs, a minute apart, ended as `outcomes` (the last is now)."""
    past = [HistoryEntry.of(run_of(scenario("Home", o)), T0 + 60 * i)
            for i, o in enumerate(outcomes)]
    latest = run_of(scenario("Home", outcomes[-1]))
    return StoredRun(latest, T0 + 60 * (len(outcomes) - 1), "prod", Path("x")), past


@pytest.mark.parametrize("outcomes,since,known", [
    ([P], 0, False),                    # only run: in this state since at least then
    ([P, P, P], 0, False),              # the whole history agrees
    ([P, F, F], 60, True),              # failing since the second run
    ([F, P], 60, True),                 # recovered at the last run
    ([F, U, F], 120, True),             # UNKNOWN interrupts a CRITICAL streak
])
def test_since_is_the_start_of_the_current_streak(outcomes: list[Outcome], since: float,
                                                  known: bool) -> None:
    stored, past = stored_with_past(outcomes)
    row = rows(stored, past)[0]
    assert (row.since - T0, row.since_known) == (since, known)


def test_a_scenario_that_did_not_run_ends_a_streak_and_shows_as_a_gap() -> None:
    other = HistoryEntry.of(run_of(scenario("Other", P)), T0)
    stored, past = stored_with_past([P, P])
    past = [other, *(HistoryEntry(e.stored_at + 60, e.started, e.duration, e.status, e.marks)
                     for e in past)]
    stored = StoredRun(stored.run, T0 + 120, "prod", Path("x"))
    row = rows(stored, past)[0]
    assert (row.since - T0, row.since_known) == (60, True)
    assert [t.status for t in row.strip] == [None, Status.OK, Status.OK]


def test_history_newer_than_the_stored_run_is_ignored_and_the_strip_is_bounded() -> None:
    stored, past = stored_with_past([F] * 40 + [P])
    newer = HistoryEntry.of(run_of(scenario("Home", F)), stored.stored_at + 5)
    row = rows(stored, [*past, newer], width=30)[0]
    assert len(row.strip) == 30 and row.strip[-1].status is Status.OK
    assert row.since == stored.stored_at and row.since_known


XSS = '<script>alert("owned")</script>'


def page_run() -> RunResult:
    return run_of(
        scenario("Home page renders", P, 3, tags=("smoke",), duration=0.12),
        scenario("Login works", F, 9, severity=Severity.WARNING, tags=("warning", "auth"),
                 level="redeploy", runbook="https://wiki.example/login", duration=0.8,
                 steps=(StepResult("Then", 'I should see "Welcome"', 12, "failed", 0.8,
                                   f"text not found in body: {XSS}"),)),
        scenario("Health answers", U, 15, runbook="javascript:alert(1)",
                 reason="undefined step"),
    )


def test_html_page_lists_every_scenario_with_state_since_and_strip() -> None:
    run = page_run()
    past = [HistoryEntry.of(run, T0 - 300), HistoryEntry.of(run, T0)]
    page = html.render(StoredRun(run, T0, "prod", Path("x")), past, now=T0 + 600)
    doc = lxml.html.fromstring(page)
    found = [(r.get("data-state"), r.get("data-tags"), r.find_class("name")[0].text_content(),
              " ".join(r.find_class("since")[0].text_content().split()),
              len(r.find_class("strip")[0]))
             for r in doc.find_class("scenario")]
    assert found == [
        ("OK", "@smoke", "Home page renders", "at least 15m ago 2023-11-14 22:08:20 UTC", 2),
        ("WARNING", "@warning @auth", "Login works", "at least 15m ago 2023-11-14 22:08:20 UTC", 2),
        ("UNKNOWN", "", "Health answers", "at least 15m ago 2023-11-14 22:08:20 UTC", 2),
    ]
    assert doc.get_element_by_id("overall").text == "UNKNOWN"
    assert [o.get("value") for o in doc.get_element_by_id("tag-filter")] == [
        "", "@auth", "@smoke", "@warning"]
    assert doc.xpath("//title")[0].text == "Escalator: prod is UNKNOWN"


def test_html_escapes_what_targets_sent_and_links_only_web_runbooks() -> None:
    run = page_run()
    page = html.render(StoredRun(run, T0, "prod", Path("x")), [], now=T0)
    assert XSS not in page
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in page
    doc = lxml.html.fromstring(page)
    assert len(doc.xpath("//script")) == 1                      # only the page's own filter
    assert [a.get("href") for a in doc.xpath("//a")] == ["https://wiki.example/login"]
    assert "javascript:alert(1)" in doc.find_class("scenario")[2].text_content()
    reason = doc.find_class("reason")[0].text_content()
    assert reason == f'Then I should see "Welcome": text not found in body: {XSS}'
    assert 'src="http' not in page and "href=\"http" not in page.split("<body>")[0]


def test_summary_table_whole_output() -> None:
    run = page_run()
    stored, past = StoredRun(run, T0, "prod", Path("x")), [HistoryEntry.of(run, T0)]
    assert tables.render(stored, past, now=T0 + 90) == textwrap.dedent("""\
        Escalator: prod is UNKNOWN, 2 of 3 scenarios not passing
        Last run stored 2023-11-14 22:13:20 UTC (1m30s ago), took 1.50s

        State    Scenario           Location                 Since         Duration    Level
        -------  -----------------  -----------------------  ------------  ----------  --------
        OK       Home page renders  features/web.feature:3   >= 1m30s ago  120ms
        WARNING  Login works        features/web.feature:9   >= 1m30s ago  800ms       redeploy
        UNKNOWN  Health answers     features/web.feature:15  >= 1m30s ago  0ms

        WARNING Login works (features/web.feature:9): Then I should see "Welcome": text not found in body: <script>alert("owned")</script>
        UNKNOWN Health answers (features/web.feature:15): undefined step
        """)  # noqa: E501


def test_prometheus_textfile_whole_output() -> None:
    run = RunResult(scenarios=(
        scenario('Say "hi"', F, 3, severity=Severity.WARNING, duration=0.5,
                 measurements=(Measurement("response_time", 812.5, "ms", Limit.at_most(500)),)),),
        started=T0, duration=1.25, environment=None)
    assert render("prometheus", run) == textwrap.dedent('''\
        # HELP escalator_run_status Nagios state of the last run (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
        # TYPE escalator_run_status gauge
        escalator_run_status{environment="default"} 1
        # HELP escalator_run_scenarios Scenarios in the last run by outcome.
        # TYPE escalator_run_scenarios gauge
        escalator_run_scenarios{environment="default",outcome="passed"} 0
        escalator_run_scenarios{environment="default",outcome="failed"} 1
        escalator_run_scenarios{environment="default",outcome="unknown"} 0
        # HELP escalator_run_duration_seconds Wall time of the last run.
        # TYPE escalator_run_duration_seconds gauge
        escalator_run_duration_seconds{environment="default"} 1.25
        # HELP escalator_run_errors Run-level errors (parse, config, load) in the last run.
        # TYPE escalator_run_errors gauge
        escalator_run_errors{environment="default"} 0
        # HELP escalator_last_run_timestamp_seconds When the last run finished (Unix time).
        # TYPE escalator_last_run_timestamp_seconds gauge
        escalator_last_run_timestamp_seconds{environment="default"} 1700000001.25
        # HELP escalator_scenario_success 1 when the scenario passed in the last run, else 0.
        # TYPE escalator_scenario_success gauge
        escalator_scenario_success{environment="default",feature="Web",scenario="Say \\"hi\\"",file="features/web.feature",line="3",severity="warning"} 0
        # HELP escalator_scenario_status Nagios state of the scenario in the last run.
        # TYPE escalator_scenario_status gauge
        escalator_scenario_status{environment="default",feature="Web",scenario="Say \\"hi\\"",file="features/web.feature",line="3",severity="warning"} 1
        # HELP escalator_scenario_duration_seconds Wall time of the scenario in the last run.
        # TYPE escalator_scenario_duration_seconds gauge
        escalator_scenario_duration_seconds{environment="default",feature="Web",scenario="Say \\"hi\\"",file="features/web.feature",line="3",severity="warning"} 0.5
        # HELP escalator_scenario_attempts Attempts the scenario needed (retries + 1).
        # TYPE escalator_scenario_attempts gauge
        escalator_scenario_attempts{environment="default",feature="Web",scenario="Say \\"hi\\"",file="features/web.feature",line="3",severity="warning"} 1
        # HELP escalator_step_measurement A number a step measured (response time, days left, ...), in its unit.
        # TYPE escalator_step_measurement gauge
        escalator_step_measurement{environment="default",feature="Web",scenario="Say \\"hi\\"",file="features/web.feature",line="3",severity="warning",measurement="response_time",unit="ms",crit="500"} 812.5
        ''')  # noqa: E501


def report(root: Path, *argv: str, now: float) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["report", *argv], Env(stdout=out, stderr=err, environ={}, cwd=root,
                                       now=lambda: now))
    return code, out.getvalue(), err.getvalue()


def test_report_command_writes_every_file_readable_by_others(tmp_path: Path) -> None:
    (tmp_path / "escalator.toml").write_text(
        '[run]\nreport_dir = "out/reports"\n[environments.prod]\n')
    run = page_run()
    ResultStore(tmp_path / ".escalator", now=lambda: T0).save(run)
    code, out, err = report(tmp_path, now=T0 + 90)
    out_dir = tmp_path / "out" / "reports"
    assert (code, out, err) == (
        0, f"wrote index.html, summary.txt, metrics.prom, junit.xml, results.json to {out_dir}\n",
        "")
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out_dir.iterdir()}
    assert files == dict.fromkeys(
        ["index.html", "summary.txt", "metrics.prom", "junit.xml", "results.json"], 0o644)
    assert (out_dir / "metrics.prom").read_text() == render("prometheus", run)
    assert json.loads((out_dir / "results.json").read_text()) == json.loads(render("json", run))
    assert (out_dir / "junit.xml").read_text() == render("junit", run)
    assert "Login works" in (out_dir / "index.html").read_text()
    code, table, _ = report(tmp_path, "--table", now=T0 + 90)
    assert (code, table) == (0, (out_dir / "summary.txt").read_text())
    assert table.startswith("Escalator: prod is UNKNOWN, 2 of 3 scenarios not passing\n")


def test_report_without_a_stored_result_says_so(tmp_path: Path) -> None:
    (tmp_path / "escalator.toml").write_text("[environments.prod]\n")
    assert report(tmp_path, now=T0) == (
        2, "", f"escalator: no stored result for environment 'prod' in {tmp_path}/.escalator: "
               "run 'escalator run' or 'check' first\n")
    assert not (tmp_path / "reports").exists()
