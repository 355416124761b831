"""Each fan-out run as a passive check result of its own host: host, service, state, output.

Pure. `escalator.hostresults` sends these to Icinga 2's API or the Nagios command file, so each
host of a fleet check shows its own service state where operators look. The host is the
inventory name (`ScenarioResult.host`), the service the scenario's own name (`check_name`),
the output a plugin's: `LABEL STATE - why`, with the run's measurements as perfdata.

>>> from escalator.limits import Limit
>>> from escalator.results import Measurement, Outcome, ScenarioResult, StepResult
>>> step = StepResult("Then", "the backup is fresh", 4, "failed", error="30 h old")
>>> s = ScenarioResult("Backups", "f.feature", 3, "Backup is fresh [db-7]", Outcome.FAILED,
...                    steps=(step,), host="db-7", group="db",
...                    measurements=(Measurement("age", 108000, "s", Limit.at_most(86400)),))
>>> r = host_results([s], "BACKUP")[0]
>>> (r.host, r.service, int(r.status), r.perfdata)
('db-7', 'Backup is fresh', 2, ('age=108000s;;86400',))
>>> r.output
'BACKUP CRITICAL - Then the backup is fresh: 30 h old'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from escalator.formatters import cut, one_line, reason
from escalator.formatters import perfdata as pd
from escalator.results import Outcome, ScenarioResult
from escalator.status import Status

_OUTPUT_CHARS = 1000


@dataclass(frozen=True)
class HostResult:
    host: str
    service: str
    status: Status
    output: str                      # line 1 without perfdata
    perfdata: tuple[str, ...] = ()
    details: tuple[str, ...] = ()    # long output lines

    def plugin_output(self) -> str:
        """The whole plugin output as Nagios reads it: line 1 with perfdata, then details."""
        line1 = f"{self.output} | {' '.join(self.perfdata)}" if self.perfdata else self.output
        return "\n".join([line1, *self.details])


def host_results(scenarios: Iterable[ScenarioResult], label: str) -> list[HostResult]:
    """One result per fan-out run (scenarios without a host are not sent anywhere)."""
    return [_host_result(s, label) for s in scenarios if s.host is not None]


def _host_result(s: ScenarioResult, label: str) -> HostResult:
    why = s.check_name if s.outcome is Outcome.PASSED else reason(s)
    output = f"{_text(label)} {s.status.name} - {cut(_text(why), _OUTPUT_CHARS)}"
    taken: set[str] = set()
    perfdata = []
    for m in s.measurements:
        label_text = pd.clean_label(m.name)
        while label_text in taken:
            label_text += "_"
        taken.add(label_text)
        warn, crit = pd.slots(s, m)
        perfdata.append(pd.item(label_text, m.value, m.uom, warn, crit, m.minimum, m.maximum))
    details = [f"attempt {n} failed: {cut(_text(f), _OUTPUT_CHARS)}"
               for n, f in enumerate(s.earlier_failures, 1)]
    if s.runbook:
        details.append(f"runbook: {cut(_text(s.runbook), _OUTPUT_CHARS)}")
    return HostResult(s.host or "", s.check_name, s.status, output, tuple(perfdata),
                      tuple(details))


def _text(value: str) -> str:
    return one_line(value).replace("|", "/")
