"""One page per problem: keys from the kind and the scenarios involved, a repeat only after
`repage`, a resolve when the problem is gone, what a page says, and all of it across restarts,
maintenance windows, a failing notifier and a damaged state file.

In-process with the rig (tests/test_ladder_rig.py): a fake clock, scripted runs, and a real
notify script that appends each page to pages.log.
"""

from __future__ import annotations

from pathlib import Path

from escalator.ladder.paging import dedup_key
from escalator.results import Severity, StepResult
from tests.builders import run_of, scenario
from tests.test_ladder_engine import PING, _toml
from tests.test_ladder_rig import GREEN, Rig, state_of
from tests.test_ladder_safety import with_config

HOUR = 3600.0
OTHER0 = state_of(extra="FPPP")  # other0 fails and has no ladder level
OTHER1 = state_of(extra="PFPP")
MASS = state_of(ping="F", smoke="F", extra="FFPP")  # 4 of 6
MASSIER = state_of(ping="F", smoke="F", extra="FFFP")  # 5 of 6
KEY0 = dedup_key("test", "no_level", ["features/f.feature::other0"])


def toml(repage: str = "1h", **kw: object) -> str:
    return _toml(**kw).replace("notify = ", f'repage = "{repage}"\nnotify = ')  # type: ignore


def events(rig: Rig) -> list[tuple[object, object]]:
    return [(p["event"], p["dedup_key"]) for p in rig.pages]


def test_a_problem_is_paged_once_again_after_repage_and_resolved_when_gone(
        tmp_path: Path) -> None:
    """5 engagements a minute apart page once (they paged 5 times); an hour later once more,
    with the same key; the first green run resolves it."""
    rig = Rig(tmp_path, toml=toml("1h"))
    engine = rig.engine(*[OTHER0] * 6, GREEN)
    for _ in range(5):
        assert engine.engage().verdict == "unactionable"
        rig.clock.sleep(60)
    assert events(rig) == [("unactionable", KEY0)]
    rig.clock.sleep(HOUR)
    engine.engage()
    assert engine.engage().verdict == "healthy"
    assert events(rig) == [("unactionable", KEY0), ("unactionable", KEY0), ("resolved", KEY0)]
    assert [r["reason"] for r in rig.audit("notify_sent")] == [
        "no_level: paged", "no_level: paged again (open since 1h5m)"]
    assert next(rig.audit("notify_resolved"))["reason"] == (
        "no_level: resolved (no longer seen (6 of 6 scenarios pass))")
    assert engine.state.pages == ()


def test_a_different_problem_is_a_different_page_and_the_first_one_resolves(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml())
    engine = rig.engine(OTHER0, OTHER1, OTHER1)
    for _ in range(3):
        engine.engage()
    key1 = dedup_key("test", "no_level", ["features/f.feature::other1"])
    assert key1 != KEY0
    assert events(rig) == [("unactionable", KEY0), ("unactionable", key1), ("resolved", KEY0)]


def test_a_broken_monitor_is_one_problem_whatever_it_takes_down(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml())
    engine = rig.engine(MASS, MASSIER, MASS, GREEN)
    for _ in range(4):
        engine.engage()
    assert events(rig) == [("unactionable", "escalator/test/mass_failure"),
                           ("resolved", "escalator/test/mass_failure")]


def test_a_page_says_severity_scenarios_reasons_runbooks_what_was_done_and_what_next(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml())
    step = StepResult("Then", 'I should see "Welcome"', 9, "failed", 0.1,
                      "'Welcome' not found in 12 B body of http://127.0.0.1:8000/")
    broken = run_of(
        scenario("Home", "failed", tags=("warning",), severity=Severity.WARNING, steps=(step,),
                 runbook="https://wiki.example/runbooks/home", line=7),
        *(scenario(f"ok{i}", line=20 + i) for i in range(3)))
    rig.engine(broken).engage()
    key = dedup_key("test", "no_level", ["features/web.feature::Home"])
    assert rig.pages == [{
        "event": "unactionable", "kind": "no_level", "environment": "test",
        "run_id": rig.pages[0]["run_id"], "dedup_key": key, "severity": "warning",
        "summary": "test: failing without a ladder level: Home",
        "reason": "failing without a ladder level: Home", "since": "2027-01-15T08:00:00Z",
        "scenarios": [{"name": "Home", "location": "features/web.feature:7",
                       "reason": "Then I should see \"Welcome\": 'Welcome' not found in 12 B "
                                 "body of http://127.0.0.1:8000/",
                       "severity": "warning", "runbook": "https://wiki.example/runbooks/home",
                       "level": None}],
        "runbooks": ["https://wiki.example/runbooks/home"], "plan": [],
        "did": "no level ran: the ladder does not act on this",
        "next_step": "repair by hand, or tag the scenarios @escalate.<level> if a ladder level "
                     "repairs them"}]


def test_a_latch_page_names_the_levels_that_ran_and_the_way_out(tmp_path: Path) -> None:
    rig = Rig(tmp_path, scripts={"vm": "exit 3"}, toml=toml(max_reconverge=0))
    rig.engine(PING, PING, PING, PING).engage()
    [page] = rig.pages
    assert {k: page[k] for k in ("event", "kind", "severity", "summary", "plan", "did",
                                 "next_step")} == {
        "event": "latched", "kind": "latched", "severity": "critical",
        "summary": "test: latched: verify failed after 1 plan(s): 5 passed, 1 failed, 0 "
                   "unknown of 6",
        "plan": ["vm", "converge", "deploy"], "did": "ran vm (failed, exit 3)",
        "next_step": "find out why (escalator ladder history -e test); when it is safe to act "
                     "again: escalator ladder resume -e test --reason TEXT"}
    assert [s["name"] for s in page["scenarios"]] == ["ping"]  # type: ignore[index]


def test_open_pages_survive_a_restart(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml())
    rig.engine(OTHER0).engage()
    rig.clock.sleep(600)
    rig.engine(OTHER0).engage()  # a new engine (a restart): the page is open, not due
    rig.engine(GREEN).engage()
    assert events(rig) == [("unactionable", KEY0), ("resolved", KEY0)]


def test_a_latch_pages_once_per_repage_and_resume_resolves_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml("4h", max_reconverge=0))
    engine = rig.engine(PING, PING, PING, PING, *[PING] * 3)
    engine.engage()
    latch = engine.state.latch
    assert latch is not None
    key = f"escalator/test/latched/{int(latch.since)}"
    for _ in range(2):
        rig.clock.sleep(HOUR)
        engine.engage()
    assert events(rig) == [("latched", key)]
    rig.clock.sleep(3 * HOUR)
    engine.engage()
    assert engine.resume("alice", "replaced the disk")
    assert events(rig) == [("latched", key), ("latched", key), ("resolved", key)]
    assert rig.pages[-1]["reason"] == "the ladder was resumed"


def test_nothing_pages_inside_a_window_and_the_first_run_after_it_does(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml() + """
[[ladder.maintenance]]
start = 2027-01-15T08:00:00Z
end = 2027-01-15T09:00:00Z
""")
    engine = rig.engine(OTHER0, OTHER0)
    engine.engage()
    assert rig.pages == [] and next(rig.audit("notify_suppressed"))["data"]["keys"] == [KEY0]
    rig.clock.sleep(HOUR)
    engine.engage()
    assert events(rig) == [("unactionable", KEY0)]


def test_a_failing_notifier_is_kept_in_the_state_shown_and_retried(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml())
    root = with_config(rig, toml())
    page_sh = rig.root / "ops" / "page.sh"
    working = page_sh.read_text()
    rig.write_script("ops/page.sh", "#!/bin/sh\necho pager unreachable\nexit 7\n")
    engine = rig.engine(OTHER0, OTHER0, OTHER0)
    engine.engage()
    assert (engine.state.notifier.failing_since, engine.state.notifier.error) == (
        1_800_000_000.0, "notifier failed")
    from tests.test_ladder_commands import cli

    status = cli(["ladder", "status", "-e", "test"], root)[1]
    assert ("notifier                  FAILING since 2027-01-15 08:00:00Z: notifier failed\n"
            "open page                 no_level since 2027-01-15 08:00:00Z, NOT DELIVERED yet: "
            f"{KEY0}\n") in status
    rig.clock.sleep(60)
    engine.engage()  # tried again, fails again
    rig.write_script("ops/page.sh", working)
    rig.clock.sleep(60)
    engine.engage()
    assert events(rig) == [("unactionable", KEY0)]
    assert len(list(rig.audit("notify_failed"))) == 2
    assert (engine.state.notifier.failing_since, engine.state.notifier.last_ok) == (
        None, 1_800_000_120.0)


def test_a_damaged_state_file_does_not_page_an_open_problem_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path, toml=toml())
    rig.engine(OTHER0).engage()
    rig.store.state_path.write_text('{"schema": 1, "envir')
    rig.clock.sleep(60)
    engine = rig.engine(OTHER0)
    assert [p.key for p in engine.state.pages] == [KEY0]  # rebuilt from the audit log
    engine.engage()
    assert [p["kind"] for p in rig.pages] == ["no_level", "latched"]  # the latch is new
