"""What every command that runs the suite shares: its arguments, and turning them into RunOptions.

`run`, `check`, `escalate`, `watch` and `ladder plan` call `add_run_arguments` on their parser and
`load_run_options(args, env)` in their `main`. The options are frozen; the runner never reads the
command line or the config file itself.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from escalator import project
from escalator.config import Config, Environment, load_config
from escalator.durations import positive_duration
from escalator.env import Env
from escalator.errors import ConfigError, UsageError
from escalator.hostport import split_host_port

# RunOptions is the runner's input and lives below it; re-exported for older imports.
from escalator.options import DEFAULT_LABEL as DEFAULT_LABEL
from escalator.options import RunOptions as RunOptions
from escalator.text import one_line
from escalator.variables import Variables

if TYPE_CHECKING:
    from escalator.runner.gate import GatePolicy


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
                            metavar="FORMAT", help="pretty, progress, json, junit, nagios, "
                            "prometheus, graphite (repeatable)")
        parser.add_argument("-o", "--outfile", action=_FormatAction, dest="formats",
                            metavar="FILE", help="write the -f before it to FILE")
        parser.add_argument("--graphite", metavar="HOST:PORT",
                            help="also send the metrics to carbon (Graphite plaintext over TCP)")
        parser.add_argument("--graphite-prefix", default="escalator", metavar="PREFIX",
                            help="first nodes of every Graphite path (default escalator)")


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """--until-green, --within, --every, --deploy: `run` and `check` as a deploy gate."""
    parser.add_argument("--until-green", action="store_true",
                        help="re-run the scenarios that have not passed until all have or "
                             "--within is up (a deploy gate)")
    parser.add_argument("--within", metavar="DURATION",
                        help="with --until-green: how long the gate waits, e.g. 10m")
    parser.add_argument("--every", metavar="DURATION",
                        help="with --until-green: from the start of one round to the next "
                             "(default 5s)")
    parser.add_argument("--deploy", metavar="NAME",
                        help="with --until-green: what the gate waits for (a release, a "
                             "commit), named in the report")


def gate_policy(args: argparse.Namespace) -> GatePolicy | None:
    """The gate `args` ask for; None without --until-green; UsageError for a half-given one."""
    if not args.until_green:
        given = [o for o, v in (("--within", args.within), ("--every", args.every),
                                ("--deploy", args.deploy)) if v is not None]
        if given:
            raise UsageError(f"{given[0]}: only with --until-green")
        return None
    if args.within is None:
        raise UsageError("--until-green: give --within DURATION, e.g. --within 10m")
    from escalator.runner.gate import GatePolicy  # the gate's module only for a gate

    return GatePolicy(within=duration_option(args.within, "--within"),
                      every=duration_option(args.every, "--every") if args.every else 5.0,
                      deploy=one_line(args.deploy or "", 200))


def load_run_options(args: argparse.Namespace, env: Env) -> RunOptions:
    """Config plus command line; raises ConfigError or UsageError with a one-line reason."""
    config = load_config(args.config, env)
    run = config.run
    environment = pick_environment(config, args.environment)
    values, unset, secrets = _variables(environment, env)
    for item in args.define:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"-D {item}: give KEY=VALUE")
        values[key] = value
    variables = Variables(values, unset)
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
        graphite=_address(getattr(args, "graphite", None), "--graphite"),
        graphite_prefix=getattr(args, "graphite_prefix", None) or "escalator",
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


def _variables(environment: Environment | None, env: Env
               ) -> tuple[dict[str, str], dict[str, str], tuple[str, ...]]:
    """The environment's values, the secrets that are not set (name -> why), and the secret
    values to redact. An unset secret is no run error: only scenarios that use it are UNKNOWN."""
    if environment is None:
        return {}, {}, ()
    values = dict(environment.variables)
    unset, secrets = {}, []
    for key, name in environment.secrets.items():
        value = env.environ.get(name)
        if not value:
            unset[key] = (f"the environment variable {name} is not set (secret {key} of "
                          f"environment {environment.name})")
            continue
        values[key] = value
        secrets.append(value)
    return values, unset, tuple(secrets)


def _address(text: str | None, option: str) -> tuple[str, int] | None:
    """HOST[:PORT] (an IPv6 host in brackets; Carbon's plaintext port 2003 by default).

    >>> _address("[::1]:2003", "--graphite"), _address("graphite", "--graphite")
    (('::1', 2003), ('graphite', 2003))
    """
    if text is None:
        return None
    try:
        return split_host_port(text, 2003)
    except ValueError:
        raise UsageError(f"{option} {text}: give HOST:PORT, e.g. 127.0.0.1:2003") from None


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
