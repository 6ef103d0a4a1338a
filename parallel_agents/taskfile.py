"""Task files for `run --tasks FILE` / `plan --tasks FILE`: YAML or JSON, a list of tasks or a
mapping with a `tasks` list. Keys are AgentTask's field names, with the short forms `agent`,
`task` and `input` accepted. Unknown keys and wrong types are errors naming file, line and field.
"""
from __future__ import annotations

from pathlib import Path

from . import yamlio
from .errors import InputError, Problem
from .tasks import AgentTask

ALIASES = {"agent": "agent_type", "task": "task_description", "input": "input_data", "id": "task_id"}
TYPES = {"agent_type": str, "task_description": str, "input_data": dict, "task_id": str,
         "timeout_seconds": int, "output_format": str, "priority": int, "depends_on": list,
         "tier": str, "input_from": dict}
REQUIRED = ("agent_type", "task_description")


def load_tasks(path: Path, *, max_bytes: int = 5_000_000) -> list[AgentTask]:
    shown = str(path)
    text = yamlio.read_text(path, shown=shown, max_bytes=max_bytes)
    data, problem = yamlio.parse(text, shown=shown)
    if problem:
        raise InputError(problem.message, problems=[problem])
    prefix: list = []
    if isinstance(data, dict) and "tasks" in data:
        data, prefix = data["tasks"], ["tasks"]
    if not isinstance(data, list) or not data:
        raise InputError("expected a non-empty list of tasks", file=shown, line=1,
                         fix="write `- agent: code_reviewer` / `  task: ...` items, or `tasks: [...]`")
    problems, tasks = [], []
    for i, item in enumerate(data):
        where = prefix + [i]
        line = yamlio.node_at(text, where)
        if not isinstance(item, dict):
            problems.append(Problem("a task must be a mapping", shown, line, f"tasks[{i}]",
                                    "give agent and task keys"))
            continue
        fields = {}
        for key, value in item.items():
            name = ALIASES.get(key, key)
            if name not in TYPES:
                problems.append(Problem(f"unknown key {key!r}", shown, yamlio.node_at(text, where + [key]),
                                        f"tasks[{i}].{key}",
                                        "use: " + ", ".join(["agent", "task", "input", *list(TYPES)[3:]])))
                continue
            expected = TYPES[name]
            if value is not None and not (isinstance(value, expected) and not
                                          (expected is int and isinstance(value, bool))):
                problems.append(Problem(f"must be {expected.__name__}, not {type(value).__name__}",
                                        shown, yamlio.node_at(text, where + [key]), f"tasks[{i}].{key}",
                                        f"write a {expected.__name__}"))
                continue
            if name == "depends_on" and not all(isinstance(d, str) for d in value):
                problems.append(Problem("must be a list of task ids", shown,
                                        yamlio.node_at(text, where + [key]), f"tasks[{i}].{key}",
                                        "write task ids as strings"))
                continue
            fields[name] = value
        given = {ALIASES.get(key, key) for key in item}  # a wrong-typed key is reported once, above
        missing = [k for k in REQUIRED if not fields.get(k) and (k not in given or k in fields)]
        for k in missing:
            short = {v: k2 for k2, v in ALIASES.items()}[k]
            problems.append(Problem(f"missing {short!r}", shown, line, f"tasks[{i}]", f"add `{short}: ...`"))
        if not missing and not problems:
            tasks.append(AgentTask(**fields))
    if problems:
        raise InputError(f"{shown}: invalid task file", problems=problems)
    return tasks
