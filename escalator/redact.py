"""Secrets out of everything we write: one replacement applied to whole results and to text.

The CLI knows the secret values (read from the environment); it redacts every RunResult before any
formatter, the state store or the ladder sees it, and every line the audit log writes.

>>> redact_text("token=s3cret!", ("s3cret!",))
'token=***'
>>> redact_text("nothing here", ())
'nothing here'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from escalator.results import RunResult

MASK = "***"


def redact_text(text: str, secrets: Sequence[str]) -> str:
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_value(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every string inside it (dicts, lists, tuples) redacted."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v, secrets) for v in value)
    return value


def redact_run(run: RunResult, secrets: Sequence[str]) -> RunResult:
    if not any(secrets):
        return run
    return RunResult.from_dict(redact_value(run.to_dict(), secrets))
