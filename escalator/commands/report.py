"""`escalator report`: render the latest stored run and its history into the report directory.

Reads the result store (`escalator.state`) and, when the ladder is configured, the ladder's
state and audit log through its store's read functions (`peek`, `read_audit`); renders every
report with the pure renderers of `escalator.reports`; writes them into `report_dir` from the
config (default `reports/`, relative to the config file, so cron needs no `cd`). A project with
several environments gets a directory per environment (`reports/<environment>/`) and an
overview of them all in `reports/index.html` and `reports/metrics.prom`, so `report -e staging`
never replaces production's files; without `-e` it renders every environment. Each file is
replaced atomically, so a web server or node_exporter's textfile collector never reads half of
one. Report files are 0644: unlike the state directory they are meant to be read by people and
by other users' daemons. `--table` also prints the summary tables.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalator.commands.common import add_config_arguments
from escalator.env import Env
from escalator.errors import EscalatorError

if TYPE_CHECKING:
    from escalator.config import Config
    from escalator.reports.ladder_view import LadderView
    from escalator.state import ResultStore, StoredRun

REPORT_MODE = 0o644
ALL_HISTORY = 1_000_000  # runs: everything the store keeps (it is bounded by size)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="render the living document, tables and metrics into reports/",
        description=__doc__.split("\n")[0] if __doc__ else None)
    add_config_arguments(parser)
    parser.add_argument("--table", action="store_true", help="also print the summary tables")
    parser.add_argument("--history", type=int, default=300, metavar="N",
                        help="latest runs the charts draw (default 300); since-when and "
                             "availability use all stored history")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.config import load_config
    from escalator.reports import render_all
    from escalator.state import ResultStore

    config = load_config(args.config, env)
    store = ResultStore(config.state_dir(env.cwd))
    names = _environments(config, args.environment)
    several = len(config.environments) > 1
    root, now = config.report_dir(env.cwd), env.now()
    for name in names:
        stored = store.latest(name)
        if stored is None:
            if len(names) == 1:
                raise EscalatorError(f"no stored result for environment {name or 'default'!r} "
                                     f"in {store.state_dir}: run 'escalator run' or 'check' "
                                     "first")
            env.stdout.write(f"no stored result for environment {name!r} yet\n")
            continue
        texts = render_all(stored, store.history(name, ALL_HISTORY), now,
                           ladder_view(config, store, name, now), args.history)
        out_dir = root / directory_name(store, name) if several else root
        _write_all(root, out_dir, texts)
        env.stdout.write(texts["summary.txt"] if args.table
                         else f"wrote {', '.join(texts)} to {out_dir}\n")
    if several:
        texts = _overview(config, store, now)
        _write_all(root, root, texts)
        if not args.table:
            env.stdout.write(f"wrote the overview ({', '.join(texts)}) to {root}\n")
    return 0


def _environments(config: Config, chosen: str | None) -> list[str | None]:
    """The environments to render: the one chosen, else every one of a project with several."""
    from escalator.commands.status import environment_name

    if chosen is None and config.run.environment is None and len(config.environments) > 1:
        return list(config.environments)
    return [environment_name(config, chosen)]


def directory_name(store: ResultStore, environment: str | None) -> str:
    """An environment's report directory: named as its state files are (quoted, so no name
    leaves the report directory)."""
    return store.history_path(environment).stem


def ladder_view(config: Config, store: ResultStore, environment: str | None, now: float
                ) -> LadderView | None:
    """The ladder's latch, maintenance window, audit events, notifier, open pages and
    watcher; None without a [ladder]."""
    if config.ladder is None:
        return None
    from escalator.env import boot_id
    from escalator.ladder import heartbeat
    from escalator.ladder.decide import active_window
    from escalator.ladder.store import LadderStore, ladder_dir
    from escalator.reports.ladder_view import view

    name = environment or "default"
    ladder = LadderStore(ladder_dir(store.state_dir, name), name, now=lambda: now,
                         state_dir=store.state_dir)
    state, beat = ladder.peek(), heartbeat.read(ladder)
    return view(state.latch, active_window(config.ladder, now), ladder.read_audit(),
                notifier=state.notifier, pages=state.pages, watcher=beat,
                watcher_gone=heartbeat.judge(beat, None, boot_id()),
                host_latches=state.host_latches)


def _overview(config: Config, store: ResultStore, now: float) -> dict[str, str]:
    from escalator.reports import overview

    summaries = [overview.summary(name, directory_name(store, name), _readable(store, name),
                                  store.history(name, ALL_HISTORY),
                                  ladder_view(config, store, name, now), now)
                 for name in config.environments]
    return overview.render_all(summaries, now)


def _readable(store: ResultStore, environment: str) -> StoredRun | None:
    """The latest run, or None when it cannot be read (its own report says why)."""
    from escalator.state import StateError

    try:
        return store.latest(environment)
    except StateError:
        return None


def _write_all(root: Path, out_dir: Path, texts: dict[str, str]) -> None:
    """The reports into `out_dir`, opened below the report directory `root` as the state
    directory is (refused when another user owns or may write it; no link followed)."""
    from escalator.storage import atomic_write

    for name, text in texts.items():
        try:
            atomic_write(out_dir / name, text, mode=REPORT_MODE, root=root)
        except OSError as exc:
            raise EscalatorError(f"cannot write {exc.filename or out_dir / name}: "
                                 f"{exc.strerror or exc}") from None
