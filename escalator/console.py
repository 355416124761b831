"""The `escalator` console script and `python -m escalator`: the way into the process and out.

In: `escalator status` is answered first from the answer stored with the last run
(escalator.laststatus), before argparse, the config classes or the formatters are imported;
whatever that does not answer, and every other command, goes to `escalator.cli.main`. So does
a stored answer that cannot be written at all (stdout closed or full): the CLI then says so in
its words, as for every command, and keeps the exit code.

Out: once the output is written and flushed (the state was written and fsynced before it),
the process leaves with `os._exit`, after the `atexit` handlers: the interpreter's own shutdown
(freeing every module and object, 12-20 ms here) buys a plugin that runs every minute nothing.
A thread still running, or output that cannot be flushed, gets the ordinary exit instead. Only
this entry point leaves early: `escalator.cli.main(argv, env)`, which the tests and the demo call
in-process, returns.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    code = None
    if argv[:1] == ["status"] and sys.stdout is not None:
        from escalator.laststatus import answer

        found = answer(argv[1:], os.getcwd())
        if found is not None:
            code = _write(*found)
    if code is None:
        from escalator.cli import main as cli_main

        code = cli_main(argv)
    leave(code)


def _write(text: str, code: int) -> int | None:
    """Write the stored answer to stdout; `code`, or None when not a byte of it could be
    written (the CLI answers instead)."""
    data = text.encode()
    written = 0
    while written < len(data):
        try:
            written += os.write(1, data[written:])
        except OSError as exc:
            if not written:
                return None
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.write(f"escalator: cannot write the output: {exc.strerror or exc}\n")
            break
    return code


def leave(code: int) -> None:
    """End the process with `code` without the interpreter's shutdown, when that is safe."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)  # the interpreter waits for non-daemon threads: keep that
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        sys.exit(code)  # the interpreter reports a failed flush as it always has
    os._exit(code)
