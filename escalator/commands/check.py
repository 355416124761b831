"""`escalator check`: the Nagios/Icinga plugin. One status line with perfdata, long output,
exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; every error is still a valid UNKNOWN line."""

from __future__ import annotations

import argparse
from typing import Any

from escalator.commands.common import DEFAULT_LABEL, add_run_arguments, load_run_options
from escalator.commands.output import check_formats, send_metrics, store_run, write_outputs
from escalator.env import Env
from escalator.exit_codes import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="the Nagios plugin: one status line, perfdata, exit 0/1/2/3",
        description="Run the selected scenarios as a Nagios/Icinga check.")
    add_run_arguments(parser)
    parser.set_defaults(handler=main, on_error=unknown)


def main(args: argparse.Namespace, env: Env) -> int:
    options = load_run_options(args, env)
    check_formats(options)
    from escalator.runner import run_suite

    run = run_suite(options, env)
    run = store_run(options, run)
    run = send_metrics(run, options)
    write_outputs(run, options, env, default="nagios")
    return int(run.status)


def unknown(message: str, env: Env, label: str = DEFAULT_LABEL) -> int:
    """The plugin's answer when it could not run: a valid UNKNOWN line, exit 3."""
    from escalator.formatters import unknown_line

    env.stdout.write(unknown_line(label, message))
    return ExitCode.UNKNOWN
