"""escalator.toml (or `[tool.escalator]` in pyproject.toml) as frozen values.

Called by `escalator.commands.common.load_run_options` and by commands that only need the state
directory (`status`, `report`). Unknown keys and bad values raise `ConfigError` naming the file and
the key. `[ladder]` is handed to `escalator.ladder.config.parse_ladder`, imported only when present.

>>> parse_config({"run": {"jobs": 4, "timeout": "20s"}}, Path("x.toml")).run.timeout
20.0
>>> parse_config({"run": {"jobz": 4}}, Path("x.toml"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
escalator.errors.ConfigError: x.toml: unknown key run.jobz (known: environment, jobs, ...)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalator import project
from escalator.durations import positive_duration
from escalator.env import Env
from escalator.errors import ConfigError
from escalator.hostresults_config import HostResultsConfig, parse_host_results
from escalator.toml_table import toml_key

if TYPE_CHECKING:
    from escalator.inventory import Inventory
    from escalator.ladder.model import LadderConfig

CONFIG_NAME = project.CONFIG_NAME
_TOP_KEYS = ("run", "environments", "ladder", "host_results")
# Tables of an environment that are not variables: its hosts (escalator.inventory).
_INVENTORY_KEYS = ("groups", "inventory")


@dataclass(frozen=True)
class RunDefaults:
    """`[run]`: defaults for run and check; the command line overrides each."""

    jobs: int = 16
    timeout: float = 50.0
    step_timeout: float = 10.0
    retries: int = 0
    state_dir: str = project.DEFAULT_STATE_DIR
    report_dir: str = "reports"
    environment: str | None = None


@dataclass(frozen=True)
class Environment:
    """`[environments.NAME]`: plain variables, secrets named by environment variable, and the
    hosts of `@each.<group>` (`.groups`, `.inventory`; None when it names none)."""

    name: str
    variables: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)  # variable -> environment variable
    inventory: Inventory | None = None


@dataclass(frozen=True)
class Config:
    run: RunDefaults = field(default_factory=RunDefaults)
    environments: Mapping[str, Environment] = field(default_factory=dict)
    ladder: LadderConfig | None = None
    source: Path | None = None
    host_results: HostResultsConfig = field(default_factory=HostResultsConfig)
    fingerprint: str | None = None  # of the source's text, which this config was read from

    @property
    def base_dir(self) -> Path | None:
        return self.source.parent if self.source else None

    def state_dir(self, cwd: Path) -> Path:
        """`run.state_dir`, relative to the config file's directory (else `cwd`), so a
        command run from cron or Nagios finds the same state wherever it starts."""
        return Path(project.state_dir(str(self.base_dir or cwd), self.run.state_dir))

    def report_dir(self, cwd: Path) -> Path:
        return (self.base_dir or cwd) / self.run.report_dir


def find_config(env: Env) -> Path | None:
    """escalator.toml in the working directory, else a pyproject.toml with [tool.escalator]."""
    found = project.config_file(str(env.cwd), None)
    return Path(found) if found is not None else None


def load_config(path: Path | str | None, env: Env) -> Config:
    """The configuration in `path` (relative to env.cwd), or the one found; defaults if none."""
    source = (env.cwd / path) if path is not None else find_config(env)
    if source is None:
        return Config()
    try:
        text = source.read_text()
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    if source.name == "pyproject.toml":
        data = data.get("tool", {}).get("escalator", {})
    return replace(parse_config(data, source), fingerprint=project.fingerprint(text))


def parse_config(data: Mapping[str, Any], source: Path) -> Config:
    _known(data, _TOP_KEYS, source, "")
    run = _parse_run(_table(data, "run", source), source)
    environments = {
        name: _parse_environment(name, _table(table, None, source,
                                              f"environments.{toml_key(name)}"), source)
        for name, table in _table(data, "environments", source).items()
    }
    ladder = None
    if "ladder" in data:
        from escalator.ladder.config import parse_ladder

        ladder = parse_ladder(_table(data, "ladder", source), source, source.parent)
    if run.environment is not None and run.environment not in environments:
        raise ConfigError(f"{source}: run.environment: no environment {run.environment!r}")
    host_results = (parse_host_results(data["host_results"], source)
                    if "host_results" in data else HostResultsConfig())
    return Config(run=run, environments=environments, ladder=ladder, source=source,
                  host_results=host_results)


def _parse_run(table: Mapping[str, Any], source: Path) -> RunDefaults:
    defaults = RunDefaults()
    _known(table, tuple(defaults.__dataclass_fields__), source, "run.")
    values: dict[str, Any] = {}
    for key in ("jobs", "retries"):
        if key in table:
            minimum = 1 if key == "jobs" else 0
            values[key] = _integer(table[key], source, f"run.{key}", minimum)
    for key in ("timeout", "step_timeout"):
        if key in table:
            values[key] = _duration(table[key], source, f"run.{key}")
    for key in ("state_dir", "report_dir", "environment"):
        if key in table:
            values[key] = _string(table[key], source, f"run.{key}")
    return RunDefaults(**values)


def _parse_environment(name: str, table: Mapping[str, Any], source: Path) -> Environment:
    variables: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for key, value in table.items():
        where = f"environments.{toml_key(name)}.{toml_key(key)}"
        if key in _INVENTORY_KEYS:
            continue
        if isinstance(value, Mapping):
            if set(value) != {"env"} or not isinstance(value["env"], str) or not value["env"]:
                raise ConfigError(f'{source}: {where}: a secret is written {{ env = "VARIABLE" }}')
            secrets[key] = value["env"]
        elif isinstance(value, bool):
            variables[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            variables[key] = str(value)
        else:
            raise ConfigError(f"{source}: {where}: expected a string, number or boolean, "
                              f"got {type(value).__name__}")
    inventory = None
    if any(key in table for key in _INVENTORY_KEYS):
        from escalator.inventory.config import parse_inventory

        inventory = parse_inventory(table.get("groups"), table.get("inventory"), source, name)
    return Environment(name=name, variables=variables, secrets=secrets, inventory=inventory)


def _table(data: Mapping[str, Any], key: str | None, source: Path, where: str | None = None
           ) -> Mapping[str, Any]:
    value = data.get(key, {}) if key is not None else data
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: {where or key}: expected a table")
    return value


def _known(table: Mapping[str, Any], keys: tuple[str, ...], source: Path, prefix: str) -> None:
    for key in table:
        if key not in keys:
            known = ", ".join(sorted(keys))
            raise ConfigError(f"{source}: unknown key {prefix}{toml_key(key)} (known: {known})")


def _integer(value: object, source: Path, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{source}: {key}: expected a whole number >= {minimum}, got {value!r}")
    return value


def _duration(value: object, source: Path, key: str) -> float:
    try:
        return positive_duration(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"{source}: {key}: {exc}") from None


def _string(value: object, source: Path, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: {key}: expected a non-empty string, got {value!r}")
    return value
