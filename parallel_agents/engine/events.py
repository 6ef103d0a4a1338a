"""Typed events the engine emits; the CLI renders them, scripts receive them via `on_event`."""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

KINDS = ("queued", "spawned", "completed", "failed", "retried", "reasked", "escalated",
         "cancelled", "skipped", "timeout", "backpressure",
         "expanded")   # a group (for_each) became its items: message "N items"

log = logging.getLogger("parallel_agents")


@dataclass(frozen=True)
class Event:
    kind: str
    task_id: str
    agent_type: str = ""
    attempt: int = 0
    tier: str | None = None
    model: str | None = None
    run_id: str | None = None
    message: str = ""
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return asdict(self)


class Emitter:
    """Delivers events to callbacks; a failing callback is logged, never breaks the run."""

    def __init__(self, *callbacks):
        self.callbacks = [c for c in callbacks if c is not None]

    @property
    def wanted(self) -> bool:
        """Whether an event would reach anyone: a callback, or the debug log. The scheduler
        makes no Event when not (a few microseconds each, several per task)."""
        return bool(self.callbacks) or log.isEnabledFor(logging.DEBUG)

    def __call__(self, event: Event) -> None:
        log.debug("%s %s %s", event.kind, event.task_id, event.message)
        for callback in self.callbacks:
            try:
                callback(event)
            except Exception:  # the caller's bug must not lose the run
                log.exception("on_event callback failed for %s", event.kind)
