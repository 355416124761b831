"""What a scenario's tags and description mean to Escalator: severity, ladder level, overrides.

Pure functions over tag strings as behave gives them (without the `@`); the runner calls
`scenario_meta` once per selected scenario, in the coordinator, and the ladder reads the `level`
it stores in each result.

| tag | meaning |
|---|---|
| `@warning` / `@critical` | severity of a failure (default critical) |
| `@escalate.<level>` | the ladder level this scenario's failure needs (one per scenario) |
| `@timeout.<duration>` | the step timeout for this scenario, e.g. `@timeout.30s` |
| `@retries.<n>` | re-runs of this scenario within a run when it fails |
| `@each.<group>` | run once per host of the environment's group (escalator.runner.fanout) |
| `@wip` | excluded unless a tag expression names it |

A description line `Runbook: <url>` (scenario first, then feature) is the runbook link.

>>> meta = scenario_meta(["web", "warning", "escalate.deploy", "timeout.2s"], [])
>>> (meta.severity.value, meta.level, meta.step_timeout, meta.retries)
('warning', 'deploy', 2.0, None)
>>> scenario_meta(["escalate.a", "escalate.b"], []).problems
('two @escalate tags (@escalate.a, @escalate.b): a scenario needs one ladder level',)
>>> scenario_meta([], ["Runbook: https://wiki/web"]).runbook
'https://wiki/web'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


def scenario_meta(tags: Iterable[str], description: Iterable[str]) -> ScenarioMeta:
    """Read severity, level and overrides from `tags`; problems are returned, not raised."""
    tags = sorted(set(tags))
    problems: list[str] = []
    severity = Severity.WARNING if "warning" in tags and "critical" not in tags else \
        Severity.CRITICAL
    levels = [t.split(".", 1)[1] for t in tags if t.startswith("escalate.")]
    if len(levels) > 1:
        named = ", ".join(f"@escalate.{level}" for level in levels)
        problems.append(f"two @escalate tags ({named}): a scenario needs one ladder level")
    groups = [t.split(".", 1)[1] for t in tags if t.startswith("each.")]
    if len(groups) > 1:
        named = ", ".join(f"@each.{group}" for group in groups)
        problems.append(f"two @each tags ({named}): a scenario fans out over one group")
    step_timeout = _override(tags, "timeout.", _seconds, problems)
    retries_value = _override(tags, "retries.", _count, problems)
    retries = None if retries_value is None else int(retries_value)
    runbook = next((m.group(1) for line in description if (m := _RUNBOOK.match(line))), None)
    return ScenarioMeta(severity, levels[0] if levels else None, step_timeout, retries, runbook,
                        tuple(problems), groups[0] if groups else None)


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
