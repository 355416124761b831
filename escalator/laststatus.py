"""The last run's Nagios answer, rendered when the run is stored, and `escalator status`
answering from it without loading the machinery that rendered it.

Beside the latest result (`results/<environment>.json`), the store keeps
`results/<environment>.status`: what `escalator status` prints for that run (the nagios format,
rendered once, by `commands.output.store_run`), its exit code, when it was stored, the label it
was rendered with, and the identities of the result file and of the config text the run
validated. The console script (escalator.console) asks `answer()` before anything else is
imported: when the record exists, still describes the result file and the config as they are
now, was rendered with the label asked for and is no older than --max-age, the answer is its
text. Everything else (no record, a result too old, another label, a changed config, an option
it does not know, any error) is None, and `escalator.commands.status` answers in full. The
record is a cache of that command's answer for the common case, not a second way to reach one:
the only rule decided here is freshness, and it is the function that command uses too.

Reading it imports json, the duration parser and escalator.project; tomllib only when there is
a config file. Not argparse, dataclasses, pathlib, the config classes or the formatters.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

from escalator import project
from escalator.durations import positive_duration

TYPE_CHECKING = False  # typing itself is not imported at run time: it costs a status milliseconds
if TYPE_CHECKING:
    from typing import Any

VERSION = 1
SUFFIX = ".status"

_OPTIONS = {"-c": "config", "--config": "config", "-e": "environment", "--env": "environment",
            "--max-age": "max_age", "--label": "label"}


def fresh(stored_at: float, now: float, max_age: float) -> bool:
    """Whether a result stored at `stored_at` may still be reported at `now`; a clock that
    stepped back makes it younger, never negative."""
    return max(0.0, now - stored_at) <= max_age


def file_identity(path: str) -> list[int]:
    """Which file is at `path` now: an atomic replace gives it a new inode."""
    found = os.stat(path)
    return [found.st_ino, found.st_size, found.st_mtime_ns]


class Rendered:
    """What `escalator status` prints for a run, rendered when the run is stored: the text, the
    label it was rendered with, whether that is the default label, and the fingerprint of the
    config the run validated (None: it ran without a config file)."""

    __slots__ = ("config", "default_label", "label", "text")

    def __init__(self, text: str, label: str, default_label: bool, config: str | None) -> None:
        self.text, self.label, self.default_label, self.config = text, label, default_label, config

    def encode(self, code: int, stored_at: float, result: list[int]) -> str:
        """The record's file content (one JSON line) for a run stored at `stored_at` with exit
        code `code` in the result file whose identity is `result`."""
        return json.dumps({"v": VERSION, "text": self.text, "code": code, "stored_at": stored_at,
                           "label": self.label, "default_label": self.default_label,
                           "result": result, "config": self.config}) + "\n"


def answer(argv: Sequence[str], cwd: str, now: float | None = None) -> tuple[str, int] | None:
    """`escalator status ARGV` in `cwd` answered from the stored record: (text, exit code), or
    None when the full command must answer."""
    try:
        return _answer(argv, cwd, time.time() if now is None else now)
    except Exception:  # any surprise: the full command answers, with its own error wording
        return None


def _answer(argv: Sequence[str], cwd: str, now: float) -> tuple[str, int] | None:
    given = _options(argv)
    if given is None or given.get("max_age") is None:
        return None
    max_age = positive_duration(given["max_age"])
    config_path = project.config_file(cwd, given.get("config"))
    config_text, table = None, {}  # type: tuple[str | None, dict[str, Any]]
    if config_path is not None:
        config_text, table = _config(config_path)
    run = table.get("run", {})
    environment = project.environment_name(table.get("environments", {}),
                                           run.get("environment"), given.get("environment"))
    base_dir = os.path.dirname(config_path) if config_path is not None else cwd
    state = project.state_dir(base_dir, run.get("state_dir", project.DEFAULT_STATE_DIR))
    with open(project.result_file(state, environment, SUFFIX)) as handle:
        record = json.loads(handle.read())
    label = given.get("label")
    if (record.get("v") != VERSION
            or record["config"] != (None if config_text is None
                                     else project.fingerprint(config_text))
            or record["result"] != file_identity(project.result_file(state, environment, ".json"))
            or not (record["default_label"] if not label else
                    record["label"] == label.replace("|", "/"))
            or not fresh(record["stored_at"], now, max_age)):
        return None
    return str(record["text"]), int(record["code"])


def _options(argv: Sequence[str]) -> dict[str, str] | None:
    """The options of `status` as argparse would read them, for the forms people write;
    None for anything else (a flag it does not know, an abbreviation, a repeat)."""
    found: dict[str, str] = {}
    words = list(argv)
    while words:
        word = words.pop(0)
        name, sep, value = word.partition("=") if word.startswith("--") else (word, "", "")
        key = _OPTIONS.get(name)
        if key is None or key in found:
            return None
        if not sep:
            if not words or words[0].startswith("-"):
                return None
            value = words.pop(0)
        found[key] = value
    return found


def _config(path: str) -> tuple[str, dict[str, Any]]:
    import tomllib

    with open(path) as handle:
        text = handle.read()
    data = tomllib.loads(text)
    if os.path.basename(path) == "pyproject.toml":
        data = data.get("tool", {}).get("escalator", {})
    return text, data
