"""Where the time of one `escalator` run goes: a timeline of its phases across its processes.

Evidence for bench/README.md, run by hand: `python bench/phases.py check` in a project. It wraps
the runner's functions (CLI process, coordinator, workers) so each logs the monotonic clock,
which all processes of one machine share, on entry and exit; it prints the timeline relative to
the moment this wrapper started (the interpreter's own start-up comes before and is not shown:
`python -X importtime` measures it). The wrapping costs microseconds and imports
`escalator.runner.suite` and `.worker` in the CLI process, which the real CLI does not.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_START = time.monotonic()
_LOG = os.open(f"/tmp/escalator-phases-{os.getpid()}.log",
               os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_TRUNC, 0o600)


def mark(text: str) -> None:
    line = f"{time.monotonic() - _START:9.4f} {os.getpid():>7} {text}\n"
    os.write(_LOG, line.encode())  # one write per line: O_APPEND keeps lines whole


def wrap(module: Any, name: str, label: str | None = None) -> None:
    original: Callable[..., Any] = getattr(module, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        mark(f"> {label or name}")
        try:
            return original(*args, **kwargs)
        finally:
            mark(f"< {label or name}")

    setattr(module, name, timed)


def main(args: list[str]) -> int:
    mark("wrapper started")
    import escalator.cli as cli

    mark("escalator.cli imported")
    from escalator.commands import check
    from escalator.runner import suite, worker

    for name in ("load_run_options", "store_run", "write_outputs"):
        wrap(check, name)
    for name in ("_setup", "_parse", "_select", "_find_probes"):
        wrap(suite, name, f"coordinator {name.strip('_')}")
    wrap(suite, "load_suite", "coordinator load_suite")
    wrap(worker, "run_unit", "worker run_unit")
    import escalator.runner as runner

    wrap(runner, "run_suite")
    wrap(cli, "build_parser")
    mark("wrapped (the wrapper's own imports end here)")
    code = cli.main(args)
    mark("cli.main returned")
    return code


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    with open(f"/tmp/escalator-phases-{os.getpid()}.log") as log:
        sys.stderr.write(log.read())
    os.unlink(f"/tmp/escalator-phases-{os.getpid()}.log")
    sys.exit(code)
