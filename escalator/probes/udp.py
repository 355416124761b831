"""The UDP probe: send one datagram, wait for one back.

Called by `escalator.steps.network`. `ask(UdpTarget) -> Reply` (the TCP probe's result type)
uses a connected socket, so the ICMP "port unreachable" a host sends when nothing listens comes
back as a refusal instead of a silent timeout. A name is resolved like the TCP probe does it;
nothing is raised for the target.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from escalator.probes import ProbeSetupError
from escalator.probes.tcp import Reply


@dataclass(frozen=True)
class UdpTarget:
    host: str
    port: int
    send: bytes
    timeout: float = 5.0
    max_reply: int = 65535


def ask(target: UdpTarget) -> Reply:
    """Send the datagram and wait for the first datagram back."""
    if not 0 < target.port < 65536:
        raise ProbeSetupError(f"bad port {target.port}: expected 1-65535")
    where = f"{target.host}:{target.port}"
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        return Reply(where, error=f"cannot resolve {target.host}: "
                                  f"{getattr(exc, 'strerror', None) or exc}")
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(target.timeout)
        start = time.monotonic()
        try:
            sock.connect(address)
            sock.send(target.send)
            data = sock.recv(target.max_reply)
        except TimeoutError:
            return Reply(where, error=f"no UDP reply from {where} within {target.timeout:.1f} s")
        except ConnectionRefusedError:
            return Reply(where, error=f"nothing listens on UDP port {target.port} of "
                                      f"{target.host} (port unreachable)")
        except OSError as exc:
            return Reply(where, error=f"cannot reach {where}: {exc.strerror or exc}")
    return Reply(where, data, reply_time=time.monotonic() - start)
