"""The TCP port probe: can a connection to host:port be opened within a timeout.

Called by `escalator.steps.system` for "port N on host should be open|closed". `connect(TcpTarget)`
never raises for the target: refused, timed out, unreachable and unresolvable are `state`s. The
name is resolved in a helper thread because `getaddrinfo` itself has no timeout; every address it
gives is tried in turn inside the one deadline.
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
    start = time.monotonic()
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(max(0.01, deadline - start))
        try:
            sock.connect(address)
        except TimeoutError:
            return TcpResult(target, "timeout", address[0], time.monotonic() - start,
                             f"no answer from {where} within {target.timeout:.1f} s")
        except ConnectionRefusedError:
            return TcpResult(target, "refused", address[0], time.monotonic() - start,
                             f"{where} refused the connection")
        except OSError as exc:
            return TcpResult(target, "unreachable", address[0], time.monotonic() - start,
                             f"cannot reach {where}: {exc.strerror or exc}")
        return TcpResult(target, "open", address[0], time.monotonic() - start)
