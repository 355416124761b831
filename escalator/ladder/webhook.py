"""The built-in notifier: the page POSTed as JSON to a URL (`notify = { webhook = "https://..." }`).

`format` shapes the body: `escalator` (the page exactly as a notify argv gets it on stdin),
`pagerduty` (an Events API v2 `trigger` or `resolve` with the page's dedup key) or
`alertmanager` (the body Alertmanager POSTs to its webhook receivers, version 4, one alert).
TLS is verified (the system's CAs, or `ca_bundle`); redirects are not followed (a page must not
be re-sent somewhere else). Each attempt has `timeout`; a connection error, a timeout, 408, 429
or a 5xx is tried again up to `retries` times after 1 s, 2 s, 4 s ...; any other answer is final.
Secrets (the URL, a token, a routing key, header values) come from environment variables named
in the config. `post` never raises: None when the receiver took the page (2xx), else why not.
Called by `pager`; `requests` is imported here only, when a page is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from escalator.formatters import cut, one_line
from escalator.ladder.model import Webhook

FORMATS = ("escalator", "pagerduty", "alertmanager")
RETRY_STATUS = frozenset({408, 429})
ERROR_CHARS = 300
_ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "not ended yet"


class MissingSecret(Exception):
    """An environment variable the webhook needs is not set."""


def secret(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise MissingSecret(f"environment variable {name} is not set")
    return value


def url_of(hook: Webhook, environ: Mapping[str, str]) -> str:
    return secret(environ, hook.url_env) if hook.url_env else hook.url


def secrets_of(hook: Webhook | None, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The secret values this webhook uses, for redaction (those that are set)."""
    if hook is None:
        return ()
    return tuple(environ[name] for name in hook.secret_envs if environ.get(name))


def post(hook: Webhook, page: Mapping[str, Any], environ: Mapping[str, str],
         sleep: Callable[[float], None]) -> str | None:
    """Send `page`; None when a 2xx answered, else why not, in one line."""
    try:
        url = url_of(hook, environ)
        data = json.dumps(body(hook, page, environ)).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "escalator",
                   **_headers(hook, environ)}
    except MissingSecret as exc:
        return str(exc)
    problem: str | None = "not sent"
    for attempt in range(hook.retries + 1):
        if attempt:
            sleep(float(2 ** (attempt - 1)))
        problem, again = _attempt(hook, url, data, headers)
        if not again:
            break
    return problem if problem is None else cut(one_line(problem), ERROR_CHARS)


def _attempt(hook: Webhook, url: str, data: bytes, headers: dict[str, str]
             ) -> tuple[str | None, bool]:
    """(None, False) when taken; (why, retry?) otherwise."""
    import requests

    try:
        answer = requests.post(url, data=data, headers=headers, timeout=hook.timeout,
                               verify=hook.ca_bundle or True, allow_redirects=False)
    except requests.Timeout:
        return f"no answer within {hook.timeout:g}s", True
    except requests.exceptions.SSLError as exc:
        return f"TLS: {_root(exc)}", False
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {_root(exc)}", True
    if 200 <= answer.status_code < 300:
        return None, False
    retry = answer.status_code in RETRY_STATUS or answer.status_code >= 500
    text = answer.text[:200] if answer.text else ""
    return f"HTTP {answer.status_code} {answer.reason}" + (f": {text}" if text else ""), retry


def _root(exc: BaseException) -> str:
    """The innermost cause: requests wraps urllib3 wraps the socket's or ssl's error."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return str(exc) or type(exc).__name__


def _headers(hook: Webhook, environ: Mapping[str, str]) -> dict[str, str]:
    headers = dict(hook.headers)
    headers.update({name: secret(environ, env) for name, env in hook.header_envs})
    if hook.token_env:
        headers["Authorization"] = f"Bearer {secret(environ, hook.token_env)}"
    return headers


def body(hook: Webhook, page: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    """The JSON body in the hook's `format`."""
    if hook.format == "pagerduty":
        return pagerduty(page, secret(environ, hook.routing_key_env))
    if hook.format == "alertmanager":
        return alertmanager(page)
    return dict(page)


def pagerduty(page: Mapping[str, Any], routing_key: str) -> dict[str, Any]:
    """PagerDuty Events API v2: a trigger (summary, source, severity, details, runbook links)
    or a resolve, correlated by `dedup_key`."""
    if page["event"] == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve",
                "dedup_key": page["dedup_key"]}
    return {
        "routing_key": routing_key, "event_action": "trigger", "dedup_key": page["dedup_key"],
        "payload": {"summary": page["summary"], "source": f"escalator/{page['environment']}",
                    "severity": page["severity"], "timestamp": page["since"],
                    "component": page["environment"], "group": "escalator",
                    "class": page["kind"], "custom_details": dict(page)},
        "links": [{"href": url, "text": "runbook"} for url in page.get("runbooks", [])],
        "client": "Escalator",
    }


def alertmanager(page: Mapping[str, Any]) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) with one alert: what receivers written for
    Alertmanager (chat bridges, ticket systems) accept."""
    resolved = page["event"] == "resolved"
    status = "resolved" if resolved else "firing"
    labels = {"alertname": "EscalatorLadder", "environment": page["environment"],
              "kind": page["kind"], "severity": page["severity"],
              "dedup_key": page["dedup_key"]}
    annotations = {"summary": page["summary"], "description": page["reason"]}
    if page.get("next_step"):
        annotations["next_step"] = page["next_step"]
    if page.get("runbooks"):
        annotations["runbook_url"] = page["runbooks"][0]
    alert = {"status": status, "labels": labels, "annotations": annotations,
             "startsAt": page["since"],
             "endsAt": page.get("resolved", _ZERO_TIME) if resolved else _ZERO_TIME,
             "generatorURL": "",
             "fingerprint": hashlib.sha256(page["dedup_key"].encode()).hexdigest()[:16]}
    return {"version": "4", "groupKey": f'{{}}:{{dedup_key="{page["dedup_key"]}"}}',
            "truncatedAlerts": 0, "status": status, "receiver": "escalator",
            "groupLabels": {"dedup_key": page["dedup_key"]}, "commonLabels": labels,
            "commonAnnotations": annotations, "externalURL": "", "alerts": [alert]}
