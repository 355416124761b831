"""TLS probe: how long a server's certificate stays valid, and whether we trust it.

`probe_certificate(TlsTarget) -> CertResult` opens one verifying TLS handshake (a second,
non-verifying one only when verification failed, to still read the dates), so an expired or
untrusted certificate still yields its expiry: the step records `days_left` whatever happens.
The result also holds the chain (the verified one, trust anchor included, else what the server
sent) and the negotiated protocol version. A target may name the server (SNI and the name the
certificate must hold) apart from the address it connects to, present a client certificate,
and cap the protocol version. `ocsp_stapled(TlsTarget)` asks, through `openssl s_client
-status`, whether the server staples an OCSP response: Python's ssl module can neither request
nor read one. Called by `escalator.steps.http_tls` and `escalator.steps.tls`. Certificate
failures are worded by `escalator.probes.verify`, which the HTTP probe shares (without loading
`cryptography`).
"""

from __future__ import annotations

import _ssl
import shutil
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
    server_name: str | None = None  # SNI and the certificate's name; None: `host`
    client_cert: tuple[str, str] | None = None  # (certificate file, key file)
    max_version: str | None = None  # e.g. "TLSv1.1": offer nothing newer

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return self.server_name or self.host


@dataclass(frozen=True)
class ChainCert:
    """One certificate of a chain: who it is and until when it is valid."""

    subject: str
    not_after: datetime


@dataclass(frozen=True)
class CertResult:
    """What the handshake showed. `error`: no certificate could be read at all."""

    target: TlsTarget
    not_after: datetime | None = None
    subject: str = ""
    verify_error: str | None = None
    error: str | None = None
    checked_at: float = 0.0
    chain: tuple[ChainCert, ...] = ()  # leaf first
    version: str | None = None  # "TLSv1.3"

    @property
    def days_left(self) -> float | None:
        """Days until expiry at the time of the check, negative once expired."""
        if self.not_after is None:
            return None
        return (self.not_after.timestamp() - self.checked_at) / _DAY

    def earliest(self) -> tuple[ChainCert, float] | None:
        """The chain's certificate that expires first, and its days left."""
        if not self.chain:
            return None
        first = min(self.chain, key=lambda cert: cert.not_after)
        return first, (first.not_after.timestamp() - self.checked_at) / _DAY


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
    else:
        try:
            context = ssl.create_default_context(cafile=target.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ProbeSetupError(f"cannot read the CA bundle {target.ca_bundle!r}: {exc}"
                                  ) from None
    if target.client_cert is not None:
        try:
            context.load_cert_chain(*target.client_cert)
        except (OSError, ssl.SSLError) as exc:
            raise ProbeSetupError(f"cannot use the client certificate "
                                  f"{target.client_cert[0]!r}: {exc}") from None
    if target.max_version is not None:
        context.maximum_version = tls_version(target.max_version)
        # let an old protocol be offered at all (OpenSSL refuses it at security level 2)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def tls_version(text: str) -> ssl.TLSVersion:
    """ "TLSv1.2", "TLS 1.2" or "1.2" as ssl's version; an unknown one is our mistake.

    >>> tls_version("TLS 1.3").name, tls_version("1.0").name
    ('TLSv1_3', 'TLSv1')
    """
    number = text.strip().upper().removeprefix("TLS").strip().removeprefix("V").strip()
    found = {"1.0": ssl.TLSVersion.TLSv1, "1": ssl.TLSVersion.TLSv1,
             "1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
             "1.3": ssl.TLSVersion.TLSv1_3}.get(number)
    if found is None:
        raise ProbeSetupError(f"unknown TLS version {text!r}: write TLSv1.2 or TLSv1.3")
    return found


@dataclass(frozen=True)
class _Handshake:
    leaf: bytes
    chain: tuple[bytes, ...]
    version: str | None


def _chain(tls: ssl.SSLSocket, verified: bool) -> tuple[bytes, ...]:
    """The chain as DER, leaf first: the verified one (trust anchor included) when we verified,
    else what the server sent. Public in Python 3.13; the same C methods exist since 3.10."""
    name = "get_verified_chain" if verified else "get_unverified_chain"
    method = getattr(tls, name, None) or getattr(getattr(tls, "_sslobj", None), name, None)
    found = method() if method is not None else None
    return tuple(c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER)
                 for c in found or ())


def _handshake(target: TlsTarget, verify: bool, deadline: float) -> _Handshake:
    """One handshake, with or without verification: what the server showed."""
    context = _context(target, verify)
    timeout = max(0.05, deadline - time.monotonic())
    with socket.create_connection((target.host, target.port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=target.name) as tls:
        der = tls.getpeercert(binary_form=True)
        chain = _chain(tls, verify)
        version = tls.version()
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return _Handshake(der, chain or (der,), version)


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
            shown = _handshake(target, target.verify, deadline)
        except ssl.SSLCertVerificationError as exc:
            verify_error = describe_verify_error(exc.verify_message or str(exc))
            shown = _handshake(target, False, deadline)
    except OSError as exc:
        return CertResult(target, verify_error=verify_error, error=_network_error(exc, target),
                          checked_at=time.time())
    chain = tuple(_chain_cert(der) for der in shown.chain)
    cert = x509.load_der_x509_certificate(shown.leaf)
    return CertResult(target, not_after=cert.not_valid_after_utc.astimezone(UTC),
                      subject=cert.subject.rfc4514_string(), verify_error=verify_error,
                      checked_at=time.time(), chain=chain, version=shown.version)


def _chain_cert(der: bytes) -> ChainCert:
    cert = x509.load_der_x509_certificate(der)
    return ChainCert(cert.subject.rfc4514_string(), cert.not_valid_after_utc.astimezone(UTC))


def handshake_version(target: TlsTarget) -> tuple[str | None, str | None, str | None]:
    """(version negotiated, TLS refusal, network failure), one of them set: for asking whether
    a server still accepts an old protocol (`max_version`). No certificate check: the question
    is the protocol alone; a server we cannot reach has refused nothing."""
    deadline = time.monotonic() + target.timeout
    try:
        return _handshake(target, False, deadline).version, None, None
    except ssl.SSLError as exc:
        return None, _network_error(exc, target), None
    except OSError as exc:
        return None, None, _network_error(exc, target)


@dataclass(frozen=True)
class StapleResult:
    """Whether the server stapled an OCSP response, and its status line if it did."""

    target: TlsTarget
    stapled: bool = False
    status: str | None = None  # e.g. "successful (0x0)"
    cert_status: str | None = None  # "good", "revoked", "unknown"
    error: str | None = None


def ocsp_stapled(target: TlsTarget) -> StapleResult:
    """Ask for OCSP stapling in one handshake (`openssl s_client -status`); never raises for
    the server. The certificate is not judged here (the certificate phrases do that)."""
    binary = shutil.which("openssl")
    if binary is None:
        raise ProbeSetupError("OCSP stapling is read with the openssl command, which is not "
                              "installed (Debian package openssl)")
    host = f"[{target.host}]" if ":" in target.host else target.host
    argv = [binary, "s_client", "-connect", f"{host}:{target.port}", "-servername", target.name,
            "-status", "-no_ign_eof"]
    from escalator.probes.command import program, run

    # under the command probe's keeper: s_client has no timeout of its own, and it must end
    # with the check even when the check is killed
    done = run(program(argv, target.timeout))
    if done.timed_out or done.error is not None:
        return StapleResult(target, error=done.error or (
            f"no TLS handshake with {target.address} within {target.timeout:.3g}s"))
    return _staple(target, done.stdout, done.stderr)


def _staple(target: TlsTarget, out: str, err: str) -> StapleResult:
    """What s_client printed, read.

    >>> t = TlsTarget("h", 443)
    >>> _staple(t, "OCSP response: no response sent\\n", "").stapled
    False
    >>> r = _staple(t, "OCSP Response Status: successful (0x0)\\n    Cert Status: good\\n", "")
    >>> r.stapled, r.status, r.cert_status
    (True, 'successful (0x0)', 'good')
    """
    if "OCSP response: no response sent" in out:
        return StapleResult(target)
    status = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                   if "OCSP Response Status:" in line), None)
    if status is None:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        reason = lines[-1] if lines else "no handshake"
        return StapleResult(target, error=f"TLS handshake with {target.address} failed: {reason}")
    cert_status = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                        if "Cert Status:" in line), None)
    return StapleResult(target, True, status, cert_status)
