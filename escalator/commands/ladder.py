"""`escalator ladder plan|status|resume|history`: inspect and operate the ladder.

`plan` runs the checks once and prints what the ladder would do now, running nothing. `status`
and `history` read the state and the audit log (damaged lines skipped and reported). `resume`
unlatches: applied at once when no engine runs, otherwise left as a request for the latch that
holds now, which the running engine applies before its next run if that latch still holds;
both ways it is audited with who ($USER) and why (--reason), resolves the latch's page, and
says which counters it clears (`--reset-counters`: the loop breaker and the budget) and which
it keeps. Exit 3 when it cannot run.
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
            cmd.add_argument("--reset-counters", action="store_true",
                             help="also clear the loop breaker's engagements and the hourly "
                                  "budget's actions (cooldowns stay)")
            cmd.add_argument("--host", action="append", metavar="HOST",
                             help="resume only this host's latch (repeatable); without it "
                                  "every latch, the environment's and the hosts', is resumed")
        if name == "history":
            cmd.add_argument("-n", "--limit", type=int, default=50, help="rows (default 50)")
    parser.set_defaults(handler=main, on_error=could_not_run)


def main(args: argparse.Namespace, env: Env) -> int:
    from escalator.commands.ladder_session import open_session
    from escalator.ladder import render
    from escalator.ladder.store import damage_note

    command = args.ladder_command
    setup = open_session(args, env, with_checks=command == "plan")
    if command == "plan":
        from escalator.ladder.config import check_programs

        check_programs(setup.config, env.environ)
        obs, plan, decision, state = setup.engine(read_only=True).preview()
        env.stdout.write(render.plan_text(setup.environment, setup.config, obs, plan, decision,
                                          state.latch))
    elif command == "status":
        env.stdout.write(_status(setup, env))
    elif command == "history":
        damaged: list[int] = []
        records = setup.store.read_audit(damaged)
        note = damage_note(damaged)
        env.stdout.write(render.history_text(records, args.limit) + (note and note + "\n"))
    else:
        return _resume(setup, args.reason, args.reset_counters, env, args.host)
    return 0


def _status(setup: Any, env: Env) -> str:
    from escalator.env import boot_id
    from escalator.ladder import decide, heartbeat, render

    boot = boot_id()
    state = decide.rebase(setup.store.peek(), boot, env.monotonic(), env.now())
    watcher = heartbeat.describe(heartbeat.read(setup.store), boot)
    return render.status_text(setup.environment, setup.config, state, env.now(),
                              pending=setup.store.pending_resume(),
                              intent=setup.store.read_intent(), watcher=watcher)


def _resume(setup: Any, reason: str, reset: bool, env: Env,
            hosts: list[str] | None = None) -> int:
    from escalator.ladder import render
    from escalator.ladder.resume import chosen
    from escalator.storage import LockHeld

    who = env.environ.get("USER") or env.environ.get("LOGNAME") or "unknown"
    if not reason.strip():
        return could_not_run("ladder resume: --reason must say why", env)
    nothing = f"{setup.environment}: {_not_latched(hosts)}: nothing to resume\n"
    try:
        with setup.store.lock("ladder resume"):
            engine = setup.engine()
            setup.store.take_resume()  # this resume settles any request left behind
            before = engine.state
            resumed = engine.resume(who, reason, reset, hosts)
    except LockHeld as exc:
        latches = chosen(setup.store.peek(), hosts)
        if not latches:  # a request now would release the next latch nobody has seen yet
            setup.store.audit("resume_ignored", actor=who, reason=reason)
            env.stdout.write(nothing)
            return 0
        setup.store.request_resume(who, reason, latches[0], reset, latches[1:])
        clears = " (and to clear the loop breaker and the budget)" if reset else ""
        env.stdout.write(f"{setup.environment}: resume requested by {who}{clears}; the running "
                         f"engine applies it before its next run ({exc})\n")
        return 0
    if not resumed:
        env.stdout.write(nothing)
        return 0
    env.stdout.write(render.resume_text(setup.environment, setup.config, before, engine.now(),
                                        reset, chosen(before, hosts)))
    return 0


def _not_latched(hosts: list[str] | None) -> str:
    if not hosts:
        return "not latched"
    return f"{', '.join(hosts)} {'is' if len(hosts) == 1 else 'are'} not latched"
