"""`escalator run`: run scenarios for CI; human output, JUnit/JSON files, exit 0/1/2.

With `--until-green --within D` it is a deploy gate (escalator.runner.gate): it re-runs the
scenarios that have not passed until all have (exit 0) or the time is up (exit 1), printing a
line on stderr each time one turns green; the outputs describe the final state.
"""

from __future__ import annotations

import argparse
from typing import Any

from escalator.commands.common import (
    add_gate_arguments,
    add_run_arguments,
    gate_policy,
    load_run_options,
)
from escalator.commands.output import (
    check_formats,
    run_exit_code,
    say_to,
    send_metrics,
    store_run,
    write_outputs,
)
from escalator.env import Env
from escalator.results import ScenarioResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="run scenarios (CI): exit 0 passed, 1 failed, 2 could not run",
        description="Run the selected scenarios and report them; exit 0 when all passed, "
                    "1 when a scenario failed, 2 when the suite could not run. With "
                    "--until-green, re-run what has not passed until all have (exit 0) or "
                    "--within is up (exit 1).")
    add_run_arguments(parser)
    add_gate_arguments(parser)
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, env: Env) -> int:
    options = load_run_options(args, env)
    check_formats(options)
    gate = gate_policy(args)
    if gate is not None:
        from escalator.runner.gate import until_green

        result = until_green(options, env, gate, say_to(env))
        run, code = result.run, result.exit_code
    else:
        from escalator.runner import run_suite

        run = run_suite(options, env, progress=_live(env))
        code = run_exit_code(run)
    run = store_run(options, run)
    run = send_metrics(run, options)
    write_outputs(run, options, env, default="pretty")
    return code


def _live(env: Env) -> Any:
    """A progress line on a terminal's stderr for runs longer than a second."""
    if not env.interactive:
        return None
    begun = env.monotonic()

    def show(result: ScenarioResult, done: int, total: int) -> None:
        if env.monotonic() - begun > 1.0:
            end = "\n" if done == total else ""
            env.stderr.write(f"\r  {done}/{total} scenarios{end}")
            env.stderr.flush()

    return show
