"""`escalator ladder plan|status|resume|history`: inspect and operate the ladder.

`plan` runs the checks once and prints what the ladder would do now, running nothing. `status`
and `history` read the state and the audit log. `resume` unlatches: applied at once when no
engine runs, otherwise left as a request that the running engine applies before its next run;
both ways it is audited with who ($USER) and why (--reason). Exit 3 when it cannot run.
"""

from __future__ import annotations

import argparse
from typing import Any

from escalator.commands.escalate import could_not_run
from escalator.env import Env


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ladder", help="inspect and operate the escalation ladder",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="ladder_command", metavar="SUBCOMMAND", required=True)
    from escalator.commands.common import add_config_arguments, add_run_arguments

    plan = sub.add_parser("plan", help="print what the ladder would run now; run nothing")
    add_run_arguments(plan, formats=False)
    for name, text in (("status", "latch, budget, loop breaker, cooldowns, last engagement"),
                       ("resume", "unlatch the ladder (audited with who and why)"),
                       ("history", "engagements and actions from the audit log")):
        cmd = sub.add_parser(name, help=text)
        add_config_arguments(cmd)
        if name == "resume":
            cmd.add_argument("--reason", required=True, help="why it is safe to act again")
        if name == "history":
            cmd.add_argument("-n", "--limit", type=int, default=50, help="rows (default 50)")
    parser.set_defaults(handler=main, on_error=could_not_run)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.commands.ladder_session import open_session
    from escalator.ladder import render

    command = args.ladder_command
    setup = open_session(args, env, with_checks=command == "plan")
    if command == "plan":
        obs, plan, decision, _ = setup.engine(read_only=True).preview()
        env.stdout.write(render.plan_text(setup.environment, setup.config, obs, plan, decision))
    elif command == "status":
        env.stdout.write(render.status_text(setup.environment, setup.config,
                                            setup.store.peek(), env.now()))
    elif command == "history":
        env.stdout.write(render.history_text(setup.store.read_audit(), args.limit))
    else:
        return _resume(setup, args.reason, env)
    return 0


def _resume(setup: Any, reason: str, env: Env) -> int:
    from escalator.storage import LockHeld

    who = env.environ.get("USER") or env.environ.get("LOGNAME") or "unknown"
    if not reason.strip():
        return could_not_run("ladder resume: --reason must say why", env)
    setup.store.request_resume(who, reason)
    try:
        with setup.store.lock("ladder resume"):
            engine = setup.engine()
            request = setup.store.take_resume()
            resumed = request is not None and engine.resume(who, reason)
    except LockHeld as exc:
        env.stdout.write(f"{setup.environment}: resume requested by {who}; the running engine "
                         f"applies it before its next run ({exc})\n")
        return 0
    verdict = "resumed" if resumed else "not latched: nothing to resume"
    env.stdout.write(f"{setup.environment}: {verdict}\n")
    return 0
