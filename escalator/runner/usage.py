"""Which of an environment's variables a suite uses, so that a misspelt one is named.

A typo in escalator.toml (`nameservr`, `tls_ca_bundel`) would otherwise be accepted silently
while the step falls back to its default. A variable is used when a step module declares it in
`VARIABLES` (the settings its steps read, e.g. `nameserver`; for a project whose steps are the
shipped library, every module of it, loaded or not) or when a feature file refers to it
as `${name}`, whether or not this run selected that file (the project's `features/` are read).
Every other key of the environment becomes a notice, which every output shows, with the closest
used name. Called by the coordinator once the suite is loaded.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalator.variables import references

if TYPE_CHECKING:
    from escalator.runner.suite import Suite


def unused_variables(suite: Suite, options: Any) -> list[str]:
    """One notice per variable that no step module and no feature file uses."""
    defined = set(options.variables)
    if not defined:
        return []
    project = options.config.base_dir or options.cwd
    files = [f.filename for f in suite.features]  # a run of some files: the others count too
    files += [str(p) for p in Path(project, "features").rglob("*.feature")]
    used = declared(suite.runner.step_registry) | referenced(files)
    if suite.library:  # the steps are the whole library, loaded only as far as this run needs
        from escalator.runner import library

        used |= library.declared()
    where = f"environment {options.environment}" if options.environment else "variables"
    notices = []
    for name in sorted(defined - used):
        close = difflib.get_close_matches(name, sorted(used), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        notices.append(f"{where}: {name} is used by no step or feature{hint}")
    return notices


def declared(registry: Any) -> set[str]:
    """The settings the registered steps read: each step module's `VARIABLES`."""
    modules = {matcher.func.__module__ for matchers in registry.steps.values()
               for matcher in matchers}
    return {name for module in modules
            for name in getattr(sys.modules.get(module), "VARIABLES", ())}


def referenced(filenames: Iterable[str]) -> set[str]:
    """The names the feature files refer to as `${name}`, anywhere in them."""
    found: set[str] = set()
    for filename in set(filenames):
        try:
            found |= references(Path(filename).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return found
