"""What happens after an attempt: one rule for the scheduler (script mode) and `check` (host
mode), so both climb the ladder the same way.

- a valid reply completes the task;
- an invalid reply is re-asked once per tier (with its validation errors), then escalated;
- a valid reply that a quality gate rejects is escalated (asking the same model again rarely
  raises quality);
- a failed or timed-out run, or a refused model, escalates;
- past the strongest tier the task ends `failed` (or `timeout` when the last try timed out).
"""
from __future__ import annotations

COMPLETE, REASK, ESCALATE, GIVE_UP = "complete", "reask", "escalate", "give_up"


def next_step(outcome: str, *, reasked_on_tier: bool, reask_enabled: bool, has_next_tier: bool) -> str:
    """outcome: "valid" | "invalid" | "rejected" | "failed" | "timeout"."""
    if outcome == "valid":
        return COMPLETE
    if outcome == "invalid" and reask_enabled and not reasked_on_tier:
        return REASK
    return ESCALATE if has_next_tier else GIVE_UP
