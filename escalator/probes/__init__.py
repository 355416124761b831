"""Probes: one module per protocol, each of the same shape.

A probe takes a frozen target (what to ask, with timeouts) and returns a frozen result (what
came back, how long it took, and an `error` string when the target misbehaved). A probe never
raises for a broken target: refused, timed out, bad certificate, NXDOMAIN are data. It raises
`ProbeSetupError` only for our own mistakes (bad URL, unknown record type, missing key file).
Probes never see behave; the library each one wraps is imported only by that module.
"""

from escalator.errors import SetupError


class ProbeSetupError(SetupError, ValueError):
    """The probe was asked something impossible; the scenario is UNKNOWN, not failed."""
