"""behave's hooks for an Escalator project run by plain behave (`python -m behave`, an IDE,
allure-behave): each scenario gets the `Session` its steps need.

`escalator init` writes `environment.py` beside `steps/` (where behave looks for it) as::

    from escalator.hooks import *  # noqa: F403

The environment comes from escalator.toml in the working directory, chosen like `escalator run
-e`: `python -m behave -D env=production` (or ESCALATOR_ENV=production); `-D config=FILE` (or
ESCALATOR_CONFIG) names another config file, and any other `-D key=value` overrides a variable.
Secrets are read from the process environment as `escalator run` reads them, and are masked
(***) in every step's reason before behave's formatters see it, with what a step hid (a
basic-auth token) and before the steps cut a target's text (the scenario's `Session` knows
them). Each step runs under the runner's own step guard (`escalator.runner.guard`): the step
timeout of `[run]`, and numeric arguments written `${name}` resolved (`$${name}` is a
literal), as under `escalator run`.
Measurements, and which step crossed only a warning limit, are kept on the scenario for
`escalator.behave_formats`, which judge them as the runner does (a warning-only scenario is
WARNING; behave itself, knowing no warnings, counts it as passed). There is no parallelism,
retry, deadline or ladder: that is `escalator run`'s job. Under `escalator run`, `check` and
the ladder these hooks do nothing, as the runner gives each scenario its own session.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from escalator.steps.support import Session

__all__ = ["after_scenario", "after_step", "before_all", "before_scenario"]

_RESERVED = ("env", "config")


def _under_escalator(context: Any) -> bool:
    return isinstance(getattr(context, "escalator", None), Session)


def _options(context: Any) -> Any:
    """escalator's RunOptions for this behave run (config, environment, variables, secrets)."""
    from escalator.commands.common import add_run_arguments, load_run_options
    from escalator.env import Env

    userdata = context.config.userdata
    env = Env()
    argv = ["--timeout", "1h"]  # no run deadline here; behave has none either
    chosen = userdata.get("env") or env.environ.get("ESCALATOR_ENV")
    config = userdata.get("config") or env.environ.get("ESCALATOR_CONFIG")
    argv += ["-e", chosen] if chosen else []
    argv += ["-c", config] if config else []
    for key, value in userdata.items():
        if key not in _RESERVED:
            argv += ["-D", f"{key}={value}"]
    parser = argparse.ArgumentParser(add_help=False)
    add_run_arguments(parser, formats=False)
    return load_run_options(parser.parse_args(argv), env)


def redacting(func: Callable[..., Any], secrets: tuple[str, ...]) -> Callable[..., Any]:
    """`func` with the secrets masked in the message of whatever it raises: the scenario
    session's (which knows what its steps hid), else `secrets`."""
    from escalator.redact import redactor_for

    @functools.wraps(func)
    def step(context: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(context, *args, **kwargs)
        except Exception as exc:
            found = getattr(context, "escalator", None)
            redactor = found.redactor if isinstance(found, Session) else redactor_for(secrets)
            text = str(exc)
            masked = redactor.text(text)
            if masked == text:
                raise
            try:
                replacement = type(exc)(masked)
            except Exception:
                replacement = RuntimeError(f"{type(exc).__name__}: {masked}")
            raise replacement from None

    return step


def _install(registry: Any, step_timeout: float, secrets: tuple[str, ...]) -> None:
    """Each step definition under the step timeout and the redaction, once."""
    from escalator.runner import guard

    guard.install(registry, step_timeout)
    for matchers in registry.steps.values():
        for matcher in matchers:
            if not getattr(matcher.func, "escalator_redacting", False):
                matcher.func = redacting(matcher.func, secrets)
                matcher.func.escalator_redacting = True


def before_all(context: Any) -> None:
    if _under_escalator(context):
        return
    options = _options(context)
    context.escalator_options = options
    # the formatters of escalator.behave_formats mask the secrets too
    context.config.escalator_secrets = options.secrets
    # the runner's own registry: `python -m behave` resets the module-level one after loading
    _install(context._runner.step_registry, options.step_timeout, options.secrets)


def before_scenario(context: Any, scenario: Any) -> None:
    options = getattr(context, "escalator_options", None)
    if options is None or _under_escalator(context):
        return
    from escalator.tags import meta_of

    meta = meta_of(scenario)
    context.escalator = Session(variables=options.variables,
                                step_timeout=meta.step_timeout or options.step_timeout,
                                environment=options.environment,
                                secrets=tuple(options.secrets))
    scenario.escalator_session = context.escalator
    scenario.escalator_warned = {}  # step index -> the warning it gave


def after_step(context: Any, step: Any) -> None:
    """Note the warning a step gave (a limit crossed only as far as its warning clause)."""
    scenario = getattr(context, "scenario", None)
    session = getattr(scenario, "escalator_session", None)
    if scenario is None or session is None:
        return
    warning = session.step_warning()
    if warning is not None:
        index = next(i for i, each in enumerate(scenario.all_steps) if each is step)
        scenario.escalator_warned[index] = warning


def after_scenario(context: Any, scenario: Any) -> None:
    session = getattr(scenario, "escalator_session", None)
    if session is None:
        return
    session.close()
    scenario.escalator_measurements = tuple(session.measurements)
    scenario.escalator_notices = tuple(dict.fromkeys(session.notices))
    scenario.escalator_secrets = session.secrets  # with what its steps hid, for the formatters
