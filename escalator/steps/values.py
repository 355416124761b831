"""Values: numbers compared and patterns matched in JSON, pages, headers, output, DNS answers.

A number is compared as a number: `"7.50"` in a JSON document equals 7.5, and a command that
prints `42` is 42. Regular expressions (Python's `re`, searched anywhere in the text, `(?i)` for
any case) are used only by the phrases that say "should match /.../"; every other phrase keeps
to literal text. Each compared number is recorded with its limit (perfdata); a comparison may
carry a warning limit (", warning above 80"). The results judged are the ones earlier steps
left: the last HTTP response, the last local command (`I run '...'`), the last SSH command
(`I run "..."`), the last DNS answer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from behave import then

from escalator.limits import Limit
from escalator.steps import (
    api,
    types,  # noqa: F401 - registers the Q/SQ/Number/Int argument types
)
from escalator.steps import http_client as web
from escalator.steps.matching import Comparison, as_number, compile_pattern, quoted

if TYPE_CHECKING:
    from escalator.probes.command_result import CommandResult as LocalResult
    from escalator.probes.command_result import CommandResult as RemoteResult
    from escalator.probes.dns import DnsResult

PROBES = ("escalator.probes.http", "escalator.probes.jsonpath")
VARIABLES = web.VARIABLES


def _label(text: str) -> str:
    """A perfdata-friendly name for what was measured.

    >>> _label("$.queue.depth"), _label("$['a b'][0]"), _label("$.workers[*].load")
    ('queue.depth', 'a_b_0', 'workers.load')
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text.removeprefix("$").lstrip("."))
    return re.sub(r"_?\._?", ".", cleaned).strip("_.") or "value"


def _compare(context: Any, name: str, what: str, values: list[Any], comparison: Comparison,
             warn: Limit | None = None) -> None:
    """Every value is a number meeting the comparison (and, short of failing, its warning
    limit); the deciding one is recorded with both limits and judged."""
    numbers = [as_number(v) for v in values]
    bad = [v for v, n in zip(values, numbers, strict=True) if n is None]
    assert not bad, f"{what} is {quoted(context, str(bad[0]), 60)}, not a number"
    worst = comparison.worst([n for n in numbers if n is not None])
    measured = api.record(context, name, worst, "", comparison.limit, warn=warn)
    api.judge(context, measured, f"{what} is {worst:g}", wanted=comparison.describe())


def _matches(context: Any, what: str, text: str, pattern: str, wanted: bool = True) -> None:
    found = compile_pattern(pattern).search(text)
    if wanted:
        assert found, f"{what} does not match /{pattern}/: {quoted(context, text)}"
    else:
        assert not found, (f"{what} matches /{pattern}/ with "
                           f"{quoted(context, found.group(0), 60)}")


# ---- JSON -------------------------------------------------------------------------------

def _json_values(context: Any, path: str) -> list[Any]:
    from escalator.steps.http_json import _values  # the JSON phrases' lookup, shared

    values: list[Any] = _values(context, path)
    return values


@then('the JSON at "{path:Q}" should be {op:Comparison} {n:Number}')
def step_the_json_at_should_compare(context: Any, path: str, op: str, n: float) -> None:
    """Then the JSON at "$.queue_depth" should be less than 100

    Also more than, greater than, at least, at most, equal to; numbers written as strings
    ("7.50") count as numbers. Records `json_<path>` with the limit.
    """
    path = api.expand(context, path)
    _compare(context, f"json_{_label(path)}", path, _json_values(context, path),
             Comparison(op, n))


@then('the JSON at "{path:Q}" should be {op:Comparison} {n:Number}, warning {side:Side} '
      "{w:Number}")
def step_the_json_at_should_compare_warning(context: Any, path: str, op: str, n: float,
                                            side: str, w: float) -> None:
    """Then the JSON at "$.queue_depth" should be less than 100, warning above 80

    One measurement, two limits: WARNING past W, CRITICAL past N (above with less than / at
    most, below with more than / at least).
    """
    comparison = Comparison(op, n)
    path = api.expand(context, path)
    _compare(context, f"json_{_label(path)}", path, _json_values(context, path), comparison,
             comparison.warning(side, w))


@then('the JSON at "{path:Q}" should be {n:Number}')
def step_the_json_at_should_be_the_number(context: Any, path: str, n: float) -> None:
    """Then the JSON at "$.price" should be 7.5

    Compared as numbers: 7.5, 7.50 and "7.50" are all 7.5.
    """
    step_the_json_at_should_compare(context, path, "equal to", n)


@then('the JSON at "{path:Q}" should match /{pattern:Regex}/')
def step_the_json_at_should_match(context: Any, path: str, pattern: str) -> None:
    """Then the JSON at "$.version" should match /^2\\.\\d+\\.\\d+$/

    Every value the path finds (as text) matches the regular expression.
    """
    from escalator.probes.jsonpath import as_text

    path = api.expand(context, path)
    for value in _json_values(context, path):
        _matches(context, path, as_text(value), api.expand(context, pattern))


# ---- page text and headers --------------------------------------------------------------

def _page_text(context: Any) -> str:
    result = web.answered(context)
    if result.media_type in ("text/html", "application/xhtml+xml"):
        return result.text + "\n" + web.page(context).visible_text()
    return result.text


@then("the response body should match /{pattern:Regex}/")
def step_the_response_body_should_match(context: Any, pattern: str) -> None:
    """Then the response body should match /Version \\d+\\.\\d+/

    The body, or for an HTML page also the text a reader sees (tags gone, entities decoded).
    """
    result = web.answered(context)
    _matches(context, f"the body of {result.final_url} ({result.status})", _page_text(context),
             api.expand(context, pattern))


@then("the response body should not match /{pattern:Regex}/")
def step_the_response_body_should_not_match(context: Any, pattern: str) -> None:
    """Then the response body should not match /(?i)exception|traceback/"""
    result = web.answered(context)
    _matches(context, f"the body of {result.final_url} ({result.status})", _page_text(context),
             api.expand(context, pattern), wanted=False)


@then('the "{name:Q}" header should match /{pattern:Regex}/')
def step_the_header_should_match(context: Any, name: str, pattern: str) -> None:
    """Then the "Server" header should match /^nginx\\/1\\.2\\d/"""
    result = web.answered(context)
    value = result.header(name)
    assert value is not None, f'no "{name}" header in the answer of {result.final_url}'
    _matches(context, f'the "{name}" header', value, api.expand(context, pattern))


# ---- command output ---------------------------------------------------------------------

def _local(context: Any, stream: str) -> tuple[LocalResult, str, str]:
    """The last local command, the text of `stream`, and how a reason names it."""
    result: LocalResult = api.earlier(context, "command_result", "no command has run in this "
                                      "scenario yet (When I run '...')")
    if stream not in ("stdout", "stderr"):
        raise api.StepSetupError(f"no stream {stream!r}: use 'stdout' or 'stderr'")
    # the command as the feature wrote it (`${secret}` not expanded), masked before the cut
    written = getattr(context, "command_text", result.command)
    label = f"the {stream} of `{api.shown(context, written, 60)}`"
    return result, (result.stdout if stream == "stdout" else result.stderr), label


def _remote(context: Any) -> tuple[RemoteResult, str]:
    result: RemoteResult = api.earlier(context, "ssh_command", 'no remote command yet: write '
                                       'When I run "<command>" first')
    return result, f"the output of `{result.command}` on {result.address}"


def _number_text(text: str) -> str:
    """Command output as a number is written: surrounding space and one trailing % ignored."""
    return text.strip().removesuffix("%").strip()


@then("'{stream:SQ}' should match /{pattern:Regex}/")
def step_stream_should_match(context: Any, stream: str, pattern: str) -> None:
    """Then 'stdout' should match /^active$/

    The output of the last local command (`I run '...'`); also 'stderr'. Multi-line output:
    `^` and `$` match at line ends with `(?m)`.
    """
    _, output, label = _local(context, stream)
    _matches(context, label, output, api.expand(context, pattern))


@then("'{stream:SQ}' should not match /{pattern:Regex}/")
def step_stream_should_not_match(context: Any, stream: str, pattern: str) -> None:
    """Then 'stderr' should not match /(?i)error/"""
    _, output, label = _local(context, stream)
    _matches(context, label, output, api.expand(context, pattern), wanted=False)


@then("'{stream:SQ}' should be {op:Comparison} {n:Number}")
def step_stream_should_compare(context: Any, stream: str, op: str, n: float) -> None:
    """Then 'stdout' should be less than 90

    The whole output is one number (a trailing % is allowed), e.g. from `df --output=pcent`;
    records `stdout` with the limit.
    """
    _, output, label = _local(context, stream)
    _compare(context, stream, label, [_number_text(output)], Comparison(op, n))


@then("'{stream:SQ}' should be {op:Comparison} {n:Number}, warning {side:Side} {w:Number}")
def step_stream_should_compare_warning(context: Any, stream: str, op: str, n: float, side: str,
                                       w: float) -> None:
    """Then 'stdout' should be less than 90, warning above 80"""
    _, output, label = _local(context, stream)
    comparison = Comparison(op, n)
    _compare(context, stream, label, [_number_text(output)], comparison,
             comparison.warning(side, w))


@then("the output should match /{pattern:Regex}/")
def step_the_output_should_match(context: Any, pattern: str) -> None:
    """Then the output should match /load average: \\d/

    The output of the last remote command (`I run "..."` over SSH).
    """
    result, label = _remote(context)
    _matches(context, label, result.output, api.expand(context, pattern))


@then("the output should be {op:Comparison} {n:Number}")
def step_the_output_should_compare(context: Any, op: str, n: float) -> None:
    """Then the output should be at most 5

    The whole output of the last remote command is one number; records `output` with the limit.
    """
    result, label = _remote(context)
    _compare(context, "output", label, [_number_text(result.output)], Comparison(op, n))


@then("the output should be {op:Comparison} {n:Number}, warning {side:Side} {w:Number}")
def step_the_output_should_compare_warning(context: Any, op: str, n: float, side: str, w: float
                                           ) -> None:
    """Then the output should be at most 5, warning above 3"""
    result, label = _remote(context)
    comparison = Comparison(op, n)
    _compare(context, "output", label, [_number_text(result.output)], comparison,
             comparison.warning(side, w))


# ---- DNS answers ------------------------------------------------------------------------

def _answer(context: Any) -> DnsResult:
    result: DnsResult = api.earlier(context, "dns_result",
                                    "no DNS lookup in this scenario yet (When I look up ...)")
    assert result.status == "answer", result.error
    return result


def _texts(result: DnsResult) -> list[str]:
    """Each record as dig prints it and, for TXT, its strings joined without quotes."""
    texts = []
    for record in result.records:
        texts.append(record.text)
        if record.rdtype == "TXT":
            texts.append("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', record.text)))
    return texts


@then("the answer should match /{pattern:Regex}/")
def step_the_answer_should_match(context: Any, pattern: str) -> None:
    """Then the answer should match /^10 mail\\d*\\.example\\.com\\.$/

    Any record of the last answer, as dig prints it (for TXT also its text without quotes).
    """
    result = _answer(context)
    regex = compile_pattern(api.expand(context, pattern))
    assert any(regex.search(text) for text in _texts(result)), (
        f"no record of {result.target.rdtype} {result.target.name} matches /{regex.pattern}/: "
        + ", ".join(result.values[:8]))


@then('the answer should contain "{text:Q}"')
def step_the_answer_should_contain(context: Any, text: str) -> None:
    """Then the answer should contain "v=spf1"

    Literal text inside any record (a TXT record's text without quotes): for SPF, DKIM and
    verification tokens, which are long.
    """
    result = _answer(context)
    wanted = api.expand(context, text)
    assert any(wanted in text for text in _texts(result)), (
        f"no record of {result.target.rdtype} {result.target.name} contains {wanted!r}: "
        + ", ".join(result.values[:8]))
