"""`escalator watch`: run the suite every interval and engage the ladder when needed.

The long-running form of `escalate` for systemd (docs/ladder.md has a unit). It holds the
environment's lock for its whole life, so a second `watch` or `escalate` refuses at once (exit 3).
SIGTERM or SIGHUP stops it cleanly (exit 0): a level that is running is killed with its process
group and recorded as interrupted, and the intent record left behind makes the next start treat
that level as interrupted by an orderly stop. A transient I/O error (a full disk) is audited and
retried with backoff; only a configuration error ends it with exit 3, so systemd's
`RestartPreventExitStatus=3` never keeps remediation off because of a passing fault. An internal
error exits 1, which systemd restarts.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import Any

from escalator.commands.escalate import could_not_run, say
from escalator.env import Env

MAX_BACKOFF = 60.0  # seconds between retries of a failing disk, at most


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
    from escalator.errors import EscalatorError
    from escalator.ladder import render, stop
    from escalator.ladder.config import check_programs
    from escalator.ladder.engine import Engagement
    from escalator.storage import LockHeld

    interval = duration_option(args.interval, "--interval")
    setup = open_session(args, env)
    check_programs(setup.config, env.environ)
    with stop.handling():
        try:
            _watch(setup, args, interval, env)
        except LockHeld as exc:
            return could_not_run(f"{setup.environment}: another engine is running: {exc}", env)
        except stop.Stopped as stopped:
            if isinstance(stopped.engagement, Engagement):
                env.stdout.write(render.engagement_text(setup.environment, stopped.engagement))
            env.stderr.write("escalator watch: stopped\n")
        except EscalatorError:
            raise  # configuration: exit 3
        except Exception as exc:  # a bug: exit 1, so that systemd restarts the watch
            env.stderr.write(f"escalator watch: internal error: {type(exc).__name__}: {exc}\n")
            return 1
    return 0


def _watch(setup: Any, args: argparse.Namespace, interval: float, env: Env) -> None:
    """Hold the lock and engage every `interval`; I/O errors are retried with backoff."""
    failures = 0
    while True:
        try:
            with setup.store.lock("watch"):
                beat = Beat(setup, env, interval)
                try:
                    _engage_every(setup, args, interval, env, beat)
                except BaseException as exc:
                    beat.stopped(exc)
                    raise
                beat.stopped(None)
                return
        except OSError as exc:  # taking the lock itself failed
            failures += 1
            _pause(setup, env, exc, failures)


def _engage_every(setup: Any, args: argparse.Namespace, interval: float, env: Env,
                  beat: Beat) -> None:
    from escalator.commands.escalate import progress
    from escalator.ladder import render

    engine, failures, tick = None, 0, 0
    while args.ticks is None or tick < args.ticks:
        begun = env.monotonic()
        try:
            if engine is None:  # at start, and after an error: reload, settle what it left
                engine = setup.engine()
                engine.say = lambda text: say(env, text)
                engine.progress = progress(env, setup.environment, args.verbose)
                engine.record = beat.keeping(engine.record)
                engine.recover()
            result = engine.engage()
        except OSError as exc:
            engine, failures = None, failures + 1
            _pause(setup, env, exc, failures)
            continue
        tick, failures = tick + 1, 0
        beat.cycled(result.verdict)
        env.stdout.write(render.engagement_text(setup.environment, result))
        env.stdout.flush()
        if args.ticks is None or tick < args.ticks:
            env.sleep(max(0.0, interval - (env.monotonic() - begun)))


class Beat:
    """The watcher's heartbeat (escalator.ladder.heartbeat): written at start, after each
    stored run, at the end of each cycle and when the watch stops; a write that fails is
    skipped (the next one may work), never the end of the watch."""

    def __init__(self, setup: Any, env: Env, interval: float) -> None:
        from escalator.durations import format_duration
        from escalator.env import boot_id
        from escalator.ladder import heartbeat

        self.store, self.now = setup.store, env.now
        self.beat = heartbeat.starting(env.now(), interval, boot_id())
        self._write()
        with contextlib.suppress(OSError):
            self.store.audit("watch_started", reason=f"every {format_duration(interval)}",
                             pid=self.beat.pid, host=self.beat.host)

    def keeping(self, record: Callable[[Any], None] | None) -> Callable[[Any], None]:
        """`record` (the engine's: store a run), followed by a beat."""
        def keep(run: Any) -> None:
            if record is not None:
                record(run)
            self.alive()
        return keep

    def alive(self) -> None:
        from dataclasses import replace

        self.beat = replace(self.beat, beat=self.now())
        self._write()

    def cycled(self, verdict: str) -> None:
        from escalator.ladder import heartbeat

        self.beat = heartbeat.cycled(self.beat, self.now(), verdict)
        self._write()

    def stopped(self, exc: BaseException | None) -> None:
        from escalator.errors import EscalatorError
        from escalator.ladder import heartbeat, stop

        if isinstance(exc, stop.Stopped):
            why = exc.name
        elif isinstance(exc, EscalatorError):
            why = f"configuration error: {exc}"
        elif exc is not None:
            why = f"internal error: {type(exc).__name__}: {exc}"
        else:
            why = "done"
        self.beat = heartbeat.stopping(self.beat, self.now(), why)
        self._write()
        with contextlib.suppress(OSError):
            self.store.audit("watch_stopped", reason=why, pid=self.beat.pid)

    def _write(self) -> None:
        from escalator.ladder import heartbeat

        with contextlib.suppress(OSError):
            heartbeat.write(self.store, self.beat)



def _pause(setup: Any, env: Env, exc: OSError, failures: int) -> None:
    """Say and audit a transient I/O error, then wait: 1 s, 2 s, 4 s ... at most a minute."""
    delay = min(2.0 ** (failures - 1), MAX_BACKOFF)
    env.stderr.write(f"escalator watch: I/O error, retrying in {delay:g}s: {exc}\n")
    env.stderr.flush()
    with contextlib.suppress(OSError):  # the disk that failed may fail the audit too
        setup.store.audit("io_error", reason=str(exc), retry_in=delay, failures=failures)
    env.sleep(delay)
