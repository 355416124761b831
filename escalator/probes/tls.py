"""TLS probe: how long a server's certificate stays valid, and whether we trust it.

`probe_certificate(TlsTarget) -> CertResult` opens one verifying TLS handshake (a second,
non-verifying one only when verification failed, to still read the dates), so an expired or
untrusted certificate still yields its expiry: the step records `days_left` whatever happens.
Called by `escalator.steps.http_tls`. Certificate failures are worded by
`escalator.probes.verify`, which the HTTP probe shares (without loading `cryptography`).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509

from escalator.hostport import split_host_port
from escalator.probes import ProbeSetupError
from escalator.probes.verify import describe_verify_error

_DAY = 86400.0

@dataclass(frozen=True)
class TlsTarget:
    """Which server to ask and how: `verify` off only reads the dates; `ca_bundle` is a path."""

    host: str
    port: int = 443
    timeout: float = 10.0
    verify: bool = True
    ca_bundle: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class CertResult:
    """What the handshake showed. `error`: no certificate could be read at all."""

    target: TlsTarget
    not_after: datetime | None = None
    subject: str = ""
    verify_error: str | None = None
    error: str | None = None
    checked_at: float = 0.0

    @property
    def days_left(self) -> float | None:
        """Days until expiry at the time of the check, negative once expired."""
        if self.not_after is None:
            return None
        return (self.not_after.timestamp() - self.checked_at) / _DAY


def parse_address(text: str, default_port: int = 443) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or an https URL -> (host, port); a bad one is our error.

    >>> parse_address("example.com"), parse_address("127.0.0.1:8443"), parse_address("[::1]:9")
    (('example.com', 443), ('127.0.0.1', 8443), ('::1', 9))
    >>> parse_address("https://www.example.com:8443/health")
    ('www.example.com', 8443)
    """
    text = text.strip()
    if "://" in text:
        text = urlsplit(text).netloc.rpartition("@")[2]
    try:
        return split_host_port(text, default_port)
    except ValueError:
        raise ProbeSetupError(f"bad host or port: {text!r}") from None


def _context(target: TlsTarget, verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=target.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ProbeSetupError(f"cannot read the CA bundle {target.ca_bundle!r}: {exc}") from None


def _peer_certificate(target: TlsTarget, verify: bool, deadline: float) -> bytes:
    """The server's leaf certificate (DER), after a handshake with or without verification."""
    context = _context(target, verify)
    timeout = max(0.05, deadline - time.monotonic())
    with socket.create_connection((target.host, target.port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=target.host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


def _network_error(exc: OSError, target: TlsTarget) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no TLS handshake with {target.address} within {target.timeout:.3g}s"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection to {target.address} refused"
    if isinstance(exc, socket.gaierror):
        return f"{target.host} does not resolve"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {target.address} failed: {exc.reason or exc}"
    return f"cannot reach {target.address}: {exc.strerror or exc}"


def probe_certificate(target: TlsTarget) -> CertResult:
    """Read and judge the certificate of `target`; never raises for a broken server."""
    deadline = time.monotonic() + target.timeout
    verify_error = None
    try:
        try:
            der = _peer_certificate(target, target.verify, deadline)
        except ssl.SSLCertVerificationError as exc:
            verify_error = describe_verify_error(exc.verify_message or str(exc))
            der = _peer_certificate(target, False, deadline)
    except OSError as exc:
        return CertResult(target, verify_error=verify_error, error=_network_error(exc, target),
                          checked_at=time.time())
    cert = x509.load_der_x509_certificate(der)
    return CertResult(target, not_after=cert.not_valid_after_utc.astimezone(UTC),
                      subject=cert.subject.rfc4514_string(), verify_error=verify_error,
                      checked_at=time.time())
