"""Deepest wins, then cascade, per scope: the plan from the failures that may act.

Pure; called by `decide.make_plan` and by converge (`converge.plan_for`). Without host-scoped
levels a plan is what it always was: the deepest level any failure needs and every level
after it, each once. With them (docs/fleet.md, "Per-node remediation"):

- a host's failure asks for its level *for that host*: the host's plan starts at its own
  deepest level and takes every host-scoped level after it (a node down: vm, converge and
  deploy for that node only);
- a failure of an environment-scoped level, or of a scenario that checked no host, asks for
  the whole environment: from the first environment-scoped level the plan reaches (or the
  host-scoped level such a failure names) every level is for the whole environment, so each
  host-scoped level there runs for every host the run checked (a rebuilt tier has new VMs that
  all need converging and deploying). When the run checked no host at all, such a level runs
  once, as a level without scope would;
- a latched host (`held`) gets nothing: no level of its own, no part of a cascade.

The runs go in ladder order, each environment-scoped level once; a stretch of host-scoped
levels runs one host after the other (the failing hosts first, in the run's order), each host
through all of its levels of the stretch before the next host starts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from escalator.ladder.model import LadderConfig
from escalator.ladder.plans import HostPlan, Plan, Step, Trigger


def plan(triggers: Iterable[Trigger], config: LadderConfig,
         hosts: Iterable[tuple[str, str]] = (), held: Collection[str] = (),
         everything: bool = False) -> Plan | None:
    """The plan for `triggers` (failures that may act), `hosts` the (host, group) pairs the
    run checked, `held` the latched hosts; `everything`: the whole ladder for the whole
    environment (converge, when nothing exists yet). None when there is nothing to run."""
    triggers = tuple(triggers)
    if not triggers and not everything:
        return None
    ids, position = config.level_ids, config.position
    start = 1 if everything else min(position(t.level) for t in triggers)
    own: dict[str, list[Trigger]] = {}
    wide = [1] if everything else []
    for trigger in triggers:
        if config.per_host(trigger.level) and trigger.host is not None:
            own.setdefault(trigger.host, []).append(trigger)
        else:
            wide.append(position(trigger.level))
    wide += [p for p in range(start, len(ids) + 1) if not config.per_host(ids[p - 1])][:1]
    everywhere = min(wide, default=None)  # from here on every level is for the environment
    groups = _groups(hosts)
    checked = [host for host in groups if host not in held]
    order = [host for host in checked if host in own]
    if everywhere is not None:
        order += [host for host in checked if host not in own]
    parts = tuple(part for host in order if (part := _part(
        host, groups[host], own.get(host, []), config, start, everywhere)).levels)
    steps = _steps(config, start, everywhere, parts, once=not groups)
    if not steps:
        return None
    levels = tuple(sorted({level for level, _ in steps}, key=position))
    return Plan(start=levels[0], levels=levels,
                triggers=tuple(t for t in triggers if t.level == levels[0]),
                subsumed=tuple(t for t in triggers if t.level != levels[0]), hosts=parts,
                steps=steps if any(host is not None for _, host in steps) else ())


def _groups(hosts: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """host -> the groups it was checked in, hosts in the run's order."""
    found: dict[str, dict[str, None]] = {}
    for host, group in hosts:
        found.setdefault(host, {})[group] = None
    return {host: tuple(g for g in groups if g) for host, groups in found.items()}


def _part(host: str, groups: tuple[str, ...], own: list[Trigger], config: LadderConfig,
          start: int, everywhere: int | None) -> HostPlan:
    """One host's levels: from its own deepest failure, and all from `everywhere`."""
    position, ids = config.position, config.level_ids
    first = min((position(t.level) for t in own), default=None)
    levels = tuple(ids[p - 1] for p in range(start, len(ids) + 1)
                   if config.per_host(ids[p - 1])
                   and ((first is not None and p >= first)
                        or (everywhere is not None and p >= everywhere)))
    return HostPlan(host, groups, levels,
                    triggers=tuple(t for t in own if position(t.level) == first),
                    subsumed=tuple(t for t in own if position(t.level) != first))


def _steps(config: LadderConfig, start: int, everywhere: int | None,
           parts: tuple[HostPlan, ...], once: bool) -> tuple[Step, ...]:
    """Ladder order; a stretch of host-scoped levels host by host. `once`: no host was
    checked, so a host-scoped level for the environment runs once."""
    ids, steps = config.level_ids, list[Step]()
    p = start
    while p <= len(ids):
        if not config.per_host(ids[p - 1]):
            steps.append((ids[p - 1], None))
            p += 1
            continue
        stretch = []
        while p <= len(ids) and config.per_host(ids[p - 1]):
            stretch.append(ids[p - 1])
            p += 1
        for part in parts:
            steps += [(level, part.host) for level in stretch if level in part.levels]
        if once and everywhere is not None:
            steps += [(level, None) for level in stretch
                      if config.position(level) >= everywhere]
    return tuple(steps)
