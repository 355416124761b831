"""The last run's Nagios answer, rendered when the run is stored, and `escalator status`
answering from it without loading the machinery that rendered it.

Beside the latest result (`results/<environment>.json`), the store keeps
`results/<environment>.status`: what `escalator status` prints for that run (the nagios format,
rendered once, by `commands.status.stored_answer` when `commands.output.store_run` stores the
run), its exit code, when it was stored (wall clock, monotonic clock and boot, as the result
itself), the label it was rendered with, the identity of the result file, the fingerprint of
the config text the run validated, and the files whose appearance would change the answer (a
ladder's state and its watcher's heartbeat). The console script (escalator.console) asks
`answer()` before anything else is imported: when the record exists, still describes the
result file and the config as they are now, those files are still absent, it was rendered with
the label asked for and is no older than --max-age, the answer is its text. Everything else (no
record, a result too old or from the future, another label, a changed config, an option it does
not know, any error) is None, and `escalator.commands.status` answers in full. The record is a
cache of that command's answer for the common case, not a second way to reach one: the only rule
decided here is freshness, and it is the function that command uses too (escalator.clocks).

Both files are read as every file of the state directory is (escalator.safe_open: the directory
and its ancestors checked, no link followed, no FIFO opened, only regular files of ours); a
directory or file that breaks a rule is no answer here, and the full command refuses it with
its reason. Reading imports json, the duration parser, escalator.clocks, escalator.project and
escalator.safe_open; tomllib only when there is a config file. Not argparse, dataclasses, the
config classes or the formatters.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from escalator import project
from escalator.clocks import boot_id, stored_age
from escalator.durations import positive_duration
from escalator.safe_open import Opener

TYPE_CHECKING = False  # typing itself is not imported at run time: it costs a status milliseconds
if TYPE_CHECKING:
    from typing import Any

VERSION = 2
SUFFIX = ".status"
_DIR_MODE, _FILE_MODE = 0o700, 0o600  # escalator.storage's, for directories it creates (none)

_OPTIONS = {"-c": "config", "--config": "config", "-e": "environment", "--env": "environment",
            "--max-age": "max_age", "--label": "label"}


def fresh(age: float, max_age: float) -> bool:
    """Whether a result of this age (`escalator.clocks.stored_age`; inf: unknown) may still be
    reported: within --max-age."""
    return age <= max_age


class Rendered:
    """What `escalator status` prints for a run, rendered when the run is stored: the text, the
    label it was rendered with, whether that is the default label, the fingerprint of the
    config the run validated (None: it ran without a config file), and the files (relative to
    the state directory) whose appearance would change the answer."""

    __slots__ = ("absent", "config", "default_label", "label", "text")

    def __init__(self, text: str, label: str, default_label: bool, config: str | None,
                 absent: tuple[str, ...] = ()) -> None:
        self.text, self.label, self.default_label, self.config = text, label, default_label, config
        self.absent = absent

    def encode(self, code: int, stored_at: float, mono: float, boot: str, result: list[int]
               ) -> str:
        """The record's file content (one JSON line) for a run stored at `stored_at` (and at
        `mono` in the boot `boot`) with exit code `code` in the result file whose identity
        (`escalator.safe_open.identity`) is `result`."""
        return json.dumps({"v": VERSION, "text": self.text, "code": code, "stored_at": stored_at,
                           "mono": mono, "boot": boot, "label": self.label,
                           "default_label": self.default_label, "result": result,
                           "config": self.config, "absent": list(self.absent)}) + "\n"


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
    state = Path(project.state_dir(base_dir, run.get("state_dir", project.DEFAULT_STATE_DIR)))
    tree = Opener(state, "state directory", _DIR_MODE, _FILE_MODE)
    found = tree.read(Path(project.result_file(str(state), environment, SUFFIX)))
    if found is None:
        return None
    record = json.loads(found[0])
    label = given.get("label")
    if (record.get("v") != VERSION
            or record["config"] != (None if config_text is None
                                     else project.fingerprint(config_text))
            or not (record["default_label"] if not label else
                    record["label"] == label.replace("|", "/"))
            or not fresh(stored_age(record["stored_at"], record["mono"], record["boot"], now,
                                    time.monotonic(), boot_id()), max_age)
            or tree.identity(Path(project.result_file(str(state), environment, ".json")))
            != record["result"]
            or any(tree.identity(_below(state, name)) is not None for name in record["absent"])):
        return None
    return str(record["text"]), int(record["code"])


def _below(state: Path, name: str) -> Path:
    """`name` (a path relative to the state directory, from the record) below it; ValueError
    for a name that could leave it."""
    parts = name.split("/")
    if not name or name.startswith("/") or ".." in parts:
        raise ValueError(f"{name!r} is not a path below the state directory")
    return state.joinpath(*parts)


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
