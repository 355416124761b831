"""Parse and validate the `[ladder]` table of escalator.toml into a `LadderConfig`.

Called by `escalator.config` when the table exists. Every problem raises `ConfigError` naming
the file and the key (`escalator.toml: ladder.level[2].timeout: bad duration 'x': ...`), so the
ladder refuses to start rather than run half-configured. Whether the programs can run here is
`check_programs`' question, asked only by the commands that act (escalate, watch, ladder plan):
a host that only checks (`check`, `run`, `status`) need not have them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from escalator.durations import parse_duration, positive_duration
from escalator.errors import ConfigError
from escalator.ladder.model import LadderConfig, Level, Maintenance
from escalator.toml_table import TableKeys

_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_TOP = {"settle", "confirm", "verify", "retry_interval", "max_reconverge", "max_actions_per_hour",
        "loop_breaker", "max_failing_fraction", "max_unknown_fraction", "kill_grace", "notify",
        "level", "maintenance"}
_LEVEL = {"id", "run", "timeout", "quiesce", "cooldown", "idempotent"}
_WINDOW = {"start", "end", "reason"}
_LOOP = {"engagements", "window"}


def parse_ladder(table: Mapping[str, Any], source: Path, base_dir: Path) -> LadderConfig:
    """The validated ladder; `base_dir` resolves relative action paths such as ops/deploy.sh."""
    keys = TableKeys(table, "ladder", source, _TOP)
    levels = _levels(keys, base_dir)
    loop = TableKeys(table.get("loop_breaker", {}), "ladder.loop_breaker", source, _LOOP)
    config = LadderConfig(
        levels=levels,
        settle=keys.get("settle", _duration, 30.0),
        confirm=keys.get("confirm", _count(1), 2),
        verify=keys.get("verify", _count(1), 2),
        retry_interval=keys.get("retry_interval", _duration, 15.0),
        max_reconverge=keys.get("max_reconverge", _count(0), 1),
        max_actions_per_hour=keys.get("max_actions_per_hour", _count(1), 6),
        loop_engagements=loop.get("engagements", _count(1), 3),
        loop_window=loop.get("window", _duration, 6 * 3600.0),
        max_failing_fraction=keys.get("max_failing_fraction", _fraction, 0.5),
        max_unknown_fraction=keys.get("max_unknown_fraction", _fraction, 0.5),
        kill_grace=keys.get("kill_grace", _duration, 5.0),
        notify=keys.get("notify", lambda v: _argv(v, base_dir), ()),
        maintenance=_windows(table.get("maintenance", []), source),
        source=source,
        base_dir=base_dir,
    )
    return config


def _levels(keys: TableKeys, base_dir: Path) -> tuple[Level, ...]:
    raw = keys.table.get("level", [])
    if not isinstance(raw, list) or not raw:
        keys.fail("ladder.level", "give at least one [[ladder.level]]")
    levels: list[Level] = []
    for index, item in enumerate(raw, start=1):
        prefix = f"ladder.level[{index}]"
        lk = TableKeys(item, prefix, keys.source, _LEVEL)
        level_id = lk.required("id")
        if not isinstance(level_id, str) or not _ID.fullmatch(level_id):
            lk.fail(f"{prefix}.id", f"{level_id!r} is not an id (lower case, digits, - and _)")
        if level_id in (level.id for level in levels):
            lk.fail(f"{prefix}.id", f"duplicate id {level_id!r}")
        lk.required("run")
        levels.append(Level(
            id=level_id,
            run=lk.get("run", lambda v: _argv(v, base_dir), ()),
            timeout=lk.get("timeout", positive_duration, 15 * 60.0),
            quiesce=lk.get("quiesce", _duration, 0.0),
            cooldown=lk.get("cooldown", _duration, 0.0),
            idempotent=lk.get("idempotent", _bool, False),
        ))
    return tuple(levels)


def _windows(raw: Any, source: Path) -> tuple[Maintenance, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{source.name}: ladder.maintenance: must be an array of tables")
    windows = []
    for index, item in enumerate(raw, start=1):
        prefix = f"ladder.maintenance[{index}]"
        wk = TableKeys(item, prefix, source, _WINDOW)
        wk.required("start")
        wk.required("end")
        start, end = wk.get("start", _instant, None), wk.get("end", _instant, None)
        if end <= start:
            wk.fail(f"{prefix}.end", "must be after start")
        windows.append(Maintenance(start, end, wk.get("reason", str, "")))
    return tuple(windows)


def _duration(value: Any) -> float:
    return parse_duration(value)


def _count(minimum: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be a whole number >= {minimum}, got {value!r}")
        return value
    return convert


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"must be a number in (0, 1], got {value!r}")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _instant(value: Any) -> float:
    # TOML gives offset datetimes natively; a naive one would silently mean "local time".
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"must be a date-time with an offset, e.g. 2026-12-01T02:00:00Z, "
                         f"got {value!r}")
    return value.timestamp()


def _argv(value: Any, base_dir: Path) -> tuple[str, ...]:
    """An argv list; a relative program path (with a /) resolves against the config's dir."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a non-empty list of strings (an argv, no shell)")
    program = value[0]
    if "/" in program and not os.path.isabs(program):
        program = str(base_dir / program)
    return (program, *value[1:])


def check_programs(config: LadderConfig) -> None:
    """Every level's program and the notifier can run on this host; else ConfigError naming
    the file and the key (`escalator.toml: ladder.level[2].run: ops/x.sh is not executable`)."""
    name = config.source.name if config.source else "the config"
    argvs = [(f"ladder.level[{i}].run", level.run) for i, level in enumerate(config.levels, 1)]
    if config.notify:
        argvs.append(("ladder.notify", config.notify))
    for key, argv in argvs:
        program = argv[0]
        shown = program
        if config.base_dir is not None and program.startswith(f"{config.base_dir}/"):
            shown = program[len(str(config.base_dir)) + 1:]
        if "/" in program:
            if not os.path.isfile(program) or not os.access(program, os.X_OK):
                raise ConfigError(f"{name}: {key}: {shown} is not executable")
        elif shutil.which(program) is None:
            raise ConfigError(f"{name}: {key}: {program} is not found on PATH")
