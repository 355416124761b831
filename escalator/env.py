"""The outside world as one injectable value: streams, environment variables, clock, cwd.

Only the CLI writes to the streams. Tests build an `Env` with `io.StringIO` streams and a fake
clock and call `escalator.cli.main(argv, env)` in-process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from escalator.clocks import boot_id as boot_id  # the one reader, light for `status`


@dataclass
class Env:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    now: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    started: float = field(default_factory=time.monotonic)

    @property
    def interactive(self) -> bool:
        """True when stdout is a terminal (colour, live progress)."""
        isatty = getattr(self.stdout, "isatty", None)
        return bool(isatty and isatty())
