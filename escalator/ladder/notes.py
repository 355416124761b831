"""What `check` and `status` say about the ladder beside the verdict of a run: a latch (since
when and why) as a notice line of the long output, and a watcher that is gone.

Light on purpose, since `status` answers Nagios: reads the ladder's state file (read-only
`peek`) and the watcher's heartbeat, nothing else. Called by escalator/commands/{check,status}.py
when the config has a `[ladder]`.
"""

from __future__ import annotations

from pathlib import Path

from escalator.ladder import heartbeat
from escalator.ladder.store import LadderStore, ladder_dir
from escalator.timestamps import TABLE, utc


def latch_note(state_dir: Path, environment: str | None) -> str | None:
    """'ladder latched since ...: why; ...' while the environment's ladder is latched."""
    name = environment or "default"
    store = LadderStore(ladder_dir(state_dir, name), name, state_dir=state_dir)
    if not store.state_path.exists():
        return None
    latch = store.peek().latch
    if latch is None:
        return None
    return (f"ladder latched since {utc(latch.since, TABLE)}: {latch.reason}; it runs no "
            f"level until: escalator ladder resume -e {name} --reason TEXT")


def watcher_gone(state_dir: Path, environment: str | None, stored_at: float,
                 boot: str) -> str | None:
    """Why the watcher that stored the latest result is not there any more, or None."""
    name = environment or "default"
    store = LadderStore(ladder_dir(state_dir, name), name, state_dir=state_dir)
    return heartbeat.judge(heartbeat.read(store), stored_at, boot)
