"""TLS phrases: server names, client certificates, the chain's expiry, versions, OCSP stapling.

`Given I use the TLS server name` connects to the address a step names while sending and
verifying another name (SNI), for the TLS phrases and for HTTPS requests alike, as curl's
`--resolve` does; `Given I use the client certificate` presents a certificate to servers that
ask for one (also the environment's `tls_client_cert` and `tls_client_key`). The phrases use the
environment's `tls_verify` and `tls_ca_bundle` like every HTTPS request. The probe is
`escalator.probes.tls`; OCSP stapling is read with `openssl s_client -status`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from behave import given, then

from escalator.limits import Limit
from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps import http_client as web

if TYPE_CHECKING:
    from escalator.probes.tls import CertResult, TlsTarget

PROBES = ("escalator.probes.tls",)
VARIABLES = ("tls_verify", "tls_ca_bundle", "tls_client_cert", "tls_client_key")

_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def client_certificate(context: Any) -> tuple[str, str] | None:
    """The scenario's client certificate (a Given step's, else the environment's)."""
    chosen: tuple[str, str] | None = getattr(context, "tls_client_cert", None)
    if chosen is not None:
        return chosen
    variables = api.session(context).variables
    if not variables.get("tls_client_cert"):
        return None
    cert = os.path.expanduser(variables["tls_client_cert"])
    return cert, os.path.expanduser(variables.get("tls_client_key") or cert)


def tls_target(context: Any, host: str, max_version: str | None = None) -> TlsTarget:
    """The TLS target for `host` with the scenario's name, certificate and verification."""
    from escalator.probes.tls import TlsTarget, parse_address

    name, port = parse_address(api.expand(context, host))
    verify = web.tls_verify(context)
    return TlsTarget(name, port, timeout=api.session(context).client_timeout,
                     verify=verify is not False,
                     ca_bundle=verify if isinstance(verify, str) else None,
                     server_name=getattr(context, "tls_server_name", None),
                     client_cert=client_certificate(context), max_version=max_version)


def _where(target: TlsTarget) -> str:
    return target.address + (f" (as {target.server_name})" if target.server_name else "")


def _certificate(context: Any, host: str) -> CertResult:
    from escalator.probes.tls import probe_certificate

    target = tls_target(context, host)
    with api.session(context).busy(f"TLS handshake with {target.address}"):
        result = probe_certificate(target)
    assert result.error is None, f"no certificate from {_where(target)}: {result.error}"
    return result


# ---- what the scenario's handshakes carry -------------------------------------------------

@given('I use the TLS server name "{name:Q}"')
def step_i_use_the_tls_server_name(context: Any, name: str) -> None:
    """Given I use the TLS server name "www.example.com"

    Later TLS phrases and HTTPS requests connect to the address they name but send this name
    (SNI) and verify the certificate against it: check one backend of a load balancer.
    """
    value = api.expand(context, name).strip()
    if not value or any(c.isspace() or c in "/:" for c in value):
        raise api.StepSetupError(f"bad TLS server name {value!r}: write a host name")
    context.tls_server_name = value


@given('I use the client certificate "{cert:Q}" with the key "{key:Q}"')
def step_i_use_the_client_certificate(context: Any, cert: str, key: str) -> None:
    """Given I use the client certificate "client.pem" with the key "client.key"

    Later TLS phrases and HTTPS requests present it when the server asks (mutual TLS).
    """
    paths = tuple(os.path.expanduser(api.expand(context, p).strip()) for p in (cert, key))
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise api.StepSetupError(f"the client certificate file {missing[0]} does not exist")
    context.tls_client_cert = paths


# ---- the chain, the version, stapling ------------------------------------------------------

def _chain(context: Any, host: str, crit: Limit, warn: Limit | None = None) -> None:
    from escalator.steps.http_tls import _when  # the certificate phrase's wording of dates

    api.stated(crit, warn, "days")
    result = _certificate(context, host)
    earliest = result.earliest()
    assert earliest is not None, f"no certificate chain from {_where(result.target)}"
    cert, days = earliest
    measured = api.record(context, "chain_days_left", round(days, 3), "", crit, warn=warn)
    until = cert.not_after.strftime("%Y-%m-%d %H:%M UTC")
    which = f"the certificate {cert.subject or '(no subject)'} in the chain of " + _where(
        result.target)
    assert days >= 0, f"{which} {_when(days)} (not after {until})"
    assert result.verify_error is None, f"{_where(result.target)}: {result.verify_error}"
    api.judge(context, measured, f"{which} {_when(days)} ({until})", unit="days")


@then('the TLS certificate chain of "{host:Q}" should be valid for at least {n:Int} days')
def step_the_tls_chain_should_be_valid_for_at_least(context: Any, host: str, n: int) -> None:
    """Then the TLS certificate chain of "www.example.com" should be valid for at least 14 days

    Every certificate of the chain (the verified one, up to the trusted root; else what the
    server sent), so an intermediate about to expire is caught; records `chain_days_left`.
    """
    _chain(context, host, Limit.at_least(n))


@then('the TLS certificate chain of "{host:Q}" should be valid for at least {n:Int} days, '
      "warning below {w:Days}")
def step_the_tls_chain_should_be_valid_for_at_least_warning(context: Any, host: str, n: int,
                                                            w: float) -> None:
    """Then the TLS certificate chain of "www.example.com" should be valid for at least 14 days, warning below 30

    WARNING below W days left in the chain, CRITICAL below N.
    """  # noqa: E501 - the example is one line of a feature file
    _chain(context, host, Limit.at_least(n), Limit.at_least(w))


def _version(text: str) -> str:
    """A version as ssl names it: "TLS 1.2" -> "TLSv1.2"; an unknown one is our mistake."""
    from escalator.probes.tls import tls_version

    return tls_version(text).name.replace("_", ".")


@then('the TLS version of "{host:Q}" should be at least "{version:Q}"')
def step_the_tls_version_should_be_at_least(context: Any, host: str, version: str) -> None:
    """Then the TLS version of "www.example.com" should be at least "TLSv1.3"

    The version the server agrees to when offered every version we allow.
    """
    wanted = _version(version)
    result = _certificate(context, host)
    agreed = result.version or "no version"
    assert agreed in _VERSIONS and _VERSIONS.index(agreed) >= _VERSIONS.index(wanted), (
        f"{_where(result.target)} negotiated {agreed}, wanted at least {wanted}")


@then('"{host:Q}" should refuse TLS versions below "{version:Q}"')
def step_should_refuse_tls_versions_below(context: Any, host: str, version: str) -> None:
    """Then "www.example.com" should refuse TLS versions below "TLSv1.2"

    Offers at most the version just below (e.g. TLSv1.1) and passes when no handshake happens.
    """
    from escalator.probes.tls import handshake_version

    rank = _VERSIONS.index(_version(version))
    if rank == 0:
        raise api.StepSetupError(f"no TLS version below {version} to offer")
    below = _VERSIONS[rank - 1]
    target = tls_target(context, host, max_version=below)
    with api.session(context).busy(f"TLS handshake with {target.address} offering {below}"):
        agreed, _, failure = handshake_version(target)
    assert failure is None, failure
    assert agreed is None, f"{_where(target)} accepted {agreed} (offered {below} at most)"


@then('the TLS handshake with "{host:Q}" should include a stapled OCSP response')
def step_the_tls_handshake_should_include_a_stapled_ocsp_response(context: Any, host: str
                                                                  ) -> None:
    """Then the TLS handshake with "www.example.com" should include a stapled OCSP response

    The server sends its certificate's revocation status in the handshake (OCSP stapling), and
    that status is "good".
    """
    from escalator.probes.tls import ocsp_stapled

    target = tls_target(context, host)
    with api.session(context).busy(f"TLS handshake with {target.address}"):
        result = ocsp_stapled(target)
    assert result.error is None, result.error
    assert result.stapled, f"{_where(target)} stapled no OCSP response"
    assert result.status is not None and result.status.startswith("successful"), (
        f"{_where(target)} stapled an OCSP response with status {result.status}")
    assert result.cert_status == "good", (
        f"{_where(target)} stapled an OCSP response saying {result.cert_status}")
