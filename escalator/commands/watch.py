"""`escalator watch`: run the suite every interval and engage the ladder when needed.

The long-running form of `escalate` for systemd (docs/ladder.md has a unit). It holds the
environment's lock for its whole life, so a second `watch` or `escalate` refuses at once (exit 3).
SIGTERM stops it cleanly: a level that is running is killed with its process group, and the
intent record left behind makes the next start treat that level as interrupted.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from escalator.commands.escalate import could_not_run
from escalator.env import Env


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "watch", help="run the checks every interval and engage the ladder (for systemd)",
        description="Loop: run the suite every --interval and run a ladder engagement when "
                    "checks fail. Runs until stopped; exit 3 when it cannot start.")
    from escalator.commands.common import add_run_arguments

    add_run_arguments(parser, formats=False)
    parser.add_argument("--interval", default="60s", metavar="DURATION",
                        help="time between the starts of two runs (default 60s)")
    parser.add_argument("--ticks", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=main, on_error=could_not_run)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.commands.common import duration_option
    from escalator.commands.ladder_session import open_session
    from escalator.ladder import render
    from escalator.storage import LockHeld

    interval = duration_option(args.interval, "--interval")
    setup = open_session(args, env)
    _stop_on_sigterm()
    try:
        with setup.store.lock("watch"):
            engine = setup.engine()
            engine.recover()
            tick = 0
            while args.ticks is None or tick < args.ticks:
                tick += 1
                begun = env.monotonic()
                result = engine.engage()
                env.stdout.write(render.engagement_text(setup.environment, result))
                env.stdout.flush()
                if args.ticks is None or tick < args.ticks:
                    env.sleep(max(0.0, interval - (env.monotonic() - begun)))
    except LockHeld as exc:
        return could_not_run(f"{setup.environment}: another engine is running: {exc}", env)
    except _Stopped:
        env.stderr.write("escalator watch: stopped\n")
    return 0


class _Stopped(BaseException):
    """SIGTERM: unwinds through the running action, which kills its process group."""


def _stop_on_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # in-process tests on a worker thread keep the default

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Stopped()

    signal.signal(signal.SIGTERM, handler)
