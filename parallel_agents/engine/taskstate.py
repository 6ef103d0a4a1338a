"""What the scheduler knows of each task while a run goes on: where it stands on its tier, what
it waits on, and its one live attempt (with our own deadline for it)."""
from __future__ import annotations

from dataclasses import dataclass, field

from parallel_agents.definitions.model import AgentDefinition
from parallel_agents.engine.tasks import AgentResult, AgentTask, Attempt


@dataclass
class LiveAttempt:
    """The attempt of a task that the runtime accepted and has not reported on yet."""

    attempt: Attempt
    run_id: str
    started: float      # monotonic
    deadline: float     # monotonic backstop
    accepted_at: float = 0.0   # wall clock, for the journal
    collect: bool = False      # a collector run (agents_wait reads it)


@dataclass
class TaskState:
    task: AgentTask
    definition: AgentDefinition
    result: AgentResult
    order: int
    tier_index: int
    fmt: str
    timeout: int
    transient_failures: int = 0
    reasked: bool = False
    reask_hint: str | None = None
    first_start: float | None = None
    live: LiveAttempt | None = None
    waiting_on: set = field(default_factory=set)
    done: bool = False
    refusals: int = 0
    prompt: str | None = None   # taskcheck.Prepared.prompt: built once, when nothing feeds it


def backstop(timeout: int) -> float:
    """Our own deadline for an attempt: the runtime enforces runTimeoutSeconds from the moment
    the run starts, but a run may queue on the gateway's lane first; allow for that."""
    return timeout * 2 + 30
