"""Page a human through the configured `notify` argv: one JSON object on its stdin.

Fail open: a pager that cannot be reached is audited (`notify_failed`) and never stops a latch
or blocks the engine. Inside a maintenance window nothing pages (`notify_suppressed`): a latch
that is not paged yet is paged by the first run after the window. The dedup key is stable for
one problem (one latch, one kind of unactionable failure), so a pager that receives it again
does not open a second incident. Called by the engine.
"""

from __future__ import annotations

import json
from typing import Any

from escalator.env import Env
from escalator.ladder import decide
from escalator.ladder.actions import run_action
from escalator.ladder.model import LadderConfig, Observation, Plan
from escalator.ladder.store import LadderStore
from escalator.redact import redact_value

NOTIFY_TIMEOUT = 30.0


class Pager:
    def __init__(self, config: LadderConfig, store: LadderStore, env: Env) -> None:
        self.config, self.store, self.env = config, store, env

    def page(self, event: str, run_id: str, reason: str, obs: Observation | None = None,
             plan: Plan | None = None, since: float | None = None) -> bool:
        """Send one page; True when the notifier took it (exit 0)."""
        environment = self.store.environment
        dedup = f"escalator/{environment}/{event}" + (f"/{int(since)}" if since else "")
        payload: dict[str, Any] = {
            "event": event, "environment": environment, "run_id": run_id, "reason": reason,
            "dedup_key": dedup, "plan": list(plan.levels) if plan else [],
            "scenarios": _scenarios(obs, plan),
        }
        payload = redact_value(payload, self.store.secrets)
        window = decide.active_window(self.config, self.env.now())
        if window is not None:
            self.store.audit("notify_suppressed", run_id, "maintenance window"
                             + (f" ({window.reason})" if window.reason else ""), page=payload)
            return False
        if not self.config.notify:
            self.store.audit("notify_skipped", run_id, "no notify command configured",
                             page=payload)
            return False
        result = run_action(self.config.notify, timeout=NOTIFY_TIMEOUT,
                            environ=dict(self.env.environ), cwd=self.config.base_dir,
                            stdin=json.dumps(payload).encode(),
                            kill_grace=self.config.kill_grace, secrets=self.store.secrets)
        if result.ok:
            self.store.audit("notify_sent", run_id, event, dedup_key=dedup)
            return True
        self.store.audit("notify_failed", run_id, f"notifier {result.status}",
                         dedup_key=dedup, exit_code=result.exit_code, output=result.output,
                         error=result.error)
        return False


def _scenarios(obs: Observation | None, plan: Plan | None) -> list[str]:
    if plan is not None:
        return [t.name for t in (*plan.triggers, *plan.subsumed)]
    if obs is not None:
        return [*(t.name for t in obs.actionable), *obs.flapping, *obs.untagged]
    return []
