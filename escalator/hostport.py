"""`host:port` as operators write it, for every protocol that takes an address.

Used by the DNS probe (a nameserver), the TLS probe (a server) and the SSH steps (a host); each
gives its own default port and words a bad address as its own setup error.
"""

from __future__ import annotations


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address -> (host, port).

    >>> split_host_port("db1", 22), split_host_port(" 127.0.0.1:2222 ", 22)
    (('db1', 22), ('127.0.0.1', 2222))
    >>> split_host_port("[::1]:5353", 53), split_host_port("[::1]", 53), split_host_port("::1", 53)
    (('::1', 5353), ('::1', 53), ('::1', 53))
    >>> split_host_port("db1:0", 22)
    Traceback (most recent call last):
    ...
    ValueError: bad host or port 'db1:0'
    """
    text = text.strip()
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad host or port {text!r}")
    return host, int(port)
