"""`[host_results]` of escalator.toml: where `escalator check` also sends each host's result.

Parsed by `escalator.config` (as `Config.host_results`); read by `escalator.hostresults`, which
the `check` command calls after the run. The Icinga 2 password is a secret named by environment
variable, never written in the file. Errors name the file and the key.

```toml
[host_results]
send = ["icinga2"]                     # without --host-results; default: none

[host_results.icinga2]
url = "https://icinga-master.example.com:5665"
user = "escalator"
password = { env = "ICINGA2_API_PASSWORD" }
ca = "/var/lib/icinga2/certs/ca.crt"   # the Icinga CA; default: the system's trust store
timeout = "5s"                         # for all submissions of one check together

[host_results.nagios]
command_file = "/var/lib/nagios4/rw/nagios.cmd"
timeout = "2s"
```

>>> parse_host_results({"send": ["nagios"], "nagios": {"command_file": "/x/nagios.cmd"}},
...                    Path("escalator.toml")).nagios
NagiosCommandFile(command_file='/x/nagios.cmd', timeout=2.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escalator.durations import positive_duration
from escalator.toml_table import TableKeys

TARGETS = ("icinga2", "nagios")


@dataclass(frozen=True)
class Icinga2Api:
    url: str
    user: str
    password_env: str  # the environment variable that holds the API user's password
    ca: str | None = None
    timeout: float = 5.0


@dataclass(frozen=True)
class NagiosCommandFile:
    command_file: str
    timeout: float = 2.0


@dataclass(frozen=True)
class HostResultsConfig:
    send: tuple[str, ...] = ()
    icinga2: Icinga2Api | None = None
    nagios: NagiosCommandFile | None = None


def parse_host_results(table: Any, source: Path) -> HostResultsConfig:
    keys = TableKeys(table, "host_results", source, {"send", *TARGETS})
    send = keys.get("send", _targets, ())
    icinga2 = nagios = None
    if "icinga2" in keys.table:
        icinga2 = _icinga2(keys.table["icinga2"], source)
    if "nagios" in keys.table:
        sub = TableKeys(keys.table["nagios"], "host_results.nagios", source,
                        {"command_file", "timeout"})
        nagios = NagiosCommandFile(_text(sub.required("command_file"), sub, "command_file"),
                                   sub.get("timeout", positive_duration, 2.0))
    for target in send:
        if (target == "icinga2" and icinga2 is None) or (target == "nagios" and nagios is None):
            keys.fail("host_results.send", f"{target} needs a [host_results.{target}] table")
    return HostResultsConfig(send, icinga2, nagios)


def _icinga2(table: Any, source: Path) -> Icinga2Api:
    sub = TableKeys(table, "host_results.icinga2", source,
                    {"url", "user", "password", "ca", "timeout"})
    url = _text(sub.required("url"), sub, "url")
    if not url.startswith("https://"):
        sub.fail("host_results.icinga2.url", "the Icinga 2 API is https://HOST:5665")
    password = sub.required("password")
    if not isinstance(password, Mapping) or set(password) != {"env"} or not password["env"]:
        sub.fail("host_results.icinga2.password",
                 'a secret is written { env = "VARIABLE" } (never the password itself)')
    ca = sub.table.get("ca")
    return Icinga2Api(url.rstrip("/"), _text(sub.required("user"), sub, "user"),
                      str(password["env"]), None if ca is None else _text(ca, sub, "ca"),
                      sub.get("timeout", positive_duration, 5.0))


def _targets(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or any(v not in TARGETS for v in value):
        raise ValueError(f"expected a list of {' and '.join(TARGETS)}, got {value!r}")
    return tuple(dict.fromkeys(value))


def _text(value: Any, keys: TableKeys, key: str) -> str:
    if not isinstance(value, str) or not value:
        keys.fail(f"{keys.prefix}.{key}", f"expected a non-empty string, got {value!r}")
    return str(value)
