"""JSON answers: JSONPath lookups (jsonpath-ng, with its filter extensions) and timestamps.

Called by `escalator.steps.http_json`. A path we cannot parse is our mistake (`ProbeSetupError`);
a body that is not JSON or a path that finds nothing is the target's, and the steps say so.

>>> doc = {"status": "ok", "checks": [{"up": True, "at": 1700000000}, {"up": False}]}
>>> find(doc, "$.checks[*].up"), find(doc, "$.missing")
([True, False], [])
>>> [as_text(v) for v in (True, None, 1.5, "ok", {"a": 1})]
['true', 'null', '1.5', 'ok', '{"a": 1}']
>>> parse_time("2024-05-01T12:00:00Z").isoformat(), parse_time(1700000000).isoformat()
('2024-05-01T12:00:00+00:00', '2023-11-14T22:13:20+00:00')
>>> parse_time("yesterday") is None, parse_time(True) is None
(True, True)
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_path

from escalator.probes import ProbeSetupError


@functools.lru_cache(maxsize=64)
def _compiled(path: str) -> Any:
    try:
        return parse_path(path)
    except (JSONPathError, ValueError, TypeError) as exc:
        raise ProbeSetupError(f"bad JSONPath {path!r}: {exc}") from None


def find(document: Any, path: str) -> list[Any]:
    """Every value at `path` in `document`, in document order."""
    return [match.value for match in _compiled(path).find(document)]


MAX_DEPTH = 200  # deeper documents are refused: JSONPath searches them recursively


def load(text: str) -> Any:
    """The parsed document; `ValueError` with a short reason when it is not JSON we can read
    (the answer is the target's: whatever it sends, the step fails, never errs).

    >>> load("[" * 100_000 + "]" * 100_000)
    Traceback (most recent call last):
    ValueError: not JSON this check can read (nested more than 200 levels deep)
    """
    too_deep = ValueError(f"not JSON this check can read (nested more than {MAX_DEPTH} "
                          "levels deep)")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                         ) from None
    except RecursionError:
        raise too_deep from None
    except ValueError:  # an integer of thousands of digits
        raise ValueError("not JSON this check can read (a number with too many digits)"
                         ) from None
    if _deeper_than(document, MAX_DEPTH):
        raise too_deep
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    todo = [(document, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            todo.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                                 else value))
    return False


def as_text(value: Any) -> str:
    """A value as a feature writes it: strings as they are, anything else as JSON text."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text or epoch seconds; None if it is neither.

    A time without a zone is taken as UTC, the usual meaning in machine-written status pages.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None
