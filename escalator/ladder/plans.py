"""What an engagement runs: a `Plan` of levels, with a part per host for host-scoped levels.

Frozen values. `planner` makes them, `decide.gate` narrows them (a host that may not act is
left out with `Plan.without`), the engine runs `Plan.sequence` in order, and `render`,
`paging` and the audit log show them (`Plan.describe`). A plan of a ladder without
host-scoped levels has no `hosts` and runs each of its `levels` once, as before.

>>> t = Trigger("f::ping [web-2]", "ping [web-2]", "vm", host="web-2", group="web")
>>> plan = Plan("vm", ("vm", "deploy"), (t,), hosts=(HostPlan("web-2", ("web",),
...             ("vm", "deploy"), (t,)),), steps=(("vm", "web-2"), ("deploy", "web-2")))
>>> plan.describe(), [label(*step) for step in plan.sequence]
('vm > deploy [web-2]', ['vm [web-2]', 'deploy [web-2]'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

Step = tuple[str, str | None]  # (level, host): a host of None runs once for the environment


def label(level: str, host: str | None = None) -> str:
    """How a level run is named everywhere: `vm`, or `vm [web-2]` for one host (the way a
    fan-out scenario is named `<scenario> [<host>]`)."""
    return f"{level} [{host}]" if host else level


@dataclass(frozen=True)
class Trigger:
    """A confirmed failure that asks for a level, with the targets its tags name and, for a
    fan-out scenario (`@each.<group>`), the host it checked and its group."""

    key: str
    name: str
    level: str
    targets: tuple[str, ...] = ()
    host: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class HostPlan:
    """One host's part of a plan: the host-scoped `levels` that run for it, in ladder order.

    `triggers` are its failures that asked for its deepest level, `subsumed` its others; a
    host without either is in the plan because an environment-wide level comes before its
    levels (a rebuilt tier: every host needs its vm, converge and deploy)."""

    host: str
    groups: tuple[str, ...]
    levels: tuple[str, ...]
    triggers: tuple[Trigger, ...] = ()
    subsumed: tuple[Trigger, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(t.key for t in (*self.triggers, *self.subsumed))


@dataclass(frozen=True)
class Plan:
    """What an engagement would run: `levels` from the deepest needed to the end, in order.

    `triggers` asked for the start level; `subsumed` asked for a shallower one that the
    cascade covers and verify re-checks. `hosts` are the per-host parts and `steps` the order
    in which the level runs go (each environment-scoped level once, each host's levels one
    host after the other); without `steps` each of `levels` runs once.
    """

    start: str
    levels: tuple[str, ...]
    triggers: tuple[Trigger, ...]
    subsumed: tuple[Trigger, ...] = ()
    hosts: tuple[HostPlan, ...] = ()
    steps: tuple[Step, ...] = ()

    @property
    def sequence(self) -> tuple[Step, ...]:
        """Every level run of the plan, in the order they go."""
        return self.steps or tuple((level, None) for level in self.levels)

    @property
    def keys(self) -> frozenset[str]:
        """The scenarios this plan was made for; its verify judges these."""
        return frozenset(t.key for t in (*self.triggers, *self.subsumed))

    @property
    def targets(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for trigger in (*self.triggers, *self.subsumed):
            seen.update(dict.fromkeys(trigger.targets))
        return tuple(seen)

    @property
    def for_environment(self) -> bool:
        """Whether a level runs for the environment as a whole (it counts for the
        environment's loop breaker), not only for hosts."""
        return any(host is None for _, host in self.sequence)

    def host(self, name: str) -> HostPlan | None:
        return next((part for part in self.hosts if part.host == name), None)

    def host_of(self) -> dict[str, str]:
        """Scenario key -> host, for the scenarios of the hosts' parts (verify per host)."""
        return {key: part.host for part in self.hosts for key in part.keys}

    def without(self, hosts: Iterable[str]) -> Plan | None:
        """This plan with `hosts` left out (they may not act now); None when nothing is left
        to run. What they were made for is left out too, so verify does not judge it."""
        gone = set(hosts)
        sequence = tuple(step for step in self.sequence if step[1] not in gone)
        if not sequence:
            return None
        levels = tuple(dict.fromkeys(level for level, _ in sequence))
        dropped = {key for part in self.hosts if part.host in gone for key in part.keys}
        kept = tuple(t for t in (*self.triggers, *self.subsumed) if t.key not in dropped)
        return replace(self, start=levels[0], levels=levels,
                       triggers=tuple(t for t in kept if t.level == levels[0]),
                       subsumed=tuple(t for t in kept if t.level != levels[0]),
                       hosts=tuple(p for p in self.hosts if p.host not in gone),
                       steps=sequence if self.steps else ())

    def describe(self) -> str:
        """The plan in one line: `vm > converge > deploy` without hosts;
        `tier, then vm > converge > deploy [web-1, web-2]` or `vm > deploy [web-2]; deploy
        [web-3]` with them (hosts with the same levels together)."""
        blocks: list[str] = []
        for once, run in _blocks(self.sequence):
            if once:
                blocks.append(" > ".join(level for level, _ in run))
                continue
            per_host: dict[str, list[str]] = {}
            for level, host in run:
                per_host.setdefault(str(host), []).append(level)
            alike: dict[tuple[str, ...], list[str]] = {}
            for host, levels in per_host.items():
                alike.setdefault(tuple(levels), []).append(host)
            blocks.append("; ".join(f"{' > '.join(levels)} [{', '.join(names)}]"
                                    for levels, names in alike.items()))
        return ", then ".join(blocks)


def _blocks(sequence: tuple[Step, ...]) -> list[tuple[bool, list[Step]]]:
    """The sequence cut into runs of steps for the environment and runs of steps for hosts."""
    blocks: list[tuple[bool, list[Step]]] = []
    for step in sequence:
        once = step[1] is None
        if blocks and blocks[-1][0] == once:
            blocks[-1][1].append(step)
        else:
            blocks.append((once, [step]))
    return blocks
