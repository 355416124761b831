"""`escalator steps`: the step catalogue, every phrase with an example, grouped by module.

The example is the first line of the step function's docstring (see docs/internals.md); the
phrase's pattern is shown when a step has none. Loads the project's `steps/` the way a run does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from escalator.env import Env
from escalator.errors import SuiteError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("steps", help="the step catalogue: every phrase, an example",
                                   description="List every step phrase with an example.")
    parser.add_argument("-s", "--search", metavar="TEXT", help="only phrases containing TEXT")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, env: Env) -> int:
    entries = catalogue(env)
    needle = (args.search or "").lower()
    env.stdout.write(render(e for e in entries if needle in e[2].lower()))
    return 0


def catalogue(env: Env) -> list[tuple[str, str, str]]:
    """(group, module, example) for every registered step, in source order."""
    registry = load_registry(env)
    found = []
    for step_type, matchers in registry.steps.items():
        for matcher in matchers:
            func = matcher.func
            doc = (func.__doc__ or "").strip().splitlines()
            keyword = step_type.capitalize() if step_type != "step" else "*"
            example = doc[0].strip() if doc else f"{keyword} {matcher.pattern}"
            # behave executes a project's own step files without a module name
            name = func.__module__ or Path(func.__code__.co_filename).stem
            module = sys.modules.get(func.__module__) if func.__module__ else None
            text = module.__doc__ if module is not None else func.__globals__.get("__doc__")
            group = ((text or "").strip().splitlines() or [name])[0]
            line = func.__code__.co_firstlineno
            found.append((name, line, group, example))
    found.sort()
    return [(group, module, example) for module, _, group, example in found]


def load_registry(env: Env) -> Any:
    """behave's step registry after loading the project's steps/ (or escalator's library)."""
    from behave.runner_util import load_step_modules
    from behave.step_registry import registry

    from escalator.runner import keywords

    keywords.install(registry)
    steps_dir = env.cwd / "steps"
    try:
        if steps_dir.is_dir():
            load_step_modules([str(steps_dir)])
        else:
            from escalator.steps import load_library

            load_library()
    except Exception as exc:
        raise SuiteError(f"cannot load steps: {type(exc).__name__}: {exc}") from None
    return registry


def render(entries: Any) -> str:
    out: list[str] = []
    current = None
    for group, module, example in entries:
        if group != current:
            out.append(f"\n{group}  ({module})" if out else f"{group}  ({module})")
            current = group
        out.append(f"  {example}")
    return "\n".join(out) + "\n"
