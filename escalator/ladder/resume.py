"""A human's `ladder resume`: unlatch, audited with who and why, and resolve the latch's page.

A resume releases the environment's latch and every host's, or with `hosts` only those hosts'
latches (`ladder resume --host web-2`). The counters (the loop breaker's engagements, the
hourly budget's actions, the cooldowns) stay unless the resume asks to reset them: then the
loop breaker's and the budget's counters of what it releases are cleared (the environment's
for its latch, a host's for that host's latch), the cooldowns still stay, and the audit line
says so (a state rebuilt from the audit log clears them too). A resume filed while an engine
runs is a request for the latches that held when it was filed (`LadderStore.request_resume`);
the engine takes it before its next engagement. Called through `Engine.resume` by the `ladder
resume` command and by the engine itself.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from escalator.ladder.model import LadderState, Latch
from escalator.ladder.pager import page_round

if TYPE_CHECKING:
    from escalator.ladder.engine import Engine


def chosen(state: LadderState, hosts: Collection[str] | None = None) -> tuple[Latch, ...]:
    """The latches a resume releases: all of them, or those of `hosts`."""
    if hosts is None:
        return state.latches
    return tuple(latch for latch in state.host_latches if latch.host in hosts)


def unlatch(engine: Engine, who: str, why: str, reset: bool = False,
            hosts: Collection[str] | None = None, keys: Collection[str] | None = None) -> bool:
    """Unlatch (all, or `hosts`' latches; only those named by `keys` when given); False (and
    audited as ignored) when none of them is latched."""
    state = engine.state
    latches = tuple(latch for latch in chosen(state, hosts) if keys is None or latch.key in keys)
    if not latches:
        engine.store.audit("resume_ignored", actor=who, reason=why)
        return False
    for latch in latches:
        cleared = _cleared(state, latch.host) if reset else {}
        state = _released(state, latch, reset)
        engine.save(state)
        on = {"host": latch.host} if latch.host else {}
        engine.store.audit("resumed", latch.run_id, why, actor=who, latch=latch.reason,
                           reset_counters=reset, cleared=cleared, **on)
    page_round(engine, latches[0].run_id, "resumed", None, None)
    return True


def _released(state: LadderState, latch: Latch, reset: bool) -> LadderState:
    if not latch.host:
        state = state.with_(latch=None)
        return state.with_(engagements=(), actions=()) if reset else state
    state = state.with_(host_latches=tuple(other for other in state.host_latches
                                           if other.host != latch.host))
    if not reset:
        return state
    return state.with_(
        host_actions=tuple((h, t) for h, t in state.host_actions if h != latch.host),
        host_engagements=tuple((h, t) for h, t in state.host_engagements if h != latch.host))


def _cleared(state: LadderState, host: str) -> dict[str, int]:
    if not host:
        return {"engagements": len(state.engagements), "actions": len(state.actions)}
    return {"engagements": sum(1 for h, _ in state.host_engagements if h == host),
            "actions": sum(1 for h, _ in state.host_actions if h == host)}


def take_request(engine: Engine) -> None:
    """Apply a request `ladder resume` filed while this engine ran, to the latches it was
    filed for that still hold; a request for other latches (or none) is dropped."""
    request = engine.store.take_resume()
    if request is None:
        return
    who, why = str(request.get("who", "unknown")), str(request.get("why", ""))
    keys = request.get("latches")
    keys = {str(key) for key in keys} if isinstance(keys, list) else {request.get("latch")}
    holding = {latch.key for latch in engine.state.latches}
    if keys & holding:
        unlatch(engine, who, why, reset=request.get("reset_counters") is True, keys=keys)
    else:
        latch = engine.state.latch
        engine.store.audit("resume_ignored", actor=who, reason=why,
                           filed_for=request.get("latch"),
                           latched=None if latch is None else latch.key)
