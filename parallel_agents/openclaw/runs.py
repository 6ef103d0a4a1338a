"""Sub-agent runs as the runtime tracks them: what one run ended with (`RunOutcome`), a run found
by its label (`FoundRun`), the state kept per run (`TrackedRun`) in the runtime's `RunTable`,
and the back-off between polls.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

__all__ = ["RunOutcome", "FoundRun", "TrackedRun", "RunTable", "Backoff"]


@dataclass
class RunOutcome:
    run_id: str
    status: str  # "ok" | "error" | "timeout" | "cancelled"
    text: str | None = None
    structured: object | None = None
    truncated: bool = False
    usage: dict = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    model: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FoundRun:
    """A run found by its label (see OpenClawRuntime.find_by_label)."""

    run_id: str
    session_key: str | None
    model: str | None
    timeout: int | None
    accepted_at: float  # wall-clock seconds


class TrackedRun:
    """What the runtime knows of one run: spawned here or re-attached, collector or plain, its
    task row once matched, and its outcome once terminal."""

    __slots__ = ("run_id", "session_key", "label", "collect", "resolved_model", "spawned_at",
                 "run_timeout_s", "task_id", "outcome", "via_history", "total_tokens", "spawned_here",
                 "accepted_wall")

    def __init__(self, run_id: str, session_key: str | None = None, label: str = "",
                 collect: bool = False, resolved_model: str | None = None,
                 run_timeout_s: int = 0):
        self.run_id, self.session_key, self.label = run_id, session_key, label
        self.collect, self.resolved_model, self.run_timeout_s = collect, resolved_model, run_timeout_s
        self.spawned_at = time.monotonic()
        self.task_id: str | None = None
        self.outcome: RunOutcome | None = None
        self.via_history = False  # a collector we read through list/history instead
        self.total_tokens: int | None = None
        self.spawned_here = False  # spawned_at is the real spawn time (not a re-attach's)
        self.accepted_wall: float | None = None  # a re-attached run: when it was accepted (wall)


class RunTable:
    """The runs one runtime tracks, by run id (thread-safe)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.runs: dict[str, TrackedRun] = {}

    def track(self, run_id: str) -> TrackedRun:
        """The run with this id, tracked from now on if it was not."""
        with self.lock:
            run = self.runs.get(run_id)
            if run is None:
                run = self.runs[run_id] = TrackedRun(run_id)
            return run

    def track_all(self, run_ids: list[str]) -> list[TrackedRun]:
        """`track` for every id, under one acquisition."""
        with self.lock:
            known = self.runs
            return [known.get(r) or known.setdefault(r, TrackedRun(r)) for r in run_ids]

    def add(self, run: TrackedRun) -> None:
        with self.lock:
            self.runs[run.run_id] = run

    def finish(self, run: TrackedRun, outcome: RunOutcome) -> None:
        """Record a run's outcome; the first one recorded stays."""
        with self.lock:
            if run.outcome is None:
                run.outcome = outcome

    def task_ids(self) -> set[str]:
        """The task rows already matched to a run."""
        with self.lock:
            return {r.task_id for r in self.runs.values() if r.task_id}


class Backoff:
    """Delays between polls: 0.05 s doubling to 2 s."""

    def __init__(self, first: float = 0.05, cap: float = 2.0):
        self.delay, self.cap = first, cap

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.cap, self.delay * 2)
        return delay
