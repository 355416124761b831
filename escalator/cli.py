"""The command line: parse arguments, pick the command, turn any escape into a clean exit.

Each command lives in `escalator.commands.<name>` with `register(subparsers)` and
`main(args, env) -> int`. Command modules are light at import; they load the runner, behave and
protocol libraries inside `main`, so `escalator --version` and `escalator status` stay fast.
A stdout that is closed or full (the reader gone, a full disk under `> file`) costs the output,
never the exit code: Nagios reads the verdict from the exit status too.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TextIO, cast

from escalator import __version__
from escalator.env import Env
from escalator.errors import EscalatorError
from escalator.exit_codes import ExitCode
from escalator.options import DEFAULT_LABEL
from escalator.text import one_line

COMMANDS = ("run", "check", "status", "report", "steps", "escalate", "watch", "converge",
            "ladder", "init", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `check` can still answer UNKNOWN."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgumentError(f"{self.prog}: {message}")


class _ArgumentError(Exception):
    pass


def _modules(names: Sequence[str]) -> list[ModuleType]:
    return [importlib.import_module(f"escalator.commands.{name}") for name in names]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given `argv` naming a command, only that command's module is imported (a
    Nagios check runs every minute: it should not pay for importing every other command)."""
    parser = _Parser(prog="escalator", description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"escalator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    first = next((arg for arg in argv or () if not arg.startswith("-")), None)
    for module in _modules((first,) if first in COMMANDS else COMMANDS):
        module.register(sub)
    return parser


class _Output:
    """A stream that never raises: the first failure is kept (`failed`), later writes dropped."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.failed: str | None = None if stream is not None else "stdout is closed"

    def write(self, text: str) -> int:
        self._try(lambda stream: stream.write(text))
        return len(text)

    def flush(self) -> None:
        self._try(lambda stream: stream.flush())

    def isatty(self) -> bool:
        return self.stream is not None and self.failed is None and self.stream.isatty()

    def _try(self, action: Callable[[TextIO], object]) -> None:
        if self.stream is None or self.failed is not None:
            return
        try:
            action(self.stream)
        except (OSError, ValueError) as exc:  # ValueError: I/O operation on closed file
            self.failed = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                           else str(exc) or type(exc).__name__)


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    _fill_closed_stdio()
    env = env or Env()
    output = _Output(env.stdout)
    env = dataclasses.replace(env, stdout=cast(TextIO, output))
    code = _main(argv, env)
    output.flush()
    if output.failed is not None:
        _say(env, f"escalator: cannot write the output: {output.failed}\n")
        if output.stream is sys.__stdout__:
            _silence_stdout()  # or the interpreter's last flush fails again, with exit 120
    return code


def _main(argv: Sequence[str] | None, env: Env) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except _ArgumentError as exc:
        return _usage_failure(argv, str(exc), env)
    if not getattr(args, "command", None):
        env.stderr.write(build_parser().format_usage())
        return ExitCode.NOT_RUN
    try:
        return int(args.handler(args, env))
    except EscalatorError as exc:
        return _failure(args, str(exc), env)
    except Exception as exc:
        if getattr(args, "verbose", False):
            env.stderr.write(traceback.format_exc())
        return _failure(args, f"internal error: {type(exc).__name__}: {exc}", env)


def _say(env: Env, text: str) -> None:
    """Write to stderr if it is there at all."""
    try:
        env.stderr.write(text)
        env.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _fill_closed_stdio() -> None:
    """Put /dev/null where fd 0, 1 or 2 is closed (`check >&-`): else the next file or pipe we
    open takes that number, and whatever writes to "stdout" writes into it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:  # a lower one was closed too and is filled now; fill this one
                os.dup2(opened, fd)
                os.close(opened)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())  # type: ignore[union-attr]
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _failure(args: argparse.Namespace, message: str, env: Env) -> int:
    on_error = getattr(args, "on_error", None)
    if on_error is not None:
        return int(on_error(message, env, getattr(args, "label", None) or DEFAULT_LABEL))
    env.stderr.write(f"escalator: {one_line(message)}\n")
    return ExitCode.NOT_RUN


def _usage_failure(argv: list[str], message: str, env: Env) -> int:
    # A Nagios plugin must answer with a status line even when called wrongly.
    if argv[:1] in (["check"], ["status"]):
        from escalator.formatters import unknown_line

        env.stdout.write(unknown_line(DEFAULT_LABEL, message))
        return ExitCode.UNKNOWN
    env.stderr.write(f"{message}\n")
    return ExitCode.NOT_RUN
