"""Secrets out of everything we write, in every form they travel in.

A `Redactor` knows the secret values of a run and masks each of them as written and as it
appears after the usual transformations: URL-encoded (a reason that quotes a URL; a URL also
loses its tabs and newlines), escaped by `repr()`, `ascii()` or JSON (`C:\\tmp` becomes
`C:\\\\tmp`), HTML-escaped, whitespace collapsed (a page's visible text, a one-line reason), and
base64-encoded (the `Authorization: Basic` header a target may echo). The longest form wins, so
a secret that contains another is masked whole.

Redaction happens where the text is made: the worker redacts each scenario's result before it
leaves the process, and the steps that cut text for a reason redact first
(`Redactor.shorten`), because a cut secret cannot be recognised afterwards. As a last net, a
piece of a secret that ends at a "..." (or starts after one) is masked too. The CLI redacts the
whole RunResult again before any formatter, the state store or the ladder sees it, and the
ladder's audit log and pages go through `redact_value`.

>>> redact_text("token=s3cret!", ("s3cret!",))
'token=***'
>>> redact_text("GET /?pw=a%20b", ("a b",))
'GET /?pw=***'
>>> redact_text("expected 'C:\\\\\\\\tmp', got 'a b c'", ("C:\\\\tmp", "a  b\\tc"))
"expected '***', got '***'"
>>> Redactor(["Zq7Passw0rdVx41"]).shorten("the body starts with Zq7Passw0rdVx41", 30)
'the body starts with ***'
>>> redact_text("cut off at Zq7Pass...", ("Zq7Passw0rdVx41",))
'cut off at ***...'
>>> redact_value({"severity": "critical", "reason": "critical x"}, ("critical",))
{'severity': 'critical', 'reason': '*** x'}
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from escalator.results import RunResult

MASK = "***"
_CUT_MARKS = ("...", "\u2026")
_PIECE = 4  # a piece of a secret this long at a cut mark is masked
_CORE = 8  # a base64 core shorter than this could match anything

# Fields whose values are our own vocabulary, never target data: masking them would break the
# result (a secret such as "critical" must not turn a severity into "***").
_VOCABULARY = frozenset({"outcome", "severity", "status", "keyword", "uom"})


class Redactor:
    """Masks a fixed set of secrets; build one per run (or scenario) and reuse it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(dict.fromkeys(s for s in secrets if s))
        self.forms = _forms(self.secrets)
        self._pattern = (re.compile("|".join(re.escape(f) for f in self.forms))
                         if self.forms else None)
        self._pieces: _Pieces | None = None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        text = self._pattern.sub(MASK, text)
        if not any(mark in text for mark in _CUT_MARKS):
            return text
        if self._pieces is None:
            self._pieces = _Pieces(self.forms)
        return self._pieces.mask(text)

    def value(self, value: Any, key: str | None = None) -> Any:
        """`value` with every string inside it (dict values, lists, tuples) redacted; dict keys
        and our own vocabulary fields are left alone."""
        if self._pattern is None:
            return value  # no secret: nothing to mask, and no walk through every result
        if isinstance(value, str):
            return value if key in _VOCABULARY else self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v, key) for v in value)
        return value

    def shorten(self, text: str, limit: int, tail: bool = False) -> str:
        """`text` redacted, then cut to `limit` characters ("..." marks the cut; `tail` keeps
        the end): redacting first means a cut never leaves part of a secret to read."""
        text = self.text(text)
        if len(text) <= limit:
            return text
        keep = max(limit - 3, 0)
        return "..." + text[len(text) - keep:] if tail else text[:keep] + "..."


@functools.lru_cache(maxsize=8)
def redactor_for(secrets: tuple[str, ...]) -> Redactor:
    """The (shared) Redactor of these secrets: building one compiles a pattern of every form,
    so the runner builds the run's once, before it forks its workers."""
    return Redactor(secrets)


def masked_forms(secrets: Sequence[str]) -> list[str]:
    """Every form in which the secrets are masked, longest first: for a caller that must cut
    text without leaving part of one behind (the ladder's output tail)."""
    return _forms(secrets)


def redact_text(text: str, secrets: Sequence[str]) -> str:
    return redactor_for(tuple(secrets)).text(text)


def redact_value(value: Any, secrets: Sequence[str]) -> Any:
    return redactor_for(tuple(secrets)).value(value)


def redact_run(run: RunResult, secrets: Sequence[str]) -> RunResult:
    redactor = redactor_for(tuple(secrets))
    if not redactor:
        return run
    return RunResult.from_dict(redactor.value(run.to_dict()))


def basic_auth_tokens(user: str, password: str) -> tuple[str, ...]:
    """What `Authorization: Basic` carries for these credentials (UTF-8, and Latin-1 as older
    clients send it): a step that sets credentials asks the session to mask these too."""
    pair = f"{user}:{password}"
    tokens = [base64.b64encode(pair.encode()).decode()]
    with contextlib.suppress(UnicodeEncodeError):
        tokens.append(base64.b64encode(pair.encode("latin-1")).decode())
    return tuple(dict.fromkeys(tokens))


# ---- the forms a secret travels in ----------------------------------------------------------

def _forms(secrets: Sequence[str]) -> list[str]:
    forms: set[str] = set()
    for secret in secrets:
        bases = {secret, " ".join(secret.split()), re.sub(r"[\t\r\n]", "", secret)}
        for base in bases:
            for form in _escaped(base):
                forms.update({form, " ".join(form.split())})
        forms.update(_base64_cores(secret))
    forms.discard("")
    return sorted(forms, key=len, reverse=True)


def _escaped(text: str) -> set[str]:
    """`text` as repr/ascii/JSON/HTML escape it and as URLs encode it."""
    import html  # only a run with secrets gets here: html.entities is big to import

    python = _py_escape(text)
    forms = {text, python, python.replace("'", "\\'"), _py_escape(text, ascii_only=True),
             json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1],
             json.dumps(text)[1:-1].replace("/", "\\/"),
             html.escape(text), html.escape(text, quote=False),
             html.escape(text).replace("&#x27;", "&#39;"),
             quote(text, safe="!#$&'()*+,/:;=?@[]~"), quote(text, safe=""), quote_plus(text),
             quote(text, safe="!#$%&'()*+,/:;=?@[]~"),  # requests keeps a valid %XX as it is
             text.replace("+", " ")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms if "%" in f}
    return forms


def _py_escape(text: str, ascii_only: bool = False) -> str:
    """The inside of repr(text) (or ascii(text)) without quotes and with no quote escaped."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char in "'\"":
            out.append(char)
        elif (ascii_only and ord(char) > 126) or not char.isprintable():
            out.append((ascii if ascii_only else repr)(char)[1:-1])
        else:
            out.append(char)
    return "".join(out)


def _base64_cores(secret: str) -> set[str]:
    """The base64 characters that depend on the secret's bytes alone, at each of the three
    alignments it may have inside a longer encoded value (user:password, a token blob)."""
    raw = secret.encode()
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = -(-offset * 4 // 3)
        end = (offset + len(raw)) * 8 // 6
        for form in (encoded[start:end], encoded[start:end].replace("+", "-").replace("/", "_")):
            if len(form) >= _CORE:
                cores.add(form)
    if len(raw) * 4 // 3 >= _CORE:
        cores.add(base64.b64encode(raw).decode())
    return cores


class _Pieces:
    """The starts and ends (at least `_PIECE` long) of every form, for the cut-mark net; built
    on the first text that has a cut mark, as most texts have none."""

    def __init__(self, forms: Sequence[str]) -> None:
        self.starts = {f[:k] for f in forms for k in range(_PIECE, len(f))}
        self.ends = {f[-k:] for f in forms for k in range(_PIECE, len(f))}
        self.longest = max((len(f) for f in forms), default=0)

    def mask(self, text: str) -> str:
        """Mask what is left of a secret where a "..." cut it: the start of a form just before
        the mark, or its end just after. Steps redact before they cut; this catches the code
        that does not (a probe quoting an error, a site's own step)."""
        for mark in _CUT_MARKS:
            if mark not in text:
                continue
            parts = text.split(mark)
            for i in range(len(parts) - 1):
                parts[i] = self._mask_end(parts[i])
                parts[i + 1] = self._mask_start(parts[i + 1])
            text = mark.join(parts)
        return text

    def _mask_end(self, text: str) -> str:
        for k in range(min(self.longest, len(text)), _PIECE - 1, -1):
            if text[-k:] in self.starts:
                return text[:-k] + MASK
        return text

    def _mask_start(self, text: str) -> str:
        for k in range(min(self.longest, len(text)), _PIECE - 1, -1):
            if text[:k] in self.ends:
                return MASK + text[k:]
        return text
