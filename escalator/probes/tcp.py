"""The TCP port probe: can a connection to host:port be opened within a timeout, and what does
the server say.

Called by `escalator.steps.system` for "port N on host should be open|closed" and by
`escalator.steps.network` for conversations. `connect(TcpTarget)` never raises for the target:
refused, timed out, unreachable and unresolvable are `state`s. `exchange(TcpExchange)` sends a
request (or nothing, to hear a banner) and returns the `Reply`. The name is resolved in a helper
thread because `getaddrinfo` itself has no timeout; every address it gives is tried in turn
inside the one deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

from escalator.probes import ProbeSetupError


@dataclass(frozen=True)
class TcpTarget:
    host: str
    port: int
    timeout: float = 5.0


@dataclass(frozen=True)
class TcpResult:
    """`state`: open, refused, timeout, unreachable, unresolved or error (see `error`)."""

    target: TcpTarget
    state: str
    address: str | None = None
    elapsed: float = 0.0
    error: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


def connect(target: TcpTarget) -> TcpResult:
    """Open and close one connection; the result says whether it could be opened."""
    if not 0 < target.port < 65536:
        raise ProbeSetupError(f"bad port {target.port}: expected 1-65535")
    if not target.host.strip():
        raise ProbeSetupError("no host given")
    deadline = time.monotonic() + target.timeout
    where = f"{target.host}:{target.port}"
    addresses, problem = _resolve(target, deadline)
    if problem is not None:
        return TcpResult(target, "unresolved", error=f"cannot resolve {target.host}: {problem}")
    result = TcpResult(target, "error", error=f"{target.host} has no address")
    for family, address in addresses:
        result = _try(target, family, address, deadline, where)
        if result.is_open or time.monotonic() >= deadline:
            break
    return result


def _resolve(target: TcpTarget, deadline: float
             ) -> tuple[list[tuple[int, tuple[str, int]]], str | None]:
    found: list[tuple[int, tuple[str, int]]] = []
    failure: list[str] = []

    def work() -> None:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            found.extend((info[0], info[4][:2]) for info in infos)  # type: ignore[misc]
        except (OSError, UnicodeError) as exc:
            failure.append(str(getattr(exc, "strerror", None) or exc))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        return [], f"no answer within {target.timeout:.1f} s"
    return found, failure[0] if failure else None


def _try(target: TcpTarget, family: int, address: tuple[str, int], deadline: float,
         where: str) -> TcpResult:
    sock, result = _open(target, family, address, deadline, where)
    if sock is not None:
        sock.close()
    return result


def _open(target: TcpTarget, family: int, address: tuple[str, int], deadline: float,
          where: str) -> tuple[socket.socket | None, TcpResult]:
    """A connected socket (the caller closes it) or None, and what happened."""
    start = time.monotonic()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(max(0.01, deadline - start))
    try:
        sock.connect(address)
    except TimeoutError:
        failed = TcpResult(target, "timeout", address[0], time.monotonic() - start,
                           f"no answer from {where} within {target.timeout:.1f} s")
    except ConnectionRefusedError:
        failed = TcpResult(target, "refused", address[0], time.monotonic() - start,
                           f"{where} refused the connection")
    except OSError as exc:
        failed = TcpResult(target, "unreachable", address[0], time.monotonic() - start,
                           f"cannot reach {where}: {exc.strerror or exc}")
    else:
        return sock, TcpResult(target, "open", address[0], time.monotonic() - start)
    sock.close()
    return None, failed


# ---- a conversation: send, then read what comes back --------------------------------------

@dataclass(frozen=True)
class TcpExchange:
    """Connect, send `send` (nothing: just listen, for a banner), read the reply. Reading
    stops when the server closes, after `idle` seconds of silence once something came, at
    `max_reply` bytes, or at the timeout."""

    host: str
    port: int
    send: bytes = b""
    timeout: float = 5.0
    idle: float = 0.3
    max_reply: int = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """What a server said back, over TCP or UDP. `error` is set when nothing could be asked or
    nothing came; a partial reply cut by the timeout is kept, with `error` saying so."""

    where: str
    data: bytes = b""
    connect_time: float | None = None  # TCP only
    reply_time: float | None = None  # from sending to the first byte of the reply
    error: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def exchange(target: TcpExchange) -> Reply:
    """One conversation on a fresh connection; never raises for the server."""
    plain = TcpTarget(target.host, target.port, target.timeout)
    if not 0 < target.port < 65536:
        raise ProbeSetupError(f"bad port {target.port}: expected 1-65535")
    where = f"{target.host}:{target.port}"
    deadline = time.monotonic() + target.timeout
    addresses, problem = _resolve(plain, deadline)
    if problem is not None:
        return Reply(where, error=f"cannot resolve {target.host}: {problem}")
    opened: TcpResult | None = None
    for family, address in addresses:
        sock, opened = _open(plain, family, address, deadline, where)
        if sock is not None:
            break
    else:
        return Reply(where, error=opened.error if opened else f"{target.host} has no address")
    with sock:
        sent = time.monotonic()
        try:
            if target.send:
                sock.sendall(target.send)
        except OSError as exc:
            return Reply(where, connect_time=opened.elapsed,
                         error=f"{where} closed the connection before we could send: "
                               f"{exc.strerror or exc}")
        data, first, error = _read(sock, target, deadline, where)
    return Reply(where, data, opened.elapsed, None if first is None else first - sent, error)


def _read(sock: socket.socket, target: TcpExchange, deadline: float, where: str
          ) -> tuple[bytes, float | None, str | None]:
    """(reply, when its first byte came, why the reply is missing or cut)."""
    data, first = b"", None
    while len(data) < target.max_reply:
        now = time.monotonic()
        wait = deadline - now if first is None else min(deadline - now, target.idle)
        if wait <= 0:
            break
        sock.settimeout(wait)
        try:
            chunk = sock.recv(target.max_reply - len(data))
        except TimeoutError:
            break
        except OSError as exc:
            return data, first, f"{where} reset the connection: {exc.strerror or exc}"
        if not chunk:
            return data, first, None
        first = first or time.monotonic()
        data += chunk
    if first is None:
        return data, None, f"no reply from {where} within {target.timeout:.1f} s"
    return data, first, None
