"""Wiring for the ladder commands: config, environment, store and the checks, from argv.

`escalate`, `watch` and `ladder plan` need the suite (`load_run_options`, `run_suite`), and the
engagements store every run as `run` and `check` do (`store_run`), for `status` and `report`;
`ladder status|resume|history` only read the config and the state, so they work without the
secrets a run needs. Called by escalator/commands/{escalate,watch,ladder}.py; the environment is
picked by `pick_environment`, as for every other command. A host-scoped level gets its host's
address from the environment's inventory (`address_of`), read when such a level runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from escalator.commands.common import load_run_options, pick_environment
from escalator.env import Env
from escalator.errors import ConfigError, UsageError
from escalator.inventory import Inventory
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
    record: Callable[[RunResult], None] | None = None
    inventory: Inventory | None = None

    def engine(self, read_only: bool = False) -> Engine:
        """An engine on the stored state that stores every run as `run` and `check` do;
        `read_only` writes nothing (dry runs, no lock)."""
        if read_only:
            return Engine(self.config, self.store, self.checks, self.env,
                          state=self.store.peek())
        engine = Engine(self.config, self.store, self.checks, self.env, record=self.record)
        engine.address_of = self.address_of
        return engine

    def address_of(self, host: str, groups: tuple[str, ...]) -> str | None:
        """`${address}` of `host` as the checks saw it in one of its `groups`, read from the
        inventory now (a command inventory runs again); None when it names no such host."""
        from escalator.runner.fanout import Fleet

        fleet = Fleet(self.inventory, self.environment)
        for group in groups:
            for found in fleet.hosts(group):
                if found.name == host:
                    return found.scenario_variables(group)["address"]
        return None


def open_session(args: argparse.Namespace, env: Env, with_checks: bool = True) -> LadderSession:
    """Raises ConfigError (no [ladder], bad config) or UsageError (no environment chosen)."""
    from escalator.config import load_config

    record, inventory = None, None
    if with_checks:
        options = load_run_options(args, env)
        config, name, secrets = options.config, options.environment, options.secrets
        chosen = config.environments.get(name) if name else None
        inventory = chosen.inventory if chosen is not None else None

        def checks() -> RunResult:
            from escalator.runner import run_suite

            return run_suite(options, env)

        def record(run: RunResult) -> None:
            from escalator.commands.output import store_run

            store_run(options, run)
    else:
        config = load_config(args.config, env)
        environment = pick_environment(config, args.environment)
        name, secrets = environment.name if environment is not None else None, ()

        def checks() -> RunResult:
            raise UsageError("this command does not run the checks")
    if config.ladder is None:
        raise ConfigError(f"{config.source or 'the config'}: no [ladder] table: the ladder "
                          "is not configured (docs/ladder.md)")
    name = name or "default"
    from escalator.ladder.webhook import secrets_of

    secrets = (*secrets, *secrets_of(config.ladder.webhook, env.environ))
    state_dir = config.state_dir(env.cwd)
    store = LadderStore(ladder_dir(state_dir, name), name, secrets, now=env.now,
                        state_dir=state_dir)
    return LadderSession(config.ladder, name, store, env, checks, record, inventory)

