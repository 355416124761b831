"""Loading a suite with behave as a library: steps, hooks, features, selection, validation.

Runs in the coordinator process only (behave is never imported by the CLI process). The result is
a `Suite`: behave's Runner ready to run single scenarios, the selected `Unit`s in feature/line
order, and the run-level errors that stop the run before anything executes (parse errors, an
undefined tag, a bad tag expression, an unknown ladder level).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalator.runner import guard
from escalator.tags import ScenarioMeta, scenario_meta

if TYPE_CHECKING:
    from escalator.options import RunOptions


class LoadError(Exception):
    """The suite cannot run; str() is the one-line reason with file and line."""


@dataclass
class Unit:
    """One scenario (or outline row) to run in its own worker."""

    id: int
    scenario: Any
    feature: Any
    file: str
    meta: ScenarioMeta
    step_timeout: float
    retries: int
    branch: tuple[Any, ...] = ()  # feature run items from the feature down to the scenario

    def describe(self) -> dict[str, Any]:
        sc = self.scenario
        return {
            "id": self.id, "file": self.file, "line": sc.line, "name": str(sc.name),
            "feature": str(self.feature.name), "tags": sorted(str(t) for t in sc.effective_tags),
            "severity": self.meta.severity.value, "level": self.meta.level,
            "runbook": self.meta.runbook, "step_timeout": self.step_timeout,
            "retries": self.retries,
            "steps": [[str(s.keyword), str(s.name), s.line] for s in sc.all_steps],
        }


@dataclass
class Suite:
    runner: Any
    units: list[Unit] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    probes: set[str] = field(default_factory=set)


def load_suite(options: RunOptions) -> Suite:
    from behave.configuration import Configuration
    from behave.runner import Runner

    config = Configuration(["--no-capture", "--no-summary", "--no-snippets", "--no-color",
                            *options.paths], load_config=False)
    config.reporters = []
    config.tag_expression = _tag_expression(options.tags)
    runner = Runner(config)
    runner.path_manager.__enter__()  # this process exists only for this run
    _setup(runner)
    suite = Suite(runner)
    features = _parse(runner, options, suite.errors)
    _select(suite, features, options)
    if not suite.errors:
        _find_probes(suite)
        guard.install(runner.step_registry, options.step_timeout)
    return suite


def _tag_expression(tags: tuple[str, ...]) -> Any:
    from behave.tag_expression import TagExpressionProtocol, make_tag_expression

    expressions = list(tags)
    for text in expressions:
        words = text.replace("(", " ").replace(")", " ").split()
        if any(w.startswith(("~", "-@")) or "," in w for w in words):
            raise LoadError(f"tag expression {text!r}: that is the old v1 syntax; "
                            "write e.g. 'not @wip' or '@a or @b'")
    if not any("wip" in text for text in expressions):
        expressions.append("not @wip")
    try:
        return make_tag_expression(" and ".join(f"({t})" for t in expressions),
                                   TagExpressionProtocol.V2)
    except Exception as exc:
        raise LoadError(f"tag expression {' and '.join(tags)!r}: {exc}") from None


def _setup(runner: Any) -> None:
    from behave.step_registry import registry

    try:
        runner.setup_paths()
    except Exception as exc:
        raise LoadError(f"{exc}: a project has features/ and steps/ side by side") from None
    try:
        runner.load_hooks()
        runner.load_step_definitions()
    except Exception as exc:
        where = _where(exc, runner.base_dir)
        raise LoadError(f"cannot load steps: {where}{type(exc).__name__}: "
                        f"{_first_line(exc)}") from None
    runner.step_registry = registry


def _parse(runner: Any, options: RunOptions, errors: list[str]) -> list[Any]:
    from behave.runner_util import parse_features

    try:
        locations = [loc for loc in runner.feature_locations()
                     if not runner.config.exclude(loc)]
    except FileNotFoundError as exc:
        raise LoadError(f"{exc}: no such file or directory") from None
    except Exception as exc:
        raise LoadError(f"{type(exc).__name__}: {exc}") from None
    features = []
    for location in locations:
        name = _relative(location.filename, options.cwd)
        try:
            parsed = parse_features([location], language=runner.config.lang)
        except Exception as exc:
            line = getattr(exc, "line", None)
            errors.append(f"{name}:{line}: {_first_line(exc)}" if line else
                          f"{name}: cannot parse: {_first_line(exc)}")
            continue
        if not parsed:
            errors.append(f"{name}: no Feature in this file")
        elif not any(True for _ in parsed[0].walk_scenarios()):
            errors.append(f"{name}: no scenarios (is a keyword misspelled?)")
        features.extend(parsed)
    return features


def _select(suite: Suite, features: list[Any], options: RunOptions) -> None:
    ladder = options.config.ladder
    for feature in features:
        name = _relative(feature.filename, options.cwd)
        branches = _branches(feature)
        for scenario in feature.walk_scenarios():
            if not scenario.should_run(suite.runner.config):
                continue
            meta = scenario_meta(scenario.effective_tags,
                                 [*scenario.description, *feature.description])
            where = f"{name}:{scenario.line}"
            suite.errors.extend(f"{where}: {problem}" for problem in meta.problems)
            if ladder is not None and meta.level and meta.level not in ladder.level_ids:
                known = ", ".join(ladder.level_ids)
                suite.errors.append(f"{where}: @escalate.{meta.level}: no such ladder level "
                                    f"(levels: {known})")
            suite.units.append(Unit(
                id=len(suite.units), scenario=scenario, feature=feature, file=name, meta=meta,
                step_timeout=meta.step_timeout or options.step_timeout,
                retries=meta.retries if meta.retries is not None else options.retries,
                branch=branches.get(id(scenario), ())))


def _branches(container: Any, above: tuple[Any, ...] = ()) -> dict[int, tuple[Any, ...]]:
    """For every scenario under `container` (a feature or rule), keyed by id(): the run items
    from the feature down to it or its outline. One walk per feature: searching the feature
    again for each scenario made selection quadratic (2.3 s at 5,000 scenarios)."""
    found: dict[int, tuple[Any, ...]] = {}
    for item in container.run_items:
        if hasattr(item, "run_items"):  # a rule
            found.update(_branches(item, (*above, item)))
        else:
            for row in getattr(item, "scenarios", (item,)):  # an outline's rows, or a scenario
                found[id(row)] = (*above, item)
    return found


def _find_probes(suite: Suite) -> None:
    """Import the probe modules (and their libraries) that selected steps use, before forking."""
    registry = suite.runner.step_registry
    modules, seen = set(), set()
    for unit in suite.units:
        for step in unit.scenario.all_steps:
            if (step.step_type, step.name) in seen:  # suites repeat their step texts
                continue
            seen.add((step.step_type, step.name))
            match = registry.find_match(step)
            if match is not None:
                modules.add(match.func.__module__)
    for module in modules:
        suite.probes.update(getattr(sys.modules.get(module), "PROBES", ()))
    for probe in sorted(suite.probes):
        importlib.import_module(probe)


def _relative(filename: str, cwd: Path) -> str:
    try:
        return os.path.relpath(filename, cwd)
    except ValueError:
        return filename


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def _where(exc: BaseException, base_dir: str) -> str:
    """`file:line: ` of the project's own code that raised, if any."""
    filename = getattr(exc, "filename", None)
    lineno = getattr(exc, "lineno", None)
    if filename and lineno:
        return f"{_relative(filename, Path(base_dir))}:{lineno}: "
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        code_file = tb.tb_frame.f_code.co_filename
        if not os.path.isabs(code_file) or code_file.startswith(base_dir):
            found = f"{_relative(code_file, Path(base_dir))}:{tb.tb_lineno}: "
        tb = tb.tb_next
    return found
