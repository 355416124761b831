"""What every command that runs the suite shares: its arguments, and turning them into RunOptions.

`run`, `check`, `escalate`, `watch` and `ladder plan` call `add_run_arguments` on their parser and
`load_run_options(args, env)` in their `main`. The options are frozen; the runner never reads the
command line or the config file itself.
"""

from __future__ import annotations

import argparse
from typing import Any

from escalator import project
from escalator.config import Config, Environment, load_config
from escalator.durations import positive_duration
from escalator.env import Env
from escalator.errors import ConfigError, UsageError

# RunOptions is the runner's input and lives below it; re-exported for older imports.
from escalator.options import DEFAULT_LABEL as DEFAULT_LABEL
from escalator.options import RunOptions as RunOptions


class _FormatAction(argparse.Action):
    """`-f NAME [-o FILE]`: each -o belongs to the -f just before it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        pairs = list(getattr(namespace, "formats", None) or [])
        if option_string in ("-f", "--format"):
            pairs.append((values, None))
        elif not pairs or pairs[-1][1] is not None:
            parser.error(f"{option_string} {values}: give -f FORMAT before each -o FILE")
        else:
            pairs[-1] = (pairs[-1][0], values)
        namespace.formats = pairs


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """-e/--env and -c/--config: which environment of which config file."""
    parser.add_argument("-e", "--env", dest="environment", metavar="NAME",
                        help="environment from the config")
    parser.add_argument("-c", "--config", metavar="FILE", help="config file (escalator.toml)")


def add_run_arguments(parser: argparse.ArgumentParser, formats: bool = True) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="feature files, directories or file:line (default: features)")
    add_config_arguments(parser)
    parser.add_argument("-t", "--tags", action="append", default=[], metavar="EXPR",
                        help="tag expression (cucumber v2), e.g. '@smoke and not @slow'")
    parser.add_argument("-D", "--define", action="append", default=[], metavar="KEY=VALUE",
                        help="override a variable")
    parser.add_argument("-j", "--jobs", type=int, metavar="N", help="scenarios in parallel")
    parser.add_argument("--timeout", metavar="DURATION", help="deadline of the whole run")
    parser.add_argument("--step-timeout", metavar="DURATION", help="hard limit of one step")
    parser.add_argument("--retries", type=int, metavar="N", help="re-runs of a failing scenario")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail, tracebacks")
    parser.add_argument("--label", default=DEFAULT_LABEL, help="Nagios service prefix")
    if formats:
        parser.add_argument("-f", "--format", action=_FormatAction, dest="formats", default=[],
                            metavar="FORMAT",
                            help="pretty, progress, json, junit, nagios, prometheus (repeatable)")
        parser.add_argument("-o", "--outfile", action=_FormatAction, dest="formats",
                            metavar="FILE", help="write the -f before it to FILE")


def load_run_options(args: argparse.Namespace, env: Env) -> RunOptions:
    """Config plus command line; raises ConfigError or UsageError with a one-line reason."""
    config = load_config(args.config, env)
    run = config.run
    environment = pick_environment(config, args.environment)
    variables, secrets = _variables(environment, config, env)
    for item in args.define:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"-D {item}: give KEY=VALUE")
        variables[key] = value
    return RunOptions(
        config=config, cwd=env.cwd,
        paths=tuple(args.paths) or ("features",),
        environment=environment.name if environment else None,
        variables=variables, secrets=secrets,
        tags=tuple(args.tags),
        jobs=_positive(args.jobs, "--jobs") if args.jobs is not None else run.jobs,
        timeout=duration_option(args.timeout, "--timeout") if args.timeout else run.timeout,
        step_timeout=(duration_option(args.step_timeout, "--step-timeout") if args.step_timeout
                      else run.step_timeout),
        retries=_count(args.retries, "--retries") if args.retries is not None else run.retries,
        verbose=args.verbose,
        label=(args.label or DEFAULT_LABEL).replace("|", "/"),
        formats=tuple(getattr(args, "formats", None) or ()),
    )


def pick_environment(config: Config, name: str | None) -> Environment | None:
    known = ", ".join(sorted(config.environments)) or "none"
    try:
        chosen = project.environment_name(config.environments, config.run.environment, name)
    except ValueError:
        raise UsageError(f"choose an environment with -e (known: {known})") from None
    except LookupError as exc:
        where = config.source or "the config"
        raise ConfigError(f"{where}: no environment {exc.args[0]!r} (known: {known})") from None
    return config.environments[chosen] if chosen is not None else None


def _variables(environment: Environment | None, config: Config, env: Env
               ) -> tuple[dict[str, str], tuple[str, ...]]:
    if environment is None:
        return {}, ()
    variables = dict(environment.variables)
    secrets = []
    for key, name in environment.secrets.items():
        value = env.environ.get(name)
        if not value:
            raise ConfigError(f"{config.source}: environments.{environment.name}.{key}: "
                              f"environment variable {name} is not set")
        variables[key] = value
        secrets.append(value)
    return variables, tuple(secrets)


def duration_option(text: str, option: str) -> float:
    """The seconds of a DURATION option (more than none); UsageError naming the option."""
    try:
        return positive_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _positive(value: int, option: str) -> int:
    if value < 1:
        raise UsageError(f"{option}: must be at least 1")
    return value


def _count(value: int, option: str) -> int:
    if value < 0:
        raise UsageError(f"{option}: must not be negative")
    return value
