"""The AMQP 0-9-1 probe (RabbitMQ and kin): how many messages wait in a queue, how many consumers.

Owns all use of pika; called by `escalator.steps.amqp`. `queue_status(AmqpTarget)` logs in,
opens a channel and declares the queue *passively* (it must exist; nothing is created), whose
answer carries the ready-message and consumer counts, then closes the connection. pika's
blocking adapter has no timeout for a channel request, so this drives the asynchronous one
(`SelectConnection`) under one deadline: connecting and the handshake are bounded by pika's own
socket and stack timeouts, everything after by a timer of ours, and the whole call never takes
much longer than `timeout`. A refused connection, a login the broker refuses, a vhost or queue
that does not exist, a peer that is not an AMQP broker and a broker that stops answering all
come back as `QueueStatus.error`, one line; nothing raises for the broker.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions as amqp_errors
from pika.adapters.select_connection import SelectConnection
from pika.adapters.utils.connection_workflow import AMQPConnectorStackTimeout

from escalator.text import one_line

# pika logs every failed connection attempt (with tracebacks); here each failure is result data
logging.getLogger("pika").addHandler(logging.NullHandler())
logging.getLogger("pika").propagate = False

_CLOSE_GRACE = 0.25  # seconds a polite close may take after the answer, before we drop it


@dataclass(frozen=True)
class AmqpTarget:
    """A queue on a broker; `tls` is None for plain AMQP, else verification on/off or the path
    of a CA bundle (amqps://)."""

    host: str
    port: int = 5672
    vhost: str = "/"
    username: str = "guest"
    password: str = "guest"
    queue: str = ""
    tls: bool | str | None = None
    timeout: float = 10.0

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class QueueStatus:
    """The queue's ready messages and consumers, or `error` saying why they are unknown."""

    target: AmqpTarget
    messages: int | None = None
    consumers: int | None = None
    elapsed: float = 0.0
    error: str | None = None


def queue_status(target: AmqpTarget) -> QueueStatus:
    """Ask the broker about the queue; never raises for the broker."""
    started = time.monotonic()
    probe = _Probe(target)
    parameters = _parameters(target)  # a bad one is our mistake: it raises
    try:
        probe.run(parameters)
    except (OSError, amqp_errors.AMQPError) as exc:
        probe.fail(exc)
    except ValueError as exc:
        # pika raises this from its I/O loop when the peer resets the connection just as it
        # connects ("Expected connected socket, but getpeername() failed")
        probe.fail(ConnectionResetError(str(exc)))
    return QueueStatus(target, probe.messages, probe.consumers, time.monotonic() - started,
                       probe.error)


class _Probe:
    """One connection's callbacks; the first outcome (answer or error) is the one kept."""

    def __init__(self, target: AmqpTarget) -> None:
        self.target = target
        self.messages: int | None = None
        self.consumers: int | None = None
        self.error: str | None = None
        self.phase = "connecting"
        self.connection: SelectConnection | None = None

    def run(self, parameters: pika.ConnectionParameters) -> None:
        # pika's own limits a little earlier than ours, so its precise reason wins
        self.connection = connection = SelectConnection(
            parameters, on_open_callback=self.opened,
            on_open_error_callback=lambda _, exc: self.stop(exc),
            on_close_callback=lambda _, exc: self.stop(exc))
        connection.ioloop.call_later(self.target.timeout, self.late)
        try:
            connection.ioloop.start()
        finally:
            connection.ioloop.close()

    def opened(self, connection: Any) -> None:
        self.phase = "opening a channel"
        connection.channel(on_open_callback=self.channel_opened)

    def channel_opened(self, channel: Any) -> None:
        self.phase = f"asking about the queue {self.target.queue!r}"
        channel.add_on_close_callback(lambda _, exc: self.close(exc))
        channel.queue_declare(self.target.queue, passive=True, callback=self.declared)

    def declared(self, frame: Any) -> None:
        self.messages = frame.method.message_count
        self.consumers = frame.method.consumer_count
        self.close(None)

    def late(self) -> None:
        self.fail(TimeoutError())
        self.stop(None)

    def fail(self, exc: BaseException) -> None:
        if self.error is None and self.messages is None:
            self.error = _describe(exc, self.target, self.phase)

    def close(self, exc: BaseException | None) -> None:
        """The answer came, or the broker closed the channel: leave politely, but not for long."""
        if exc is not None:
            self.fail(exc)
        connection = self.connection
        if connection is not None and connection.is_open:
            connection.close()
            connection.ioloop.call_later(_CLOSE_GRACE, connection.ioloop.stop)
        elif connection is not None:
            connection.ioloop.stop()

    def stop(self, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, amqp_errors.ConnectionClosedByClient):
            self.fail(exc)
        if self.connection is not None:
            self.connection.ioloop.stop()


def _parameters(target: AmqpTarget) -> pika.ConnectionParameters:
    budget = max(0.1, target.timeout - 0.1)
    options = None
    if target.tls is not None:
        context = ssl.create_default_context(
            cafile=target.tls if isinstance(target.tls, str) else None)
        if target.tls is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        options = pika.SSLOptions(context, server_hostname=target.host)
    return pika.ConnectionParameters(
        host=target.host, port=target.port, virtual_host=target.vhost,
        credentials=pika.PlainCredentials(target.username, target.password),
        ssl_options=options, connection_attempts=1, retry_delay=0,
        socket_timeout=budget, stack_timeout=budget, blocked_connection_timeout=budget,
        heartbeat=0, client_properties={"connection_name": "escalator"})


def _root(exc: BaseException) -> BaseException:
    """The error under pika's connection-workflow wrappers (a phase's `exception`, the last of
    a workflow's `exceptions`, an error wrapped as the only argument)."""
    for _ in range(8):
        inner = getattr(exc, "exception", None)
        if inner is None and getattr(exc, "exceptions", None):
            inner = exc.exceptions[-1]  # type: ignore[attr-defined]
        if inner is None and len(exc.args) == 1:
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            return exc
        exc = inner
    return exc


def _describe(exc: BaseException, target: AmqpTarget, phase: str) -> str:
    """One line for an operator, by what failed and when."""
    where, root = target.address, _root(exc)
    if isinstance(root, TimeoutError | AMQPConnectorStackTimeout):
        return f"no answer from {where} within {target.timeout:.1f} s while {phase}"
    if isinstance(root, amqp_errors.ConnectionOpenAborted):  # pika's stack timeout ran out
        return f"no AMQP handshake with {where} within {target.timeout:.1f} s"
    if isinstance(root, ConnectionRefusedError):
        return f"connection to {where} refused"
    if isinstance(root, socket.gaierror):
        return f"cannot resolve {target.host}: {root.strerror}"
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} not trusted: {root.verify_message}"
    if isinstance(root, ssl.SSLError):
        said = (root.reason or str(root)).lower().replace("_", " ")
        return f"no TLS handshake with {where} ({said}): is it a TLS port?"
    if isinstance(root, amqp_errors.ProbableAuthenticationError | amqp_errors.AuthenticationError):
        return f"{where} refused the login of user {target.username!r}"
    if isinstance(root, amqp_errors.ProbableAccessDeniedError):
        return f"{where} refused user {target.username!r} access to vhost {target.vhost!r}"
    if isinstance(root, amqp_errors.ConnectionClosedByBroker):
        return _closed(root.reply_code, root.reply_text, target, where)
    if isinstance(root, amqp_errors.ChannelClosedByBroker):
        return _closed(root.reply_code, root.reply_text, target, where)
    if isinstance(root, amqp_errors.IncompatibleProtocolError | amqp_errors.StreamLostError
                  | ConnectionResetError | EOFError):
        return f"{where} is not an AMQP 0-9-1 broker, or it dropped the connection while {phase}"
    if isinstance(root, OSError) and root.strerror:
        return f"{root.strerror.lower()} ({where}) while {phase}"
    # cut with a mark: the runner's redaction then masks a secret's piece at the cut
    return f"AMQP failed at {where} while {phase}: {one_line(root, 200)}"


def _closed(code: int, text: str, target: AmqpTarget, where: str) -> str:
    if code == 404:
        return f"no queue {target.queue!r} in vhost {target.vhost!r} on {where}"
    if code == 403:
        return f"user {target.username!r} may not see queue {target.queue!r} on {where}"
    if code == 530:
        return f"{where} refused vhost {target.vhost!r}: {text}"
    return f"{where} closed the connection: {code} {text}"

