"""A human's `ladder resume`: unlatch, audited with who and why, and resolve the latch's page.

The counters (the loop breaker's engagements, the hourly budget's actions, the cooldowns) stay
unless the resume asks to reset them: then the loop breaker's and the budget's are cleared and
the cooldowns still stay, and the audit line says so (a state rebuilt from the audit log clears
them too). A resume filed while an engine runs is a request for the latch that held when it was
filed (`LadderStore.request_resume`); the engine takes it before its next engagement. Called
through `Engine.resume` by the `ladder resume` command and by the engine itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from escalator.ladder.pager import page_round

if TYPE_CHECKING:
    from escalator.ladder.engine import Engine


def unlatch(engine: Engine, who: str, why: str, reset: bool = False) -> bool:
    """Unlatch; False (and audited as ignored) when nothing was latched."""
    state = engine.state
    latch = state.latch
    if latch is None:
        engine.store.audit("resume_ignored", actor=who, reason=why)
        return False
    cleared = {"engagements": len(state.engagements), "actions": len(state.actions)} \
        if reset else {}
    state = state.with_(latch=None)
    engine.save(state.with_(engagements=(), actions=()) if reset else state)
    engine.store.audit("resumed", latch.run_id, why, actor=who, latch=latch.reason,
                       reset_counters=reset, cleared=cleared)
    page_round(engine, latch.run_id, "resumed", None, None)
    return True


def take_request(engine: Engine) -> None:
    """Apply a request `ladder resume` filed while this engine ran, if it was filed for the
    latch that holds now; a request for another latch (or none) is dropped."""
    request = engine.store.take_resume()
    if request is None:
        return
    who, why = str(request.get("who", "unknown")), str(request.get("why", ""))
    latch = engine.state.latch
    if latch is not None and request.get("latch") == latch.key:
        unlatch(engine, who, why, reset=request.get("reset_counters") is True)
    else:
        engine.store.audit("resume_ignored", actor=who, reason=why,
                           filed_for=request.get("latch"),
                           latched=None if latch is None else latch.key)
