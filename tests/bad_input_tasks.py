"""Bad-input cases for task files (tests/test_bad_input.py runs them): what was accepted silently
before and is said now, each as one located line, exit 2, nothing written.

- a key written twice in one task (anywhere in it, `input` too), or `tasks:` twice;
- a short and a long form of one field (`agent` and `agent_type`);
- a top-level key beside `tasks:`;
- task ids with control, bidi or zero-width characters, and ids that are one id in Unicode
  normal form NFKC (composed and decomposed accents, full-width letters);
- a task text over max_input_bytes (config.yaml), which limits it as it limits `input`;
- timeout_seconds over 24 h.
"""
from __future__ import annotations

from bad_input_case import RUN_TASKS, Case


def _task(extra: str = "", *, id: str = "a", text: str = "Review it") -> str:
    return f"- id: {id}\n  agent: code_reviewer\n  task: {text}\n{extra}"


PLAN_TASKS = ("plan", "--tasks", "tasks.yaml")

CASES = {
    "task file: a key written twice in one task": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].agent", "written twice (first on line 2)",
                       "keep one of them"),
        {"tasks.yaml": _task("  agent: security_reviewer\n")}, json=True),
    "task file: a key written twice in a task's input": Case(
        RUN_TASKS, 2, ("tasks.yaml:6:", "tasks[0].input.code", "written twice (first on line 5)"),
        {"tasks.yaml": _task("  input:\n    code: x = 1\n    code: x = 2\n")}),
    "task file: tasks written twice": Case(
        PLAN_TASKS, 2, ("tasks.yaml:3:", "tasks: ", "written twice (first on line 1)"),
        {"tasks.yaml": "tasks:\n  - {id: a, agent: code_reviewer, task: x}\n"
                       "tasks:\n  - {id: b, agent: code_reviewer, task: y}\n"}),
    "task file: both agent and agent_type": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].agent_type", "both 'agent' and 'agent_type'",
                       "keep one of them"),
        {"tasks.yaml": _task("  agent_type: security_reviewer\n")}, json=True),
    "task file: both id and task_id": Case(
        PLAN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].task_id", "both 'id' and 'task_id'"),
        {"tasks.yaml": _task("  task_id: b\n")}),
    "task file: unknown key beside tasks": Case(
        RUN_TASKS, 2, ("tasks.yaml:5:", "colour: ", "unknown key 'colour' beside tasks",
                       "holds only `tasks:`"),
        {"tasks.yaml": "tasks:\n  - {id: a, agent: code_reviewer, task: x}\n\n\ncolour: red\n"},
        json=True),
    "task file: id with a bidi override": Case(
        RUN_TASKS, 2, ("tasks.yaml:1:", "tasks[0].id", r"'a\u202eb' cannot be used",
                       "U+202E RIGHT-TO-LEFT OVERRIDE", "bidi"),
        {"tasks.yaml": _task(id='"a\\u202eb"')}, json=True),
    "task file: id with a zero-width space": Case(
        PLAN_TASKS, 2, ("tasks.yaml:1:", "tasks[0].id", "U+200B ZERO WIDTH SPACE", "zero-width"),
        {"tasks.yaml": _task(id="a\u200bb")}),
    "task file: id with a control character": Case(
        RUN_TASKS, 2, ("tasks.yaml:1:", "tasks[0].id", "U+0007", "control"),
        {"tasks.yaml": _task(id='"a\\ab"')}),
    "task file: ids equal in NFKC (decomposed accent)": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[1].id", r"'caf\xe9' and 'cafe\u0301'", "NFKC",
                       "its own task_id"),
        {"tasks.yaml": _task(id="caf\u00e9") + _task(id="cafe\u0301")}, json=True),
    "task file: ids equal in NFKC (full-width letters)": Case(
        PLAN_TASKS, 2, ("tasks.yaml:4:", "tasks[1].id", r"'api' and '\uff41\uff50\uff49'", "NFKC"),
        {"tasks.yaml": _task(id="api") + _task(id="\uff41\uff50\uff49")}),
    "task file: a 4 MB task text": Case(
        RUN_TASKS, 2, ("tasks.yaml:3:", "tasks[0].task", "task text of task a is 4000000 bytes",
                       "over the 200000-byte limit", "max_input_bytes in config.yaml",
                       "limits the task text and the input"),
        {"tasks.yaml": _task(text="x" * 4_000_000)}),
    "task file: a task text over a lower max_input_bytes": Case(
        PLAN_TASKS, 2, ("tasks.yaml:3:", "tasks[0].task", "is 3000 bytes", "the 2000-byte limit"),
        {"tasks.yaml": _task(text="\u00e9" * 1500), "~/config.yaml": "max_input_bytes: 2000\n"}),
    "task file: timeout_seconds 10^20": Case(
        RUN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].timeout_seconds", "100000000000000000000",
                       "over the maximum of 86400 (24 h)", "at most 86400"),
        {"tasks.yaml": _task("  timeout_seconds: 100000000000000000000\n")}, json=True),
    "task file: timeout_seconds a day and a second": Case(
        PLAN_TASKS, 2, ("tasks.yaml:4:", "tasks[0].timeout_seconds", "86401", "at most 86400"),
        {"tasks.yaml": _task("  timeout_seconds: 86401\n")}),
}
