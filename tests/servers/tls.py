"""HTTPS on loopback for tests, with certificates from a throwaway trustme CA.

`TestCA(tmp_path)` makes a CA and writes its certificate to `ca.bundle` (what an environment's
`tls_ca_bundle` points at). `ca.serve(kind, routes)` runs tests/servers/http.py over TLS with a
certificate of one kind and yields the https base URL:

- "valid": for 127.0.0.1 and localhost, 90 days left;
- "soon": valid, but only 5 days left;
- "expired": expired 3 days ago;
- "wrong-host": valid, for wrong.example only;
- "self-signed": a self-signed certificate no bundle trusts.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme

from tests.servers.http import Handler, serve

KINDS = ("valid", "soon", "expired", "wrong-host", "self-signed")
_LOOPBACK = ("127.0.0.1", "localhost")


class TestCA:
    """A CA whose bundle lives under `directory`; issues server contexts of each kind."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.directory = directory
        self.bundle = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.bundle))

    def context(self, kind: str) -> ssl.SSLContext:
        """A server-side SSL context presenting a certificate of `kind`."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        now = datetime.now(UTC)
        if kind == "self-signed":
            lone = trustme.CA()  # a CA certificate is self-signed: serve it as the leaf
            cert, key = self.directory / "self.pem", self.directory / "self.key"
            lone.cert_pem.write_to_path(str(cert))
            lone.private_key_pem.write_to_path(str(key))
            context.load_cert_chain(str(cert), str(key))
            return context
        if kind == "valid":
            leaf = self.ca.issue_cert(*_LOOPBACK, not_after=now + timedelta(days=90, hours=1))
        elif kind == "soon":
            leaf = self.ca.issue_cert(*_LOOPBACK, not_after=now + timedelta(days=5, hours=1))
        elif kind == "expired":
            leaf = self.ca.issue_cert(*_LOOPBACK, not_before=now - timedelta(days=30),
                                      not_after=now - timedelta(days=3, hours=1))
        elif kind == "wrong-host":
            leaf = self.ca.issue_cert("wrong.example")
        else:
            raise ValueError(f"unknown certificate kind {kind!r}; known: {', '.join(KINDS)}")
        leaf.configure_cert(context)
        return context

    @contextlib.contextmanager
    def serve(self, kind: str = "valid", routes: dict[str, Handler | object] | None = None
              ) -> Iterator[str]:
        """An HTTPS server with a `kind` certificate; yields https://127.0.0.1:PORT."""
        with serve(routes, ssl_context=self.context(kind)) as url:
            yield url
