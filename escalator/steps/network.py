"""Network phrases: TCP and UDP conversations, connect time, round trip time and packet loss.

check_tcp's send/expect as phrases: `When I send "PING\\r\\n" to port 6379 on "cache"` opens a
connection, sends the text (`\\r`, `\\n`, `\\t`, `\\0`, `\\\\` and `\\xHH` escapes work), and keeps
what comes back until the server closes or falls silent; `When I connect to port 25 on "mail"`
only listens (a banner); the UDP phrase sends one datagram and waits for one. The reply is
`context.net_reply`, judged by the Then steps as text, literally or by a regular expression.
Measurements: `connect_time` and `reply_time` (ms); the limits for a TCP connect, and for ping's
`rtt` and `packet_loss` (recorded by `When I ping`), restate or record those measurements; each
limit phrase has a warning variant (", warning above 50 ms").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from behave import then, when

from escalator.limits import Limit
from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps.matching import compile_pattern, quoted

if TYPE_CHECKING:
    from escalator.probes.ping import PingResult
    from escalator.probes.tcp import Reply
    from escalator.results import Measurement

PROBES = ("escalator.probes.tcp", "escalator.probes.udp")
VARIABLES: tuple[str, ...] = ()

_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|[rnt0\\])")
_SIMPLE = {"r": "\r", "n": "\n", "t": "\t", "0": "\0", "\\": "\\"}


def unescape(text: str) -> bytes:
    """The bytes a feature means by a text with escapes (UTF-8 otherwise).

    >>> unescape(r"PING\\r\\n"), unescape(r"\\x00\\x01a\\\\n")
    (b'PING\\r\\n', b'\\x00\\x01a\\\\n')
    """
    out, position = bytearray(), 0
    for match in _ESCAPE.finditer(text):
        out += text[position:match.start()].encode()
        code = match.group(1)
        out += bytes([int(code[1:], 16)]) if code.startswith("x") else _SIMPLE[code].encode()
        position = match.end()
    return bytes(out + text[position:].encode())


def _keep(context: Any, reply: Reply) -> None:
    context.net_reply = reply
    if reply.connect_time is not None:
        context.net_connect = api.record(context, "connect_time",
                                         round(reply.connect_time * 1000, 3), "ms")
    if reply.reply_time is not None:
        api.record(context, "reply_time", round(reply.reply_time * 1000, 3), "ms")
    assert reply.error is None or reply.data, reply.error


def _reply(context: Any) -> Reply:
    found: Reply = api.earlier(context, "net_reply", "nothing sent yet in this scenario "
                               '(When I send "..." to port N on "host")')
    return found


# ---- conversations ----------------------------------------------------------------------

@when('I connect to port {port:Int} on "{host:Q}"')
def step_i_connect_to_port(context: Any, port: int, host: str) -> None:
    """When I connect to port 25 on "mail.example.com"

    Opens a TCP connection and keeps what the server says first (its banner).
    """
    step_i_send_to_port(context, "", port, host)


@when('I send "{text:Q}" to port {port:Int} on "{host:Q}"')
def step_i_send_to_port(context: Any, text: str, port: int, host: str) -> None:
    """When I send "PING\\r\\n" to port 6379 on "cache.example.com"

    Over TCP; the reply is what arrives until the server closes or is silent for 0.3 s.
    """
    from escalator.probes.tcp import TcpExchange, exchange

    target = TcpExchange(api.expand(context, host).strip(), port,
                         unescape(api.expand(context, text)), api.session(context).client_timeout)
    with api.session(context).busy(f"talking to port {port} on {target.host}"):
        _keep(context, exchange(target))


@when('I send "{text:Q}" to UDP port {port:Int} on "{host:Q}"')
def step_i_send_to_udp_port(context: Any, text: str, port: int, host: str) -> None:
    """When I send "\\x00\\x01status" to UDP port 5060 on "sip.example.com"

    One datagram; the reply is the first datagram back. Nothing listening fails the step.
    """
    from escalator.probes.udp import UdpTarget, ask

    target = UdpTarget(api.expand(context, host).strip(), port,
                       unescape(api.expand(context, text)), api.session(context).client_timeout)
    with api.session(context).busy(f"asking UDP port {port} on {target.host}"):
        _keep(context, ask(target))


# ---- replies ----------------------------------------------------------------------------

@then('the reply should contain "{text:Q}"')
def step_the_reply_should_contain(context: Any, text: str) -> None:
    """Then the reply should contain "+PONG"

    Literal text (escapes as in the send phrases).
    """
    reply = _reply(context)
    wanted = unescape(api.expand(context, text))
    assert wanted in reply.data, (f"{wanted.decode(errors='replace')!r} not in the reply of "
                                  f"{reply.where}: {quoted(context, reply.text)}")


@then('the reply should not contain "{text:Q}"')
def step_the_reply_should_not_contain(context: Any, text: str) -> None:
    """Then the reply should not contain "-ERR\""""
    reply = _reply(context)
    wanted = unescape(api.expand(context, text))
    assert wanted not in reply.data, (f"{wanted.decode(errors='replace')!r} in the reply of "
                                      f"{reply.where}: {quoted(context, reply.text)}")


@then("the reply should match /{pattern:Regex}/")
def step_the_reply_should_match(context: Any, pattern: str) -> None:
    """Then the reply should match /^220 .*ESMTP/"""
    reply = _reply(context)
    regex = compile_pattern(api.expand(context, pattern))
    assert regex.search(reply.text), (f"the reply of {reply.where} does not match "
                                      f"/{regex.pattern}/: {quoted(context, reply.text)}")


# ---- limits -----------------------------------------------------------------------------

def _last(context: Any, name: str) -> Measurement | None:
    """The scenario's last measurement `name` (a limit restates it), or None."""
    return next((m for m in reversed(api.session(context).measurements) if m.name == name), None)


def _connect_time(context: Any, port: int, host: str, crit: Limit, warn: Limit | None = None
                  ) -> None:
    from escalator.probes.tcp import TcpTarget, connect

    api.stated(crit, warn, "ms")
    target = TcpTarget(api.expand(context, host).strip(), port,
                       api.session(context).client_timeout)
    with api.session(context).busy(f"connecting to port {port} on {target.host}"):
        result = connect(target)
    took = round(result.elapsed * 1000, 3) if result.is_open else None
    measured = api.record(context, "connect_time", took, "ms", crit, warn=warn)
    assert result.is_open, result.error
    api.judge(context, measured, f"connecting to port {port} on {target.host} took "
                                 f"{measured.value:.1f} ms")


@then('the connection to port {port:Int} on "{host:Q}" should take less than {n:Number} ms')
def step_the_connection_should_take_less_than(context: Any, port: int, host: str, n: float
                                              ) -> None:
    """Then the connection to port 443 on "www.example.com" should take less than 100 ms

    The TCP handshake (and name resolution); records `connect_time` with the limit.
    """
    _connect_time(context, port, host, Limit.below(n))


@then('the connection to port {port:Int} on "{host:Q}" should take less than {n:Number} ms, '
      "warning above {w:Ms}")
def step_the_connection_should_take_less_than_warning(context: Any, port: int, host: str,
                                                      n: float, w: float) -> None:
    """Then the connection to port 443 on "www.example.com" should take less than 100 ms, warning above 50 ms

    WARNING above W, CRITICAL at N or more.
    """  # noqa: E501 - the example is one line of a feature file
    _connect_time(context, port, host, Limit.below(n), Limit.at_most(w))


def _ping(context: Any) -> PingResult:
    found: PingResult = api.earlier(context, "ping_result",
                                    'no ping in this scenario yet (When I ping "host")')
    return found


def _limited(context: Any, name: str, value: float, uom: str, crit: Limit, warn: Limit | None,
             minimum: float | None = None, maximum: float | None = None) -> Measurement:
    """Ping's measurement `name` with the limits a step states: restated when `When I ping`
    recorded it, else recorded now."""
    found = _last(context, name)
    if found is None:
        return api.record(context, name, value, uom, crit, minimum, maximum, warn)
    return api.restate(context, found, crit, warn)


def _round_trip(context: Any, crit: Limit, warn: Limit | None = None) -> None:
    api.stated(crit, warn, "ms")
    result = _ping(context)
    assert result.rtt_ms is not None, result.error or (
        f"{result.target.host} did not answer {result.transmitted} echo requests")
    measured = _limited(context, "rtt", result.rtt_ms, "ms", crit, warn)
    api.judge(context, measured, f"round trip to {result.target.host} took "
                                 f"{result.rtt_ms:g} ms on average")


@then("the round trip time should be less than {n:Number} ms")
def step_the_round_trip_time_should_be_less_than(context: Any, n: float) -> None:
    """Then the round trip time should be less than 50 ms

    The average of the last ping's replies; restates its `rtt` with the limit.
    """
    _round_trip(context, Limit.below(n))


@then("the round trip time should be less than {n:Number} ms, warning above {w:Ms}")
def step_the_round_trip_time_should_be_less_than_warning(context: Any, n: float, w: float
                                                         ) -> None:
    """Then the round trip time should be less than 50 ms, warning above 20 ms"""
    _round_trip(context, Limit.below(n), Limit.at_most(w))


def _loss(context: Any, crit: Limit, warn: Limit | None = None) -> None:
    api.stated(crit, warn, "%")
    result = _ping(context)
    assert result.transmitted, result.error or f"no echo request sent to {result.target.host}"
    measured = _limited(context, "packet_loss", round(result.loss, 1), "%", crit, warn, 0, 100)
    lost = result.transmitted - result.received
    api.judge(context, measured, f"{lost} of {result.transmitted} echo requests to "
                                 f"{result.target.host} were lost ({result.loss:.0f}%)")


@then("the packet loss should be less than {n:Number}%")
def step_the_packet_loss_should_be_less_than(context: Any, n: float) -> None:
    """Then the packet loss should be less than 20%

    Of the last ping's echo requests; restates (or records) `packet_loss` with the limit.
    """
    _loss(context, Limit.below(n))


@then("the packet loss should be less than {n:Number}%, warning above {w:Percent}")
def step_the_packet_loss_should_be_less_than_warning(context: Any, n: float, w: float) -> None:
    """Then the packet loss should be less than 20%, warning above 5%"""
    _loss(context, Limit.below(n), Limit.at_most(w))
