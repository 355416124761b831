"""Errors of our own making, each with a one-line message that names the file, line or key.

Library exceptions (requests, paramiko, dnspython) never travel past the probe that uses them;
these are for problems with what the operator gave us: config, features, arguments.
"""

from __future__ import annotations


class EscalatorError(Exception):
    """A problem the operator can fix; str() is the one-line reason."""


class ConfigError(EscalatorError):
    """escalator.toml (or [tool.escalator]) is wrong; the message names file and key."""


class UsageError(EscalatorError):
    """The command line is wrong."""


class SuiteError(EscalatorError):
    """The features or steps cannot be loaded: parse error, missing path, ambiguous step."""


class SetupError(EscalatorError):
    """A check asked for something impossible on our side (bad argument, unknown variable,
    missing key file): the scenario is UNKNOWN, not failed. Probes raise `ProbeSetupError`,
    steps `StepSetupError`; the runner's worker matches this class."""
