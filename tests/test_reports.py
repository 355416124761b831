"""The reports: since-when and strips from history, the HTML page, tables, metrics, the command."""

from __future__ import annotations

import io
import json
import stat
import textwrap
from functools import partial
from pathlib import Path

import lxml.html
import pytest

from escalator.cli import main
from escalator.env import Env
from escalator.formatters import render
from escalator.ladder.model import LadderState, Latch
from escalator.ladder.store import LadderStore, iso, ladder_dir
from escalator.limits import Limit
from escalator.reports import html, ladder_view, tables
from escalator.reports import page as model
from escalator.reports.availability import Share
from escalator.reports.timeline import rows
from escalator.results import (
    Measurement,
    Outcome,
    RunResult,
    Severity,
    StepResult,
)
from escalator.state import HistoryEntry, ResultStore, StoredRun
from escalator.status import Status
from tests import builders
from tests.builders import scenario
from tests.test_formatters_prometheus import promtool

T0 = 1_700_000_000.0
P, F, U = Outcome.PASSED, Outcome.FAILED, Outcome.UNKNOWN


run_of = partial(builders.run_of, started=T0, duration=1.5, environment="prod")


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
        scenario("Home page renders", P, line=3, tags=("smoke",), duration=0.12),
        scenario("Login works", F, line=9, severity=Severity.WARNING, tags=("warning", "auth"),
                 level="redeploy", runbook="https://wiki.example/login", duration=0.8,
                 steps=(StepResult("Then", 'I should see "Welcome"', 12, "failed", 0.8,
                                   f"text not found in body: {XSS}"),)),
        scenario("Health answers", U, line=15, runbook="javascript:alert(1)",
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
    assert [a.get("href") for a in doc.xpath("//a")] == ["deployment.html",  # the page's own
                                                         "https://wiki.example/login"]
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
        0, f"wrote index.html, summary.txt, metrics.prom, junit.xml, results.json, "
           f"deployment.html to {out_dir}\n", "")
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out_dir.iterdir()}
    assert files == dict.fromkeys(
        ["index.html", "summary.txt", "metrics.prom", "junit.xml", "results.json",
         "deployment.html"], 0o644)
    assert (out_dir / "metrics.prom").read_text() == render("prometheus", run)
    promtool((out_dir / "metrics.prom").read_text())
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


def test_strip_tooltips_name_the_state_of_each_past_run() -> None:
    """Issue 18: every OK cell said "did not run": the template tested `if tick.status`."""
    run = page_run()
    other = run_of(scenario("Something else", P))
    past = [HistoryEntry.of(other, T0 - 600), HistoryEntry.of(run, T0 - 300),
            HistoryEntry.of(run, T0)]
    page = html.render(StoredRun(run, T0, "prod", Path("x")), past, now=T0 + 60)
    doc = lxml.html.fromstring(page)
    titles = [[cell.get("title") for cell in strip] for strip in doc.find_class("strip")]
    assert titles[0] == ["2023-11-14 22:03:20 UTC: did not run",
                         "2023-11-14 22:08:20 UTC: OK", "2023-11-14 22:13:20 UTC: OK"]
    assert [t[-1] for t in titles] == ["2023-11-14 22:13:20 UTC: OK",
                                       "2023-11-14 22:13:20 UTC: WARNING",
                                       "2023-11-14 22:13:20 UTC: UNKNOWN"]


def test_each_environment_gets_its_own_report_directory_and_an_overview(tmp_path: Path) -> None:
    """Issue 18: `report -e staging` replaced production's files, metrics.prom included."""
    (tmp_path / "escalator.toml").write_text(
        '[run]\nreport_dir = "out"\n[environments.production]\n[environments.staging]\n'
        '[environments."pre prod"]\n')
    store = ResultStore(tmp_path / ".escalator", now=lambda: T0)
    prod = RunResult(scenarios=(scenario("Home", F),), started=T0, duration=1.0,
                     environment="production")
    staging = RunResult(scenarios=(scenario("Home", P),), started=T0, duration=1.0,
                        environment="staging")
    store.save(prod)
    store.save(staging)
    elsewhere = tmp_path / "cron-cwd"
    elsewhere.mkdir()
    config = str(tmp_path / "escalator.toml")
    out_dir = tmp_path / "out"
    assert report(elsewhere, "-c", config, "-e", "production", now=T0 + 60)[0] == 0
    assert report(elsewhere, "-c", config, "-e", "staging", now=T0 + 60) == (
        0, f"wrote index.html, summary.txt, metrics.prom, junit.xml, results.json, "
           f"deployment.html to {out_dir / 'staging'}\n"
           f"wrote the overview (index.html, metrics.prom) to {out_dir}\n",
        "")
    assert (out_dir / "production" / "metrics.prom").read_text() == render("prometheus", prod)
    assert (out_dir / "staging" / "metrics.prom").read_text() == render("prometheus", staging)
    assert "Escalator: production is CRITICAL" in (out_dir / "production" / "index.html"
                                                   ).read_text()
    for prom in (out_dir / "production" / "metrics.prom", out_dir / "metrics.prom"):
        promtool(prom.read_text())
    combined = (out_dir / "metrics.prom").read_text()
    assert 'escalator_run_status{environment="production"} 2' in combined
    assert 'escalator_run_status{environment="staging"} 0' in combined
    overview = lxml.html.fromstring((out_dir / "index.html").read_text())
    assert [(s.get("data-environment"), s.get("data-state"), s.xpath(".//a/@href"))
            for s in overview.find_class("environment")] == [
        ("production", "CRITICAL", ["production/index.html"]),
        ("staging", "OK", ["staging/index.html"]),
        ("pre prod", "NONE", ["pre%2520prod/index.html"]),   # the directory is pre%20prod
    ]
    assert overview.get_element_by_id("overall").text == "CRITICAL"


def test_report_without_e_renders_every_environment_of_the_project(tmp_path: Path) -> None:
    (tmp_path / "escalator.toml").write_text("[environments.production]\n[environments.staging]\n")
    store = ResultStore(tmp_path / ".escalator", now=lambda: T0)
    store.save(RunResult(scenarios=(scenario("Home", P),), started=T0, environment="staging"))
    code, out, _ = report(tmp_path, now=T0 + 5)
    reports = tmp_path / "reports"
    assert (code, out) == (0, "no stored result for environment 'production' yet\n"
                              "wrote index.html, summary.txt, metrics.prom, junit.xml, "
                              f"results.json, deployment.html to {reports / 'staging'}\n"
                              f"wrote the overview (index.html, metrics.prom) to {reports}\n")
    assert sorted(p.name for p in reports.iterdir()) == ["index.html", "metrics.prom", "staging"]


DAY = 86400.0


def test_availability_over_24h_7d_30d_and_the_last_failure() -> None:
    """Issue 18: the share of passing runs per scenario, per feature and per environment."""
    now = T0 + 40 * DAY
    runs = [(35, P, P), (20, F, P), (6, P, P), (3, U, P), (0.5, P, F), (0.1, P, P), (0, P, P)]
    past = [HistoryEntry.of(run_of(scenario("Home", home), scenario("Login", login, 9)),
                            now - days * DAY) for days, home, login in runs]
    latest = run_of(scenario("Home", P), scenario("Login", P, 9))
    page = model.build(StoredRun(latest, now, "prod", Path("x")), past, now)
    home, login = page.scenarios
    assert [(s.label, s.passed, s.runs, s.text, s.partial) for s in home.shares] == [
        ("24 h", 3, 3, "100%", False), ("7 d", 4, 5, "80%", False),
        ("30 d", 4, 6, "66.6%", False)]
    assert [(s.passed, s.runs) for s in login.shares] == [(2, 3), (4, 5), (5, 6)]
    assert (home.last_failure, login.last_failure) == (now - 3 * DAY, now - 0.5 * DAY)
    feature = page.features[0]
    assert [(s.passed, s.runs) for s in feature.shares] == [(2, 3), (3, 5), (3, 6)]
    assert [(s.passed, s.runs) for s in page.shares] == [(2, 3), (3, 5), (3, 6)]
    short = model.build(StoredRun(run_of(scenario("Home", P)), now, "prod", Path("x")),
                        past[-2:], now)
    assert [s.partial for s in short.shares] == [True, True, True]
    assert short.shares[1].title == "7 d: 2 of 2 runs passed; stored history covers 2h24m of it"


def test_a_share_never_rounds_a_failure_up_to_100_percent() -> None:
    assert Share("30 d", 30 * DAY, 9999, 10000, 30 * DAY).text == "99.9%"
    assert Share("24 h", DAY, 0, 0, DAY).text == "–"


def ladder_run(home_ms: float, outcome: Outcome) -> RunResult:
    return run_of(scenario("Home", outcome, measurements=(
        Measurement("response_time", home_ms, "ms", Limit.below(500),
                    warn=Limit.at_most(300)),)),
        scenario(XSS, P, 9, measurements=(Measurement(f"n{XSS}", 3.0, "s",
                                                      Limit(1, 2, inside=True)),)))


def test_charts_draw_every_measurement_its_limit_and_the_ladder_markers() -> None:
    past = [HistoryEntry.of(ladder_run(900.0 if i < 5 else 120.0, F if i < 5 else P),
                            T0 + 300 * i) for i in range(8)]
    stored = StoredRun(ladder_run(120.0, P), T0 + 300 * 7, "prod", Path("x"))
    ladder = ladder_view.view(None, None, [
        {"ts": iso(T0 + 1350), "event": "engaged", "reason": "", "data": {"plan": ["deploy"]}},
        {"ts": iso(T0 + 1400), "event": "step_finished", "reason": "",
         "data": {"level": "deploy", "status": "succeeded", "exit_code": 0,
                  "duration": 20}},
        {"ts": iso(T0 + 1500), "event": "recovered", "reason": "2 green runs", "data": {}},
        {"ts": "not a time", "event": "latched"}, {"ts": iso(T0 + 1600), "event": "observed"}])
    page = html.render(stored, past, now=T0 + 2200, ladder=ladder)
    assert XSS not in page and len(lxml.html.fromstring(page).xpath("//script")) == 1
    doc = lxml.html.fromstring(page)
    charts = doc.xpath("//button[@class='card']/*[local-name()='svg']")
    assert [c.xpath("string(*[local-name()='title'])") for c in charts] == [
        "Home: response_time", f"{XSS}: n{XSS}"]
    home = charts[0]
    start, end = float(home.get("data-start")), float(home.get("data-end"))
    assert (start, end) == (T0, T0 + 2100)
    markers = home.xpath(".//*[local-name()='g'][contains(@class, 'marker')]")
    assert [(m.get("class"), float(m.get("data-at"))) for m in markers] == [
        ("marker engaged", T0 + 1350), ("marker level", T0 + 1380), ("marker recovered",
                                                                      T0 + 1500)]
    for marker in markers:
        x = float(marker.xpath("*[local-name()='line']")[0].get("x1"))
        assert x == pytest.approx(56 + (float(marker.get("data-at")) - start) / (end - start)
                                  * (600 - 56 - 12), abs=0.01)
    limit = home.xpath(".//*[local-name()='line'][contains(@class, 'limit')]")
    # warning and critical limits of one measurement: both drawn, each with its meaning
    assert [line.get("class") for line in limit] == ["limit WARNING", "limit CRITICAL"]
    assert [t.text for t in home.xpath(".//*[local-name()='text'][contains(@class, 'limit')]")
            ] == ["warning > 300 ms", "critical ≥ 500 ms"]
    points = home.xpath(".//*[local-name()='circle']")
    assert [p.get("class") for p in points] == ["pt CRITICAL"] * 5     # OK runs: the line
    assert (home.get("data-t"), home.get("data-v"), home.get("data-s"), home.get("data-unit")) == (
        "0,300,600,900,1200,1500,1800,2100", "900,900,900,900,900,120,120,120", "CCCCCOOO",
        " ms")
    caption = doc.find_class("card")[0].text_content().split()
    assert caption[:10] == ["response_time", "120", "ms", "warning", ">", "300", "ms", "or",
                            "critical", "≥"]
    log = [[" ".join(td.text_content().split()) for td in row[1:]]
           for row in doc.get_element_by_id("ladder-log").find_class("event")]
    assert log == [["recovered", "recovered (2 green runs)"],          # latest first
                   ["deploy", "level deploy succeeded (exit 0) after 20s"],
                   ["engaged", "engaged: plan deploy"]]


def test_ladder_banner_when_latched_and_in_a_maintenance_window(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "deploy.sh").write_text("#!/bin/sh\n")
    (tmp_path / "ops" / "deploy.sh").chmod(0o755)
    (tmp_path / "escalator.toml").write_text(textwrap.dedent("""\
        [environments.prod]
        [ladder]
        [[ladder.level]]
        id = "deploy"
        run = ["ops/deploy.sh"]
        [[ladder.maintenance]]
        start = 2023-11-14T22:00:00Z
        end = 2023-11-15T02:00:00Z
        reason = "database <migration>"
        """))
    ResultStore(tmp_path / ".escalator", now=lambda: T0).save(page_run())
    ladder = LadderStore(ladder_dir(tmp_path / ".escalator", "prod"), "prod", now=lambda: T0)
    ladder.save(LadderState("prod", latch=Latch("verify failed after 2 plan(s)", T0 - 600)))
    before = ladder.state_path.read_bytes()
    assert report(tmp_path, now=T0 + 60)[0] == 0
    assert ladder.state_path.read_bytes() == before        # read, never written
    doc = lxml.html.fromstring((tmp_path / "reports" / "index.html").read_text())
    banners = {b.get("id"): " ".join(b.text_content().split()) for b in doc.find_class("banner")}
    assert banners == {
        "ladder-latched": "The ladder is latched since 2023-11-14 22:03:20 UTC (11m ago): verify "
                          "failed after 2 plan(s). It runs no level until someone who has "
                          'looked says so: escalator ladder resume -e prod --reason "..."',
        "ladder-maintenance": "Maintenance window until 2023-11-15 02:00:00 UTC (in 3h46m): "
                              "database <migration>. The ladder runs no level; the checks go "
                              "on.",
    }
    ladder.save(LadderState("prod"))
    assert report(tmp_path, now=T0 + 5 * 3600)[0] == 0      # unlatched, after the window
    doc = lxml.html.fromstring((tmp_path / "reports" / "index.html").read_text())
    assert doc.find_class("banner") == []


def test_a_history_written_before_it_kept_measurements_still_draws(tmp_path: Path) -> None:
    """Old history lines carry no values: their runs are gaps, and the page still renders."""
    old = {"v": 1, "stored_at": T0, "started": T0 - 2, "duration": 1.5, "status": "CRITICAL",
           "scenarios": [{"key": "features/web.feature::Home", "outcome": "failed",
                          "status": "CRITICAL", "duration": 0.2}]}
    (tmp_path / "escalator.toml").write_text("[environments.prod]\n")
    store = ResultStore(tmp_path / ".escalator", now=lambda: T0 + 300)
    store.history_path("prod").parent.mkdir(parents=True)
    store.history_path("prod").write_text(json.dumps(old) + "\n")
    store.save(run_of(scenario("Home", P, measurements=(
        Measurement("response_time", 40.0, "ms", Limit.below(500)),))))
    assert report(tmp_path, now=T0 + 360)[0] == 0
    doc = lxml.html.fromstring((tmp_path / "reports" / "index.html").read_text())
    (chart,) = doc.xpath("//*[local-name()='svg'][@class='chart']")
    assert (chart.get("data-t"), chart.get("data-v"), chart.get("data-s")) == ("300", "40", "O")
    assert [" ".join(s.text_content().split()) for s in doc.find_class("availability")[0]
            .find_class("share")] == ["24 h 50%", "7 d 50%", "30 d 50%"]
