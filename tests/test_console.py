"""The console script: `escalator status` answered from the answer stored with the run (the
same text and exit code as the full command, or no answer at all), and the way out of the
process without the interpreter's shutdown."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from escalator import laststatus
from escalator.cli import main
from escalator.commands.common import RunOptions
from escalator.commands.output import store_run
from escalator.config import load_config
from escalator.env import Env
from escalator.results import Measurement, Outcome, RunResult, Severity
from escalator.state import ResultStore
from tests.builders import run_of, scenario
from tests.project import child_environ

RUN = run_of(scenario("Home"),
             scenario("Login", Outcome.FAILED, severity=Severity.WARNING, reason="slow",
                      measurements=(Measurement("response_time", 812.0, "ms", "500"),)),
             started=1.0, duration=1.25, timeout=50.0)


def stored(root: Path, config: str = "[environments.prod]\n", label: str = "ESCALATOR",
           environment: str | None = "prod", config_name: str = "escalator.toml",
           run: RunResult = RUN) -> float:
    """A project whose last `check` stored `run`; returns when it was stored."""
    root.mkdir(parents=True, exist_ok=True)
    (root / config_name).write_text(textwrap.dedent(config))
    options = RunOptions(config=load_config(None, Env(cwd=root)), cwd=root,
                         environment=environment, label=label)
    stored_run = RunResult(**{**run.__dict__, "environment": environment})
    store_run(options, stored_run)
    record = next(options.state_dir.glob("results/*.status"))
    return float(json.loads(record.read_text())["stored_at"])


def full(root: Path, argv: list[str], now: float) -> tuple[str, int]:
    out = io.StringIO()
    code = main(["status", *argv], Env(stdout=out, stderr=io.StringIO(), environ={}, cwd=root,
                                       now=lambda: now))
    return out.getvalue(), code


@pytest.mark.parametrize(("case", "setup", "argv", "cwd"), [
    ("default label", {}, ["--max-age", "5m"], "."),
    ("the label check used", {"label": "WEB"}, ["--max-age=5m", "--label", "WEB"], "."),
    ("a label with a bar", {"label": "W/B"}, ["--label=W|B", "--max-age", "5m"], "."),
    ("an environment asked for", {"config": "[environments.prod]\n[environments.test]\n"},
     ["-e", "prod", "--max-age", "5m"], "."),
    ("the config's default environment",
     {"config": '[run]\nenvironment = "prod"\n[environments.prod]\n[environments.test]\n'},
     ["--max-age", "5m"], "."),
    ("a config-relative state dir, from elsewhere",
     {"config": '[run]\nstate_dir = "var/state"\n[environments.prod]\n'},
     ["--config", "../p/escalator.toml", "--max-age", "5m"], "../elsewhere"),
    ("no config at all", {"config": "", "config_name": "notes.txt", "environment": None},
     ["--max-age", "5m"], "."),
    ("pyproject.toml", {"config": "[tool.escalator.environments.prod]\n",
                        "config_name": "pyproject.toml"}, ["--max-age", "5m"], "."),
])
def test_the_stored_answer_is_what_the_full_command_prints(
        tmp_path: Path, case: str, setup: dict[str, str], argv: list[str], cwd: str) -> None:
    root = tmp_path / "p"
    at = stored(root, **setup)  # type: ignore[arg-type]
    where = (root / cwd).resolve()
    where.mkdir(exist_ok=True)
    answered = laststatus.answer(argv, str(where), now=at + 60)
    text, code = full(where, argv, now=at + 60)
    assert answered == (text, code), case
    assert text.split(" - ")[0] in ("ESCALATOR WARNING", "WEB WARNING", "W/B WARNING")


def changed_config(root: Path) -> None:
    with (root / "escalator.toml").open("a") as handle:
        handle.write("# edited after the run\n")


def replaced_result(root: Path) -> None:
    ResultStore(root / ".escalator").save(RunResult(**{**RUN.__dict__, "environment": "prod"}))


@pytest.mark.parametrize(("case", "argv", "later", "after"), [
    ("too old: the full command words the UNKNOWN", ["--max-age", "30s"], 60, None),
    ("another label", ["--max-age", "5m", "--label", "OTHER"], 0, None),
    ("an environment without a record", ["-e", "test", "--max-age", "5m"], 0, None),
    ("an abbreviated option", ["--max", "5m"], 0, None),
    ("an option status does not have", ["--max-age", "5m", "-v"], 0, None),
    ("a bad duration", ["--max-age", "soon"], 0, None),
    ("no --max-age", [], 0, None),
    ("a repeated option", ["--max-age", "5m", "--max-age", "1m"], 0, None),
    ("the config changed since the run", ["--max-age", "5m"], 0, changed_config),
    ("the result was replaced by a run that left no answer", ["--max-age", "5m"], 0,
     replaced_result),
])
def test_anything_unusual_is_left_to_the_full_command(tmp_path: Path, case: str,
                                                      argv: list[str], later: float,
                                                      after: object) -> None:
    at = stored(tmp_path, "[environments.prod]\n[environments.test]\n"
                          '[run]\nenvironment = "prod"\n')
    if callable(after):
        after(tmp_path)
    assert laststatus.answer(argv, str(tmp_path), now=at + later) is None, case


def run_console(root: Path, argv: list[str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    script = prelude + f"import sys\nsys.argv = ['escalator', *{argv!r}]\n" \
                       "from escalator.console import main\nmain()\n"
    return subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, timeout=60, env=child_environ(), check=False)


SHOW_MODULES = """
import atexit, sys
atexit.register(lambda: print(sorted(m for m in sys.modules if m.startswith(HEAVY))))
HEAVY = ("argparse", "dataclasses", "inspect", "traceback", "escalator.cli",
         "escalator.config", "escalator.formatters", "escalator.state", "escalator.results")
"""


def test_console_status_answers_without_argparse_dataclasses_or_the_formatters(
        tmp_path: Path) -> None:
    stored(tmp_path, run=RUN)
    done = run_console(tmp_path, ["status", "--max-age", "1h"], SHOW_MODULES)
    text, code = full(tmp_path, ["--max-age", "1h"], now=time.time())
    assert (done.stdout, done.returncode) == (text + "[]\n", code)


def test_console_status_falls_back_to_the_full_command(tmp_path: Path) -> None:
    stored(tmp_path, run=RUN)
    done = run_console(tmp_path, ["status", "--max-age", "1h", "--label", "OTHER"],
                       SHOW_MODULES)
    text, code = full(tmp_path, ["--max-age", "1h", "--label", "OTHER"], now=time.time())
    assert done.stdout.startswith(text) and done.returncode == code == 1
    assert "'argparse'" in done.stdout.splitlines()[-1]


FINALIZER = """
import atexit
class Finalized:
    def __del__(self):
        print("finalized")
kept = Finalized()
atexit.register(print, "atexit ran")
"""


def test_the_console_leaves_after_flushing_without_the_interpreter_shutdown(
        tmp_path: Path) -> None:
    done = run_console(tmp_path, ["status", "--max-age", "1m"], FINALIZER)
    assert done.returncode == 3
    # the output and the atexit handlers, but no finalizer: the shutdown was skipped
    assert done.stdout == (f"ESCALATOR UNKNOWN - no stored result for environment 'default' "
                           f"in {tmp_path}/.escalator (run 'escalator check' or 'escalator "
                           f"run' first)\natexit ran\n")


def test_the_console_waits_for_a_running_thread_as_the_interpreter_would(tmp_path: Path
                                                                        ) -> None:
    prelude = ("import threading, time\n"
               "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n")
    done = run_console(tmp_path, ["status", "--max-age", "1m"], prelude)
    assert done.returncode == 3
    assert done.stdout.endswith("first)\nthread done\n")


def test_python_m_escalator_is_the_console_script(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "escalator", "status", "--max-age", "1m"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=child_environ(), check=False)
    assert (done.returncode, done.stdout.split(" - ")[0]) == (3, "ESCALATOR UNKNOWN")
