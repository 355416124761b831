"""A run becomes plain data once, without deep copies, and is stored as compact JSON that reads
back as the same run: the conversions a 5,000-scenario run pays for in every process."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from escalator.limits import Limit
from escalator.results import Measurement, Outcome, RunResult, Severity, StepResult
from escalator.state import ResultStore
from tests.builders import run_of, scenario


def runs() -> list[RunResult]:
    failing = scenario(
        "Login", Outcome.FAILED, severity=Severity.WARNING, tags=("warning", "escalate.l1"),
        level="l1", runbook="https://wiki/login", reason="too slow", duration=0.8,
        steps=(StepResult("When", 'I go to "/login"', 10, "passed", 0.7),
               StepResult("Then", "it is fast", 11, "failed", 0.1, "took 812 ms", "Traceback")),
        measurements=(Measurement("response_time", 812.0, "ms", crit=Limit.below(500),
                                  minimum=0.0, warn=Limit.below(300)),
                      Measurement("connect_time", None, "ms")),
        attempts=2, earlier_failures=("refused",))
    return [run_of(),
            run_of(scenario("Home")),
            run_of(scenario("Home"), failing, errors=("x.feature:3: bad",), notices=("n",),
                   started=1.5, duration=2.0, timeout=50.0, environment="prod", selected=2,
                   extra={"k": [1, 2]})]


def asdict_reference(run: RunResult) -> dict[str, Any]:
    """What `to_dict` gave when it was built on `dataclasses.asdict` (measurements as their own
    `to_dict` writes them: limits as Nagios ranges)."""
    data = dataclasses.asdict(run)
    data["scenarios"] = [{**dataclasses.asdict(s),
                          "measurements": [m.to_dict() for m in s.measurements]}
                         for s in run.scenarios]
    data["status"] = run.status.name
    return data


@pytest.mark.parametrize("run", runs())
def test_to_dict_is_the_plain_data_it_always_was(run: RunResult) -> None:
    assert run.to_dict() == asdict_reference(run)
    assert json.dumps(run.to_dict(), sort_keys=True) == json.dumps(asdict_reference(run),
                                                                 sort_keys=True)
    assert RunResult.from_dict(run.to_dict()) == run


def test_converting_and_storing_make_no_deep_copies(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("deep copy of a frozen result")

    monkeypatch.setattr(copy, "deepcopy", refuse)
    run = runs()[2]
    run.to_dict()
    ResultStore(tmp_path, now=lambda: 10.0).save(run)


@pytest.mark.parametrize("run", runs()[1:])
def test_stored_result_is_compact_and_reads_back_as_the_same_run(tmp_path: Path,
                                                                 run: RunResult) -> None:
    store = ResultStore(tmp_path, now=lambda: 10.0)
    store.save(run)
    text = store.latest_path(run.environment).read_text()
    assert text.count("\n") == 1 and text.endswith("}\n")  # one line: the C encoder wrote it
    assert json.loads(text)["run"] == json.loads(json.dumps(asdict_reference(run)))
    stored = store.latest(run.environment)
    assert stored is not None and stored.run == run
