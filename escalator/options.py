"""`RunOptions`: what one run of the suite is asked to do, as a frozen value.

The runner's input. Built by `escalator.commands.common.load_run_options` from the config file
and the command line; read by `escalator.runner` (and the coordinator and workers it forks), by
the commands that write a run's outputs, and by the ladder's checks. It lives below both, so the
runner never imports the commands that call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escalator.config import Config

DEFAULT_LABEL = "ESCALATOR"


@dataclass(frozen=True)
class RunOptions:
    config: Config
    cwd: Path
    paths: tuple[str, ...] = ("features",)
    environment: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    jobs: int = 16
    timeout: float = 50.0
    step_timeout: float = 10.0
    retries: int = 0
    verbose: bool = False
    label: str = DEFAULT_LABEL
    formats: tuple[tuple[str, str | None], ...] = ()
    graphite: tuple[str, int] | None = None
    graphite_prefix: str = "escalator"

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir(self.cwd)

    @property
    def report_dir(self) -> Path:
        return self.config.report_dir(self.cwd)
