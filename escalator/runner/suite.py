"""Loading a suite with behave as a library: steps, hooks, features, selection, validation.

Runs in the coordinator process only (behave is never imported by the CLI process). The result is
a `Suite`: behave's Runner ready to run single scenarios, the selected `Unit`s in feature/line
order, and the run-level errors: a file that does not parse, and a scenario that cannot run
(bad tags, an unknown ladder level, an outline without rows, an `@each` group that cannot be
read), which is also a `Unit` with a `problem`: UNKNOWN with that reason, without a worker.
Such errors make the run UNKNOWN but stop nothing else: every other scenario gets its verdict.
Steps that cannot load and a bad tag expression raise `LoadError`: nothing can run.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalator.runner import guard, keywords, library
from escalator.tags import ScenarioMeta, meta_of

if TYPE_CHECKING:
    from escalator.inventory import Host
    from escalator.options import RunOptions
    from escalator.runner.fanout import Fleet


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
    host: Host | None = None  # a fan-out unit (@each.<group>): the host it checks
    problem: str | None = None  # why it cannot run (it is UNKNOWN with this reason)

    @property
    def group(self) -> str | None:
        return self.meta.group if self.host is not None else None

    @property
    def name(self) -> str:
        """The scenario's name as people read it; a fan-out unit's says its host:
        `Backup [db-7]`. behave names an outline row "<name> -- @1.1 <examples name>", with a
        trailing space when the examples have no name, and that space would end up in every
        label and key."""
        base = str(self.scenario.name).strip()
        return f"{base} [{self.host.name}]" if self.host is not None else base

    @property
    def variables(self) -> dict[str, str]:
        """The host's variables, over the environment's (none for a plain scenario)."""
        if self.host is None or self.group is None:
            return {}
        return self.host.scenario_variables(self.group)

    def describe(self) -> dict[str, Any]:
        sc = self.scenario
        return {
            "id": self.id, "file": self.file, "line": sc.line, "name": self.name,
            "host": self.host.name if self.host else None, "group": self.group,
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
    features: list[Any] = field(default_factory=list)  # every parsed feature, selected or not
    library: bool = False  # steps/ is the whole shipped library, loaded by need (library.py)


def load_suite(options: RunOptions) -> Suite:
    from behave.configuration import Configuration
    from behave.runner import Runner

    config = Configuration(["--no-capture", "--no-summary", "--no-snippets", "--no-color",
                            *options.paths], load_config=False)
    config.reporters = []
    config.tag_expression = _tag_expression(options.tags)
    runner = Runner(config)
    runner.path_manager.__enter__()  # this process exists only for this run
    deferred = _setup(runner)
    _log_once(runner)
    suite = Suite(runner, library=deferred)
    suite.features = _parse(runner, options, suite.errors)
    _select(suite, suite.features, options)
    if deferred:  # steps/ is the thin module alone: the library modules the steps may need
        _loading_steps(runner, lambda: library.load(
            str(step.name) for unit in suite.units for step in unit.scenario.all_steps))
    _find_probes(suite)
    guard.install(runner.step_registry, options.step_timeout)
    return suite


def _tag_expression(tags: tuple[str, ...]) -> Any:
    from behave.tag_expression import TagExpressionProtocol, make_tag_expression

    expressions = list(tags)
    words = []
    for text in expressions:
        found = text.replace("(", " ").replace(")", " ").split()
        if any(w.startswith(("~", "-@")) or "," in w for w in found):
            raise LoadError(f"tag expression {text!r}: that is the old v1 syntax; "
                            "write e.g. 'not @wip' or '@a or @b'")
        words += found
    if not any(w.removeprefix("@") == "wip" for w in words):  # not @swipe says nothing of @wip
        expressions.append("not @wip")
    try:
        return make_tag_expression(" and ".join(f"({t})" for t in expressions),
                                   TagExpressionProtocol.V2)
    except Exception as exc:
        raise LoadError(f"tag expression {' and '.join(tags)!r}: {exc}") from None


def _setup(runner: Any) -> bool:
    """Load the hooks and the steps; True when the steps are the thin module alone, whose
    library modules are left for `library.load` once the scenarios are selected."""
    from behave.step_registry import registry

    try:
        runner.setup_paths()
    except Exception as exc:
        raise LoadError(f"{exc}: a project has features/ and steps/ side by side") from None
    keywords.install(registry)  # before any step module registers a phrase
    steps_dir = os.path.join(runner.base_dir, runner.config.steps_dir)
    _loading_steps(runner, runner.load_hooks)
    deferred = (not runner.config.use_nested_step_modules and not any(registry.steps.values())
                and library.only_the_library(steps_dir))  # no phrase from the hooks' file
    if not deferred:
        _loading_steps(runner, runner.load_step_definitions)
    runner.step_registry = registry
    return deferred


def _log_once(runner: Any) -> None:
    """Set up logging as behave's default `before_all` hook does, once, for this process and
    the workers it forks, and drop that hook: `run_model` runs `before_all`, and a worker calls
    it for every scenario (behave's own run calls it once; its docs say logging is set up
    "only once"). It cost 18 us a scenario. A site's own `before_all` is kept."""
    if runner.hooks.get("before_all") == runner.before_all_default_hook:
        runner.config.setup_logging()
        del runner.hooks["before_all"]


def _loading_steps(runner: Any, load: Callable[[], object]) -> None:
    try:
        load()
    except Exception as exc:
        where = _where(exc, runner.base_dir)
        raise LoadError(f"cannot load steps: {where}{type(exc).__name__}: "
                        f"{_first_line(exc)}") from None


def _parse(runner: Any, options: RunOptions, errors: list[str]) -> list[Any]:
    try:
        locations = _unique([loc for loc in runner.feature_locations()
                             if not runner.config.exclude(loc)])
    except FileNotFoundError as exc:
        raise LoadError(f"{exc}: no such file or directory") from None
    except Exception as exc:
        raise LoadError(f"{type(exc).__name__}: {exc}") from None
    features = []
    for group in locations:
        name = _relative(group[0].filename, options.cwd)
        try:
            parsed = _parse_file(group, runner.config.lang)
        except Exception as exc:
            line = getattr(exc, "line", None)
            errors.append(f"{name}:{line}: {_first_line(exc)}" if line else
                          f"{name}: cannot parse: {_first_line(exc)}")
            continue
        if not parsed:
            errors.append(f"{name}: no Feature in this file")
        elif not any(True for _ in parsed[0].walk_scenarios(with_outlines=True)):
            errors.append(f"{name}: no scenarios (is a keyword misspelled?)")
        features.extend(parsed)
    return features


def _unique(locations: list[Any]) -> list[list[Any]]:
    """The locations grouped by file, each file once however often (and however) it was named:
    a feature named twice must not run twice. A whole file wins over lines of it."""
    from behave.model_type import FileLocation

    files: dict[str, list[Any]] = {}
    for location in locations:
        files.setdefault(os.path.realpath(location.filename), []).append(location)
    groups = []
    for named in files.values():
        filename = named[0].filename
        if any(not location.line for location in named):
            groups.append([FileLocation(filename)])
        else:
            lines = sorted({location.line for location in named})
            groups.append([FileLocation(filename, line) for line in lines])
    return groups


def _parse_file(locations: list[Any], language: str | None) -> list[Any]:
    """behave's parse_features for one file's locations, but reading the file as UTF-8 with
    an optional byte-order mark (editors on Windows write one; behave would quote the first
    line, which looks valid, as a parse error)."""
    from behave.parser import parse_feature
    from behave.runner_util import FeatureScenarioLocationCollector2

    filename = os.path.abspath(locations[0].filename)
    with open(filename, "rb") as handle:
        text = handle.read().decode("utf-8-sig")
    feature = parse_feature(text, language, filename)
    if feature is None:
        return []
    collector = FeatureScenarioLocationCollector2(feature=feature)
    for location in locations:
        collector.add_location(location)
    return [collector.build_feature()]


_NO_EXAMPLES = ("a Scenario Outline without Examples rows runs nothing: add an Examples table "
                "with at least one row")


def _select(suite: Suite, features: list[Any], options: RunOptions) -> None:
    deadline = time.monotonic() + options.timeout  # inventory commands leave the run its time
    fleet: Fleet | None = None  # read only when a selected scenario fans out over a group
    for feature in features:
        name = _relative(feature.filename, options.cwd)
        branches = _branches(feature)
        for scenario in _runnable(feature):
            if not scenario.should_run(suite.runner.config):
                continue
            meta = meta_of(scenario)
            problem = _problem(scenario, meta, options)
            hosts: tuple[Host | None, ...] = (None,)
            if problem is None and meta.group is not None:
                from escalator.inventory import InventoryError

                fleet = fleet or _fleet(options, deadline)
                try:
                    hosts = fleet.hosts(meta.group)
                except InventoryError as exc:
                    problem = f"@each.{meta.group}: {exc}"
            if problem is not None:  # bad input: the run is UNKNOWN, and says where
                suite.errors.append(f"{name}:{scenario.line}: {problem}")
                hosts = (None,)
            for host in hosts:  # one unit per host of a fan-out (escalator.runner.fanout)
                suite.units.append(Unit(
                    id=len(suite.units), scenario=scenario, feature=feature, file=name,
                    meta=meta, step_timeout=meta.step_timeout or options.step_timeout,
                    retries=meta.retries if meta.retries is not None else options.retries,
                    branch=branches.get(id(scenario), ()), host=host, problem=problem))


def _fleet(options: RunOptions, deadline: float) -> Fleet:
    """The environment's groups, for fan-out (escalator.runner.fanout), bounded by the run."""
    from escalator.runner.fanout import Fleet

    environment = options.config.environments.get(options.environment or "")
    return Fleet(environment.inventory if environment else None, options.environment,
                 deadline=deadline, clock=time.monotonic)


def _runnable(feature: Any) -> Any:
    """Every scenario and outline row in file order, and each outline that has no rows (it
    would otherwise vanish silently: behave runs nothing for it)."""
    for item in feature.walk_scenarios(with_outlines=True):
        if hasattr(item, "scenarios"):  # an outline: its rows follow, unless it has none
            if not item.scenarios:
                yield item
            continue
        yield item


def _problem(scenario: Any, meta: ScenarioMeta, options: RunOptions) -> str | None:
    """Why a selected scenario cannot run, or None."""
    if meta.problems:
        return "; ".join(meta.problems)
    ladder = options.config.ladder
    if ladder is not None and meta.level and meta.level not in ladder.level_ids:
        known = ", ".join(ladder.level_ids)
        return f"@escalate.{meta.level}: no such ladder level (levels: {known})"
    if hasattr(scenario, "scenarios"):
        return _NO_EXAMPLES
    return None


def _branches(container: Any, above: tuple[Any, ...] = ()) -> dict[int, tuple[Any, ...]]:
    """For every scenario under `container` (a feature or rule), keyed by id(): the run items
    from the feature down to it or its outline. One walk per feature: searching the feature
    again for each scenario made selection quadratic (2.3 s at 5,000 scenarios)."""
    found: dict[int, tuple[Any, ...]] = {}
    for item in container.run_items:
        if hasattr(item, "run_items"):  # a rule
            found.update(_branches(item, (*above, item)))
        else:  # a scenario, or an outline (with no rows, it is a unit itself) and its rows
            for row in (item, *getattr(item, "scenarios", ())):
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
