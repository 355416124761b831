"""The deployment view (deployment.html): when each requirement first turned green, what made
it green (a converge level, a gate's deploy, a ladder level), and what is still red."""

from __future__ import annotations

import io
from pathlib import Path

import lxml.html

from escalator.cli import main
from escalator.env import Env
from escalator.ladder.store import LadderStore, ladder_dir
from escalator.reports import deployment, ladder_view
from escalator.results import Outcome, RunResult
from escalator.state import HistoryEntry, ResultStore, StoredRun
from tests.builders import scenario

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00Z
P, F = Outcome.PASSED, Outcome.FAILED
NAMES = ("Account exists", "Network exists", "API answers", "Shop <sells>")


def run(*outcomes: Outcome, **extra: object) -> RunResult:
    return RunResult(tuple(scenario(name, o, file="features/env.feature", line=3 + 4 * i,
                                    reason=None if o is P else f"{name} is missing")
                           for i, (name, o) in enumerate(zip(NAMES, outcomes, strict=True))),
                     started=0.0, duration=1.0, environment="dc2", extra=extra)


def converge_run(after: str, *outcomes: Outcome) -> RunResult:
    return run(*outcomes, origin={"kind": "converge", "run_id": "r1", "after": after,
                                  "began": T0})


def view(past: list[HistoryEntry], latest: RunResult,
         ladder: ladder_view.LadderView | None = None) -> deployment.Deployment:
    stored = StoredRun(latest, past[-1].stored_at, "dc2", Path("x"))
    return deployment.build(stored, past, past[-1].stored_at + 60, ladder)


def causes(built: deployment.Deployment) -> list[tuple[str, float | None, str]]:
    return [(r.scenario.name, r.first_green, r.cause) for r in built.requirements]


def test_converge_runs_say_which_level_made_each_requirement_green() -> None:
    runs = [converge_run("", F, F, F, F), converge_run("account", P, F, F, F),
            converge_run("network", P, P, F, F), converge_run("api", P, P, P, F)]
    past = [HistoryEntry.of(r, T0 + 10 * i) for i, r in enumerate(runs)]
    built = view(past, runs[-1])
    assert causes(built) == [("Account exists", T0 + 10, "level account (converge)"),
                             ("Network exists", T0 + 20, "level network (converge)"),
                             ("API answers", T0 + 30, "level api (converge)"),
                             ("Shop <sells>", None, "")]
    assert [(m.at, m.cause, m.names) for m in built.milestones] == [
        (T0 + 10, "level account (converge)", ("Account exists",)),
        (T0 + 20, "level network (converge)", ("Network exists",)),
        (T0 + 30, "level api (converge)", ("API answers",))]
    assert [r.scenario.name for r in built.red] == ["Shop <sells>"]
    assert built.began == T0


def test_a_gate_says_its_deploy_and_when_within_it_each_turned_green() -> None:
    before = run(P, P, F, F)
    gate = run(P, P, P, P, origin={"kind": "gate", "by": "shop 1.4.3", "began": T0 + 100},
               green_after={"features/env.feature::API answers": 4.25,
                            "features/env.feature::Shop <sells>": 6.5})
    past = [HistoryEntry.of(before, T0), HistoryEntry.of(gate, T0 + 120)]
    assert causes(view(past, gate)) == [
        ("Account exists", T0, "green at its first check"),
        ("Network exists", T0, "green at its first check"),
        ("API answers", T0 + 104.25, "deploy shop 1.4.3"),
        ("Shop <sells>", T0 + 106.5, "deploy shop 1.4.3")]


def test_a_plain_run_credits_the_ladder_level_that_ended_since_the_last_red_one() -> None:
    runs = [run(P, F, F, F), run(P, P, F, F), run(P, P, P, F), run(P, P, P, P)]
    past = [HistoryEntry.of(r, T0 + 60 * i) for i, r in enumerate(runs)]
    records = [{"ts": "2027-01-15T08:00:30.000000Z", "event": "step_finished", "run_id": "e1",
                "data": {"level": "network", "status": "succeeded"}},
               {"ts": "2027-01-15T08:02:30.000000Z", "event": "step_finished", "run_id": "e2",
                "data": {"level": "tier", "status": "succeeded"}},
               {"ts": "2027-01-15T08:02:40.000000Z", "event": "step_finished", "run_id": "e2",
                "data": {"level": "deploy", "status": "succeeded"}}]
    ladder = ladder_view.view(None, None, records)
    assert causes(view(past, runs[-1], ladder)) == [
        ("Account exists", T0, "green at its first check"),
        ("Network exists", T0 + 60, "level network"),
        ("API answers", T0 + 120, "no recorded action"),
        ("Shop <sells>", T0 + 180, "level deploy")]


def test_the_page_lists_progression_and_still_red_and_escapes_names() -> None:
    runs = [converge_run("", F, F, F, F), converge_run("account", P, F, F, F)]
    past = [HistoryEntry.of(r, T0 + 10 * i) for i, r in enumerate(runs)]
    stored = StoredRun(runs[-1], T0 + 10, "dc2", Path("x"))
    page = deployment.render(stored, past, T0 + 70)
    assert "Shop <sells>" not in page and "Shop &lt;sells&gt;" in page
    doc = lxml.html.fromstring(page)
    assert doc.get_element_by_id("overall").text_content() == "1 of 4 green"
    assert [li.text_content().split()[1] for li in doc.get_element_by_id("still-red")
            .iter("li")] == ["Network", "API", "Shop"]
    assert [" ".join(li.text_content().split()) for li in doc.get_element_by_id("progression")
            .iter("li")] == ["2027-01-15 08:00:10 UTC (+10s) level account (converge): "
                             "Account exists"]
    cells = [[" ".join(td.text_content().split()) for td in tr.iter("td")]
             for tr in doc.find_class("requirement")]
    assert cells[0] == ["OK", "Account exists features/env.feature:3",
                        "2027-01-15 08:00:10 UTC +10s after the first run",
                        "level account (converge)"]
    assert cells[3][2:] == ["never yet", "-"]


def test_report_writes_the_deployment_page_from_stored_runs_and_the_audit(
        tmp_path: Path) -> None:
    (tmp_path / "escalator.toml").write_text(
        '[environments.dc2]\n\n[ladder]\n[[ladder.level]]\nid = "deploy"\nrun = ["true"]\n')
    store = ResultStore(tmp_path / ".escalator", now=lambda: T0)
    store.save(run(P, P, F, F))
    ladder = LadderStore(ladder_dir(tmp_path / ".escalator", "dc2"), "dc2", now=lambda: T0 + 30)
    ladder.audit("step_finished", "e1", "level deploy succeeded", level="deploy",
                 status="succeeded")
    ResultStore(tmp_path / ".escalator", now=lambda: T0 + 60).save(run(P, P, P, P))
    out = io.StringIO()
    code = main(["report", "-e", "dc2"], Env(stdout=out, stderr=io.StringIO(), environ={},
                                             cwd=tmp_path, now=lambda: T0 + 90))
    assert code == 0
    doc = lxml.html.parse(str(tmp_path / "reports" / "deployment.html")).getroot()
    assert [" ".join(li.text_content().split()) for li in doc.get_element_by_id("progression")
            .iter("li")] == [
        "2027-01-15 08:00:00 UTC (+0s) green at its first check: Account exists, Network exists",
        "2027-01-15 08:01:00 UTC (+1m) level deploy: API answers, Shop <sells>"]
    index = lxml.html.parse(str(tmp_path / "reports" / "index.html")).getroot()
    assert index.get_element_by_id("deployment-link").get("href") == "deployment.html"
