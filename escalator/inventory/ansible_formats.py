"""Ansible's inventory formats read into one `Tree`: INI, YAML, and the JSON that
`ansible-inventory --list` (or any dynamic inventory script) prints.

A small reader of the documented formats (docs.ansible.com, "How to build your inventory" and
"Developing dynamic inventory"), not ansible-core: ansible-core is GPL-3.0 (this project is MIT),
takes about a second to import, and its inventory manager runs executable inventory files and
plugins. What this reader covers: groups, `:vars`, `:children` and nested `children:`, host
variables on host lines and under `hosts:`, `host:port`, ranges (`db-[01:40]`, `[a:f]`,
`[1:9:2]`), `ansible_group_priority`. What it does not (Jinja2 templates, vault, inventory
plugins) any inventory can still give through `inventory.command = ["ansible-inventory", "-i",
"FILE", "--list"]`, which prints the JSON read here. Called by `escalator.inventory.ansible`.

>>> tree = read_ini("[db]\\ndb-[1:2] port=22\\n[db:vars]\\nuser=backup\\n", "hosts")
>>> tree.groups["db"].hosts, tree.hostvars["db-1"], tree.groups["db"].vars
(['db-1', 'db-2'], {'port': 22}, {'user': 'backup'})
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from escalator.inventory.model import InventoryError

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
_RANGE = re.compile(r"^(.*?)\[([^\[\]:]+):([^\[\]:]+)(?::([0-9]+))?\](.*)$")
_GROUP_KEYS = ("children", "hosts", "vars")


@dataclass
class Group:
    hosts: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


@dataclass
class Tree:
    """Groups by name and each host's own variables, in the order the file gives them."""

    groups: dict[str, Group] = field(default_factory=dict)
    hostvars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def group(self, name: str) -> Group:
        return self.groups.setdefault(name, Group())

    def add_host(self, group: str, name: str, variables: Mapping[str, Any]) -> None:
        members = self.group(group).hosts
        if name not in members:
            members.append(name)
        self.hostvars.setdefault(name, {}).update(variables)

    def add_child(self, parent: str, child: str) -> None:
        self.group(child)
        if child not in self.group(parent).children:
            self.group(parent).children.append(child)


def _fail(where: str, why: str) -> NoReturn:
    raise InventoryError(f"{where}: {why}")


def expand_pattern(pattern: str, where: str = "inventory") -> list[str]:
    """A host pattern with ranges as Ansible expands it.

    >>> expand_pattern("db-[08:10].example.com")
    ['db-08.example.com', 'db-09.example.com', 'db-10.example.com']
    >>> expand_pattern("[a:c]x"), expand_pattern("h[1:5:2]")
    (['ax', 'bx', 'cx'], ['h1', 'h3', 'h5'])
    """
    match = _RANGE.match(pattern)
    if match is None:
        return [pattern]
    head, start, end, stride, tail = match.groups()
    step = int(stride or 1)
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        items = [str(n).zfill(width) for n in range(int(start), int(end) + 1, step)]
    elif start in string.ascii_letters and end in string.ascii_letters and start <= end:
        letters = string.ascii_letters
        items = list(letters[letters.index(start):letters.index(end) + 1:step])
    else:
        _fail(where, f"bad range [{start}:{end}] in host pattern {pattern!r}")
    if not items or step < 1:
        _fail(where, f"empty range in host pattern {pattern!r}")
    return [f"{head}{item}{rest}" for item in items for rest in expand_pattern(tail, where)]


def split_host(pattern: str) -> tuple[str, dict[str, Any]]:
    """`name:port` (Ansible sets ansible_port) or a bare name (IPv6 needs brackets).

    >>> split_host("db-1:2222"), split_host("[::1]:2200"), split_host("db-2")
    (('db-1', {'ansible_port': 2222}), ('::1', {'ansible_port': 2200}), ('db-2', {}))
    """
    if pattern.startswith("[") and "]:" in pattern:
        name, _, port = pattern[1:].partition("]:")
    elif pattern.count(":") == 1 and not pattern.endswith("]"):
        name, _, port = pattern.partition(":")
    else:
        return pattern, {}
    return (name, {"ansible_port": int(port)}) if port.isdigit() else (pattern, {})


def host_line(line: str, where: str, strict: bool = True) -> tuple[list[str], dict[str, Any]]:
    """`pattern key=value ...` (an INI host line, or a line a host command prints: there,
    `strict=False`, other words after the name are columns of a table and ignored)."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        _fail(where, f"cannot split {line.strip()!r}: {exc}")
    variables: dict[str, Any] = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if (not sep or not key) and not strict:
            continue
        if not sep or not key:
            _fail(where, f"expected key=value after the host name, got {token!r}")
        variables[key] = ini_value(value)
    return expand_pattern(tokens[0], where), variables


def ini_value(text: str) -> Any:
    """A value as Ansible's INI reader takes it: a Python literal if it is one, else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def read_ini(text: str, name: str) -> Tree:
    tree = Tree()
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{name}:{number}"
        if not line or line[0] in "#;":
            continue
        section = _SECTION.match(line)
        if section is not None:
            group, kind = section.group(1), section.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                _fail(where, f"unknown section kind :{kind} (known: :hosts, :vars, :children)")
            tree.group(group)
            continue
        if line.startswith("["):
            _fail(where, f"bad section header {line!r}")
        if kind == "hosts":
            patterns, variables = host_line(line, where)
            for pattern in patterns:
                host, port = split_host(pattern)
                tree.add_host(group, host, {**port, **variables})
        elif kind == "children":
            tree.add_child(group, line.split()[0])
        else:
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                _fail(where, f"expected key=value in [{group}:vars], got {line!r}")
            tree.group(group).vars[key.strip()] = ini_value(value.strip())
    return tree


def read_yaml(text: str, name: str) -> Tree:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        _fail(f"{name}{at}", f"invalid YAML: {problem}")
    tree = Tree()
    if data is None:
        return tree
    if not isinstance(data, Mapping):
        _fail(name, "expected a mapping of groups (e.g. all: {children: ...})")
    for group, body in data.items():
        _yaml_group(tree, str(group), body, f"{name}: {group}")
    return tree


def _yaml_group(tree: Tree, group: str, body: Any, where: str) -> None:
    tree.group(group)
    if body is None:
        return
    if not isinstance(body, Mapping):
        _fail(where, "expected a mapping with hosts, vars or children")
    for key in body:
        if key not in _GROUP_KEYS:
            _fail(f"{where}.{key}", f"unknown key (known: {', '.join(_GROUP_KEYS)})")
    hosts, variables, children = (body.get(k) or {} for k in ("hosts", "vars", "children"))
    for key, value in (("hosts", hosts), ("vars", variables), ("children", children)):
        if not isinstance(value, Mapping):
            _fail(f"{where}.{key}", "expected a mapping")
    for pattern, host_vars in hosts.items():
        if host_vars is not None and not isinstance(host_vars, Mapping):
            _fail(f"{where}.hosts.{pattern}", "expected a mapping of host variables")
        for expanded in expand_pattern(str(pattern), where):
            host, port = split_host(expanded)
            tree.add_host(group, host, {**port, **(host_vars or {})})
    tree.group(group).vars.update(variables)
    for child, child_body in children.items():
        tree.add_child(group, str(child))
        _yaml_group(tree, str(child), child_body, f"{where}.children.{child}")


def read_json(text: str, name: str) -> Tree:
    """The JSON of `ansible-inventory --list` or a dynamic inventory script's `--list`."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        _fail(name, f"expected JSON as `ansible-inventory --list` prints it: {exc}")
    if not isinstance(data, Mapping):
        _fail(name, "expected a JSON object of groups")
    tree = Tree()
    meta = data.get("_meta") or {}
    for group, body in data.items():
        if group == "_meta":
            continue
        where = f"{name}: {group}"
        if isinstance(body, list):
            body = {"hosts": body}
        if not isinstance(body, Mapping):
            _fail(where, "expected a list of hosts or an object with hosts, vars, children")
        tree.group(group)
        for host in body.get("hosts") or ():
            tree.add_host(group, str(host), {})
        for child in body.get("children") or ():
            tree.add_child(group, str(child))
        if not isinstance(body.get("vars") or {}, Mapping):
            _fail(f"{where}.vars", "expected an object")
        tree.group(group).vars.update(body.get("vars") or {})
    hostvars = meta.get("hostvars") or {} if isinstance(meta, Mapping) else {}
    for host, variables in hostvars.items():
        if isinstance(variables, Mapping):
            tree.hostvars.setdefault(str(host), {}).update(variables)
    return tree


def read_host_lines(text: str, name: str, group: str, header_lines: int = 0) -> Tree:
    """What a group's command printed: one host per line as on an INI host line
    (`db-7 ansible_host=10.0.0.7 port=2222`), other words after the name ignored (the columns
    of a table), blank lines and `#` comments skipped, the first `header_lines` lines (a
    table's heading) ignored.

    >>> tree = read_host_lines("Node ID Address\\ndb-1 a1b2 10.0.0.5 role=x", "cmd", "db", 1)
    >>> tree.groups["db"].hosts, tree.hostvars["db-1"]
    (['db-1'], {'role': 'x'})
    """
    tree = Tree()
    tree.group(group)
    for number, line in enumerate(text.splitlines()[header_lines:], header_lines + 1):
        if not line.strip() or line.lstrip()[0] in "#;":
            continue
        patterns, variables = host_line(line, f"{name}: line {number}", strict=False)
        for pattern in patterns:
            tree.add_host(group, pattern, variables)
    return tree
