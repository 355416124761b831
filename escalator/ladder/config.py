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
from escalator.ladder.model import SCOPES, LadderConfig, Level, Maintenance, Webhook
from escalator.toml_table import TableKeys, toml_key

_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_TOP = {"settle", "confirm", "verify", "retry_interval", "max_reconverge", "max_actions_per_hour",
        "loop_breaker", "max_failing_fraction", "max_unknown_fraction", "kill_grace", "notify",
        "repage", "level", "maintenance", "per_host"}
_WEBHOOK = {"webhook", "format", "headers", "token", "routing_key", "timeout", "retries",
            "ca_bundle"}
_FORMATS = ("escalator", "pagerduty", "alertmanager")
_LOOPBACK = re.compile(r"(127\.\d+\.\d+\.\d+|\[::1\]|localhost)(:\d+)?")
_LEVEL = {"id", "run", "timeout", "quiesce", "cooldown", "idempotent", "scope"}
_PER_HOST = {"max_actions_per_hour", "loop_breaker"}
_WINDOW = {"start", "end", "reason"}
_LOOP = {"engagements", "window"}


def parse_ladder(table: Mapping[str, Any], source: Path, base_dir: Path) -> LadderConfig:
    """The validated ladder; `base_dir` resolves relative action paths such as ops/deploy.sh."""
    keys = TableKeys(table, "ladder", source, _TOP)
    levels = _levels(keys, base_dir)
    loop = TableKeys(table.get("loop_breaker", {}), "ladder.loop_breaker", source, _LOOP)
    budget = keys.get("max_actions_per_hour", _count(1), 6)
    engagements, window = loop.get("engagements", _count(1), 3), \
        loop.get("window", _duration, 6 * 3600.0)
    # [ladder.per_host]: one host's own budget and loop breaker; the environment's by default
    per_host = TableKeys(table.get("per_host", {}), "ladder.per_host", source, _PER_HOST)
    host_loop = TableKeys(per_host.table.get("loop_breaker", {}), "ladder.per_host.loop_breaker",
                          source, _LOOP)
    raw_notify = table.get("notify")
    webhook = _webhook(raw_notify, source, base_dir) if isinstance(raw_notify, Mapping) \
        else None
    config = LadderConfig(
        levels=levels,
        settle=keys.get("settle", _duration, 30.0),
        confirm=keys.get("confirm", _count(1), 2),
        verify=keys.get("verify", _count(1), 2),
        retry_interval=keys.get("retry_interval", _duration, 15.0),
        max_reconverge=keys.get("max_reconverge", _count(0), 1),
        max_actions_per_hour=budget,
        loop_engagements=engagements,
        loop_window=window,
        max_failing_fraction=keys.get("max_failing_fraction", _fraction, 0.5),
        max_unknown_fraction=keys.get("max_unknown_fraction", _fraction, 0.5),
        host_actions_per_hour=per_host.get("max_actions_per_hour", _count(1), budget),
        host_loop_engagements=host_loop.get("engagements", _count(1), engagements),
        host_loop_window=host_loop.get("window", _duration, window),
        kill_grace=keys.get("kill_grace", _duration, 5.0),
        notify=keys.get("notify", lambda v: _notify_argv(v, base_dir), ()) if not webhook
        else (),
        webhook=webhook,
        repage=keys.get("repage", positive_duration, 4 * 3600.0),
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
            scope=lk.get("scope", _choice(SCOPES), "environment"),
        ))
    return tuple(levels)


def _webhook(raw: Mapping[str, Any], source: Path, base_dir: Path) -> Webhook:
    """`notify = { webhook = "https://...", ... }`; secrets as `{ env = "VARIABLE" }`."""
    wk = TableKeys(raw, "ladder.notify", source, _WEBHOOK)
    url = wk.required("webhook")
    url_env = _env_name(wk, "ladder.notify.webhook", url) if isinstance(url, Mapping) else ""
    headers, header_envs = [], []
    raw_headers = raw.get("headers", {})
    if not isinstance(raw_headers, Mapping):
        wk.fail("ladder.notify.headers", "must be a table")
    for name, value in raw_headers.items():
        key = f"ladder.notify.headers.{toml_key(name)}"
        if isinstance(value, Mapping):
            header_envs.append((name, _env_name(wk, key, value)))
        elif isinstance(value, str) and value:
            headers.append((name, value))
        else:
            wk.fail(key, 'give a string or { env = "VARIABLE" }')
    secret = {key: _env_name(wk, f"ladder.notify.{key}", raw[key])
              for key in ("token", "routing_key") if key in raw}
    hook = Webhook(
        url="" if url_env else wk.get("webhook", _url, ""), url_env=url_env,
        format=wk.get("format", _choice(_FORMATS), "escalator"),
        headers=tuple(headers), header_envs=tuple(header_envs),
        token_env=secret.get("token", ""), routing_key_env=secret.get("routing_key", ""),
        timeout=wk.get("timeout", positive_duration, 10.0),
        retries=wk.get("retries", _count(0), 2),
        ca_bundle=wk.get("ca_bundle", lambda v: _path(v, base_dir), None),
    )
    if hook.format == "pagerduty" and not hook.routing_key_env:
        wk.fail("ladder.notify.routing_key", 'format "pagerduty" needs '
                '{ env = "VARIABLE" } holding the integration\'s routing key')
    return hook


def _env_name(keys: TableKeys, key: str, value: Any) -> str:
    """A secret is never written in the file: `{ env = "VARIABLE" }` names where it is."""
    if not isinstance(value, Mapping) or set(value) != {"env"} or \
            not isinstance(value["env"], str) or not value["env"]:
        keys.fail(key, 'a secret is written { env = "VARIABLE" }')
    return str(value["env"])


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError(f'must be an https:// URL or {{ env = "VARIABLE" }}, got {value!r}')
    host = value.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if value.startswith("http://") and not _LOOPBACK.fullmatch(host):
        raise ValueError("http:// would send the page in clear text: give an https:// URL "
                         "(http:// is for a loopback relay only)")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)
    return convert


def _path(value: Any, base_dir: Path) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a file name")
    return str(base_dir / value) if not os.path.isabs(value) else value


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


def _notify_argv(value: Any, base_dir: Path) -> tuple[str, ...]:
    try:
        return _argv(value, base_dir)
    except ValueError:
        raise ValueError('give an argv (a list of strings, no shell) or '
                         '{ webhook = "https://..." }') from None


def _argv(value: Any, base_dir: Path) -> tuple[str, ...]:
    """An argv list; a relative program path (with a /) resolves against the config's dir."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a non-empty list of strings (an argv, no shell)")
    program = value[0]
    if "/" in program and not os.path.isabs(program):
        program = str(base_dir / program)
    return (program, *value[1:])


def check_programs(config: LadderConfig, environ: Mapping[str, str] | None = None) -> None:
    """Every level's program and the notifier can run on this host; else ConfigError naming
    the file and the key (`escalator.toml: ladder.level[2].run: ops/x.sh is not executable`).
    With `environ`, the secrets a webhook needs must be set there too."""
    name = config.source.name if config.source else "the config"
    argvs = [(f"ladder.level[{i}].run", level.run) for i, level in enumerate(config.levels, 1)]
    if config.notify:
        argvs.append(("ladder.notify", config.notify))
    for key, argv in argvs:
        program = argv[0]
        if "/" in program:
            if not os.path.isfile(program) or not os.access(program, os.X_OK):
                raise ConfigError(f"{name}: {key}: {shown_program(argv, config)} is not "
                                  "executable")
        elif shutil.which(program) is None:
            raise ConfigError(f"{name}: {key}: {program} is not found on PATH")
    if config.webhook is not None and environ is not None:
        for env in config.webhook.secret_envs:
            if not environ.get(env):
                raise ConfigError(f"{name}: ladder.notify: environment variable {env} is not "
                                  "set")


def shown_program(argv: tuple[str, ...], config: LadderConfig) -> str:
    """The program as written in the config: a path under the project shown relative to it."""
    base = f"{config.base_dir}/" if config.base_dir else None
    return argv[0][len(base):] if base and argv[0].startswith(base) else argv[0]
