"""The certificate phrase: how many days a server's TLS certificate has left.

Records `days_left` whatever happens next (an expired or untrusted certificate still shows its
days in perfdata; no certificate at all is marked "U"), then fails on expiry, on too few days,
or on a certificate we do not trust (self-signed, wrong host); with a warning limit, too few
days for comfort end the scenario WARNING. Uses the environment's `tls_verify` and
`tls_ca_bundle` through `http_client`, so web pages and certificates are judged alike, and the
scenario's TLS server name and client certificate (`escalator.steps.tls`).
"""

from __future__ import annotations

from typing import Any

from behave import then

from escalator.limits import Limit
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import judge, record, session, stated
from escalator.timestamps import MINUTE, utc

PROBES = ("escalator.probes.tls",)
VARIABLES = ("tls_verify", "tls_ca_bundle", "tls_client_cert", "tls_client_key")


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


def _certificate(context: Any, host: str, crit: Limit, warn: Limit | None = None) -> None:
    from escalator.probes.tls import probe_certificate
    from escalator.steps.tls import tls_target  # with the scenario's server name, client cert

    stated(crit, warn, "days")
    target = tls_target(context, host)
    with session(context).busy(f"TLS handshake with {target.address}"):
        result = probe_certificate(target)
    days = result.days_left
    measured = record(context, "days_left", None if days is None else round(days, 3), "", crit,
                      warn=warn)
    assert result.not_after is not None and days is not None, (
        f"no certificate from {target.address}: {result.error}")
    until = utc(result.not_after, MINUTE)
    assert days >= 0, f"the certificate of {target.address} {_when(days)} (not after {until})"
    assert result.verify_error is None, f"{target.address}: {result.verify_error}"
    judge(context, measured, f"the certificate of {target.address} {_when(days)} ({until})",
          unit="days")


@then('the TLS certificate of "{host:Q}" should be valid for at least {n:Int} days')
def step_the_tls_certificate_should_be_valid_for_at_least(context: Any, host: str, n: int
                                                          ) -> None:
    """Then the TLS certificate of "www.example.com" should be valid for at least 14 days

    host or host:port (default 443); records `days_left` with the limit "N:".
    """
    _certificate(context, host, Limit.at_least(n))


@then('the TLS certificate of "{host:Q}" should be valid for at least {n:Int} days, '
      "warning below {w:Days}")
def step_the_tls_certificate_should_be_valid_for_at_least_warning(context: Any, host: str,
                                                                  n: int, w: float) -> None:
    """Then the TLS certificate of "www.example.com" should be valid for at least 14 days, warning below 30

    WARNING below W days left, CRITICAL below N (the unit after W may be left out).
    """  # noqa: E501 - the example is one line of a feature file
    _certificate(context, host, Limit.at_least(n), Limit.at_least(w))
