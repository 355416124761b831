"""The certificate phrase: how many days a server's TLS certificate has left.

Records `days_left` whatever happens next (an expired or untrusted certificate still shows its
days in perfdata), then fails on expiry, on too few days, or on a certificate we do not trust
(self-signed, wrong host). Uses the environment's `tls_verify` and `tls_ca_bundle` through
`http_client`, so web pages and certificates are judged alike, and the scenario's TLS server
name and client certificate (`escalator.steps.tls`).
"""

from __future__ import annotations

from typing import Any

from behave import then

from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import record, session
from escalator.timestamps import MINUTE, utc

PROBES = ("escalator.probes.tls",)


def _when(days: float) -> str:
    """
    >>> _when(-3.2), _when(-0.5), _when(10.7)
    ('expired 3 days ago', 'expired less than a day ago', 'expires in 10 days')
    """
    if days < 0:
        gone = int(-days)
        return f"expired {gone} day{'s' * (gone != 1)} ago" if gone else (
            "expired less than a day ago")
    return f"expires in {int(days)} day{'s' * (int(days) != 1)}"


@then('the TLS certificate of "{host:Q}" should be valid for at least {n:Int} days')
def step_the_tls_certificate_should_be_valid_for_at_least(context: Any, host: str, n: int
                                                          ) -> None:
    """Then the TLS certificate of "www.example.com" should be valid for at least 14 days

    host or host:port (default 443); records `days_left` with the limit "N:".
    """
    from escalator.probes.tls import probe_certificate
    from escalator.steps.tls import tls_target  # with the scenario's server name, client cert

    target = tls_target(context, host)
    with session(context).busy(f"TLS handshake with {target.address}"):
        result = probe_certificate(target)
    assert result.not_after is not None and result.days_left is not None, (
        f"no certificate from {target.address}: {result.error}")
    days = result.days_left
    record(context, "days_left", round(days, 1), "", f"{n}:")
    until = utc(result.not_after, MINUTE)
    assert days >= 0, f"the certificate of {target.address} {_when(days)} (not after {until})"
    assert result.verify_error is None, f"{target.address}: {result.verify_error}"
    assert days >= n, (f"the certificate of {target.address} {_when(days)} ({until}), "
                       f"wanted at least {n} days")
