"""`escalator check`: the Nagios/Icinga plugin. One status line with perfdata, long output,
exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; every error is still a valid UNKNOWN line. A latched
escalation ladder adds a notice line (since when and why).

With `--until-green --within D` it waits as `run --until-green` does (the gate's lines go to
stderr) and answers with one Nagios status of the final state."""

from __future__ import annotations

import argparse
from typing import Any

from escalator.commands.common import (
    DEFAULT_LABEL,
    add_gate_arguments,
    add_run_arguments,
    gate_policy,
    load_run_options,
)
from escalator.commands.output import (
    check_formats,
    say_to,
    send_metrics,
    store_run,
    write_outputs,
)
from escalator.env import Env
from escalator.errors import UsageError
from escalator.exit_codes import ExitCode
from escalator.hostresults_config import TARGETS, HostResultsConfig


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="the Nagios plugin: one status line, perfdata, exit 0/1/2/3",
        description="Run the selected scenarios as a Nagios/Icinga check.")
    add_run_arguments(parser)
    add_gate_arguments(parser)
    parser.add_argument("--host-results", action="append", choices=TARGETS, metavar="TARGET",
                        help="also send each host's result of a fleet check (@each) as a "
                             "passive check result: icinga2 (REST API) or nagios (command "
                             "file), as [host_results] in escalator.toml says (repeatable)")
    parser.set_defaults(handler=main, on_error=unknown)


def main(args: argparse.Namespace, env: Env) -> int:
    options = load_run_options(args, env)
    check_formats(options)
    targets = _host_result_targets(args, options.config.host_results)
    gate = gate_policy(args)
    if gate is not None:
        from escalator.runner.gate import until_green

        run = until_green(options, env, gate, say_to(env)).run
    else:
        from escalator.runner import run_suite

        run = run_suite(options, env)
    if targets:
        from escalator.hostresults import send

        run = send(run, targets, options.config.host_results, env.environ, options.label)
    run = store_run(options, run)
    run = send_metrics(run, options)
    if options.config.ladder is not None:
        from escalator.commands.status import with_latch_note

        run = with_latch_note(run, options.state_dir, options.environment)
    write_outputs(run, options, env, default="nagios")
    return int(run.status)


def _host_result_targets(args: argparse.Namespace, config: HostResultsConfig
                         ) -> tuple[str, ...]:
    """--host-results, else `[host_results] send`; each needs its table in the config."""
    targets = tuple(dict.fromkeys(args.host_results or config.send))
    for target in targets:
        if getattr(config, target) is None:
            raise UsageError(f"--host-results {target}: give [host_results.{target}] in "
                             "escalator.toml (see docs/fleet.md)")
    return targets


def unknown(message: str, env: Env, label: str = DEFAULT_LABEL) -> int:
    """The plugin's answer when it could not run: a valid UNKNOWN line, exit 3."""
    from escalator.formatters import unknown_line

    env.stdout.write(unknown_line(label, message))
    return ExitCode.UNKNOWN
