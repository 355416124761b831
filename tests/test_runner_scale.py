"""Costs that grow with the suite: what the runner does once per feature or once per scenario
must not turn into once per scenario per scenario. Counted, never timed (bench/ times them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from behave.configuration import Configuration
from behave.parser import parse_feature

from escalator.config import Config
from escalator.options import RunOptions
from escalator.runner import suite as suite_module
from escalator.runner.suite import Suite, Unit


class CountingList(list):  # type: ignore[type-arg]
    """A feature's or rule's run_items that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Any:
        CountingList.walks += 1
        return super().__iter__()


def big_feature(scenarios: int) -> Any:
    body = "".join(f"  Scenario: s{i}\n    Given x\n" for i in range(scenarios))
    outline = ("  Scenario Outline: o <n>\n    Given y\n    Examples:\n      | n |\n"
               + "".join(f"      | {i} |\n" for i in range(scenarios)))
    rule = "  Rule: r\n" + "".join(f"    Scenario: r{i}\n      Given z\n"
                                   for i in range(scenarios))
    feature = parse_feature(f"Feature: Big\n{body}{outline}{rule}",
                            filename=str(Path("features/big.feature").resolve()))
    feature.run_items = CountingList(feature.run_items)
    for item in feature.run_items:
        if hasattr(item, "run_items"):
            item.run_items = CountingList(item.run_items)
    return feature


def selected(feature: Any) -> list[Unit]:
    config = Configuration(["--no-capture"], load_config=False)
    config.tag_expression = suite_module._tag_expression(())
    suite = Suite(runner=type("Runner", (), {"config": config})())
    suite_module._select(suite, [feature], RunOptions(config=Config(), cwd=Path.cwd()))
    return suite.units


def test_selection_walks_each_feature_once_not_once_per_scenario() -> None:
    feature = big_feature(40)
    CountingList.walks = 0
    units = selected(feature)
    assert len(units) == 120
    # behave's walk_scenarios and the branches, each over the feature and its rule: not 120 x
    assert CountingList.walks <= 4


def test_each_unit_gets_the_branch_from_its_feature_down_to_it() -> None:
    feature = big_feature(2)
    s0, s1, outline, rule = list.__iter__(feature.run_items)
    r0, r1 = list.__iter__(rule.run_items)
    row0, row1 = outline.scenarios
    assert [(u.scenario, u.branch) for u in selected(feature)] == [
        (s0, (s0,)), (s1, (s1,)), (row0, (outline,)), (row1, (outline,)),
        (r0, (rule, r0)), (r1, (rule, r1))]


def test_probe_discovery_matches_each_step_text_once() -> None:
    feature = big_feature(40)  # 120 scenarios: three step texts, x, y and z
    looked: list[tuple[str, str]] = []

    class Registry:
        def find_match(self, step: Any) -> None:
            looked.append((step.step_type, step.name))

    units = selected(feature)
    suite = Suite(runner=type("Runner", (), {"step_registry": Registry()})(), units=units)
    suite_module._find_probes(suite)
    assert sorted(looked) == [("given", "x"), ("given", "y"), ("given", "z")]
