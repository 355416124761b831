"""Wiring for the ladder commands: config, environment, store and the checks, from argv.

`escalate`, `watch` and `ladder plan` need the suite (`load_run_options`, `run_suite`);
`ladder status|resume|history` only read the config and the state, so they work without the
secrets a run needs. Called by escalator/commands/{escalate,watch,ladder}.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from escalator.env import Env
from escalator.errors import ConfigError, UsageError
from escalator.ladder.engine import Engine
from escalator.ladder.model import LadderConfig
from escalator.ladder.store import LadderStore, ladder_dir
from escalator.results import RunResult


@dataclass(frozen=True)
class LadderSession:
    config: LadderConfig
    environment: str
    store: LadderStore
    env: Env
    checks: Callable[[], RunResult]

    def engine(self, read_only: bool = False) -> Engine:
        """An engine on the stored state; `read_only` never writes (dry runs, no lock)."""
        state = self.store.peek() if read_only else None
        return Engine(self.config, self.store, self.checks, self.env, state=state)


def open_session(args: argparse.Namespace, env: Env, with_checks: bool = True) -> LadderSession:
    """Raises ConfigError (no [ladder], bad config) or UsageError (no environment chosen)."""
    from escalator.config import load_config

    if with_checks:
        from escalator.commands.common import load_run_options

        options = load_run_options(args, env)
        config, name, secrets = options.config, options.environment, options.secrets

        def checks() -> RunResult:
            from escalator.runner import run_suite

            return run_suite(options, env)
    else:
        config = load_config(args.config, env)
        name, secrets = _environment(config, args.environment), ()

        def checks() -> RunResult:
            raise UsageError("this command does not run the checks")
    if config.ladder is None:
        raise ConfigError(f"{config.source or 'the config'}: no [ladder] table: the ladder "
                          "is not configured (docs/ladder.md)")
    name = name or "default"
    state_dir = config.state_dir(env.cwd)
    store = LadderStore(ladder_dir(state_dir, name), name, secrets, now=env.now,
                        state_dir=state_dir)
    return LadderSession(config.ladder, name, store, env, checks)


def _environment(config: object, chosen: str | None) -> str | None:
    environments = getattr(config, "environments", {})
    name = chosen or getattr(getattr(config, "run", None), "environment", None)
    if name is None:
        if len(environments) > 1:
            raise UsageError(f"choose an environment with -e (known: "
                             f"{', '.join(sorted(environments))})")
        return next(iter(environments), None)
    if name not in environments:
        raise ConfigError(f"{getattr(config, 'source', None) or 'the config'}: no environment "
                          f"{name!r}")
    return str(name)
