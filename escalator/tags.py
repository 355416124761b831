"""What a scenario's tags and description mean to Escalator: severity, ladder level, overrides.

Pure functions over tag strings as behave gives them (without the `@`); the runner calls
`scenario_meta` once per selected scenario, in the coordinator (plain behave's hooks and
formatters too, through `meta_of`), and the ladder reads the `level` it stores in each result.

| tag | meaning |
|---|---|
| `@warning` / `@critical` | severity of a failure (default critical) |
| `@escalate.<level>` | the ladder level this scenario's failure needs (one per scenario) |
| `@timeout.<duration>` | the step timeout for this scenario, e.g. `@timeout.30s` |
| `@retries.<n>` | re-runs of this scenario within a run when it fails |
| `@each.<group>` | run once per host of the environment's group (escalator.runner.fanout) |
| `@wip` | excluded unless a tag expression names it |

Tags come in levels, the scenario's own first, then its outline's or rule's, then its
feature's: for each kind above the most specific level that has one wins, so a scenario's
`@escalate.x` or `@warning` overrides its feature's. A description line `Runbook: <url>`
(scenario first, then feature) is the runbook link.

>>> meta = scenario_meta([["web", "warning", "escalate.deploy", "timeout.2s"]], [])
>>> (meta.severity.value, meta.level, meta.step_timeout, meta.retries)
('warning', 'deploy', 2.0, None)
>>> meta = scenario_meta([["escalate.deploy"], ["escalate.network", "warning"]], [])
>>> (meta.severity.value, meta.level, meta.problems)
('warning', 'deploy', ())
>>> scenario_meta([["escalate.a", "escalate.b"]], []).problems
('two @escalate tags (@escalate.a, @escalate.b): a scenario needs one ladder level',)
>>> scenario_meta([], ["Runbook: https://wiki/web"]).runbook
'https://wiki/web'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from escalator.durations import parse_duration
from escalator.results import Severity

_RUNBOOK = re.compile(r"^\s*runbook:\s*(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ScenarioMeta:
    severity: Severity = Severity.CRITICAL
    level: str | None = None
    step_timeout: float | None = None
    retries: int | None = None
    runbook: str | None = None
    problems: tuple[str, ...] = ()
    group: str | None = None  # @each.<group>: fanned out over the group's hosts


def scenario_meta(levels: Sequence[Iterable[str]], description: Iterable[str]) -> ScenarioMeta:
    """Read severity, level and overrides from the tags by level (most specific first);
    problems are returned, not raised."""
    ordered = [sorted(set(tags)) for tags in levels]
    problems: list[str] = []
    severity = _severity(_nearest(ordered, lambda t: t in ("warning", "critical")))
    levels_found = [t.split(".", 1)[1] for t in _nearest(ordered, _escalate)]
    if len(levels_found) > 1:
        named = ", ".join(f"@escalate.{level}" for level in levels_found)
        problems.append(f"two @escalate tags ({named}): a scenario needs one ladder level")
    groups = [t.split(".", 1)[1] for t in _nearest(ordered, _prefixed("each."))]
    if len(groups) > 1:
        named = ", ".join(f"@each.{group}" for group in groups)
        problems.append(f"two @each tags ({named}): a scenario fans out over one group")
    step_timeout = _override(_nearest(ordered, _prefixed("timeout.")), "timeout.", _seconds,
                             problems)
    retries_value = _override(_nearest(ordered, _prefixed("retries.")), "retries.", _count,
                              problems)
    retries = None if retries_value is None else int(retries_value)
    runbook = next((m.group(1) for line in description if (m := _RUNBOOK.match(line))), None)
    return ScenarioMeta(severity, levels_found[0] if levels_found else None, step_timeout,
                        retries, runbook, tuple(problems), groups[0] if groups else None)


def tag_levels(node: Any) -> list[list[str]]:
    """The tags of a scenario of behave's model, then of each thing around it out to the
    feature (read through `parent`, so no behave import): the most specific comes first."""
    levels = []
    while node is not None:
        levels.append([str(tag) for tag in getattr(node, "tags", ())])
        node = getattr(node, "parent", None)
    return levels


def meta_of(scenario: Any) -> ScenarioMeta:
    """`scenario_meta` of a scenario of behave's model: its tags by level, and its own then its
    feature's description (for the runbook)."""
    feature = getattr(scenario, "feature", None)
    return scenario_meta(tag_levels(scenario), [*scenario.description,
                                                *getattr(feature, "description", ())])


def _nearest(levels: list[list[str]], kind: Callable[[str], bool]) -> list[str]:
    """The tags of `kind` on the most specific level that has any."""
    return next(([t for t in tags if kind(t)] for tags in levels if any(map(kind, tags))), [])


def _escalate(tag: str) -> bool:
    return tag.startswith("escalate.")


def _prefixed(prefix: str) -> Callable[[str], bool]:
    return lambda tag: tag.startswith(prefix)


def _severity(tags: list[str]) -> Severity:
    """`@warning` alone lowers the severity; `@critical` beside it on the same level wins."""
    return Severity.WARNING if tags == ["warning"] else Severity.CRITICAL


def _override(tags: list[str], prefix: str, convert: Callable[[str], float],
              problems: list[str]) -> float | None:
    found = [t[len(prefix):] for t in tags if t.startswith(prefix)]
    if not found:
        return None
    try:
        return convert(found[-1])
    except ValueError as exc:
        problems.append(f"@{prefix}{found[-1]}: {exc}")
        return None


def _seconds(text: str) -> float:
    return parse_duration(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise ValueError("give a whole number, e.g. @retries.2")
    return int(text)
