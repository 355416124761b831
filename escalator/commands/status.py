"""`escalator status`: the Nagios verdict of the last stored run, without running anything.

For Nagios setups where the suite runs elsewhere (cron, CI, a satellite) and the service only
reads the verdict: the output is what `check` printed for that run (rendered again by the nagios
formatter from the stored RunResult), or UNKNOWN when the result is missing, unreadable or older
than `--max-age`, because a stale OK is worse than no answer. Light on purpose: it imports
neither the runner nor behave nor any protocol library. The console script answers the common
case before it even gets here, from the answer rendered when the run was stored
(escalator.laststatus): the same text, at the cost of reading a small file.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from escalator.commands.common import add_config_arguments, duration_option, pick_environment
from escalator.durations import format_duration
from escalator.env import Env
from escalator.laststatus import fresh
from escalator.options import DEFAULT_LABEL
from escalator.status import Status
from escalator.timestamps import utc

if TYPE_CHECKING:
    from escalator.results import RunResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="Nagios verdict of the last stored run (UNKNOWN when too old)",
        description=__doc__.split("\n")[0] if __doc__ else None)
    add_config_arguments(parser)
    parser.add_argument("--max-age", required=True, metavar="DURATION",
                        help="a stored result older than this is UNKNOWN, e.g. 15m")
    parser.add_argument("--label", default=DEFAULT_LABEL, help="Nagios service prefix")
    parser.set_defaults(handler=main, on_error=on_error)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.config import load_config
    from escalator.state import ResultStore, StateError

    label = _label(args)
    max_age = duration_option(args.max_age, "--max-age")
    config = load_config(args.config, env)
    environment = environment_name(config, args.environment)
    store = ResultStore(config.state_dir(env.cwd))
    try:
        stored = store.latest(environment)
    except StateError as exc:
        return _unknown(env, label, str(exc))
    if stored is None:
        return _unknown(env, label, f"no stored result for environment "
                        f"{environment or 'default'!r} in {store.state_dir} "
                        f"(run 'escalator check' or 'escalator run' first)")
    now = env.now()
    if not fresh(stored.stored_at, now, max_age):
        age = stored.age(now)
        return _unknown(env, label, f"last result is {format_duration(round(age))} old, "
                        f"older than --max-age {format_duration(max_age)} "
                        f"(it was {stored.run.status.name}, stored {utc(stored.stored_at)})",
                        f"age={round(age)}s;;{round(max_age)};0")
    env.stdout.write(verdict(stored.run, label))
    return int(stored.run.status)


def verdict(run: RunResult, label: str) -> str:
    """What `status` prints for a run young enough: the nagios format, as `check` printed it.
    Also rendered when a run is stored, for the console script to print (escalator.laststatus)."""
    from escalator.formatters import FormatOptions, render

    text = render("nagios", run, FormatOptions(label=label))
    return text if text.endswith("\n") else text + "\n"


def environment_name(config: Any, requested: str | None) -> str | None:
    """The environment `check` would have stored its result under, for the same options."""
    environment = pick_environment(config, requested)
    return environment.name if environment is not None else None


def on_error(message: str, env: Env, label: str = DEFAULT_LABEL) -> int:
    """Config and usage errors still answer Nagios with a status line."""
    return _unknown(env, label, message)


def _unknown(env: Env, label: str, reason: str, perfdata: str = "") -> int:
    from escalator.formatters import unknown_line

    env.stdout.write(unknown_line(label, reason, perfdata))
    return int(Status.UNKNOWN)


def _label(args: argparse.Namespace) -> str:
    return str(args.label or DEFAULT_LABEL).replace("|", "/")
