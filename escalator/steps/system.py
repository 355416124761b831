"""Local phrases: commands (cucumber-nagios's single-quoted `I run '...'`), files, ports, ping.

The command phrases keep cucumber-nagios's single quotes, which also keeps them apart from the
SSH module's `I run "..."`. A command runs through `/bin/sh -c` under the step's client timeout
(`escalator.probes.command`) and its result is `context.command_result`; the ping result is
`context.ping_result`. File and port phrases are single Then steps that probe and assert.
Measurements: `command_time`, `file_age`, `connect_time` (marked failed when the port is not
open), `rtt` and `packet_loss`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from behave import then, when

from escalator.steps import types  # noqa: F401 - registers the Q/SQ/Number/Int argument types
from escalator.steps.support import (
    StepSetupError,
    age_limit,
    earlier,
    expand,
    judge,
    record,
    session,
    shown,
    stated,
)

if TYPE_CHECKING:
    from escalator.probes.command_result import CommandResult
    from escalator.probes.ping import PingResult
    from escalator.probes.tcp import TcpResult

PROBES = ("escalator.probes.command", "escalator.probes.files", "escalator.probes.tcp",
          "escalator.probes.ping")
VARIABLES: tuple[str, ...] = ()

_SHOWN = 200  # characters of output quoted in a reason
_STREAMS = ("stdout", "stderr")


def _command(context: Any) -> CommandResult:
    result: CommandResult = earlier(context, "command_result",
                                    "no command has run in this scenario yet (When I run '...')")
    return result


def _line(context: Any, text: str) -> str:
    """The tail of some output, on one line, secrets masked, short enough for a reason."""
    return shown(context, text, _SHOWN + 3, tail=True)


def _label(context: Any) -> str:
    """The command as the feature wrote it (`${secret}` not expanded), cut for a reason."""
    return f"`{shown(context, getattr(context, 'command_text', ''), 60)}`"


# ---- commands ---------------------------------------------------------------------------

# `{command}` (any text, not SQ): cucumber-nagios matched '(.+)', so commands with single
# quotes inside, e.g. awk '{print $1}', keep working.
@when("I run '{command}'")
def step_i_run(context: Any, command: str) -> None:
    """When I run 'systemctl is-active nginx'

    Runs the line through /bin/sh -c on this machine (pipes and redirects work), killing it and
    everything it started if it outlives the step's client timeout.
    """
    from escalator.probes.command import CommandTarget, run

    result = run(CommandTarget(expand(context, command), session(context).client_timeout))
    context.command_result, context.command_text = result, command
    record(context, "command_time", round(result.elapsed, 3), "s")
    assert result.error is None, result.error


@then("it should exit from being signaled")
def step_it_should_exit_from_being_signaled(context: Any) -> None:
    """Then it should exit from being signaled

    The command died of a signal (a crash, kill -9); our own timeout's kill does not count.
    """
    result = _command(context)
    if result.signal is not None:
        return
    said = _line(context, result.stderr) or _line(context, result.stdout)
    raise AssertionError(f"{_label(context)} {result.ended}, expected it to die of a signal"
                         + (f"; output: {said}" if said else ""))


@then("it should exit '{status:Int}'")
def step_it_should_exit(context: Any, status: int) -> None:
    """Then it should exit '0'"""
    result = _command(context)
    if result.exit_status == status:
        return
    said = _line(context, result.stderr) or _line(context, result.stdout)
    raise AssertionError(f"{_label(context)} {result.ended}, expected exit {status}"
                         + (f"; output: {said}" if said else ""))


def _stream(context: Any, stream: str) -> tuple[CommandResult, str]:
    result = _command(context)
    if stream not in ("stdout", "stderr"):
        raise StepSetupError(f"no stream {stream!r}: use 'stdout' or 'stderr'")
    return result, result.stdout if stream == "stdout" else result.stderr


@then("'{stream:SQ}' should have '{text}'")
def step_stream_should_have(context: Any, stream: str, text: str) -> None:
    """Then 'stdout' should have 'active'

    Literal text (cucumber-nagios used it as an unescaped regex); also 'stderr'.
    """
    result, output = _stream(context, stream)
    text = expand(context, text)
    if text in output:
        return
    cut = " (output was cut at the size limit)" if result.truncated else ""
    tail = _line(context, output)
    raise AssertionError(f"{text!r} not in the {stream} of {_label(context)}{cut}: "
                         + (tail or f"{stream} was empty"))


@then("'{stream:SQ}' should not have '{text}'")
def step_stream_should_not_have(context: Any, stream: str, text: str) -> None:
    """Then 'stderr' should not have 'error'"""
    _, output = _stream(context, stream)
    text = expand(context, text)
    assert text not in output, (f"{text!r} in the {stream} of {_label(context)}: "
                                f"{_line(context, output)}")


@then("'{first:SQ}' should appear on '{second:SQ}' '{times:Int}' times")
def step_should_appear_on_times(context: Any, first: str, second: str, times: int) -> None:
    """Then 'ERROR' should appear on 'stderr' '0' times

    cucumber-nagios's order (text first, then the stream); 'stdout' should appear on 'text'
    'N' times reads the same. Counts occurrences of the literal text (cucumber-nagios counted
    lines matching a regular expression).
    """
    # cucumber-nagios's order names the stream second; an unknown name there is reported
    text, stream = (second, first) if first in _STREAMS and second not in _STREAMS else (
        first, second)
    _, output = _stream(context, stream)
    text = expand(context, text)
    if not text:
        raise StepSetupError("give some text to count, not ''")
    seen = output.count(text)
    assert seen == times, (f"{text!r} appears {seen} times in the {stream} of "
                           f"{_label(context)}, expected {times}: "
                           + (_line(context, output) or f"{stream} was empty"))


# ---- files ------------------------------------------------------------------------------

def _file_age(context: Any, path: str, n: float, unit: str,
              warning: tuple[float, str] | None = None) -> None:
    from escalator.probes.files import FileTarget, stat_file

    crit, size = age_limit(n, unit)
    warn = age_limit(*warning)[0] if warning else None
    stated(crit, warn, unit, size)
    result = stat_file(FileTarget(expand(context, path)))
    assert result.error is None and result.age is not None, result.error
    measured = record(context, "file_age", round(result.age, 3), "s", crit, warn=warn)
    judge(context, measured, f"{result.target.path} was last modified {_ago(result.age)} ago",
          unit=unit, scale=size, wanted=f"within the last {n:g} {unit}")


@then('the file "{path:Q}" should have been modified within the last {n:Number} {unit:w}')
def step_the_file_should_have_been_modified_within(context: Any, path: str, n: float,
                                                    unit: str) -> None:
    """Then the file "/var/backups/db.dump" should have been modified within the last 24 hours

    A file on this machine (a directory counts too); records its age as `file_age`.
    """
    _file_age(context, path, n, unit)


@then('the file "{path:Q}" should have been modified within the last {n:Number} {unit:w}, '
      "warning above {w:Number} {wunit:w}")
def step_the_file_should_have_been_modified_within_warning(context: Any, path: str, n: float,
                                                            unit: str, w: float, wunit: str
                                                            ) -> None:
    """Then the file "/srv/db.dump" should have been modified within the last 24 hours, warning above 12 hours

    WARNING once the file is older than W, CRITICAL older than N.
    """  # noqa: E501 - the example is one line of a feature file
    _file_age(context, path, n, unit, (w, wunit))


def _ago(seconds: float) -> str:
    for name, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {name}"
    return f"{seconds:.0f} seconds"


# ---- ports ------------------------------------------------------------------------------

def _connect(context: Any, port: int, host: str) -> TcpResult:
    from escalator.probes.tcp import TcpTarget, connect

    target = TcpTarget(expand(context, host).strip(), port, session(context).client_timeout)
    with session(context).busy(f"connecting to port {port} on {target.host}"):
        return connect(target)


@then('port {port:Int} on "{host:Q}" should be open')
def step_port_on_should_be_open(context: Any, port: int, host: str) -> None:
    """Then port 443 on "www.example.com" should be open

    A TCP connection can be opened within the client timeout; records `connect_time`.
    """
    result = _connect(context, port, host)
    record(context, "connect_time", round(result.elapsed * 1000, 3) if result.is_open else None,
           "ms")
    assert result.is_open, result.error


@then('port {port:Int} on "{host:Q}" should be closed')
def step_port_on_should_be_closed(context: Any, port: int, host: str) -> None:
    """Then port 3306 on "www.example.com" should be closed

    Refused or silent (filtered) both count as closed; a name that does not resolve fails.
    """
    result = _connect(context, port, host)
    assert not result.is_open, f"port {port} on {result.target.host} is open"
    assert result.state != "unresolved", result.error


# ---- ping -------------------------------------------------------------------------------

def _ping(context: Any) -> PingResult:
    result: PingResult | None = getattr(context, "ping_result", None)
    if result is None:
        raise StepSetupError('no ping in this scenario yet (When I ping "host")')
    return result


@when('I ping "{host:Q}"')
def step_i_ping(context: Any, host: str) -> None:
    """When I ping "db1.example.com"

    Three echo requests with a deadline (cucumber-nagios's ping never ended on Linux);
    records `rtt` and `packet_loss` when any reply came.
    """
    from escalator.probes.ping import PingTarget, ping

    result = ping(PingTarget(expand(context, host).strip(), session(context).client_timeout))
    context.ping_result = result
    if result.responded and result.rtt_ms is not None:
        record(context, "rtt", result.rtt_ms, "ms")
        record(context, "packet_loss", round(result.loss, 1), "%", None, 0, 100)


@then("it should respond")
def step_it_should_respond(context: Any) -> None:
    """Then it should respond"""
    result = _ping(context)
    assert result.responded, result.error or (
        f"{result.target.host} did not answer {result.transmitted} echo requests")


@then("it should not respond")
def step_it_should_not_respond(context: Any) -> None:
    """Then it should not respond

    Passes when no reply came, also when the name does not resolve (a notice says so).
    """
    result = _ping(context)
    assert not result.responded, (f"{result.target.host} answered {result.received} of "
                                  f"{result.transmitted} echo requests")
    if result.error is not None:
        session(context).notices.append(f"ping: {result.error}")
