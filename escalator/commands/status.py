"""`escalator status`: the Nagios verdict of the last stored run, without running anything.

For Nagios setups where the suite runs elsewhere (cron, CI, a satellite) and the service only
reads the verdict: the output is what `check` printed for that run (rendered again by the nagios
formatter from the stored RunResult), or UNKNOWN when the result is missing, unreadable or older
than `--max-age`, because a stale OK is worse than no answer; UNKNOWN too when the result is an
`escalator watch`'s and that watcher has stopped. A latched ladder adds a notice line. Light on
purpose: it imports neither the runner nor behave nor any protocol library. The console script
answers the common case before it even gets here, from the answer rendered when the run was
stored (escalator.laststatus, written by `stored_answer` here): the same text, at the cost of
reading a small file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalator.commands.common import add_config_arguments, duration_option, pick_environment
from escalator.durations import format_duration
from escalator.env import Env
from escalator.options import DEFAULT_LABEL
from escalator.status import Status
from escalator.timestamps import utc

if TYPE_CHECKING:
    from escalator.commands.common import RunOptions
    from escalator.laststatus import Rendered
    from escalator.results import RunResult
    from escalator.state import StoredRun


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
    from escalator.env import boot_id

    boot = boot_id()
    if config.ladder is not None:
        gone = _watcher_gone(config.state_dir(env.cwd), environment, stored, boot)
        if gone is not None:
            return _unknown(env, label, gone)
    age = stored.age(env.now(), env.monotonic(), boot)
    if age == float("inf"):
        return _unknown(env, label, f"last result was stored {utc(stored.stored_at)}, "
                        f"{format_duration(round(stored.stored_at - env.now()))} in the "
                        "future: the clock has moved, its age is unknown")
    if age > max_age:
        return _unknown(env, label, f"last result is {format_duration(round(age))} old, "
                        f"older than --max-age {format_duration(max_age)} "
                        f"(it was {stored.run.status.name}, stored {utc(stored.stored_at)})",
                        f"age={round(age)}s;;{round(max_age)};0")
    run = stored.run
    if config.ladder is not None:
        run = with_latch_note(run, config.state_dir(env.cwd), environment)
    env.stdout.write(verdict(run, label))
    return int(stored.run.status)


def verdict(run: RunResult, label: str) -> str:
    """What `status` prints for a run young enough: the nagios format, as `check` printed it."""
    from escalator.formatters import FormatOptions, render

    text = render("nagios", run, FormatOptions(label=label))
    return text if text.endswith("\n") else text + "\n"


def stored_answer(options: RunOptions, run: RunResult) -> Rendered | None:
    """What `status` will print for `run` while it is the latest and young enough, rendered
    when `check` or `run` stores it (escalator.laststatus keeps it beside the result); None
    when the answer would depend on more than the record can tell.

    With a `[ladder]`, the answer also depends on the environment's ladder (a latch adds a
    notice line) and on its watcher (one that stored the result and stopped turns the answer
    UNKNOWN, and dying changes no file). While neither has left a file, the answer is the
    plain verdict, and the record names those files as absent: once one appears, the full
    command answers. Once one exists, there is no record: the full command always answers.
    """
    from escalator.laststatus import Rendered

    absent: tuple[str, ...] = ()
    if options.config.ladder is not None:
        from escalator.ladder.heartbeat import FILE
        from escalator.ladder.store import LadderStore, ladder_dir

        name = options.environment or "default"
        ladder = LadderStore(ladder_dir(options.state_dir, name), name,
                             state_dir=options.state_dir)
        absent = tuple(str(path.relative_to(options.state_dir))
                       for path in (ladder.state_path, ladder.directory / FILE))
        if any(ladder.tree.identity(options.state_dir / path) is not None for path in absent):
            return None
    return Rendered(verdict(run, options.label), options.label, options.label == DEFAULT_LABEL,
                    options.config.fingerprint, absent)


def _watcher_gone(state_dir: Path, environment: str | None, stored: StoredRun,
                  boot: str) -> str | None:
    """UNKNOWN's reason when the watcher that stored the result is gone: nothing checks."""
    from escalator.ladder.notes import watcher_gone

    gone = watcher_gone(state_dir, environment, stored.stored_at, boot)
    if gone is None:
        return None
    return (f"{gone}: nothing checks {environment or 'default'} now; its last result was "
            f"{stored.run.status.name}, stored {utc(stored.stored_at)}")


def with_latch_note(run: RunResult, state_dir: Path, environment: str | None) -> RunResult:
    """`run` with a notice line saying that the environment's ladder is latched (since when
    and why), for the long output of `check` and `status`."""
    import dataclasses

    from escalator.ladder.notes import latch_note

    note = latch_note(state_dir, environment)
    return run if note is None else dataclasses.replace(run, notices=(*run.notices, note))


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
