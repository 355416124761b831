"""Escalator's output formats as behave formatters, for projects run by plain behave.

    python -m behave -f escalator.behave_formats:JUnit -o reports/junit.xml
    python -m behave -f escalator.junit -o reports/junit.xml   # with init's behave.ini

Each class collects the scenarios behave ran (in feature order), turns them into Escalator's
results with the same code as the runner's workers (`escalator.runner.worker.model_result`), and
at the end of the run writes what `escalator run -f <format>` would: `JUnit`, `Json`, `Nagios`,
`Pretty`, `Progress`, `Prometheus`. Severity, ladder level and runbook come from the tags and
descriptions as usual; measurements and the steps that crossed only a warning limit (a
warning-only scenario is WARNING, as under `escalator run`) come from the sessions that the
`escalator.hooks` environment gave the scenarios (without those hooks every step is an error
anyway), and secrets are masked. Imported only by behave, when it is asked for one of these
formatters.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from behave.formatter.base import Formatter

from escalator.formatters import FormatOptions, render
from escalator.redact import redact_run, redactor_for
from escalator.results import RunResult, ScenarioResult

_NOT_RUN = ("skipped", "untested", "untested_pending", "untested_undefined")


class _EscalatorFormat(Formatter):  # type: ignore[misc]
    format = "json"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self.features: list[Any] = []
        self.started = time.time()
        self.clock = time.monotonic()

    def feature(self, feature: Any) -> None:
        self.features.append(feature)

    def _results(self) -> list[ScenarioResult]:
        from escalator.runner.worker import model_result
        from escalator.tags import meta_of

        found = []
        secrets = tuple(getattr(self.config, "escalator_secrets", ()))
        for feature in self.features:
            file = os.path.relpath(feature.filename, Path.cwd())
            for scenario in feature.walk_scenarios():
                if scenario.status.name in _NOT_RUN:
                    continue
                meta = meta_of(scenario)
                # the scenario's secrets include what its steps hid (a basic-auth token)
                redactor = redactor_for(tuple(getattr(scenario, "escalator_secrets", secrets)))
                found.append(model_result(feature, scenario, file, meta,
                                          getattr(scenario, "escalator_measurements", ()),
                                          redactor, getattr(scenario, "escalator_warned", None)))
        return found

    def _notices(self) -> tuple[str, ...]:
        notices: dict[str, None] = {}
        for feature in self.features:
            for scenario in feature.walk_scenarios():
                notices.update(dict.fromkeys(getattr(scenario, "escalator_notices", ())))
        return tuple(notices)

    def close(self) -> None:
        run = RunResult(scenarios=tuple(self._results()), notices=self._notices(),
                        started=self.started, duration=time.monotonic() - self.clock)
        run = redact_run(run, getattr(self.config, "escalator_secrets", ()))
        stream = self.open()
        stream.write(render(self.format, run, FormatOptions(verbose=bool(self.config.verbose))))
        self.close_stream()


class JUnit(_EscalatorFormat):
    """One merged JUnit XML document (`<testsuites>`), as `escalator run -f junit`."""

    name, format = "escalator.junit", "junit"


class Json(_EscalatorFormat):
    """The whole run as JSON, as `escalator run -f json`."""

    name, format = "escalator.json", "json"


class Nagios(_EscalatorFormat):
    """The Nagios plugin's status line with perfdata, and its long output."""

    name, format = "escalator.nagios", "nagios"


class Pretty(_EscalatorFormat):
    """Escalator's readable report of a run."""

    name, format = "escalator.pretty", "pretty"


class Progress(_EscalatorFormat):
    """One character a scenario and a summary line."""

    name, format = "escalator.progress", "progress"


class Prometheus(_EscalatorFormat):
    """The Prometheus text exposition of the run (for node_exporter's textfile collector)."""

    name, format = "escalator.prometheus", "prometheus"


# the format names of `escalator run -f`, as behave's `module:class` wants them
junit, json, nagios, pretty = JUnit, Json, Nagios, Pretty
progress, prometheus = Progress, Prometheus
