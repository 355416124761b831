"""Escalator's step library: one module per protocol, imported by the thin modules in `steps/`.

Each module registers its phrases with behave's decorators when imported and names the probe
modules it needs in `PROBES`, so the runner can load those libraries once, before it forks the
scenario workers, and only when a selected scenario uses them.
"""

import importlib

LIBRARY = ("http", "http_forms", "http_json", "http_timing", "http_tls", "dns", "system", "ssh",
           "files", "files_ssh", "amqp", "http_request", "http_response", "values", "tls",
           "network", "dns_checks", "ssh_hosts", "host_state")


def thin_module() -> str:
    """The text of a project's `steps/library_steps.py`: the whole library, one line a module."""
    return "".join(f"from escalator.steps.{name} import *  # noqa: F403\n" for name in LIBRARY)


def load_library() -> None:
    """Register every phrase of the library (for `escalator steps` outside a project)."""
    for name in LIBRARY:
        importlib.import_module(f"escalator.steps.{name}")
