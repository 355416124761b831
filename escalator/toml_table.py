"""Reading a table of escalator.toml: keys as TOML writes them, and typed values whose errors
name the file and the key.

A leaf module: `escalator.config` ([run], [environments]) and `escalator.ladder.config`
([ladder]) both read with it, so neither imports the other to read a table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from escalator.errors import ConfigError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    """`key` as TOML writes it: bare when it can be, else quoted, so an error stays one line.

    >>> toml_key("step_timeout"), toml_key("a.b"), toml_key("x\\n")
    ('step_timeout', '"a.b"', '"x\\\\n"')
    """
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


class TableKeys:
    """Reads typed values out of one table, naming `<file>: <prefix>.<key>` in every error."""

    def __init__(self, table: Any, prefix: str, source: Path, allowed: set[str]) -> None:
        self.source, self.prefix = source, prefix
        if not isinstance(table, Mapping):
            self.fail(prefix, "must be a table")
        self.table: Mapping[str, Any] = table
        for key in sorted(set(table) - allowed):
            self.fail(f"{prefix}.{toml_key(key)}", "unknown key")

    def fail(self, key: str, why: str) -> None:
        raise ConfigError(f"{self.source.name}: {key}: {why}")

    def get(self, key: str, convert: Callable[[Any], Any], default: Any) -> Any:
        if key not in self.table:
            return default
        try:
            return convert(self.table[key])
        except (ValueError, TypeError) as exc:
            self.fail(f"{self.prefix}.{key}", str(exc))
        raise AssertionError("unreachable")

    def required(self, key: str) -> Any:
        if key not in self.table:
            self.fail(f"{self.prefix}.{key}", "missing")
        return self.table[key]
