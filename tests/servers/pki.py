"""TLS beyond one leaf, on loopback: chains with an intermediate, names, client certificates,
protocol versions and OCSP stapling (for tests/test_steps_tls.py).

`Pki(directory)` is a throwaway root CA (trustme) whose certificate is `bundle`. It makes server
contexts for tests/servers/http.py's `serve(..., ssl_context=...)`:

- `chain(intermediate_days)`: leaf (90 days) <- intermediate (`intermediate_days` left) <- root,
  the server sending leaf and intermediate, as real sites do;
- `named(*names)`: a leaf valid only for `names` (SNI tests connect to 127.0.0.1 by address);
- `mutual()`: a server that demands a client certificate from this CA; `client_files()` gives
  one (certificate and key files);
- `capped(maximum)`: a server that speaks at most one TLS version (and accepts old ones).

`stapling_server(pki)` runs `openssl s_server` stapling a "good" OCSP response signed by the
root (a Python ssl server cannot staple); it yields "127.0.0.1:PORT" and stops by itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

LOOPBACK = ("127.0.0.1", "localhost")


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    """A root CA in `directory`; server contexts and client certificates issued by it."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.directory = directory
        self.bundle = directory / "root.pem"
        self.ca.cert_pem.write_to_path(str(self.bundle))
        self.root = x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())
        self.root_key = serialization.load_pem_private_key(self.ca.private_key_pem.bytes(), None)

    def _server(self) -> ssl.SSLContext:
        return ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)

    def chain(self, intermediate_days: float) -> ssl.SSLContext:
        now = datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        middle = (x509.CertificateBuilder().subject_name(_name("Escalator Test Intermediate"))
                  .issuer_name(self.root.subject).public_key(key.public_key())
                  .serial_number(x509.random_serial_number())
                  .not_valid_before(now - timedelta(days=1))
                  .not_valid_after(now + timedelta(days=intermediate_days, hours=1))
                  .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                  .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                               False, False), critical=True)
                  .sign(self.root_key, hashes.SHA256()))  # type: ignore[arg-type]
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder().subject_name(_name("chained.example.test"))
                .issuer_name(middle.subject).public_key(leaf_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=90, hours=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(key, hashes.SHA256()))
        cert_file, key_file = self.directory / "chain.pem", self.directory / "chain.key"
        cert_file.write_bytes(_pem(leaf) + _pem(middle))
        key_file.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        context = self._server()
        context.load_cert_chain(str(cert_file), str(key_file))
        return context

    def named(self, *names: str) -> ssl.SSLContext:
        context = self._server()
        self.ca.issue_cert(*names).configure_cert(context)
        return context

    def mutual(self) -> ssl.SSLContext:
        context = self.named(*LOOPBACK)
        context.verify_mode = ssl.CERT_REQUIRED
        self.ca.configure_trust(context)
        return context

    def client_files(self) -> tuple[Path, Path]:
        client = self.ca.issue_cert("monitor@example.test")
        cert, key = self.directory / "client.pem", self.directory / "client.key"
        client.cert_chain_pems[0].write_to_path(str(cert))
        client.private_key_pem.write_to_path(str(key))
        return cert, key

    def capped(self, maximum: ssl.TLSVersion) -> ssl.SSLContext:
        context = self.named(*LOOPBACK)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = maximum
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        return context

    def ocsp_good(self, leaf_pem: bytes) -> bytes:
        """A signed "good" OCSP response for the leaf, valid for a day (DER)."""
        now = datetime.now(UTC)
        leaf = x509.load_pem_x509_certificate(leaf_pem)
        response = (ocsp.OCSPResponseBuilder()
                    .add_response(cert=leaf, issuer=self.root, algorithm=hashes.SHA256(),
                                  cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now,
                                  next_update=now + timedelta(days=1), revocation_time=None,
                                  revocation_reason=None)
                    .responder_id(ocsp.OCSPResponderEncoding.HASH, self.root)
                    .sign(self.root_key, hashes.SHA256()))  # type: ignore[arg-type]
        return response.public_bytes(serialization.Encoding.DER)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # in the child before exec: s_server gets SIGTERM when the test process dies
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@contextlib.contextmanager
def stapling_server(pki: Pki) -> Iterator[str]:
    """`openssl s_server` stapling a good OCSP response; yields "127.0.0.1:PORT"."""
    leaf = pki.ca.issue_cert(*LOOPBACK)
    cert, key = pki.directory / "staple.pem", pki.directory / "staple.key"
    status = pki.directory / "staple.ocsp"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    status.write_bytes(pki.ocsp_good(leaf.cert_chain_pems[0].bytes()))
    port = _free_port()
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                             str(cert), "-key", str(key), "-status_file", str(status), "-www",
                             "-quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)
