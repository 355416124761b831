"""`escalator converge`: bring a new or broken environment up with the ladder (docs/ladder.md).

Plans from the deepest failing level (the whole ladder when nothing passes), runs the cascade,
runs the checks after each level and says which requirements turned green, and plans again
until every scenario passes, `--within` is up or `max_reconverge` new plans have run; then it
pages with what is still red (escalator.ladder.converge). Each run of the checks is stored, so
`escalator report` can show when each requirement turned green and what made it.

Exit 0 green at the end, 2 still red, suppressed, latched or interrupted, 3 could not run
(config, a level program missing, lock held). `--dry-run` prints the plan from one fresh run
and runs nothing.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from escalator.commands.escalate import could_not_run, run_engine
from escalator.env import Env

if TYPE_CHECKING:
    from escalator.results import RunResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "converge", help="bring an environment up from nothing: the ladder, repeatedly, "
                         "until green",
        description="Run the ladder for an environment expected to be broken: plan from the "
                    "deepest failing level (the whole ladder when nothing passes), run it, "
                    "check after each level, and plan again until green or --within is up; "
                    "then page with what is still red. Exit 0 green, 2 still red, 3 could not "
                    "run.")
    from escalator.commands.common import add_run_arguments

    add_run_arguments(parser, formats=False)
    parser.add_argument("--within", metavar="DURATION",
                        help="how long converge may take, e.g. 2h (a level that has started "
                             "runs to its end)")
    parser.add_argument("--max-reconverge", type=int, metavar="N",
                        help="new plans after the first (default: max_reconverge of [ladder])")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan converge would run now; run nothing")
    parser.set_defaults(handler=main, on_error=could_not_run)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.commands.common import duration_option, load_run_options
    from escalator.commands.ladder_session import open_session
    from escalator.commands.output import store_run
    from escalator.errors import UsageError
    from escalator.ladder import converge, converge_text
    from escalator.ladder.config import check_programs

    if args.max_reconverge is not None and args.max_reconverge < 0:
        raise UsageError("--max-reconverge: must not be negative")
    within = duration_option(args.within, "--within") if args.within else None
    if within is None and not args.dry_run:
        raise UsageError("converge: give --within DURATION, e.g. --within 2h")
    setup = open_session(args, env)
    check_programs(setup.config, env.environ)
    plans = (setup.config.max_reconverge if args.max_reconverge is None
             else args.max_reconverge)
    if args.dry_run:
        run, obs, plan = converge.preview(setup.engine(read_only=True))
        env.stdout.write(converge_text.plan_text(setup.environment, setup.config, run, obs,
                                                 plan, within, plans))
        return 0 if obs.green else 2
    assert within is not None
    options = load_run_options(args, env)  # where the runs are stored

    def show(text: str) -> None:
        env.stdout.write(text + "\n")
        env.stdout.flush()

    def keep(run: RunResult) -> None:
        """Store a run; a store that cannot be written is said, and converging goes on."""
        stored = store_run(options, run)
        for notice in stored.notices[len(run.notices):]:
            show(f"notice: {notice}")

    return run_engine(setup, env, "converge",
                      lambda engine: converge.Converge(engine, within, keep, show, plans).run())
