"""Hand-built results for tests: the one `scenario()` and `run_of()` every test module uses.

A module that wants other defaults binds them once, e.g.
`scenario = partial(builders.scenario, feature="F", file="features/f.feature", line=1)`;
keywords given at the call still win.
"""

from __future__ import annotations

from typing import Any

from escalator.results import Outcome, RunResult, ScenarioResult


def scenario(name: str, outcome: Outcome | str = Outcome.PASSED, level: str | None = None,
             tags: tuple[str, ...] = (), **kw: Any) -> ScenarioResult:
    """A scenario of features/web.feature:3 ("Web") unless `kw` says otherwise."""
    values: dict[str, Any] = {"feature": "Web", "file": "features/web.feature", "line": 3, **kw}
    return ScenarioResult(name=name, outcome=Outcome(outcome), level=level, tags=tags, **values)


def run_of(*scenarios: ScenarioResult, **kw: Any) -> RunResult:
    """A run of `scenarios`; `kw` sets any other field (errors, started, environment...)."""
    return RunResult(scenarios=tuple(scenarios), **kw)
