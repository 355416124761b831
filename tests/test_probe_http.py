"""The HTTP probe against real servers on loopback: HTTP, HTTPS (trustme) and hostile ones."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from escalator.probes import ProbeSetupError
from escalator.probes.http import HttpResult, HttpTarget, close_client, fetch, open_client
from tests.servers.hostile import closed_port
from tests.servers.http import serve, site_routes
from tests.servers.proxy import proxy_server
from tests.servers.tls import TestCA


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve(site_routes()) as url:
        yield url


@pytest.fixture
def client() -> Iterator[requests.Session]:
    session = open_client()
    try:
        yield session
    finally:
        close_client(session)


@contextlib.contextmanager
def trickle_server(total: int = 1000, every: float = 0.2) -> Iterator[str]:
    """Answers with a Content-Length of `total`, then sends one byte every `every` seconds."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def run() -> None:
        server.settimeout(5)
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n" % total)
                for _ in range(total):
                    if stop.wait(every):
                        return
                    conn.sendall(b"x")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    finally:
        stop.set()
        server.close()
        thread.join(5)


def get(client: requests.Session, url: str, **kwargs: object) -> HttpResult:
    return fetch(client, HttpTarget(url, timeout=kwargs.pop("timeout", 5), **kwargs))  # type: ignore[arg-type]


# ---- answers ------------------------------------------------------------------------------

def test_a_page_comes_back_whole(site: str, client: requests.Session) -> None:
    result = get(client, site + "/")
    assert (result.status, result.reason, result.ok, result.error) == (200, "OK", True, None)
    assert result.text == "<html><body><h1>Welcome</h1><p>All systems go.</p></body></html>"
    assert result.header("content-type") == "text/html; charset=utf-8"
    assert (result.url, result.final_url, result.redirects) == (site + "/", site + "/", ())
    assert 0 < result.elapsed < 2


def test_an_error_status_is_data_not_an_exception(site: str, client: requests.Session) -> None:
    result = get(client, site + "/status/404")
    assert (result.status, result.ok, result.error, result.text) == (404, False, None,
                                                                       "status 404")
    assert result.summary().startswith(f"GET {site}/status/404 answered 404 Not Found in ")


def test_redirects_are_followed_and_remembered(site: str, client: requests.Session) -> None:
    result = get(client, site + "/redirect?to=/about")
    assert (result.status, result.final_url) == (200, site + "/about")
    assert result.redirects == (site + "/redirect?to=/about",)


def test_head_reads_no_body(site: str, client: requests.Session) -> None:
    result = get(client, site + "/", method="HEAD")
    assert (result.status, result.body, result.header("Content-Length")) == (200, b"", "64")


def test_fields_go_in_the_query_of_a_get_and_the_body_of_a_post(
        site: str, client: requests.Session) -> None:
    fields = (("a", "1"), ("b", "x y"))
    assert "GET a=1; b=x y" in get(client, site + "/echo", data=fields).text
    assert "POST a=1; b=x y" in get(client, site + "/echo", method="POST", data=fields).text


def test_cookies_last_as_long_as_the_client(site: str, client: requests.Session) -> None:
    login = get(client, site + "/login", method="POST",
                data=(("user", "monitor"), ("password", "s3cret")))
    assert (login.status, login.final_url) == (200, site + "/account")
    assert "Welcome back" in get(client, site + "/account").text
    with contextlib.closing(open_client()) as fresh:
        assert get(fresh, site + "/account").final_url == site + "/login"


# ---- authentication -----------------------------------------------------------------------

def test_basic_and_real_digest_authentication(site: str, client: requests.Session) -> None:
    good, bad = ("basic", "monitor", "s3cret"), ("basic", "monitor", "nope")
    assert get(client, site + "/basic", auth=good).status == 200
    assert get(client, site + "/basic", auth=bad).status == 401
    assert get(client, site + "/digest", auth=("digest", "monitor", "s3cret")).text == "digest ok"
    assert get(client, site + "/digest", auth=("digest", "monitor", "x")).status == 401
    # digest credentials are not sent in the clear to a server asking for basic
    assert get(client, site + "/basic", auth=("digest", "monitor", "s3cret")).status == 401
    with pytest.raises(ProbeSetupError, match="unknown HTTP authentication scheme 'ntlm'"):
        get(client, site + "/basic", auth=("ntlm", "a", "b"))


# ---- broken targets -----------------------------------------------------------------------

def test_refused(client: requests.Session) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    result = get(client, url)
    assert (result.status, result.error, result.ok) == (None, "connection refused", False)
    assert result.summary().startswith(f"GET {url} got no answer in ")
    assert result.summary().endswith(" ms: connection refused")


def test_a_server_that_never_answers_times_out(site: str, client: requests.Session) -> None:
    started = time.monotonic()
    result = get(client, site + "/hang", timeout=0.5)
    assert (result.status, result.error) == (None, "no answer within 0.5s")
    assert time.monotonic() - started < 3


def test_a_trickling_body_is_cut_at_the_time_limit(client: requests.Session) -> None:
    with trickle_server() as url:
        started = time.monotonic()
        result = get(client, url, timeout=1.0)
        took = time.monotonic() - started
    assert result.status == 200 and result.truncated and not result.ok
    assert result.error is not None
    assert result.error.startswith("body still arriving after 1s (")
    assert 0.9 < took < 2.5, took


def test_a_body_over_the_cap_is_cut_and_says_so(site: str, client: requests.Session) -> None:
    result = get(client, site + "/big?mb=3", max_body=1024 * 1024)
    assert (result.status, len(result.body), result.truncated) == (200, 1024 * 1024, True)
    assert result.size() == "1.0 MiB, cut off"
    exact = get(client, site + "/big?mb=1", max_body=1024 * 1024)
    assert (len(exact.body), exact.truncated, exact.error) == (1024 * 1024, False, None)
    whole = get(client, site + "/big?mb=0.5")
    assert (len(whole.body), whole.truncated, whole.size()) == (512 * 1024, False, "512.0 KiB")


def test_a_url_we_cannot_send_is_our_mistake(client: requests.Session) -> None:
    for url in ("127.0.0.1/x", "ftp://127.0.0.1/", "http://"):
        with pytest.raises(ProbeSetupError, match="cannot request"):
            get(client, url)


# ---- HTTPS --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.mark.parametrize(("kind", "verify", "error"), [
    ("valid", "bundle", None),
    ("valid", True, "TLS: the certificate is signed by an authority that is not trusted"),
    ("expired", "bundle", "TLS: the certificate has expired"),
    ("wrong-host", "bundle", "TLS: the certificate is not valid for host '127.0.0.1'"),
    ("self-signed", "bundle", "TLS: the certificate is self-signed and not trusted"),
    ("self-signed", False, None),
])
def test_https_certificates(ca: TestCA, client: requests.Session, kind: str,
                            verify: bool | str, error: str | None) -> None:
    with ca.serve(kind) as url:
        result = get(client, url + "/", verify=str(ca.bundle) if verify == "bundle" else verify)
    assert result.error == error
    assert result.status == (200 if error is None else None)


def test_a_missing_ca_bundle_is_our_mistake(ca: TestCA, client: requests.Session,
                                            tmp_path: Path) -> None:
    with ca.serve("valid") as url, pytest.raises(ProbeSetupError):
        get(client, url + "/", verify=str(tmp_path / "none.pem"))


def test_requests_go_where_the_environment_says_at_each_request(
        site: str, client: requests.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client keeps the environment's proxies per origin only while the variables keep
    their values (escalator.probes.http_proxy.Client): each request below goes where the
    environment says at that moment, and REQUESTS_CA_BUNDLE still stands in for a default
    `verify`, as with plain requests."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    with proxy_server() as first, proxy_server() as second:
        direct = get(client, site + "/")
        monkeypatch.setenv("http_proxy", first.url)
        via_first = get(client, site + "/")
        monkeypatch.setenv("Http_Proxy", second.url)  # any case counts; the last one read wins
        monkeypatch.delenv("http_proxy")
        via_second = get(client, site + "/")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        exempt = get(client, site + "/")
    assert [r.proxy for r in (direct, via_first, via_second, exempt)] == [
        None, first.url, second.url, None]
    assert all(r.status == 200 for r in (direct, via_first, via_second, exempt))
    assert first.carried == [f"GET {site}/"]
    assert second.carried == [f"GET {site}/"]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/no/such/bundle.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.7:3128")
    plain = requests.Session()
    for url, proxies, verify in (("https://127.0.0.1/", {}, True),
                                 ("https://127.0.0.2/a", None, None),
                                 ("http://127.0.0.2:8080/", {"https": "http://p:1"}, False),
                                 ("http://127.0.0.3/", {"no_proxy": "127.0.0.3"}, "/ca.pem")):
        ours = None if proxies is None else dict(proxies)
        assert client.merge_environment_settings(url, ours, None, verify, None) == \
            plain.merge_environment_settings(url, proxies, None, verify, None)
        assert ours == proxies  # both fill the caller's dict in place
    assert client.merge_environment_settings("https://127.0.0.2/", {}, None, True, None) == {
        "proxies": {"https": "http://127.0.0.7:3128", "http": second.url, "no": "127.0.0.1"},
        "verify": "/no/such/bundle.pem", "stream": False, "cert": None}


def test_the_proxy_named_follows_the_environment_between_requests(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment's answer is kept per origin only while its proxy variables keep their
    values (escalator.probes.http_proxy): a change between two requests is seen."""
    from escalator.probes.http_proxy import proxy_used

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    client = requests.Session()
    seen = [proxy_used(client, "http://127.0.0.1:8080/a", None)]
    monkeypatch.setenv("HTTP_PROXY", "http://user:pw@127.0.0.9:3128")
    seen.append(proxy_used(client, "http://127.0.0.1:8080/b", None))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.8:3128")
    seen.append(proxy_used(client, "http://127.0.0.1:8080/c", None))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    seen.append(proxy_used(client, "http://127.0.0.1:8080/d", None))
    seen.append(proxy_used(client, "http://127.0.0.2:8080/e", None))
    monkeypatch.setenv("REQUEST_METHOD", "GET")  # under CGI, HTTP_PROXY is the client's header
    seen.append(proxy_used(client, "http://127.0.0.2:8080/f", None))
    assert seen == [None, "http://127.0.0.9:3128", "http://127.0.0.8:3128", None,
                    "http://127.0.0.8:3128", None]
