"""Throwaway monitoring projects for tests, and the CLI run in-process against them.

`make_project(tmp_path, {"web.feature": text}, variables={...})` writes `escalator.toml`,
`features/` and a copy of the repository's thin `steps/` module, and returns the project root.
`run_cli(["run", "-f", "json"], cwd=root)` runs `escalator.cli.main` in this process with captured
streams and returns an `Outcome` to compare whole outputs against.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escalator.cli import main
from escalator.env import Env

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def line1(self) -> str:
        return self.stdout.split("\n", 1)[0]


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    return json.dumps(str(value))


def ladder_level(level_id: str, **keys: object) -> dict[str, object]:
    """One `[[ladder.level]]` whose action is the project's ops/<id>.sh, unless `run` says."""
    return {"id": level_id, "run": [f"ops/{level_id}.sh"], **keys}


def ladder_toml(*levels: dict[str, object], maintenance: tuple[dict[str, object], ...] = (),
                **settings: object) -> str:
    """The `[ladder]` of escalator.toml, the one ladder fixture of the tests: `settings`, then
    one `[[ladder.level]]` per level and one `[[ladder.maintenance]]` per window."""
    lines = ["", "[ladder]", *(f"{key} = {toml_value(v)}" for key, v in settings.items())]
    for table, rows in (("level", levels), ("maintenance", maintenance)):
        for row in rows:
            lines += ["", f"[[ladder.{table}]]"]
            lines += [f"{key} = {toml_value(v)}" for key, v in row.items()]
    return "\n".join(lines) + "\n"


def make_project(root: Path, features: dict[str, str], variables: dict[str, Any] | None = None,
                 config: str = "", steps: dict[str, str] | None = None,
                 environment: str = "test") -> Path:
    """A project under `root`: features (dedented), the repo's steps/, an environment."""
    (root / "features").mkdir(parents=True, exist_ok=True)
    for name, text in features.items():
        path = root / "features" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    steps_dir = root / "steps"
    if not steps_dir.exists():
        shutil.copytree(REPO / "steps", steps_dir,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name, text in (steps or {}).items():
        (steps_dir / name).write_text(textwrap.dedent(text).lstrip("\n"))
    lines = [f"[environments.{environment}]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in (variables or {}).items()]
    (root / "escalator.toml").write_text("\n".join(lines) + "\n\n" + textwrap.dedent(config))
    return root


def child_environ(**extra: str) -> dict[str, str]:
    """This process's environment for a child `escalator` process, without pytest-cov's
    variables: under `tox -e py` they would make the child trace itself, and a test that
    measures the child's memory would measure the coverage tracer instead."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    return {**kept, "PYTHONPATH": str(REPO), **extra}


# Runs its arguments as a child and reports the child's peak RSS (its waited-for descendants
# included). The measuring parent must be small: Linux charges a child, at fork and at exec, the
# peak RSS of the process it was forked from, so pytest itself (hundreds of MB late in a run)
# cannot measure a child's memory with wait4.
_MEASURE = """import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
sys.stdout.buffer.write(done.stdout)
sys.stderr.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
"""


def run_escalator_measured(argv: list[str], cwd: Path, **environ: str) -> tuple[bytes, int]:
    """`python -m escalator ARGV` as a child process: its stdout, and its peak RSS in bytes."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "escalator",
                           *argv], cwd=cwd, capture_output=True, env=child_environ(**environ),
                          check=False)
    return done.stdout, int(done.stderr.decode().strip().splitlines()[-1])


def run_escalator(argv: list[str], cwd: Path, timeout: float = 60
                  ) -> subprocess.CompletedProcess[str]:
    """`python -m escalator ARGV` as a child process, in `cwd`, output captured: a run that
    would hang fails the test at `timeout` instead of hanging it."""
    return subprocess.run([sys.executable, "-m", "escalator", *argv], cwd=cwd, text=True,
                          capture_output=True, env=child_environ(), timeout=timeout,
                          check=False)


def run_cli(argv: list[str], cwd: Path, environ: dict[str, str] | None = None) -> Outcome:
    """`escalator ARGV` in this process, in `cwd`, with captured streams."""
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdout=out, stderr=err, environ=dict(environ or {}), cwd=cwd)
    code = main(argv, env)
    return Outcome(code, out.getvalue(), err.getvalue())
