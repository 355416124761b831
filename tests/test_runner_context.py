"""The context a scenario runs with (escalator.runner.context) keeps behave's records and gives
behave's warnings, word for word: only the way it finds the caller differs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from behave.configuration import Configuration
from behave.runner import Context, ContextMaskWarning, Runner

from escalator.runner.context import ScenarioContext


@pytest.fixture(scope="module")
def runner() -> Any:
    return Runner(Configuration(command_args=[], load_config=False))


def _masked_twice(context: Any) -> list[str]:
    """Set `feature` as behave, mask it as user code in a scenario layer, then again; what
    behave warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context._push(layer="feature")
        context.feature = "the feature"  # behave's mode: the runner sets it
        context._push(layer="scenario")
        with context.use_with_user_mode():
            context.feature = "masked by a step"
            context.feature = "and again"
        context._pop()
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def test_records_and_warnings_are_behaves(runner: Any) -> None:
    ours, theirs = ScenarioContext(runner), Context(runner)
    assert _masked_twice(ours) == _masked_twice(theirs)
    assert _masked_twice(ScenarioContext(runner))[0] == (
        f"{ContextMaskWarning.__name__}: user code is masking context attribute 'feature' "
        "originally set by behave")
    for context in (ours, theirs):
        context.where = "here"  # the record names this line, its function and its text
    assert tuple(ours._record["where"]) == tuple(theirs._record["where"]) == (
        __file__, theirs._record["where"].lineno, "test_records_and_warnings_are_behaves",
        'context.where = "here"  # the record names this line, its function and its text')
    assert ours.where == theirs.where == "here"


def test_behave_masking_user_code_names_where_it_was_set(runner: Any) -> None:
    """The warning that quotes the first assignment's file, line and source text (read only
    now, for the warning) is behave's."""
    def said(context: Any) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            context._push(layer="feature")
            with context.use_with_user_mode():
                context.host = "set by a hook"
            context._push(layer="scenario")
            context.host = "set by behave"
        return [str(w.message) for w in caught]

    ours = said(ScenarioContext(runner))
    assert ours == said(Context(runner))
    hook = 'context.host = "set by a hook"'
    line = 1 + Path(__file__).read_text().splitlines().index(f"                {hook}")
    assert ours == ["behave runner is masking context attribute 'host' originally set in "
                    f"{hook} ({__file__}:{line})"]
