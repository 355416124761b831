"""Start-up discipline: what `escalator --version`, `status` and `check` import, and how long.

Called by `bench/run`. Two measurements per command:
- `python -X importtime` of the CLI process: the sum of every module's own import time.
- which heavy libraries each process ends up holding. The CLI process reports its modules at
  exit (atexit); the coordinator is a forked child that leaves with `os._exit`, so `os._exit`
  is wrapped to report the modules of a process whose parent is the CLI. The wrapper is
  `python bench/imports.py REPORT_FILE ARGS...` and runs the console script's entry
  (`escalator.console.main`) with ARGS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

HEAVY = ("behave", "requests", "urllib3", "paramiko", "cryptography", "dns", "lxml", "jinja2",
         "jsonpath_ng", "tabulate", "escalator.runner", "escalator.formatters",
         "escalator.ladder", "escalator.reports", "escalator.probes")

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def heavy(modules: Sequence[str]) -> list[str]:
    """The heavy packages (top names from HEAVY) present in a module list."""
    found = {h for h in HEAVY for m in modules if m == h or m.startswith(h + ".")}
    return sorted(found)


def import_seconds(stderr: str) -> tuple[float, list[tuple[str, float]]]:
    """Total own import time, and the five slowest top-level imports with their cumulative."""
    total, top = 0, []
    for match in _LINE.finditer(stderr):
        own, cumulative, indent, name = match.groups()
        total += int(own)
        if len(indent) == 1:  # a top-level import (one space after the bar)
            top.append((name, int(cumulative) / 1e6))
    top.sort(key=lambda item: -item[1])
    return total / 1e6, top[:5]


def profile(args: Sequence[str], cwd: Path) -> dict[str, object]:
    """Import time and heavy modules per process of `escalator ARGS` run in `cwd`."""
    report = cwd / ".bench-imports.json"
    report.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-X", "importtime", __file__, str(report), *args],
                          cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    seconds, top = import_seconds(done.stderr)
    held = json.loads(report.read_text()) if report.exists() else {}
    return {"seconds": seconds, "top": top, "cli": heavy(held.get("cli", [])),
            "coordinator": heavy(held.get("coordinator", [])), "code": done.returncode}


def _wrapped_main(report: str, args: list[str]) -> int:
    import atexit

    cli_pid = os.getpid()
    seen: dict[str, list[str]] = {}
    real_exit = os._exit

    def save() -> None:
        with open(report, "w") as handle:
            json.dump(seen, handle)

    def exit_hook(status: int) -> NoReturn:
        if os.getppid() == cli_pid:  # the coordinator (workers are its children)
            seen["coordinator"] = sorted(sys.modules)
            save()
        real_exit(status)

    def at_exit() -> None:
        seen["cli"] = sorted(sys.modules)
        previous = json.loads(Path(report).read_text()) if os.path.exists(report) else {}
        seen.update({k: v for k, v in previous.items() if k != "cli"})
        save()

    os._exit = exit_hook
    atexit.register(at_exit)
    sys.argv = ["escalator", *args]
    from escalator.console import main  # the console script's entry: it leaves by os._exit

    main()
    return 0


if __name__ == "__main__":
    sys.exit(_wrapped_main(sys.argv[1], sys.argv[2:]))
