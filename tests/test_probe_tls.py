"""The TLS probe against real HTTPS servers on loopback (trustme certificates of each kind)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from escalator.probes import ProbeSetupError
from escalator.probes.tls import TlsTarget, parse_address, probe_certificate
from tests.servers.hostile import closed_port, silent_server
from tests.servers.tls import TestCA


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def servers(ca: TestCA) -> Iterator[dict[str, int]]:
    """One HTTPS server per certificate kind: kind -> port."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        ports = {}
        for kind in ("valid", "soon", "expired", "wrong-host", "self-signed"):
            url = stack.enter_context(ca.serve(kind))
            ports[kind] = urlsplit(url).port or 0
        yield ports


def _probe(ca: TestCA, port: int, verify: bool = True) -> object:
    return probe_certificate(TlsTarget("127.0.0.1", port, timeout=5, verify=verify,
                                       ca_bundle=str(ca.bundle)))


def test_a_valid_certificate_is_trusted_and_has_its_days(ca: TestCA, servers: dict[str, int]
                                                         ) -> None:
    result = probe_certificate(TlsTarget("127.0.0.1", servers["valid"], 5,
                                         ca_bundle=str(ca.bundle)))
    assert (result.error, result.verify_error) == (None, None)
    assert result.days_left is not None and 89.9 < result.days_left < 90.1


def test_without_the_bundle_the_test_ca_is_not_trusted(servers: dict[str, int]) -> None:
    result = probe_certificate(TlsTarget("127.0.0.1", servers["valid"], 5))
    assert result.verify_error == "the certificate is signed by an authority that is not trusted"
    assert result.days_left is not None and result.days_left > 89


def test_an_expired_certificate_still_gives_its_days(ca: TestCA, servers: dict[str, int]
                                                     ) -> None:
    result = probe_certificate(TlsTarget("127.0.0.1", servers["expired"], 5,
                                         ca_bundle=str(ca.bundle)))
    assert result.verify_error == "the certificate has expired"
    assert result.days_left is not None and -3.1 < result.days_left < -3.0


def test_wrong_host_and_self_signed_say_so(ca: TestCA, servers: dict[str, int]) -> None:
    wrong = probe_certificate(TlsTarget("127.0.0.1", servers["wrong-host"], 5,
                                        ca_bundle=str(ca.bundle)))
    lone = probe_certificate(TlsTarget("127.0.0.1", servers["self-signed"], 5,
                                       ca_bundle=str(ca.bundle)))
    assert wrong.verify_error == "the certificate is not valid for host '127.0.0.1'"
    assert lone.verify_error == "the certificate is self-signed and not trusted"
    assert wrong.not_after is not None and lone.not_after is not None


def test_verification_off_reads_the_dates_only(servers: dict[str, int]) -> None:
    result = probe_certificate(TlsTarget("127.0.0.1", servers["self-signed"], 5, verify=False))
    assert (result.error, result.verify_error) == (None, None)
    assert result.days_left is not None


def test_refused_and_silent_servers_are_errors_not_exceptions() -> None:
    port = closed_port()
    refused = probe_certificate(TlsTarget("127.0.0.1", port, 2))
    assert refused.error == f"connection to 127.0.0.1:{port} refused"
    with silent_server() as silent:
        hung = probe_certificate(TlsTarget("127.0.0.1", silent, 0.5))
    assert hung.error == f"no TLS handshake with 127.0.0.1:{silent} within 0.5s"
    assert hung.days_left is None


def test_a_plain_http_port_is_a_handshake_failure() -> None:
    from tests.servers.http import serve

    with serve() as url:
        port = urlsplit(url).port
        result = probe_certificate(TlsTarget("127.0.0.1", port or 0, 3))
    assert result.error is not None
    assert result.error.startswith(f"TLS handshake with 127.0.0.1:{port} failed: ")


def test_addresses_and_our_own_mistakes(tmp_path: Path) -> None:
    assert parse_address("db1:8443") == ("db1", 8443)
    for bad in ("host:0", "host:x", "", "a:70000"):
        with pytest.raises(ProbeSetupError):
            parse_address(bad)
    with pytest.raises(ProbeSetupError, match="cannot read the CA bundle"):
        probe_certificate(TlsTarget("127.0.0.1", closed_port(), 1,
                                    ca_bundle=str(tmp_path / "missing.pem")))
