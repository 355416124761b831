"""Per-host results where operators look: each fan-out run as a passive check result of its
host, in Icinga 2 (REST API) or Nagios (the external command file).

Called by `escalator check` after the run (`--host-results icinga2|nagios`, or
`[host_results] send` in escalator.toml). Sending never changes the verdict: whatever goes
wrong (no API, a refused login, a FIFO nobody reads, the time budget spent) comes back as a
notice in the check's output. The results themselves are rendered by the pure
`escalator.formatters.host_results`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from escalator.formatters.host_results import host_results
from escalator.hostresults_config import HostResultsConfig
from escalator.redact import redact_text
from escalator.results import RunResult


def send(run: RunResult, targets: Sequence[str], config: HostResultsConfig,
         environ: Mapping[str, str], label: str,
         clock: Callable[[], float] = time.monotonic, now: Callable[[], float] = time.time
         ) -> RunResult:
    """`run` with a notice for each target that did not take every host's result."""
    results = host_results(run.scenarios, label)
    if not results or not targets:
        return run
    notices: list[str] = []
    secrets: list[str] = []
    for target in targets:
        if target == "icinga2" and config.icinga2 is not None:
            from escalator.hostresults import icinga2

            password = environ.get(config.icinga2.password_env, "")
            secrets.append(password)
            if not password:
                notices.append(f"host results not sent to Icinga 2: environment variable "
                               f"{config.icinga2.password_env} is not set")
                continue
            notices.extend(icinga2.submit(results, config.icinga2, password, clock))
        elif target == "nagios" and config.nagios is not None:
            from escalator.hostresults import nagios

            notices.extend(nagios.submit(results, config.nagios, int(now()), clock))
    if not notices:
        return run
    notices = [redact_text(n, secrets) for n in notices]
    return replace(run, notices=(*run.notices, *notices))
