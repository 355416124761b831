"""What `check` and `status` say about the ladder beside the verdict of a run: a latch (since
when and why; or the hosts latched) as a notice line of the long output, and a watcher that is
gone.

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
    state = store.peek()
    latch = state.latch
    if latch is not None:
        return (f"ladder latched since {utc(latch.since, TABLE)}: {latch.reason}; it runs no "
                f"level until: escalator ladder resume -e {name} --reason TEXT")
    if not state.host_latches:
        return None
    first = min(state.host_latches, key=lambda held: held.since)
    hosts = ", ".join(held.host for held in state.host_latches)
    many = len(state.host_latches) > 1
    return (f"ladder latched for {'hosts' if many else 'host'} {hosts} since "
            f"{utc(first.since, TABLE)}: {first.reason}{' (and more)' if many else ''}; it runs "
            f"no level for {'them' if many else 'it'} until: escalator ladder resume -e {name} "
            f"--host {'HOST' if many else first.host} --reason TEXT")


def watcher_gone(state_dir: Path, environment: str | None, stored_at: float,
                 boot: str) -> str | None:
    """Why the watcher that stored the latest result is not there any more, or None."""
    name = environment or "default"
    store = LadderStore(ladder_dir(state_dir, name), name, state_dir=state_dir)
    return heartbeat.judge(heartbeat.read(store), stored_at, boot)
