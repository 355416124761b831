"""The inventory as frozen values: hosts with their variables, and where each group comes from.

Built by `escalator.inventory.config` from escalator.toml; read by the runner's fan-out, which
turns a group into one scenario per `Host`.

>>> Host("db-1", {"ansible_host": "10.0.0.7", "port": "2222"}).scenario_variables("db")
{'ansible_host': '10.0.0.7', 'port': '2222', 'address': '10.0.0.7', 'host': 'db-1', 'group': 'db'}
>>> Host("db-2").scenario_variables("db")["address"]
'db-2'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from escalator.errors import EscalatorError


class InventoryError(EscalatorError):
    """A group cannot be read: the message names the file, key or command, in one line."""


@dataclass(frozen=True)
class Host:
    """One host of a group: its name (`${host}`) and its own variables (all strings)."""

    name: str
    variables: Mapping[str, str] = field(default_factory=dict)

    def scenario_variables(self, group: str) -> dict[str, str]:
        """What a fan-out scenario sees on top of the environment's variables: the host's own
        variables, `${address}` (its `address`, else Ansible's `ansible_host`, else the
        name), `${host}` and `${group}`."""
        address = (self.variables.get("address") or self.variables.get("ansible_host")
                   or self.name)
        return {**self.variables, "address": address, "host": self.name, "group": group}


@dataclass(frozen=True)
class Listed:
    """A group written out in escalator.toml."""

    hosts: tuple[Host, ...]


@dataclass(frozen=True)
class GroupCommand:
    """A group whose hosts a command prints, one per line (`name key=value ...`)."""

    argv: tuple[str, ...]
    timeout: float
    where: str  # "escalator.toml: environments.production.groups.db", for errors
    header_lines: int = 0


@dataclass(frozen=True)
class AnsibleFile:
    """An Ansible inventory file (INI or YAML), with group_vars/ and host_vars/ beside it."""

    path: Path
    where: str


@dataclass(frozen=True)
class AnsibleCommand:
    """A command that prints an inventory as JSON, in the shape of `ansible-inventory --list`."""

    argv: tuple[str, ...]
    timeout: float
    where: str


@dataclass(frozen=True)
class Inventory:
    """An environment's groups: those written in escalator.toml (inline or by command), and at
    most one inventory source for every other group name."""

    groups: Mapping[str, Listed | GroupCommand] = field(default_factory=dict)
    source: AnsibleFile | AnsibleCommand | None = None
    cwd: Path | None = None  # where commands run: the config file's directory
