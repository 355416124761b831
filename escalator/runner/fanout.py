"""Fan-out: a scenario tagged `@each.<group>` (on itself or its feature) becomes one unit per
host of the environment's group, before anything runs.

Called by `escalator.runner.suite` in the coordinator while it selects units, so inventory
commands and files are read once per run, and only for groups a selected scenario names. Each
unit is named `<scenario> [<host>]` and runs with the host's variables (`${host}`, `${group}`,
`${address}` and its own) over the environment's; results carry `host` and `group` as data.
A group that cannot be read is a run error naming the scenario's file:line and the source.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from escalator.inventory import (
    AnsibleCommand,
    AnsibleFile,
    GroupCommand,
    Host,
    Inventory,
    InventoryError,
    Listed,
)
from escalator.inventory.ansible import hosts_of, read_file
from escalator.inventory.ansible_formats import Tree, read_host_lines, read_json
from escalator.text import one_line

if TYPE_CHECKING:
    from escalator.probes.command_result import CommandResult

_OUTPUT_LIMIT = 16 * 1024 * 1024  # an inventory of many thousand hosts, not a runaway command


class Fleet:
    """The groups of one environment, resolved on first use and kept for the run."""

    def __init__(self, inventory: Inventory | None, environment: str | None,
                 deadline: float | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.inventory, self.environment = inventory, environment
        self.deadline, self.clock = deadline, clock
        self._groups: dict[str, tuple[Host, ...]] = {}
        self._tree: Tree | None = None

    def hosts(self, group: str) -> tuple[Host, ...]:
        """The hosts of `group` in inventory order; InventoryError with a one-line reason."""
        if group not in self._groups:
            self._groups[group] = self._resolve(group)
        return self._groups[group]

    def _resolve(self, group: str) -> tuple[Host, ...]:
        inventory = self.inventory
        if inventory is None:
            where = f"environment {self.environment}" if self.environment else "no environment"
            raise InventoryError(f"no group {group!r}: {where} has no hosts (give "
                                 f"[environments.NAME.groups] or .inventory in escalator.toml)")
        declared = inventory.groups.get(group)
        if isinstance(declared, Listed):
            return declared.hosts
        if isinstance(declared, GroupCommand):
            output = self._run(declared.argv, declared.timeout, declared.where, inventory.cwd)
            tree = read_host_lines(output, declared.where, group, declared.header_lines)
            found = hosts_of(tree, group, None)
            if not found:
                raise InventoryError(f"group {group!r}: {declared.where}: the command printed "
                                     "no hosts")
            return found
        source_tree = self._source_tree()
        if source_tree is None or group not in source_tree.groups:
            raise InventoryError(f"no group {group!r} in environment {self.environment} "
                                 f"(groups: {', '.join(self._known(source_tree)) or 'none'})")
        found = hosts_of(source_tree, group, self._vars_dir())
        if not found:
            raise InventoryError(f"group {group!r} of {self._source_name()} has no hosts")
        return found

    def _source_tree(self) -> Tree | None:
        source = self.inventory.source if self.inventory else None
        if self._tree is None and source is not None:
            if isinstance(source, AnsibleFile):
                self._tree = read_file(source.path)
            else:
                cwd = self.inventory.cwd if self.inventory else None
                self._tree = read_json(self._run(source.argv, source.timeout, source.where, cwd),
                                       source.where)
        return self._tree

    def _vars_dir(self) -> Path | None:
        source = self.inventory.source if self.inventory else None
        return source.path.parent if isinstance(source, AnsibleFile) else None

    def _source_name(self) -> str:
        source = self.inventory.source if self.inventory else None
        if isinstance(source, AnsibleFile):
            return str(source.path)
        return source.where if isinstance(source, AnsibleCommand) else "the inventory"

    def _known(self, tree: Tree | None) -> list[str]:
        inline = list(self.inventory.groups) if self.inventory else []
        return sorted({*inline, *(tree.groups if tree else ())})

    def _run(self, argv: tuple[str, ...], timeout: float, where: str, cwd: Path | None) -> str:
        from escalator.probes.command import CommandTarget, run

        if not _runnable(argv[0], cwd):
            raise InventoryError(f"{where}: the command {' '.join(argv)!r} cannot start: "
                                 f"{argv[0]} is not an executable program here")
        if self.deadline is not None and self.clock is not None:
            # the command must leave the run its time: never past the run's own deadline
            timeout = max(0.1, min(timeout, self.deadline - self.clock()))
        result = run(CommandTarget(" ".join(argv), timeout=timeout, max_output=_OUTPUT_LIMIT,
                                   cwd=str(cwd) if cwd else None, argv=argv))
        if result.exit_status != 0 or result.truncated:
            raise InventoryError(f"{where}: the command {' '.join(argv)!r} {_failure(result)}")
        return result.stdout


def _runnable(program: str, cwd: Path | None) -> bool:
    """Whether `program` can be started: a path (relative to `cwd`) or a name on PATH."""
    if "/" in program:
        path = (cwd or Path.cwd()) / program
        return path.is_file() and os.access(path, os.X_OK)
    return shutil.which(program) is not None


def _failure(result: CommandResult) -> str:
    if result.truncated:
        return f"printed more than {_OUTPUT_LIMIT // (1024 * 1024)} MiB"
    said = one_line(result.stderr or result.stdout, 200)
    return result.ended + (f": {said}" if said else "")
