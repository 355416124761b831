"""`escalator report`: render the latest stored run and its history into the report directory.

Reads the result store (`escalator.state`), renders every report with the pure renderers of
`escalator.reports`, and writes them into `report_dir` from the config (default `reports/`).
Each file is replaced atomically, so a web server or node_exporter's textfile collector never
reads half of one. Report files are 0644: unlike the state directory they are meant to be read
by people and by other users' daemons. `--table` also prints the summary tables.
"""

from __future__ import annotations

import argparse
from typing import Any

from escalator.commands.common import add_config_arguments
from escalator.env import Env
from escalator.errors import EscalatorError

REPORT_MODE = 0o644


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="render the living document, tables and metrics into reports/",
        description=__doc__.split("\n")[0] if __doc__ else None)
    add_config_arguments(parser)
    parser.add_argument("--table", action="store_true", help="also print the summary tables")
    parser.add_argument("--history", type=int, default=500, metavar="N",
                        help="past runs to read for 'since' and the strips (default 500)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.commands.status import environment_name
    from escalator.config import load_config
    from escalator.reports import render_all
    from escalator.state import ResultStore
    from escalator.storage import atomic_write

    config = load_config(args.config, env)
    environment = environment_name(config, args.environment)
    store = ResultStore(config.state_dir(env.cwd))
    stored = store.latest(environment)
    if stored is None:
        raise EscalatorError(f"no stored result for environment {environment or 'default'!r} "
                             f"in {store.state_dir}: run 'escalator run' or 'check' first")
    texts = render_all(stored, store.history(environment, args.history), env.now())
    out_dir = config.report_dir(env.cwd)
    for name, text in texts.items():
        try:
            atomic_write(out_dir / name, text, mode=REPORT_MODE, root=out_dir)
        except OSError as exc:
            raise EscalatorError(f"cannot write {exc.filename or out_dir / name}: "
                                 f"{exc.strerror or exc}") from None
    if args.table:
        env.stdout.write(texts["summary.txt"])
    else:
        env.stdout.write(f"wrote {', '.join(texts)} to {out_dir}\n")
    return 0

