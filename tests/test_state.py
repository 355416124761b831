"""The result store: latest per environment, bounded history, permissions, overlapping runs."""

from __future__ import annotations

import json
import multiprocessing
import stat
from functools import partial
from pathlib import Path

import pytest

from escalator.limits import Limit
from escalator.results import Measurement, Outcome, Severity, StepResult
from escalator.state import MARK_VALUES, HistoryEntry, ResultStore, StateError
from escalator.status import Status
from tests import builders
from tests.builders import scenario


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


run_of = partial(builders.run_of, started=1_699_999_990.0, duration=1.5)


def test_latest_round_trips_the_whole_run_with_the_time_it_was_stored(tmp_path: Path) -> None:
    clock = Clock()
    store = ResultStore(tmp_path / "state", now=clock)
    failing = scenario("Login", Outcome.FAILED, severity=Severity.WARNING, tags=("warning",),
                       level="redeploy", runbook="https://wiki/login", reason="text not found",
                       measurements=(Measurement("response_time", 120.0, "ms",
                                                 Limit.at_most(500)),),
                       steps=(StepResult("Then", 'I should see "Hi"', 5, "failed", 0.1, "nope"),))
    run = run_of(scenario("Home"), failing, environment="production")
    store.save(run)
    clock.t += 90
    stored = store.latest("production")
    assert stored is not None
    assert stored.run == run
    assert stored.stored_at == 1_700_000_000.0
    assert stored.environment == "production"
    assert stored.age(clock()) == 90.0
    assert store.latest(None) is None
    assert store.latest("staging") is None


def test_no_environment_is_stored_as_default(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, now=Clock())
    store.save(run_of(scenario("Home")))
    assert (tmp_path / "results" / "default.json").is_file()
    assert (tmp_path / "history" / "default.jsonl").is_file()
    stored = store.latest(None)
    assert stored is not None and stored.environment == "default"


def test_state_directory_is_private(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "state", now=Clock())
    store.save(run_of(scenario("Home"), environment="prod"))
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in sorted((tmp_path / "state").rglob("*"))}
    assert modes == {"state/history": 0o700, "state/history/prod.jsonl": 0o600,
                     "state/results": 0o700, "state/results/prod.json": 0o600}
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_environment_names_cannot_leave_the_state_directory(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "state", now=Clock())
    store.save(run_of(scenario("Home"), environment="../../evil"))
    assert sorted(p.name for p in (tmp_path / "state" / "results").iterdir()) == [
        "%2E.%2F..%2Fevil.json"]
    assert not (tmp_path / "evil.json").exists()
    stored = store.latest("../../evil")
    assert stored is not None and stored.environment == "../../evil"


def test_unreadable_latest_raises_a_reason_naming_the_file(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, now=Clock())
    path = store.latest_path("prod")
    path.parent.mkdir(parents=True)
    path.write_text('{"run": {"scen')
    with pytest.raises(StateError) as caught:
        store.latest("prod")
    assert str(caught.value).startswith(f"cannot read stored result {path}: not JSON (")
    path.write_text('{"run": {"scenarios": [{"name": "x"}]}, "stored_at": 1}')
    with pytest.raises(StateError) as caught:
        store.latest("prod")
    assert str(caught.value).startswith(f"cannot read stored result {path}: bad content (")


def test_history_is_oldest_first_and_limited(tmp_path: Path) -> None:
    clock = Clock()
    store = ResultStore(tmp_path, now=clock)
    for outcome in (Outcome.PASSED, Outcome.FAILED, Outcome.UNKNOWN, Outcome.PASSED):
        store.save(run_of(scenario("Home", outcome, duration=0.25)))
        clock.t += 60
    entries = store.history(None, limit=3)
    assert [e.stored_at - 1_700_000_000.0 for e in entries] == [60.0, 120.0, 180.0]
    assert [e.status for e in entries] == [Status.CRITICAL, Status.UNKNOWN, Status.OK]
    mark = entries[0].mark("features/web.feature::Home")
    assert mark is not None
    assert (mark.outcome, mark.status, mark.duration) == (Outcome.FAILED, Status.CRITICAL, 0.25)
    assert entries[0].mark("features/web.feature::Other") is None
    assert store.history("other", 10) == []
    assert store.history(None, 0) == []


def test_history_skips_a_torn_last_line(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, now=Clock())
    store.save(run_of(scenario("Home")))
    with store.history_path(None).open("a") as handle:
        handle.write('{"stored_at": 17000')          # a crash in the middle of an append
    assert len(store.history(None)) == 1


def test_history_is_bounded_by_rotation_and_reads_both_generations(tmp_path: Path) -> None:
    clock = Clock()
    store = ResultStore(tmp_path, history_bytes=2000, now=clock)
    line = len(json.dumps(HistoryEntry.of(run_of(scenario("Home")), clock()).to_dict()))
    for _ in range(60):
        store.save(run_of(scenario("Home")))
        clock.t += 1
    current, older = store.history_path(None), tmp_path / "history" / "default.jsonl.1"
    assert current.stat().st_size < 2000 + line
    assert older.stat().st_size < 2000 + line
    entries = store.history(None, limit=1000)
    assert 2000 // line <= len(entries) < 60
    times = [e.stored_at for e in entries]
    assert times == sorted(times) and times[-1] == 1_700_000_059.0


def _save_many(state_dir: str, environment: str, count: int, history_bytes: int) -> None:
    store = ResultStore(Path(state_dir), history_bytes=history_bytes)
    for i in range(count):
        run = run_of(*(scenario(f"S{i}-{n}") for n in range(5)), environment=environment)
        store.save(run)


@pytest.mark.parametrize("history_bytes", [10_000_000, 20_000])
def test_overlapping_runs_leave_whole_lines_and_a_readable_latest(
        tmp_path: Path, history_bytes: int) -> None:
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_save_many, args=(str(tmp_path), "prod", 40, history_bytes))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = ResultStore(tmp_path)
    stored = store.latest("prod")
    assert stored is not None and len(stored.run.scenarios) == 5
    files = sorted((tmp_path / "history").glob("prod.jsonl*"))
    for path in files:
        for text in path.read_text().splitlines():
            assert json.loads(text)["status"] == "OK"          # no torn or interleaved lines
    entries = store.history("prod", limit=1000)
    if history_bytes > 1_000_000:
        assert len(entries) == 120 and [f.name for f in files] == ["prod.jsonl"]
    else:
        assert [f.name for f in files] == ["prod.jsonl", "prod.jsonl.1"]
        assert all(f.stat().st_size < 2 * history_bytes for f in files)
        assert 0 < len(entries) < 120


def test_history_keeps_each_scenarios_measurements(tmp_path: Path) -> None:
    """Issue 18: the history kept only verdicts, so a report could draw nothing over time."""
    clock = Clock()
    store = ResultStore(tmp_path, now=clock)
    many = tuple(Measurement(f"m{i}", float(i), "ms") for i in range(40))
    store.save(run_of(
        scenario("Home", measurements=(Measurement("response_time", 41.25, "ms",
                                                   Limit.below(500)),
                                       Measurement("days_left", 20.0, "", Limit.at_least(14)),
                                       Measurement("packet_loss", float("nan"), "%"),
                                       Measurement("rtt", None, "ms", Limit.below(100)))),
        scenario("Many", measurements=many), scenario("None")))
    entry = store.history(None)[0]
    home = entry.mark("features/web.feature::Home")
    assert home is not None
    assert dict(home.values) == {"response_time": 41.25, "days_left": 20.0}
    assert home.value("days_left") == 20.0 and home.value("packet_loss") is None
    assert home.value("rtt") is None                          # not measured: no value kept
    crowded = entry.mark("features/web.feature::Many")
    assert crowded is not None and len(crowded.values) == MARK_VALUES  # a line stays bounded
    line = json.loads(store.history_path(None).read_text())
    assert line["scenarios"][0]["m"] == {"response_time": 41.25, "days_left": 20.0}
    assert "m" not in line["scenarios"][2]                              # nothing measured


def test_history_lines_written_before_measurements_are_still_read(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, now=Clock())
    old = {"v": 1, "stored_at": 1_700_000_000.0, "started": 1_699_999_990.0, "duration": 1.5,
           "status": "OK", "scenarios": [{"key": "features/web.feature::Home",
                                          "outcome": "passed", "status": "OK", "duration": 0.2}]}
    store.history_path(None).parent.mkdir(parents=True)
    store.history_path(None).write_text(json.dumps(old) + "\n")
    store.save(run_of(scenario("Home", measurements=(Measurement("response_time", 9.0, "ms"),))))
    first, second = (e.mark("features/web.feature::Home") for e in store.history(None))
    assert first is not None and second is not None
    assert (first.values, first.duration, second.values) == ((), 0.2, (("response_time", 9.0),))
