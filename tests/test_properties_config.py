"""Properties of what operators type: the duration and config parsers give a value or one clear
error (`ValueError` / `ConfigError` naming the file), never anything else, for any input; and the
two outputs tests/test_formatters_properties.py leaves out (JSON, Prometheus) stay valid for
any run it can generate (its strategies are reused here, not copied).

Generated config tables are TOML-shaped: the keys escalator knows mixed with junk, values of
every type tomllib can produce (strings, integers, floats with nan and inf, booleans, dates and
times, arrays, tables), and strings that look like durations but are not quite.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from escalator.config import Config, load_config, parse_config
from escalator.durations import format_duration, parse_duration
from escalator.env import Env
from escalator.errors import ConfigError
from escalator.formatters import FormatOptions, render
from escalator.results import Outcome, RunResult, ScenarioResult
from tests.project import make_project, run_cli
from tests.test_formatters_properties import options, runs

SOURCE = Path("x.toml")
PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OUTPUT = settings(PROPERTY, max_examples=50)
UNITS = ("ms", "s", "m", "h", "d")
LONGEST = 10 * 365 * 86400.0  # no timeout, window or cooldown anyone means is longer

# ---- strategies: TOML-shaped values ------------------------------------------------------

numbers = st.sampled_from(["0", "1", "1.5", "007", "9" * 30, "1e3", "-5", ".5", "5.", "∞", "٣"])
near_durations = st.builds(lambda n, u, sep: f"{n}{sep}{u}", numbers,
                           st.sampled_from([*UNITS, "S", "min", "us", "", "sec"]),
                           st.sampled_from(["", " ", "\t", "\n"]))
strings = st.text(max_size=30) | near_durations | st.sampled_from(
    ["10s", "500ms", "1m30s", "0s", "", " ", "ops/fix.sh", "sh", "true", "2026-01-01T00:00:00Z"])
scalars = (strings | st.integers(-2**63, 2**63 - 1) | st.booleans()
           | st.floats(allow_nan=True, allow_infinity=True) | st.datetimes()
           | st.datetimes(timezones=st.just(dt.UTC)) | st.dates() | st.times())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)


def table(known: tuple[str, ...], value: st.SearchStrategy[Any] = values
          ) -> st.SearchStrategy[dict[str, Any]]:
    """Tables whose keys are mostly the ones escalator knows, values anything."""
    return st.dictionaries(st.sampled_from(known) | st.text(max_size=8), value, max_size=5)


RUN_KEYS = ("jobs", "timeout", "step_timeout", "retries", "state_dir", "report_dir",
            "environment")
LADDER_KEYS = ("settle", "confirm", "verify", "retry_interval", "max_reconverge",
               "max_actions_per_hour", "loop_breaker", "max_failing_fraction",
               "max_unknown_fraction", "kill_grace", "notify", "maintenance")
LEVEL_KEYS = ("id", "run", "timeout", "quiesce", "cooldown", "idempotent")
WINDOW_KEYS = ("start", "end", "reason")

environments = st.dictionaries(
    st.text(max_size=6), table(("base_url", "tls_verify", "password"),
                               values | st.fixed_dictionaries({"env": strings})), max_size=3)
ladders = st.builds(
    lambda top, levels, windows: {**top, "level": levels, "maintenance": windows},
    table(LADDER_KEYS), st.lists(table(LEVEL_KEYS) | values, max_size=3) | values,
    st.lists(table(WINDOW_KEYS) | values, max_size=2) | values)
configs = st.fixed_dictionaries({}, optional={
    "run": table(RUN_KEYS) | values, "environments": environments | values,
    "ladder": ladders | values, "extra": values})


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and "Traceback" not in message


# ---- durations ---------------------------------------------------------------------------

@PROPERTY
@given(text=st.text(max_size=40) | near_durations)
@example("9" * 400 + "s")
@example("99999999999d")
def test_a_duration_is_a_finite_number_of_seconds_or_a_clear_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        assert str(exc).startswith(f"bad duration {text!r}: ")
        assert one_line(str(exc).replace(repr(text), "TEXT"))
        return
    assert math.isfinite(seconds) and 0 <= seconds <= LONGEST, (text, seconds)


@PROPERTY
@given(value=values.filter(lambda v: not isinstance(v, str)))
def test_a_duration_that_is_not_a_string_is_a_clear_error(value: Any) -> None:
    try:
        parse_duration(value)
    except ValueError as exc:
        assert str(exc).startswith("bad duration ")
    else:
        raise AssertionError(f"{value!r} was taken as a duration")


parts = st.lists(st.tuples(st.integers(0, 900), st.sampled_from(UNITS)), min_size=1,
                 max_size=4)


@PROPERTY
@given(parts=parts, spaces=st.booleans())
def test_a_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]], spaces: bool) -> None:
    text = (" " if spaces else "").join(f"{n}{unit}" for n, unit in parts)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    assert math.isclose(parse_duration(text), sum(n * scale[u] for n, u in parts))


@PROPERTY
@given(seconds=st.integers(1, 400 * 86400) | st.integers(1, 999).map(lambda ms: ms / 1000))
def test_format_duration_reads_back_as_the_same_duration(seconds: float) -> None:
    assert math.isclose(parse_duration(format_duration(seconds)), seconds)


def test_absurd_durations_on_the_command_line_are_usage_errors(tmp_path: Path) -> None:
    """A step timeout of 99999999999 days must not reach the alarm and the socket layer,
    where it became "error in step code: OverflowError" in every scenario."""
    root = make_project(tmp_path, {"t.feature": """
        Feature: F
          Scenario: s
            When I go to "/"
        """}, variables={"base_url": "http://127.0.0.1:9"})
    for option in ("--step-timeout", "--timeout"):
        out = run_cli(["run", "-e", "test", option, "99999999999d"], cwd=root)
        assert (out.code, out.stdout) == (2, ""), out
        assert out.stderr.startswith(f"escalator: {option}: bad duration '99999999999d'")
        assert out.stderr.count("\n") == 1


# ---- config ------------------------------------------------------------------------------

@PROPERTY
@given(data=configs)
@example(data={"run": {"\n": []}})  # a quoted TOML key may hold a newline
@example(data={"environments": {"prod": {"pass\nword": []}}})
@example(data={"ladder": {"level\u2028": 1}})
def test_a_config_table_parses_or_names_the_file_in_one_line(data: dict[str, Any]) -> None:
    try:
        config = parse_config(data, SOURCE)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("x.toml: ") and one_line(message), message
        return
    assert isinstance(config, Config)
    for seconds in (config.run.timeout, config.run.step_timeout):
        assert math.isfinite(seconds) and 0 < seconds <= LONGEST


@PROPERTY
@given(text=st.text(max_size=200) | st.builds(
    lambda head, body: f"[{head}]\n{body}\n",
    st.sampled_from(["run", "environments.x", "ladder", "[ladder.level]", "run.x", ""]),
    st.text(alphabet="abjos_= \"'[]{}.\n019ms", max_size=80)))
def test_any_config_file_loads_or_names_the_file_in_one_line(tmp_path_factory: Any,
                                                             text: str) -> None:
    root = tmp_path_factory.mktemp("cfg")
    (root / "escalator.toml").write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        load_config(None, Env(cwd=root, environ={}))
    except ConfigError as exc:
        # the ladder's errors name the file by its name, the rest by its path: both name it
        assert str(exc).startswith((f"{root}/escalator.toml: ", "escalator.toml: ")), str(exc)
        assert "\n" not in str(exc), str(exc)


def test_a_config_error_is_one_line_even_for_multi_line_values() -> None:
    data = tomllib.loads('[run]\ntimeout = """5\nminutes"""\n')
    try:
        parse_config(data, SOURCE)
    except ConfigError as exc:
        assert one_line(str(exc)), str(exc)
    else:
        raise AssertionError("a multi-line timeout was accepted")


# ---- JSON and Prometheus outputs for any run ---------------------------------------------

def _strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@OUTPUT
@given(run=runs, opts=options)
def test_json_output_is_strict_json_that_reads_back(run: RunResult, opts: FormatOptions) -> None:
    data = _strict_json(render("json", run, opts))
    assert len(data["scenarios"]) == len(run.scenarios)
    assert [s["name"] for s in data["scenarios"]] == [s.name for s in run.scenarios]


_SAMPLE = re.compile(r'(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
                     r'(?P<labels>\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})?'
                     r' (?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))')


def _distinct(run: RunResult) -> RunResult:
    """What the runner guarantees: measurement names unique in a scenario (steps' `record`),
    and here also scenario names unique in a run (same-name scenarios have their own test)."""
    scenarios = []
    for index, scenario in enumerate(run.scenarios):
        measurements = tuple(replace(m, name=f"{m.name}_{i}")
                             for i, m in enumerate(scenario.measurements))
        scenarios.append(replace(scenario, name=f"{scenario.name} #{index}",
                                 measurements=measurements))
    return replace(run, scenarios=tuple(scenarios))


def _series(text: str) -> list[tuple[str, str]]:
    """The (metric, labels) of every sample, after checking each line's grammar."""
    found = []
    for line in text.rstrip("\n").split("\n"):  # the collector splits on \n only
        if line.startswith("# "):
            assert re.fullmatch(r"# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+", line), line
            continue
        sample = _SAMPLE.fullmatch(line)
        assert sample, line
        found.append((sample["name"], sample["labels"] or ""))
    return found


@OUTPUT
@given(run=runs.map(_distinct), opts=options)
def test_prometheus_output_is_valid_exposition_text(run: RunResult, opts: FormatOptions) -> None:
    """node_exporter's textfile collector drops the whole file for one bad line or for two
    samples of one metric with the same labels."""
    series = _series(render("prometheus", run, opts))
    assert len(series) == len(set(series))


def test_same_named_scenarios_are_distinct_series() -> None:
    """Gherkin allows two scenarios of one name in one file; their series must still differ
    (the line number tells them apart), or the collector rejects the whole file."""
    first = ScenarioResult("Web", "features/web.feature", 3, "home page", Outcome.PASSED)
    second = replace(first, line=9, outcome=Outcome.FAILED)
    series = _series(render("prometheus", RunResult(scenarios=(first, second)),
                            FormatOptions()))
    duplicates = sorted({s for s in series if series.count(s) > 1})
    assert duplicates == []
