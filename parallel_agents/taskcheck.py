"""Everything that can be wrong with a batch of tasks is found before anything spawns, the same
way for script mode (scheduler) and host mode (plan)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import InputError
from .graph import reject_cycles
from .ladder import Ladder
from .prompts import build_prompt
from .tasks import OUTPUT_FORMATS, AgentTask


@dataclass(frozen=True)
class Prepared:
    fmt: str          # the output format the task's replies are checked against
    timeout: int      # seconds per attempt
    tier_index: int   # where on the ladder the task starts


def prepare_tasks(tasks: list[AgentTask], definitions: dict, *, ladder: Ladder,
                  default_timeout: int, max_input_bytes: int) -> dict[str, Prepared]:
    """{task_id: Prepared} for valid tasks; InputError naming the task, field and fix otherwise.
    `definitions` maps task_id to its resolved AgentDefinition."""
    ids = [t.task_id for t in tasks]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise InputError(f"task ids must be unique; repeated: {', '.join(dupes[:5])}",
                         field="task_id", fix="give each task its own task_id")
    known = set(ids)
    prepared = {}
    for task in tasks:
        d = definitions[task.task_id]
        fmt = task.output_format or d.output_format
        if fmt not in OUTPUT_FORMATS:
            raise InputError(f"unknown output_format {fmt!r} for task {task.task_id}",
                             field="output_format", fix="use one of: " + ", ".join(OUTPUT_FORMATS))
        if fmt == "json" and not d.output_schema:
            raise InputError(f"agent {d.name!r} has no output_schema, so it cannot return json",
                             field="output_format", fix="use markdown, code or text for this agent")
        size = len(json.dumps(task.input_data, default=str).encode())
        if size > max_input_bytes:
            raise InputError(f"input_data of task {task.task_id} is {size} bytes, over the "
                             f"{max_input_bytes}-byte limit", field="input_data",
                             fix="send a summary or a path instead, or raise max_input_bytes")
        try:  # what would only fail at spawn time (empty text, data JSON cannot carry) fails now
            build_prompt(d, task.task_description, task.input_data, output_format=fmt)
        except InputError as exc:
            problem = exc.problems[0]
            raise InputError(f"task {task.task_id}: {problem.message}", field=problem.field,
                             fix=problem.fix) from None
        for dep in task.depends_on:
            if dep not in known:
                raise InputError(f"task {task.task_id} depends on unknown task {dep!r}",
                                 field="depends_on", fix="use the task_id of a task in this run")
        timeout = int(task.timeout_seconds or d.timeout_seconds or default_timeout)
        prepared[task.task_id] = Prepared(fmt, timeout,
                                          ladder.start(task_tier=task.tier, agent_tier=d.tier))
    reject_cycles({t.task_id: t.depends_on for t in tasks})
    return prepared
