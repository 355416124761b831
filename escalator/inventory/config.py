"""`[environments.NAME.groups]` and `[environments.NAME.inventory]` of escalator.toml.

Called by `escalator.config` for each environment. Checks the shape and returns an `Inventory`;
nothing is read or run here. Every error names the file and the key, e.g.
`escalator.toml: environments.production.groups.db[2].port: expected a string, number or
boolean`.

```toml
[environments.production.groups]
web = ["web-1.example.com", "web-2.example.com"]
db = [{ host = "db-1", ssh_user = "backup", port = 2222 }, "db-2"]
cache = { command = ["consul-hosts", "cache"], timeout = "10s" }

[environments.production.inventory]
ansible = "inventory/production.yml"   # or: command = ["ansible-inventory", "-i", "x", "--list"]
```

>>> inv = parse_inventory({"db": [{"host": "db-1", "port": 2222}, "db-2"]}, None,
...                       Path("escalator.toml"), "prod")
>>> [(h.name, dict(h.variables)) for h in inv.groups["db"].hosts]
[('db-1', {'port': '2222'}), ('db-2', {})]
>>> parse_inventory({"db": []}, None, Path("escalator.toml"), "prod")
Traceback (most recent call last):
...
escalator.errors.ConfigError: escalator.toml: environments.prod.groups.db: empty group (give \
at least one host, or remove it)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from escalator.durations import positive_duration
from escalator.errors import ConfigError
from escalator.inventory.model import (
    AnsibleCommand,
    AnsibleFile,
    GroupCommand,
    Host,
    Inventory,
    Listed,
)
from escalator.toml_table import toml_key

DEFAULT_TIMEOUT = 10.0
# A group name is what follows `@each.` in a tag: no spaces, no dots.
_GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")
# Names a fan-out scenario sets itself: a host may not carry them as its own variables.
_RESERVED = ("host", "group")


def parse_inventory(groups: Any, inventory: Any, source: Path, environment: str) -> Inventory:
    prefix = f"environments.{toml_key(environment)}"
    parsed: dict[str, Listed | GroupCommand] = {}
    if groups is not None:
        if not isinstance(groups, Mapping):
            _fail(source, f"{prefix}.groups", "expected a table of groups, e.g. "
                  'web = ["web-1", "web-2"]')
        for name, value in groups.items():
            where = f"{prefix}.groups.{toml_key(name)}"
            if not _GROUP_NAME.fullmatch(name):
                _fail(source, where, "a group name is letters, digits, _ and - (it is used as "
                      "@each.<group>)")
            parsed[name] = _group(value, source, where)
    return Inventory(groups=parsed,
                     source=None if inventory is None else _source(inventory, source, prefix),
                     cwd=source.parent)


def _group(value: Any, source: Path, where: str) -> Listed | GroupCommand:
    if isinstance(value, Mapping):
        command = _command(value, source, where, extra=("header_lines",))
        header = value.get("header_lines", 0)
        if isinstance(header, bool) or not isinstance(header, int) or header < 0:
            _fail(source, f"{where}.header_lines", f"expected a whole number >= 0, got {header!r}")
        return GroupCommand(command[0], command[1], f"{source.name}: {where}", header)
    if not isinstance(value, list):
        _fail(source, where, 'expected a list of hosts, e.g. ["web-1", { host = "web-2", '
              'port = 8080 }], or { command = [...] }')
    if not value:
        _fail(source, where, "empty group (give at least one host, or remove it)")
    hosts = [_host(item, source, f"{where}[{n}]") for n, item in enumerate(value)]
    seen: set[str] = set()
    for n, host in enumerate(hosts):
        if host.name in seen:
            _fail(source, f"{where}[{n}]", f"host {host.name!r} is listed twice")
        seen.add(host.name)
    return Listed(tuple(hosts))


def _host(item: Any, source: Path, where: str) -> Host:
    if isinstance(item, str):
        return Host(_host_name(item, source, where))
    if not isinstance(item, Mapping) or "host" not in item:
        _fail(source, where, 'expected a host name or { host = "name", variable = value, ... }')
    name = _host_name(item["host"], source, f"{where}.host")
    variables = {}
    for key, value in item.items():
        if key == "host":
            continue
        key_where = f"{where}.{toml_key(key)}"
        if key in _RESERVED:
            _fail(source, key_where, f"${{{key}}} is set by the fan-out; choose another name")
        if isinstance(value, bool):
            variables[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            variables[key] = str(value)
        else:
            _fail(source, key_where, "expected a string, number or boolean (secrets belong to "
                  "the environment, as { env = \"VARIABLE\" })")
    return Host(name, variables)


def _host_name(value: Any, source: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        _fail(source, where, f"expected a host name without spaces, got {value!r}")
    return str(value)


def _source(table: Any, source: Path, prefix: str) -> AnsibleFile | AnsibleCommand:
    where = f"{prefix}.inventory"
    if not isinstance(table, Mapping):
        _fail(source, where, 'expected a table: ansible = "hosts.yml" or command = [...]')
    if ("ansible" in table) == ("command" in table):
        _fail(source, where, 'give one of ansible = "FILE" (INI or YAML) or command = [ARGV] '
              "(prints JSON as `ansible-inventory --list` does)")
    if "command" in table:
        argv, timeout = _command(table, source, where)
        return AnsibleCommand(argv, timeout, f"{source.name}: {where}")
    for key in table:
        if key != "ansible":
            _fail(source, f"{where}.{toml_key(key)}", "unknown key (known: ansible, command, "
                  "timeout; timeout goes with command)")
    path = table["ansible"]
    if not isinstance(path, str) or not path:
        _fail(source, f"{where}.ansible", f"expected the path of an inventory file, got {path!r}")
    return AnsibleFile(source.parent / path, f"{source.name}: {where}.ansible")


def _command(table: Mapping[str, Any], source: Path, where: str, extra: tuple[str, ...] = ()
             ) -> tuple[tuple[str, ...], float]:
    for key in table:
        if key not in ("command", "timeout", *extra):
            known = ", ".join(sorted(("command", "timeout", *extra)))
            _fail(source, f"{where}.{toml_key(key)}", f"unknown key (known: {known})")
    argv = table.get("command")
    if (not isinstance(argv, list) or not argv
            or not all(isinstance(a, str) and a for a in argv)):
        _fail(source, f"{where}.command", "expected the command as a list of words, e.g. "
              '["consul-hosts", "db"] (no shell)')
    timeout = DEFAULT_TIMEOUT
    if "timeout" in table:
        try:
            timeout = positive_duration(table["timeout"])
        except ValueError as exc:
            _fail(source, f"{where}.timeout", str(exc))
    return tuple(argv), timeout


def _fail(source: Path, key: str, why: str) -> NoReturn:
    raise ConfigError(f"{source}: {key}: {why}")
