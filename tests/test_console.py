"""The console script: `escalator status` answered from the answer stored with the run (the
same text and exit code as the full command, or no answer at all), and the way out of the
process without the interpreter's shutdown."""

from __future__ import annotations

import io
import json
import os
import signal
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
from escalator.commands.status import stored_answer
from escalator.config import load_config
from escalator.env import Env
from escalator.ladder import heartbeat
from escalator.ladder.model import LadderState, Latch
from escalator.ladder.store import LadderStore, ladder_dir
from escalator.results import Measurement, Outcome, RunResult, Severity
from escalator.state import ResultStore
from tests.builders import run_of, scenario
from tests.project import child_environ, run_cli
from tests.test_ladder_process import project as ladder_project

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


# -- with a [ladder]: the answer also depends on the ladder's state and on its watcher ---------

LADDER_ARGV = ["-e", "test", "--max-age", "5m"]
LATCH = Latch("verify failed after 1 plan(s): 3 passed, 1 failed, 0 unknown of 4",
              time.time() - 120, "r9")


def ladder_store(root: Path) -> LadderStore:
    return LadderStore(ladder_dir(root / ".escalator", "test"), "test",
                       state_dir=root / ".escalator")


def answers(root: Path) -> tuple[tuple[str, int] | None, tuple[str, int], tuple[str, int]]:
    """`status -e test --max-age 5m` three ways: the stored answer (None: the record does not
    answer), the full command, and what the console script prints (it may use either)."""
    now = time.time()
    fast = laststatus.answer(LADDER_ARGV, str(root), now=now)
    whole = full(root, LADDER_ARGV, now=now)
    done = run_console(root, ["status", *LADDER_ARGV])
    assert "Traceback" not in done.stderr, done.stderr
    return fast, whole, (done.stdout, done.returncode)


def test_with_a_ladder_nobody_engaged_the_stored_answer_is_the_full_one(tmp_path: Path
                                                                        ) -> None:
    root = ladder_project(tmp_path)
    assert run_cli(["check", "-e", "test"], root).code == 0
    fast, whole, printed = answers(root)
    assert fast == whole == printed and whole[1] == 0


@pytest.mark.parametrize("when", ["before the run", "after the run"])
def test_a_latched_ladder_is_in_the_answer(tmp_path: Path, when: str) -> None:
    root = ladder_project(tmp_path)
    if when == "before the run":
        ladder_store(root).save(LadderState("test", latch=LATCH))
    assert run_cli(["check", "-e", "test"], root).code == 0
    if when == "after the run":
        ladder_store(root).save(LadderState("test", latch=LATCH))
    fast, whole, printed = answers(root)
    assert fast is None  # the record cannot know of the latch: the full command answers
    assert printed == whole and whole[1] == 0
    assert whole[0].splitlines()[-1].startswith("notice: ladder latched since ")


def test_a_stopped_watcher_makes_the_answer_unknown(tmp_path: Path) -> None:
    root = ladder_project(tmp_path)
    assert run_cli(["watch", "-e", "test", "--interval", "100ms", "--ticks", "1"], root).code == 0
    fast, whole, printed = answers(root)
    assert fast is None and printed == whole
    assert whole[1] == 3 and " stopped at " in whole[0]


def test_a_live_watcher_answers_ok_and_a_killed_one_unknown(tmp_path: Path) -> None:
    root = ladder_project(tmp_path)
    watcher = subprocess.Popen([sys.executable, "-m", "escalator", "watch", "-e", "test",
                                "--interval", "200ms"], cwd=root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=child_environ())
    try:
        deadline = time.monotonic() + 60
        while (beat := heartbeat.read(ladder_store(root))) is None or beat.last_cycle is None:
            assert time.monotonic() < deadline, "no cycle in time"
            time.sleep(0.05)
        os.kill(watcher.pid, signal.SIGSTOP)  # alive, but storing and beating no more
        fast, whole, printed = answers(root)
        assert fast is None and printed == whole and whole[1] == 0
    finally:
        watcher.kill()
        watcher.wait(30)
    fast, whole, printed = answers(root)
    assert fast is None and printed == whole
    assert whole[1] == 3 and " is gone since its last sign of life " in whole[0]


# -- the age: the rule of escalator.clocks, in both ----------------------------------------------

def test_an_age_only_the_monotonic_clock_tells_is_the_full_commands_age(tmp_path: Path
                                                                         ) -> None:
    """Stored ten minutes ago by the monotonic clock, a moment ago by the wall clock (it was
    ahead then, and was set back since): too old for --max-age 5m, in both."""
    wall, mono = 0.0, -600.0
    stored(tmp_path)
    options = RunOptions(config=load_config(None, Env(cwd=tmp_path)), cwd=tmp_path,
                         environment="prod")
    store = ResultStore(options.state_dir, now=lambda: time.time() + wall,
                        monotonic=lambda: time.monotonic() + mono)
    run = RunResult(**{**RUN.__dict__, "environment": "prod"})
    store.save(run, stored_answer(options, run))
    argv = ["--max-age", "5m"]
    assert laststatus.answer(argv, str(tmp_path)) is None
    text, code = full(tmp_path, argv, now=time.time())
    assert code == 3 and text.startswith("ESCALATOR UNKNOWN - last result is 10m old"), text
