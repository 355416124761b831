"""DNS servers on loopback for tests: a real nsd serving a test zone, and hostile little servers.

`nsd_server(workdir)` starts nsd (authoritative, standard zone files) on a free 127.0.0.1 port
and yields `"127.0.0.1:<port>"`; the zone `example.test` has SOA, NS, A, AAAA, CNAME, MX, TXT,
SRV and CAA records, and `0.0.127.in-addr.arpa` holds the PTR records for the reverse lookups.
`hostile_server(mode)` answers every UDP query badly: `silent` (never answers), `servfail`,
`refused`, or `truncated` (TC flag set; with `tcp=True` a TCP listener then gives the real
answer); `reply_server(reply)` answers with whatever bytes `reply(query)` makes. The hostile
servers build their replies by hand, without dnspython, so the probe is
tested against bytes it did not make. Both stop when the `with` block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.servers.group import stop_group
from tests.servers.loopback import accept_loop

ZONE = """\
$ORIGIN example.test.
$TTL 300
@       IN SOA  ns1.example.test. hostmaster.example.test. ( 2024010101 3600 600 86400 300 )
@       IN NS   ns1.example.test.
ns1     IN A    127.0.0.1
www     IN A    127.0.0.10
www     IN A    127.0.0.11
www     IN AAAA 2001:db8::10
@       IN MX   10 mail.example.test.
mail    IN A    127.0.0.20
@       IN TXT  "v=spf1 -all"
txt     IN TXT  "hello world" "second string"
alias   IN CNAME www.example.test.
_imap._tcp IN SRV 10 5 143 mail.example.test.
@       IN CAA  0 issue "letsencrypt.org"
v6only  IN AAAA 2001:db8::66
"""

REVERSE = """\
$ORIGIN 0.0.127.in-addr.arpa.
$TTL 300
@       IN SOA  ns1.example.test. hostmaster.example.test. ( 2024010101 3600 600 86400 300 )
@       IN NS   ns1.example.test.
10      IN PTR  www.example.test.
20      IN PTR  mail.example.test.
"""

NSD_CONF = """\
server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    database: ""
    pidfile: "{dir}/nsd.pid"
    xfrdfile: "{dir}/xfrd.state"
    zonelistfile: "{dir}/zone.list"
    xfrdir: "{dir}"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: "example.test"
    zonefile: "example.test.zone"
zone:
    name: "0.0.127.in-addr.arpa"
    zonefile: "reverse.zone"
"""


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for both UDP and TCP")


def _nsd() -> str:
    found = shutil.which("nsd") or ("/usr/sbin/nsd" if os.path.exists("/usr/sbin/nsd") else None)
    if found is None:
        raise RuntimeError("nsd is not installed (apt-get install nsd)")
    return found


def _answers(port: int) -> bool:
    """nsd is up when it answers a hand-made SOA query."""
    query = _header(0x1234, 0x0100, 1) + _qname("example.test") + struct.pack("!HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.sendto(query, ("127.0.0.1", port))
            return sock.recv(512)[:2] == query[:2]
        except OSError:
            return False


@contextlib.contextmanager
def nsd_server(workdir: Path) -> Iterator[str]:
    """Run nsd on a free loopback port with the test zones; yields "127.0.0.1:<port>"."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "example.test.zone").write_text(ZONE)
    (workdir / "reverse.zone").write_text(REVERSE)
    proc, port = _start_nsd(workdir)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(proc, grace=5)


def _start_nsd(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start nsd and wait until it answers; another port if someone took ours meanwhile."""
    for _ in range(3):
        port = free_port()
        (workdir / "nsd.conf").write_text(NSD_CONF.format(port=port, dir=workdir))
        with (workdir / "nsd.log").open("w") as log:
            proc = subprocess.Popen([_nsd(), "-d", "-c", str(workdir / "nsd.conf")], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if _answers(port):
                return proc, port
            time.sleep(0.05)
        stop_group(proc, grace=5)
    raise RuntimeError(f"nsd did not start: {(workdir / 'nsd.log').read_text()}")


# ---------------------------------------------------------------- hostile servers, by hand

_RCODES = {"servfail": 2, "refused": 5}


def _header(ident: int, flags: int, qdcount: int, ancount: int = 0) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qdcount, ancount, 0, 0)


def _qname(name: str) -> bytes:
    labels = [label.encode() for label in name.strip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


def _question(query: bytes) -> bytes:
    """The question section of a query, copied verbatim (QNAME labels + QTYPE + QCLASS)."""
    end = 12
    while query[end] != 0:
        end += query[end] + 1
    return query[12:end + 5]


def _reply(query: bytes, rcode: int = 0, truncated: bool = False, answer: bytes = b"") -> bytes:
    ident, flags = struct.unpack("!HH", query[:4])
    flags = 0x8000 | 0x0080 | (flags & 0x0100) | rcode  # QR, RA, copy RD
    if truncated:
        flags |= 0x0200
    return _header(ident, flags, 1, 1 if answer else 0) + _question(query) + answer


def _a_record(address: str) -> bytes:
    """One A record for the question's name (a compression pointer to offset 12)."""
    return struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(address)


Reply = Callable[[bytes], "bytes | None"]  # a query in, the reply's bytes (None: stay silent)


def _mode_reply(mode: str) -> Reply:
    if mode == "silent":
        return lambda query: None
    if mode == "truncated":
        return lambda query: _reply(query, truncated=True)
    return lambda query: _reply(query, rcode=_RCODES[mode])


def _serve_udp(sock: socket.socket, reply: Reply, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            query, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        except OSError:
            return
        answer = reply(query) if len(query) >= 17 else None
        if answer is not None:
            sock.sendto(answer, peer)


def _answer_tcp(conn: socket.socket) -> None:
    """The answer a truncated UDP reply promised: 192.0.2.1 for any name."""
    with conn:
        conn.settimeout(2)
        with contextlib.suppress(OSError, struct.error, IndexError):
            (length,) = struct.unpack("!H", conn.recv(2))
            query = conn.recv(length)
            reply = _reply(query, answer=_a_record("192.0.2.1"))
            conn.sendall(struct.pack("!H", len(reply)) + reply)


@contextlib.contextmanager
def reply_server(reply: Reply) -> Iterator[str]:
    """A UDP nameserver that answers each query with `reply(query)`; yields "127.0.0.1:<port>"."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()
    thread = threading.Thread(target=_serve_udp, args=(sock, reply, stop), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@contextlib.contextmanager
def hostile_server(mode: str, tcp: bool = False) -> Iterator[str]:
    """A UDP nameserver that misbehaves as `mode`; yields "127.0.0.1:<port>"."""
    if mode not in ("silent", "truncated", *_RCODES):
        raise ValueError(f"unknown mode {mode!r}")
    stop = threading.Event()
    port = free_port()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    udp.settimeout(0.05)
    threads = [threading.Thread(target=_serve_udp, args=(udp, _mode_reply(mode), stop),
                                daemon=True)]
    sockets = [udp]
    if tcp:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        sockets.append(listener)
        threads.append(threading.Thread(target=accept_loop, args=(listener, _answer_tcp, stop),
                                        daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)
        for sock in sockets:
            sock.close()
