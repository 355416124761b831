"""Passive check results into Icinga 2 through its REST API: one
`POST /v1/actions/process-check-result` per host, as the API user of `[host_results.icinga2]`.

TLS is verified (against the Icinga CA when `ca` names it); every request shares one time
budget (`timeout`), so a slow API cannot hold the check past the monitoring system's timeout.
The service is addressed as `host!service`, never as a filter expression built from names.
Returns notices, never raises for what the API does; what the API said is quoted with the
password (and its basic-auth token) masked before it is cut. Called by
`escalator.hostresults.send`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from escalator.formatters.host_results import HostResult
from escalator.hostresults_config import Icinga2Api
from escalator.redact import Redactor, basic_auth_tokens
from escalator.text import one_line

_SHOWN = 5


def submit(results: Sequence[HostResult], api: Icinga2Api, password: str,
           clock: Callable[[], float]) -> list[str]:
    from escalator.probes import ProbeSetupError
    from escalator.probes.http import HttpTarget, close_client, fetch, open_client

    redactor = Redactor((password, *basic_auth_tokens(api.user, password)))
    deadline = clock() + api.timeout
    url = f"{api.url}/v1/actions/process-check-result"
    refused: list[str] = []
    client = open_client()
    try:
        for n, result in enumerate(results):
            left = deadline - clock()
            if left <= 0:
                return [*_refused(refused, len(results)),
                        f"Icinga 2: {len(results) - n} of {len(results)} host results not sent: "
                        f"the time for sending ({api.timeout:g} s) ran out"]
            if "!" in result.host or "!" in result.service:
                refused.append(f"{result.host}!{result.service}: '!' cannot be in an Icinga "
                               "object name")
                continue
            target = HttpTarget(url, "POST", headers=(("Accept", "application/json"),
                                                      ("Content-Type", "application/json")),
                                auth=("basic", api.user, password), verify=api.ca or True,
                                timeout=left, body=json.dumps(_payload(result)).encode())
            try:
                answer = fetch(client, target)
            except ProbeSetupError as exc:
                return [f"host results not sent to Icinga 2: {exc}"]
            if answer.status is None:  # no answer at all: the next one would fare no better
                return [f"host results not sent to Icinga 2 at {api.url}: {answer.error}"]
            if answer.status == 401:  # nor would they with a refused login
                return [f"host results not sent to Icinga 2 at {api.url} as {api.user}: 401 "
                        f"{_status_text(answer.text, redactor) or answer.reason}"]
            if answer.status != 200:
                refused.append(f"{result.host}!{result.service}: {answer.status} "
                               f"{_status_text(answer.text, redactor) or answer.reason}")
    finally:
        close_client(client)
    return _refused(refused, len(results))


def _payload(result: HostResult) -> dict[str, object]:
    return {"type": "Service", "service": f"{result.host}!{result.service}",
            "exit_status": int(result.status),
            "plugin_output": "\n".join([result.output, *result.details]),
            "performance_data": list(result.perfdata), "check_source": "escalator"}


def _status_text(body: str, redactor: Redactor) -> str:
    """Icinga's own words: `{"results": [{"status": ...}]}` or `{"status": ...}`, one line."""
    try:
        data = json.loads(body)
    except ValueError:
        return _line(body, redactor)
    if isinstance(data, dict):
        found = data.get("results") or [data]
        if isinstance(found, list) and found and isinstance(found[0], dict):
            return _line(str(found[0].get("status", "")), redactor)
    return ""


def _line(text: str, redactor: Redactor) -> str:
    """Masked first, then cut: a password cut in half could not be recognised."""
    return redactor.shorten(one_line(redactor.text(text)), 120)


def _refused(refused: list[str], total: int) -> list[str]:
    if not refused:
        return []
    shown = "; ".join(refused[:_SHOWN]) + (f"; and {len(refused) - _SHOWN} more"
                                            if len(refused) > _SHOWN else "")
    return [f"Icinga 2 did not take {len(refused)} of {total} host results: {shown}"]
