"""Escalator's step library: one module per protocol, imported by the thin modules in `steps/`.

Each module registers its phrases with behave's decorators when imported and names the probe
modules it needs in `PROBES`, so the runner can load those libraries once, before it forks the
scenario workers, and only when a selected scenario uses them.
"""

import importlib

LIBRARY = ("http", "http_forms", "http_json", "http_timing", "http_tls", "dns", "ssh")


def load_library() -> None:
    """Register every phrase of the library (for `escalator steps` outside a project)."""
    for name in LIBRARY:
        try:
            importlib.import_module(f"escalator.steps.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"escalator.steps.{name}":
                raise
