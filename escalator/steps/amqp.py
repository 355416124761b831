"""AMQP phrases: cucumber-nagios's queue checks (messages, consumers) on RabbitMQ and kin.

`Given I have a AMQP server on <server>` names the broker: `host`, `host:port` or a URL
`amqp://user:${password}@host:port/vhost` (`amqps://` for TLS, verified unless `tls_verify` is
off; `tls_ca_bundle` applies). Without credentials the broker's default guest/guest is used, as
cucumber-nagios did. Literal parts of a URL are percent-decoded; `${name}` values are used as they
are, so a secret needs no escaping. `I want to check on the <queue> queue` asks the broker
(`escalator.probes.amqp`: a passive declare, so the queue must exist and nothing is created) and
records `<queue> messages` (ready, not yet delivered) and `<queue> consumers`; the Then steps
judge them and give those measurements their limits (whole counts: "less than 400" is the range
`399`), a warning clause's too ("less than 400 messages, warning above 100"); the
per-consumer phrase records `<queue> messages per consumer`. cucumber-nagios's bugs are fixed: the
consumer steps read the consumer count (they read a variable that was always 0), "less than N
messages per consumer" is no longer inverted, and "at least N consumers" (its README's example)
exists. "It should" and "it should" both work.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import parse
from behave import given, register_type, then, when

from escalator.limits import Limit
from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import (
    StepSetupError,
    earlier,
    expand,
    judge,
    record,
    restate,
    session,
    stated,
)

if TYPE_CHECKING:
    from escalator.probes.amqp import AmqpTarget, QueueStatus

PROBES = ("escalator.probes.amqp",)
VARIABLES = ("tls_verify", "tls_ca_bundle")  # for amqps://, as HTTPS reads them

_PIECES = re.compile(r"(\$\{[^}]*\})")
_PORTS = {"amqp": 5672, "amqps": 5671}


@parse.with_pattern(r"[Ii]t")
def _it(text: str) -> str:
    return text  # cucumber-nagios's consumer phrases began with "It"


@parse.with_pattern(r"an?")
def _article(text: str) -> str:
    return text


@parse.with_pattern(r'"[^"]*"|\S+')
def _queue(text: str) -> str:
    return text.strip('"')


register_type(It=_it, A=_article, Queue=_queue)


# ---- naming the broker ----------------------------------------------------------------------

def _part(context: Any, raw: str, variables: bool) -> str:
    """A URL part: literal text percent-decoded, `${name}` values (if any) as they are."""
    if not variables:
        return unquote(raw)
    return "".join(expand(context, piece) if i % 2 else unquote(piece)
                   for i, piece in enumerate(_PIECES.split(raw)))


def _host_port(text: str, default: int, written: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host or not (port or str(default)).isdigit() or not 0 < int(port or default) < 65536:
        raise StepSetupError(f"bad AMQP server {written!r}: write host, host:port or "
                             "amqp://user:password@host:port/vhost")
    return host, int(port or default)


def parse_server(context: Any, written: str) -> AmqpTarget:
    """The broker a step names; `${name}` expands (in a URL, part by part)."""
    from escalator.probes.amqp import AmqpTarget

    text = written.strip().strip('"').strip()
    if "://" in text:
        return _url(context, text, written, variables=True)
    text = expand(context, text).strip()
    if "://" in text:  # the whole URL came from a variable: an ordinary, escaped URL
        return _url(context, text, written, variables=False)
    host, port = _host_port(text, 5672, written)
    return AmqpTarget(host, port)


def _url(context: Any, text: str, written: str, variables: bool) -> AmqpTarget:
    from escalator.probes.amqp import AmqpTarget
    from escalator.steps.http_client import tls_verify

    scheme, _, rest = text.partition("://")
    if scheme.lower() not in _PORTS:
        raise StepSetupError(f"bad AMQP server {written!r}: the URL must start amqp:// or amqps://")
    netloc, _, path = rest.partition("/")
    path = path.split("?")[0]
    userinfo, _, hostport = netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    host, port = _host_port(_part(context, hostport, variables), _PORTS[scheme.lower()], written)
    return AmqpTarget(
        host, port, _part(context, path, variables) or "/",
        _part(context, user, variables) if user else "guest",
        _part(context, password, variables) if has_password else "guest",
        tls=tls_verify(context) if scheme.lower() == "amqps" else None)


# ---- asking about a queue -------------------------------------------------------------------

@given("I have {a:A} AMQP server on {server}")
def step_i_have_a_amqp_server_on(context: Any, a: str, server: str) -> None:
    """Given I have a AMQP server on rabbit.example.com

    Also host:port, or amqp://user:${password}@host:port/vhost (amqps:// for TLS); the default
    login is guest/guest.
    """
    context.amqp_server = parse_server(context, server)


@when("I want to check on the {queue:Queue} queue")
def step_i_want_to_check_on_the_queue(context: Any, queue: str) -> None:
    """When I want to check on the jobs queue

    Asks the broker for the queue's ready messages and consumers (a passive declare: the queue
    must exist); records both. A queue name with spaces can be quoted.
    """
    from escalator.probes.amqp import queue_status

    server: AmqpTarget = earlier(context, "amqp_server", "no AMQP server named yet: write "
                                 "Given I have a AMQP server on <host> first")
    name = expand(context, queue)
    current = session(context)
    target = dataclasses.replace(server, queue=name, timeout=current.client_timeout)
    with current.busy(f"asking {target.address} about the queue {name!r}"):
        status = queue_status(target)
    context.amqp_status = status
    assert status.error is None, status.error
    context.amqp_measurements = {
        "messages": record(context, f"{name} messages", status.messages or 0, "", None, 0),
        "consumers": record(context, f"{name} consumers", status.consumers or 0, "", None, 0)}
    context.amqp_bounds = {"messages": [None, None], "consumers": [None, None]}


def _status(context: Any) -> QueueStatus:
    found: QueueStatus = earlier(context, "amqp_status", "no queue checked yet: write When I "
                                 "want to check on the <queue> queue first")
    return found


def _limit(context: Any, what: str, low: int | None = None, high: int | None = None,
           said: str = "", warn: Limit | None = None) -> None:
    """Narrow the range the count `what` should be in (counts are whole: "less than 400" is
    at most 399), give its measurement that range (and a warning limit), and judge it; `said`
    is the phrase's own wording of its limit."""
    _status(context)
    bounds = context.amqp_bounds[what]
    if low is not None:
        bounds[0] = low if bounds[0] is None else max(bounds[0], low)
    if high is not None:
        bounds[1] = high if bounds[1] is None else min(bounds[1], high)
    lo, hi = bounds
    if lo is not None and hi is not None and lo > hi:
        raise StepSetupError(f"no {what} count is {said} and within the earlier steps' limits")
    crit = Limit(lo or 0, math.inf if hi is None else hi)
    old = context.amqp_measurements[what]
    new = restate(context, old, *stated(crit, warn if warn is not None else old.warn))
    context.amqp_measurements[what] = new
    target = _status(context).target
    judge(context, new, f"the queue {target.queue!r} on {target.address} has "
                        f"{new.value:g} {what}", wanted=said)


def _messages(context: Any) -> int:
    return _status(context).messages or 0


def _consumers(context: Any) -> int:
    return _status(context).consumers or 0


# ---- messages -------------------------------------------------------------------------------

@then("{it:It} should have less than {n:Int} messages")
def step_it_should_have_less_than_messages(context: Any, it: str, n: int) -> None:
    """Then it should have less than 400 messages

    Messages ready in the queue (delivered but unacknowledged ones do not count).
    """
    _limit(context, "messages", high=n - 1, said=f"less than {n}")


@then("{it:It} should have at least {n:Int} messages")
def step_it_should_have_at_least_messages(context: Any, it: str, n: int) -> None:
    """Then it should have at least 1 messages"""
    _limit(context, "messages", low=n, said=f"at least {n}")


@then("{it:It} should have more than {n:Int} messages")
def step_it_should_have_more_than_messages(context: Any, it: str, n: int) -> None:
    """Then it should have more than 0 messages"""
    _limit(context, "messages", low=n + 1, said=f"more than {n}")


@then("{it:It} should have {n:Int} messages")
def step_it_should_have_messages(context: Any, it: str, n: int) -> None:
    """Then it should have 0 messages"""
    _limit(context, "messages", n, n, said=f"exactly {n}")


@then("{it:It} should have less than {n:Int} messages, warning above {w:Int}")
def step_it_should_have_less_than_messages_warning(context: Any, it: str, n: int, w: int
                                                   ) -> None:
    """Then it should have less than 400 messages, warning above 100

    The queue's depth: WARNING above W messages, CRITICAL at N or more.
    """
    _limit(context, "messages", high=n - 1, said=f"less than {n}", warn=Limit.at_most(w))


def _per_consumer(context: Any, crit: Limit, warn: Limit | None = None) -> None:
    stated(crit, warn)
    status = _status(context)
    messages, consumers, target = _messages(context), _consumers(context), status.target
    where = f"the queue {target.queue!r} on {target.address}"
    share = round(messages / consumers, 3) if consumers else None
    measured = record(context, f"{target.queue} messages per consumer", share, "", crit, 0,
                      warn=warn)
    assert consumers, f"{where} has no consumers ({messages} messages waiting)"
    judge(context, measured, f"{where} has {messages} messages for {consumers} consumers, "
                             f"{messages / consumers:.1f} per consumer")


@then("{it:It} should have less than {n:Int} messages per consumer")
def step_it_should_have_less_than_messages_per_consumer(context: Any, it: str, n: int) -> None:
    """Then it should have less than 50 messages per consumer

    Records `<queue> messages per consumer`; fails when the queue has no consumer at all.
    """
    _per_consumer(context, Limit.below(n))


@then("{it:It} should have less than {n:Int} messages per consumer, warning above {w:Number}")
def step_it_should_have_less_than_messages_per_consumer_warning(context: Any, it: str, n: int,
                                                                w: float) -> None:
    """Then it should have less than 50 messages per consumer, warning above 20"""
    _per_consumer(context, Limit.below(n), Limit.at_most(w))


# ---- consumers ------------------------------------------------------------------------------

@then("{it:It} should have {n:Int} consumers")
def step_it_should_have_consumers(context: Any, it: str, n: int) -> None:
    """Then it should have 2 consumers"""
    _limit(context, "consumers", n, n, said=f"exactly {n}")


@then("{it:It} should have less than {n:Int} consumers")
def step_it_should_have_less_than_consumers(context: Any, it: str, n: int) -> None:
    """Then it should have less than 10 consumers"""
    _limit(context, "consumers", high=n - 1, said=f"less than {n}")


@then("{it:It} should have more than {n:Int} consumers")
def step_it_should_have_more_than_consumers(context: Any, it: str, n: int) -> None:
    """Then it should have more than 0 consumers"""
    _limit(context, "consumers", low=n + 1, said=f"more than {n}")


@then("{it:It} should have at least {n:Int} consumers")
def step_it_should_have_at_least_consumers(context: Any, it: str, n: int) -> None:
    """Then it should have at least 5 consumers"""
    _limit(context, "consumers", low=n, said=f"at least {n}")


@then("{it:It} should have at least {n:Int} consumers, warning below {w:Int}")
def step_it_should_have_at_least_consumers_warning(context: Any, it: str, n: int, w: int
                                                   ) -> None:
    """Then it should have at least 2 consumers, warning below 4

    WARNING below W consumers, CRITICAL below N.
    """
    _limit(context, "consumers", low=n, said=f"at least {n}", warn=Limit.at_least(w))
