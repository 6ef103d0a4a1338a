"""AgentTask (what to do), Attempt (one spawn of a task on one model) and AgentResult (the final
word on a task). Field names follow the skill we replace, so its users' code keeps working."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("pending", "running", "completed", "failed", "timeout", "skipped")
OUTPUT_FORMATS = ("json", "markdown", "code", "text")

_id_lock = threading.Lock()
_id_counts: dict[str, int] = {}


def _content_id(agent_type: str, description: str, input_data) -> str:
    """A readable id from the task's content: stable across processes (sha256, not Python's
    salted hash()), and unique in a process (a repeat of the same content gets -2, -3, ...)."""
    try:
        canonical = json.dumps([agent_type, description, input_data], sort_keys=True, default=repr)
    except (TypeError, ValueError, RecursionError):  # mixed key types, a loop, absurd depth:
        canonical = os.urandom(16).hex()  # the pre-flight check refuses the data with a clear error
    base = f"{agent_type}-{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"
    with _id_lock:
        n = _id_counts.get(base, 0) + 1
        _id_counts[base] = n
    return base if n == 1 else f"{base}-{n}"


@dataclass
class AgentTask:
    agent_type: str
    task_description: str
    input_data: dict = field(default_factory=dict)
    task_id: str = ""
    timeout_seconds: int = 120
    output_format: str | None = None      # None: the agent definition's format
    priority: int = 0                     # higher starts first among ready tasks
    depends_on: list[str] = field(default_factory=list)
    tier: str | None = None               # None: the agent's starting tier
    input_from: dict[str, str] = field(default_factory=dict)  # input key -> task id whose output goes there
    # a group: one task per item of a list, or of the list in another task's output (mapping.py)
    for_each: list | dict | None = None

    def __post_init__(self):
        if self.input_data is None:
            self.input_data = {}
        if not self.task_id:
            self.task_id = _content_id(self.agent_type, self.task_description, self.input_data)
        self.input_from = dict(self.input_from or {})
        if isinstance(self.for_each, (list, tuple)):   # a list is short for {"items": LIST}
            self.for_each = {"items": list(self.for_each)}
        source = self.for_each.get("from") if isinstance(self.for_each, dict) else None
        # a task whose input (or list of items) comes from another depends on it
        self.depends_on = list(dict.fromkeys([*(self.depends_on or []), *self.input_from.values(),
                                              *([source] if isinstance(source, str) else [])]))

    def to_dict(self) -> dict:
        return asdict(self)

    def to_record(self) -> dict:
        """A shallow copy for the journal, which serialises it at once (asdict deep-copies)."""
        return dict(self.__dict__)

    def inputs(self, outputs: dict) -> tuple[dict, dict | None]:
        """(input data, context) for the prompt, given {task_id: output} of the tasks this one
        depends on: input_from fields are filled in; the other dependencies are the context."""
        fed = {key: outputs[dep] for key, dep in self.input_from.items()}
        context = {d: outputs[d] for d in self.depends_on if d not in self.input_from.values()}
        return {**self.input_data, **fed}, context or None

    @classmethod
    def from_dict(cls, data: dict) -> "AgentTask":
        return cls(**data)


def task_prompt(definition, task: AgentTask, output_format: str, outputs: dict, *,
                reask: str | None = None) -> str:
    """The prompt of an attempt of `task`, as the scheduler, host mode and the estimate build it:
    `outputs` ({task_id: output} of the tasks it depends on) fed into its input or given as
    context (AgentTask.inputs), the reply contract for `output_format`, and a re-ask's hint."""
    from parallel_agents.prompts.build import build_prompt
    input_data, context = task.inputs(outputs)
    return build_prompt(definition, task.task_description, input_data,
                        output_format=output_format, context=context, reask=reask)


@dataclass
class Attempt:
    number: int
    tier: str | None
    model: str | None
    status: str = "pending"   # accepted | ok | invalid | error | timeout | cancelled | refused | lost
    run_id: str | None = None
    session_key: str | None = None
    reask: bool = False
    duration: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def to_record(self) -> dict:
        """A shallow copy for the journal, which serialises it at once (asdict deep-copies)."""
        return dict(self.__dict__)


@dataclass
class AgentResult:
    task_id: str
    agent_type: str
    status: str = "pending"   # pending | running | completed | failed | timeout | skipped
    output: Any = None
    execution_time: float = 0.0
    error: str | None = None
    session_key: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    model_used: str | None = None
    tier: str | None = None
    usage: dict = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    cost_usd: float = 0.0
    reused: bool = False      # finished from an earlier run's result (run --reuse): no attempts, cost 0

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def to_dict(self) -> dict:
        return asdict(self)

    def to_record(self) -> dict:
        """A shallow copy for the journal, which serialises it at once (asdict deep-copies)."""
        return {**self.__dict__, "attempts": [a.to_record() for a in self.attempts]}

    @classmethod
    def from_dict(cls, data: dict) -> "AgentResult":
        data = dict(data)
        data["attempts"] = [Attempt(**a) for a in data.get("attempts", [])]
        return cls(**data)
