"""The benchmark cases: what runs beside what, how often, and the target each ratio must meet.

Called by `bench/run`. Each function generates its projects under `root` and returns its
case(s); each case names its subject (an `escalator` command, first) and its baselines (plain
behave on the same feature, a plain `requests` loop, the bare interpreter, Debian's check_http
or check_dummy when installed), the number of alternate runs, and a `judge` that turns the
medians into the target's text and whether it is met (None in --quick mode: tiny sizes prove
nothing). The targets are issue 19's.
"""

from __future__ import annotations

import math
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from measure import Command, Samples
from projects import REPO, make_behave_project, make_escalator_project, write_loop

PLUGINS = Path("/usr/lib/nagios/plugins")

Judge = Callable[[list[Samples]], list[tuple[str, bool]]]


@dataclass(frozen=True)
class Sizes:
    """Suite sizes and repetitions; --quick shrinks them so a smoke test takes seconds."""

    quick: bool
    single_runs: int = 10  # the 1-scenario and status cases (the issue asks for >= 10)
    scaling: tuple[int, ...] = (10, 100, 500, 1000, 5000)  # instant scenarios, defaults
    many: int = 200
    many_runs: int = 3
    memory: int = 1000  # the memory run of slow scenarios at --jobs 32
    hang: int = 20
    timeout: str = "5s"
    slow_ms: int = 100

    @classmethod
    def pick(cls, quick: bool, runs: int | None) -> Sizes:
        if quick:
            return cls(True, single_runs=runs or 1, scaling=(3, 6), many=6, many_runs=runs or 1,
                       memory=8, hang=4, timeout="1s")
        return cls(False, single_runs=runs or 10, many_runs=max(1, (runs or 10) // 3))

    def scaling_runs(self, count: int) -> int:
        """Fewer runs of the big suites: plain behave takes ~10 s at 5,000 scenarios."""
        usual = 10 if count <= 10 else 6 if count <= 100 else 4 if count <= 500 else 3
        return min(self.single_runs, usual)

    @property
    def big(self) -> int:
        return self.scaling[-1]


@dataclass(frozen=True)
class Case:
    name: str
    commands: tuple[Command, ...]
    runs: int
    judge: Judge | None = None
    setup: tuple[Command, ...] = ()  # run once, untimed, before the case


# What pip writes for a console script (pip/_vendor/distlib/scripts.py, SCRIPT_TEMPLATE).
_PIP_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {function}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({function}())
"""


def escalator_cmd(bin_dir: Path) -> tuple[str, ...]:
    """The `escalator` console script of this checkout, as pip writes it from pyproject.toml
    (`[project.scripts]`), in `bin_dir`: what a Nagios command line runs.

    Not the script of whatever install is on PATH: an editable install's script names the
    entry point of the day it was installed, and through a pyenv shim every run would also
    pay for a bash start-up (measured here: `--jobs 32` 1.85 s through the shim, 1.60 s
    without). `bench/run` puts this checkout first on PYTHONPATH for every command.
    """
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["escalator"].split(":")
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "escalator"
    script.write_text(_PIP_SCRIPT.format(python=sys.executable, module=module, function=function))
    script.chmod(0o755)
    return (str(script),)


def _behave(base_url: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "behave", "-D", f"base_url={base_url}")


def _ratio_at_most(limit: float, subject: int = 0, base: int = 1, cpu: bool = False) -> Judge:
    """Wall time (and CPU time, with `cpu`) of the subject at most `limit` x the base's."""
    def judge(samples: list[Samples]) -> list[tuple[str, bool]]:
        name = samples[base].command.label
        found = [(f"<= {limit:g} x {name}" + (" (wall)" if cpu else ""),
                  samples[subject].median <= limit * samples[base].median)]
        if cpu:
            found.append((f"<= {limit:g} x (CPU)",
                          samples[subject].cpu_median <= limit * samples[base].cpu_median))
        return found
    return judge


def _project_pair(root: Path, name: str, paths: list[str], base_url: str) -> tuple[Path, Path]:
    return (make_escalator_project(root / f"esc-{name}", paths, base_url),
            make_behave_project(root / f"behave-{name}", paths))


def single(root: Path, base_url: str, port: int, sizes: Sizes, esc_cmd: tuple[str, ...]
           ) -> Case:
    """Cold `escalator check` of one HTTP scenario beside plain behave and check_http."""
    esc, plain = _project_pair(root, "one", ["/page"], base_url)
    commands = [Command("escalator check", (*esc_cmd, "check"), esc),
                Command("python -m behave", _behave(base_url), plain)]
    if (PLUGINS / "check_http").exists():
        commands.append(Command("check_http", (str(PLUGINS / "check_http"), "-H", "127.0.0.1",
                                               "-p", str(port), "-u", "/page", "-s", "Welcome"),
                                root))
    judge = None if sizes.quick else _ratio_at_most(1.0, cpu=True)
    return Case("1 HTTP scenario, cold", tuple(commands), sizes.single_runs, judge)


def status(root: Path, port: int, sizes: Sizes, esc_cmd: tuple[str, ...]) -> Case:
    """`escalator status` answering from the result that the single case stored, beside the
    bare interpreter (the floor of any Python plugin on this machine: its site start-up)."""
    esc = root / "esc-one"
    commands = [Command("escalator status", (*esc_cmd, "status", "--max-age", "1d"), esc),
                Command("python -c pass", (sys.executable, "-c", "pass"), root),
                # another label than the stored answer's: the full command renders it again
                Command("escalator status, full", (*esc_cmd, "status", "--max-age", "1d",
                                                   "--label", "OTHER"), esc)]
    if (PLUGINS / "check_http").exists():
        commands.append(Command("check_http", (str(PLUGINS / "check_http"), "-H", "127.0.0.1",
                                               "-p", str(port), "-u", "/page"), root))
    if (PLUGINS / "check_dummy").exists():
        commands.append(Command("check_dummy 0", (str(PLUGINS / "check_dummy"), "0"), root))
    judge = None if sizes.quick else _ratio_at_most(1.5)
    store = Command("escalator check", (*esc_cmd, "check"), esc)  # in case --only left it out
    return Case("status (stored result)", tuple(commands), sizes.single_runs, judge, (store,))


def parallel(root: Path, base_url: str, sizes: Sizes, esc_cmd: tuple[str, ...]
             ) -> list[Case]:
    """N scenarios against the slow endpoint: --jobs 32 and 64 against their targets, and
    --jobs 1 beside plain behave (one run each: ~21 s)."""
    paths = [f"/page?ms={sizes.slow_ms}"] * sizes.many
    esc, plain = _project_pair(root, "slow", paths, base_url)
    behave = Command("python -m behave", _behave(base_url), plain)
    slow = Command("escalator check --jobs 1", (*esc_cmd, "check", "--jobs", "1"), esc,
                   expect=(0, 2))  # 200 x 100 ms in one job may pass the 50 s deadline
    name = f"{sizes.many} x {sizes.slow_ms} ms"
    cases = []
    for jobs, limit in ((32, 1.1), (64, 1.0)):
        command = Command(f"escalator check --jobs {jobs}",
                          (*esc_cmd, "check", "--jobs", str(jobs)), esc)
        judge = None if sizes.quick else _wall_at_most(limit)
        cases.append(Case(f"{name}, --jobs {jobs}", (command,), sizes.many_runs, judge))
    return [*cases, Case(f"{name}, --jobs 1", (slow, behave), 1, None)]


def ideal(sizes: Sizes, jobs: int, cold: float) -> float:
    """The wall time of the slow suite with free forks: its rounds of `jobs` scenarios, after
    the cold start of a one-scenario check (`cold`, measured in the same run)."""
    return math.ceil(sizes.many / jobs) * sizes.slow_ms / 1000 + cold


def _wall_at_most(limit: float) -> Judge:
    def judge(samples: list[Samples]) -> list[tuple[str, bool]]:
        return [(f"<= {limit:g} s wall", samples[0].median <= limit)]
    return judge


def instant(root: Path, base_url: str, sizes: Sizes, esc_cmd: tuple[str, ...]) -> list[Case]:
    """N scenarios against the instant endpoint, default settings, beside plain behave and a
    plain requests loop, for each N of the scaling table; the largest has issue 19's target."""
    loop = write_loop(root / "loop")
    cases = []
    for count in sizes.scaling:
        paths = ["/page"] * count
        esc, plain = _project_pair(root, f"instant-{count}", paths, base_url)
        commands = (Command("escalator check", (*esc_cmd, "check"), esc),
                    Command("python -m behave", _behave(base_url), plain),
                    Command("requests loop", (sys.executable, str(loop), base_url, *paths),
                            root))
        judge = None if sizes.quick or count != sizes.big else _ratio_at_most(1.1, cpu=True)
        cases.append(Case(f"{count} x instant, defaults", commands, sizes.scaling_runs(count),
                          judge))
    return cases


def per_scenario(times: dict[int, float], count: int) -> float:
    """Seconds per scenario at `count` beyond the smallest suite's: the cost of one more
    scenario, without the start-up every run pays once."""
    first = min(times)
    return (times[count] - times[first]) / (count - first)


def deadline(root: Path, base_url: str, sizes: Sizes, esc_cmd: tuple[str, ...]) -> Case:
    """Half the targets never answer; the run deadline must end the run on time."""
    paths = ["/hang" if n % 2 else "/page" for n in range(sizes.hang)]
    esc = make_escalator_project(root / "esc-hang", paths, base_url)
    command = Command(f"escalator check --timeout {sizes.timeout}",
                      (*esc_cmd, "check", "--timeout", sizes.timeout), esc,
                      expect=(2,))
    limit = 5.5 if not sizes.quick else None

    def judge(samples: list[Samples]) -> list[tuple[str, bool]]:
        return [(f"<= {limit:g} s wall", samples[0].median <= (limit or 0))]

    return Case(f"{sizes.hang} scenarios, half hang", (command,), 2 if not sizes.quick else 1,
                judge if limit else None)


def memory_project(root: Path, base_url: str, sizes: Sizes) -> Path:
    paths = [f"/page?ms={sizes.slow_ms}"] * sizes.memory
    return make_escalator_project(root / "esc-memory", paths, base_url)


def big_project(root: Path, base_url: str, sizes: Sizes) -> Path:
    """The largest instant suite of the scaling cases (made by `instant`, or here when the
    scaling cases were left out with --only)."""
    path = root / f"esc-instant-{sizes.big}"
    if not path.exists():
        make_escalator_project(path, ["/page"] * sizes.big, base_url)
    return path
