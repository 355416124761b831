"""The hosts of one group of an Ansible inventory, with their variables merged as Ansible does.

Called by the runner's fan-out (`escalator.runner.fanout`) with an inventory file's path (INI,
or YAML for .yml/.yaml/.json, as Ansible picks its plugin) or with the JSON a command printed.
Variables, lowest first (Ansible's documented precedence, for the parts an inventory has):

1. group variables of the inventory, `all` first, then by depth, `ansible_group_priority`, name
2. `group_vars/<group>` beside the inventory file (a YAML file, or a directory of them), same order
3. the host's variables in the inventory
4. `host_vars/<host>` beside the inventory file

Values become strings (`true`/`false`, numbers as written, lists and mappings as JSON). A group
means its own hosts and those of its children, as in Ansible; `all` is every host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from escalator.inventory.ansible_formats import Tree, read_ini, read_yaml
from escalator.inventory.model import Host, InventoryError

_YAML_SUFFIXES = (".yml", ".yaml", ".json")
_VAULT = "$ANSIBLE_VAULT;"


def read_file(path: Path) -> Tree:
    """The inventory file at `path`, read as Ansible's yaml or ini plugin would."""
    text = _read(path)
    if path.suffix in _YAML_SUFFIXES:
        return read_yaml(text, str(path))
    return read_ini(text, str(path))


def hosts_of(tree: Tree, group: str, vars_dir: Path | None) -> tuple[Host, ...]:
    """The hosts of `group` (its own, then its children's), each with its variables."""
    _with_all(tree)
    depth = _depths(tree)
    order = sorted(tree.groups, key=lambda g: (depth.get(g, 1), _priority(tree, g), g))
    members = {g: set(_members(tree, g)) for g in tree.groups}
    group_files = {g: _vars_files(vars_dir, "group_vars", g) for g in order} if vars_dir else {}
    found = []
    for name in _members(tree, group):
        mine = [g for g in order if name in members[g]]
        variables: dict[str, Any] = {}
        for g in mine:
            variables.update(tree.groups[g].vars)
        for g in mine:
            variables.update(group_files.get(g, {}))
        variables.update(tree.hostvars.get(name, {}))
        if vars_dir is not None:
            variables.update(_vars_files(vars_dir, "host_vars", name))
        found.append(Host(name, {str(k): _text(v) for k, v in variables.items()}))
    return tuple(found)


def _with_all(tree: Tree) -> None:
    """`all` holds every top-level group, and hosts that are in no group are `ungrouped`."""
    all_group = tree.group("all")
    grouped = {h for name, g in tree.groups.items() if name not in ("all", "ungrouped")
               for h in g.hosts}
    for host in all_group.hosts:
        if host not in grouped:
            tree.add_host("ungrouped", host, {})
    all_group.hosts = []
    children = {c for g in tree.groups.values() for c in g.children}
    for name in list(tree.groups):
        if name != "all" and name not in children:
            tree.add_child("all", name)


def _members(tree: Tree, group: str, seen: frozenset[str] = frozenset()) -> list[str]:
    body = tree.groups[group]
    found = list(body.hosts)
    for child in body.children:
        if child not in seen:  # a loop of children would otherwise never end
            found.extend(_members(tree, child, seen | {group}))
    return list(dict.fromkeys(found))


def _depths(tree: Tree) -> dict[str, int]:
    depth = {"all": 0}
    todo = ["all"]
    while todo:
        parent = todo.pop()
        for child in tree.groups[parent].children:
            if depth.get(child, -1) < depth[parent] + 1 and depth[parent] < len(tree.groups):
                depth[child] = depth[parent] + 1
                todo.append(child)
    return depth


def _priority(tree: Tree, group: str) -> int:
    try:
        return int(tree.groups[group].vars.get("ansible_group_priority", 1))
    except (TypeError, ValueError):
        return 1


def _vars_files(base: Path, kind: str, name: str) -> dict[str, Any]:
    """`group_vars/<name>` (or `host_vars/`): a file with or without .yml/.yaml/.json, or a
    directory whose files are read in name order."""
    folder = base / kind
    variables: dict[str, Any] = {}
    candidates = [folder / name, *(folder / f"{name}{s}" for s in _YAML_SUFFIXES)]
    for path in candidates:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            continue
        for file in files:
            variables.update(_vars_file(file))
    return variables


def _vars_file(path: Path) -> Mapping[str, Any]:
    import yaml

    text = _read(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InventoryError(f"{path}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InventoryError(f"{path}: expected a mapping of variables")
    return data


def _read(path: Path) -> str:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InventoryError(f"{path}: no such inventory file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot read: {exc}") from None
    if text.lstrip().startswith(_VAULT) or "!vault" in text:
        raise InventoryError(f"{path}: Ansible Vault is not read here; use inventory.command = "
                             '["ansible-inventory", "-i", "FILE", "--list"] with a vault password')
    return text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)
