"""`escalator escalate`: one ladder engagement for an environment (docs/ladder.md).

Exit 0 healthy at the end, 2 still failing, latched (paged) or interrupted, 3 could not run
(config, a level program missing, lock held). `--dry-run` prints the plan from one fresh run
and runs nothing. SIGTERM, SIGHUP or ^C stop it cleanly: a running level is killed with its
process group and the engagement is recorded as interrupted. Each phase is printed as it
happens (confirm, settle, plan, each level's start and end, quiesce, verify, pages), `-v` adds
each run's counts and failures, and the verdict comes last.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from escalator.env import Env
from escalator.exit_codes import ExitCode
from escalator.options import DEFAULT_LABEL

if TYPE_CHECKING:
    from escalator.commands.ladder_session import LadderSession
    from escalator.ladder.engine import Engagement, Engine


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "escalate", help="one ladder engagement: confirm, settle, plan, cascade, verify, page",
        description="Run the checks; on a confirmed failure settle, plan from a fresh run, run "
                    "the deepest needed level and every level after it, verify, and page a "
                    "human when still failing. Exit 0 healthy, 2 failing or latched, 3 could "
                    "not run.")
    from escalator.commands.common import add_run_arguments

    add_run_arguments(parser, formats=False)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan the ladder would run now; run nothing")
    parser.set_defaults(handler=main, on_error=could_not_run)


def could_not_run(message: str, env: Env, label: str = DEFAULT_LABEL) -> int:
    env.stderr.write(f"escalator: {message}\n")
    return ExitCode.UNKNOWN


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.commands.ladder_session import open_session
    from escalator.ladder import render
    from escalator.ladder.config import check_programs

    setup = open_session(args, env)
    check_programs(setup.config, env.environ)
    if args.dry_run:
        obs, plan, decision, state = setup.engine(read_only=True).preview()
        env.stdout.write(render.plan_text(setup.environment, setup.config, obs, plan, decision,
                                          state.latch))
        return 0 if obs.green else 2
    return run_engine(setup, env, "escalate", lambda engine: engine.engage(),
                      progress(env, setup.environment, args.verbose))


def run_engine(setup: LadderSession, env: Env, command: str,
               act: Callable[[Engine], Engagement],
               tell: Callable[[str, bool], None] | None = None) -> int:
    """Hold the environment's lock, recover what a stopped engine left, `act` with the engine,
    and print how it ended (`escalate`, `converge`). A stop signal ends it as the engine
    recorded it; another engine holding the lock is exit 3."""
    from escalator.ladder import render, stop
    from escalator.ladder.engine import FAILING, Engagement
    from escalator.storage import LockHeld

    with stop.handling():
        try:
            with setup.store.lock(command):
                engine = setup.engine()
                engine.say = lambda text: say(env, text)
                if tell is not None:
                    engine.progress = tell
                engine.recover()
                result = act(engine)
        except LockHeld as exc:
            return could_not_run(f"{setup.environment}: another engine is running: {exc}", env)
        except stop.Stopped as stopped:
            if not isinstance(stopped.engagement, Engagement):
                say(env, f"{setup.environment}: stopped by {stopped.name}")
                return FAILING
            result = stopped.engagement
    env.stdout.write(render.engagement_text(setup.environment, result))
    return result.exit_code


def say(env: Env, text: str) -> None:
    """A note for the operator while the engine works (it waits for a level, a disk)."""
    env.stderr.write(f"escalator: {text}\n")
    env.stderr.flush()


def progress(env: Env, environment: str, verbose: bool) -> Callable[[str, bool], None]:
    """The engine's phases on stdout as they happen, one line each (its detail with -v), so
    a person watching knows what it waits for; the verdict follows at the end."""
    def tell(text: str, detail: bool) -> None:
        if detail and not verbose:
            return
        env.stdout.write(f"{environment}: {text}\n")
        env.stdout.flush()
    return tell
