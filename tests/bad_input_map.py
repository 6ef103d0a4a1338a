"""Bad-input cases for map over inputs (for_each; tests/test_bad_input.py runs them): each is one
located line naming the task file, line and key, exit 2, nothing written.

- for_each that is neither a list nor a mapping;
- for_each taking its list from a task that is not in the file;
- a path that is not keys and [indexes];
- `as` naming a key the task's input already has;
- a static list longer than the cap (config max_map_items), found before anything runs;
- a dependency on one item (`review[0]`) rather than on the group.
"""
from __future__ import annotations

from bad_input_case import RUN_TASKS, Case

PLAN_TASKS = ("plan", "--tasks", "tasks.yaml")


def _group(extra: str) -> str:
    return ("- {id: find, agent: code_reviewer, task: Find the files}\n"
            f"- id: review\n  agent: code_reviewer\n  task: Review it\n{extra}")


CASES = {
    "map: for_each is a number": Case(
        RUN_TASKS, 2, ("tasks.yaml:5:", "tasks[1].for_each", "must be a list or a mapping, not int"),
        {"tasks.yaml": _group("  for_each: 3\n")}, json=True),
    "map: for_each from an unknown task": Case(
        PLAN_TASKS, 2, ("tasks.yaml:5:", "tasks[1].for_each", "unknown task 'finder'",
                        "task_id of a task in this run"),
        {"tasks.yaml": _group("  for_each: {from: finder, path: files}\n")}),
    "map: for_each path that is not a path": Case(
        RUN_TASKS, 2, ("tasks.yaml:5:", "tasks[1].for_each", "'files..name' cannot be read"),
        {"tasks.yaml": _group("  for_each: {from: find, path: files..name}\n")}),
    "map: as names a key of the input": Case(
        PLAN_TASKS, 2, ("tasks.yaml:7:", "tasks[1].as", "'file' is already a key of the task's input"),
        {"tasks.yaml": _group("  input: {file: x.py}\n  for_each: [a.py]\n  as: file\n")}),
    "map: a static list past max_map_items": Case(
        RUN_TASKS, 2, ("tasks.yaml:5:", "tasks[1].for_each", "3 items, over the cap of 2",
                       "max_map_items"),
        {"tasks.yaml": _group("  for_each: [a.py, b.py, c.py]\n"), "~/config.yaml": "max_map_items: 2\n"},
        json=True),
    "map: a dependency on one item": Case(
        PLAN_TASKS, 2, ("tasks.yaml:5:", "tasks[1].depends_on", "unknown task 'find[0]'",
                        "depend on the group 'find'"),
        {"tasks.yaml": "- {id: find, agent: code_reviewer, task: x, for_each: [a]}\n"
                       "- id: more\n  agent: code_reviewer\n  task: More\n  depends_on: ['find[0]']\n"}),
}
