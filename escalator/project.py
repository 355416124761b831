"""Where a project's pieces are: its config file, its state directory, the environment a command
runs in, an environment's result files. Plain strings and os.path, nothing else imported.

The one implementation of these rules: `escalator.config` and `escalator.commands.common` build
on it, and so does `escalator.laststatus`, which answers `escalator status` from a stored record
before pathlib, dataclasses or the config classes are imported.

>>> config_file("/srv/mon", "../etc/escalator.toml")
'/srv/mon/../etc/escalator.toml'
>>> state_dir("/srv/mon", ".escalator"), state_dir("/srv/mon", "/var/lib/escalator")
('/srv/mon/.escalator', '/var/lib/escalator')
>>> environment_name(["prod"], None, None), environment_name(["prod", "test"], "test", None)
('prod', 'test')
>>> environment_name(["prod", "test"], None, None)
Traceback (most recent call last):
...
ValueError: several environments and none chosen
>>> state_file_name("../../evil"), result_file("/s", None, ".json")
('%2E.%2F..%2Fevil', '/s/results/default.json')
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Collection
from urllib.parse import quote

CONFIG_NAME = "escalator.toml"
DEFAULT_STATE_DIR = ".escalator"
DEFAULT_ENVIRONMENT = "default"


def config_file(cwd: str, given: str | None) -> str | None:
    """The config file: `given` (relative to `cwd`), else escalator.toml in `cwd`, else a
    pyproject.toml there with a [tool.escalator] table; None when there is none."""
    if given is not None:
        return os.path.join(cwd, given)
    candidate = os.path.join(cwd, CONFIG_NAME)
    if os.path.isfile(candidate):
        return candidate
    pyproject = os.path.join(cwd, "pyproject.toml")
    if os.path.isfile(pyproject):
        with open(pyproject, errors="replace") as handle:
            if "[tool.escalator" in handle.read():
                return pyproject
    return None


def fingerprint(text: str) -> str:
    """The identity of a config file's text: what `escalator status` compares to answer from
    the record of a run only while the config is the one that run validated."""
    raw = text.encode()
    return f"{len(raw)}:{zlib.crc32(raw):08x}"


def state_dir(base_dir: str, value: str) -> str:
    """`run.state_dir` relative to the config file's directory (else the working directory),
    so a command run from cron or Nagios finds the same state wherever it starts."""
    return os.path.join(base_dir, value)


def environment_name(names: Collection[str], default: str | None, requested: str | None
                     ) -> str | None:
    """The environment a command runs in: the one asked for, else the config's default, else
    the only one there is (None without any). LookupError naming an unknown one, ValueError
    when there are several and none was chosen."""
    name = requested or default
    if name is None:
        if len(names) > 1:
            raise ValueError("several environments and none chosen")
        return next(iter(names), None)
    if name not in names:
        raise LookupError(name)
    return name


def result_file(state: str, environment: str | None, suffix: str) -> str:
    """The file of an environment's latest result in the state directory: `.json` the run,
    `.status` what `escalator status` prints for it."""
    return os.path.join(state, "results", state_file_name(environment) + suffix)


def state_file_name(environment: str | None) -> str:
    """An environment's name as the stem of its files in the state directory."""
    # Environment names come from config keys: quote anything that could leave the directory.
    name = quote(environment or DEFAULT_ENVIRONMENT, safe="-_")
    return name if not name.startswith(".") else "%2E" + name[1:]
