"""Secrets out of everything we write: one replacement applied to whole results and to text.

The CLI knows the secret values (read from the environment); it redacts every RunResult before any
formatter, the state store or the ladder sees it, and the ladder's audit log and pages go through
`redact_value` too. A secret is masked as written and as it appears URL-encoded (in a reason that
quotes a URL); longest first, so a secret that contains another is masked whole.

>>> redact_text("token=s3cret!", ("s3cret!",))
'token=***'
>>> redact_text("GET /?pw=a%20b", ("a b",))
'GET /?pw=***'
>>> redact_value({"severity": "critical", "reason": "critical x"}, ("critical",))
{'severity': 'critical', 'reason': '*** x'}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from escalator.results import RunResult

MASK = "***"

# Fields whose values are our own vocabulary, never target data: masking them would break the
# result (a secret such as "critical" must not turn a severity into "***").
_VOCABULARY = frozenset({"outcome", "severity", "status", "keyword", "uom"})


def _forms(secrets: Sequence[str]) -> list[str]:
    forms = set()
    for secret in secrets:
        if secret:
            forms.update({secret, quote(secret, safe="!#$&'()*+,/:;=?@[]~"), quote(secret, safe=""),
                          quote_plus(secret), secret.replace("+", " ")})
    return sorted(forms, key=len, reverse=True)


def masked_forms(secrets: Sequence[str]) -> list[str]:
    """Every form in which the secrets are masked, longest first: for a caller that must cut
    text without leaving part of one behind (the ladder's output tail)."""
    return _forms(secrets)


def redact_text(text: str, secrets: Sequence[str]) -> str:
    return _mask(text, _forms(secrets))


def redact_value(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every string inside it (dict values, lists, tuples) redacted; dict keys and
    our own vocabulary fields are left alone."""
    return _walk(value, _forms(secrets), None)


def _mask(text: str, forms: list[str]) -> str:
    for form in forms:
        text = text.replace(form, MASK)
    return text


def _walk(value: Any, forms: list[str], key: str | None) -> Any:
    if isinstance(value, str):
        return value if key in _VOCABULARY else _mask(value, forms)
    if isinstance(value, dict):
        return {k: _walk(v, forms, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, forms, key) for v in value)
    return value


def redact_run(run: RunResult, secrets: Sequence[str]) -> RunResult:
    if not any(secrets):
        return run
    return RunResult.from_dict(redact_value(run.to_dict(), secrets))
