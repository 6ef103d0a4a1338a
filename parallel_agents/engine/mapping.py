"""Map over inputs: a task with `for_each` is a group that becomes one task per item.

    for_each: [a, b, c]                          a static list
    for_each: {from: find, path: "files[0].x"}   the list at `path` in task `find`'s output,
                                                 known when `find` completes (no path: the
                                                 whole output must be a list)

AgentTask.for_each holds the spec as a mapping: `items` (a static list) or `from` and `path`,
plus `as` (the input key each item goes under, default `item`) and `max_items` (the cap on
items for this group; default: config `max_map_items`). A list is short for {items: LIST}.

A group G is never spawned itself. When its dependencies (and its `from` source, which is one)
have completed, it expands into item tasks G[0], G[1], ... - each a copy of G with
input[as] = the item - which run in the same bounded window as every other task. When every
item is final, G is final: `completed` with the list of the items' outputs in order, or
`failed` naming the first item that did not complete. A task that depends on G gets that list
(as context, or under an input key with input_from). The items do not get the source's whole
output as context: they get their item (input_from the source if they need more).

Path syntax: keys separated by dots, list indexes in brackets: `files`, `plan.tasks[0].files`,
`[2]`. A key holding a dot or a bracket cannot be named.
"""
from __future__ import annotations

import json
import re

from parallel_agents.engine.tasks import AgentTask

DEFAULT_AS = "item"
DEFAULT_MAX_ITEMS = 1000
SPEC_KEYS = ("items", "from", "path", "as", "max_items")
_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ITEM_ID = re.compile(r"^(.*)\[\d+\]$")


class MapError(Exception):
    """Why a group's list of items cannot be had (its group fails with this message)."""


class SpecError(Exception):
    """A for_each spec that cannot be used: `message` and `fix` (field: for_each)."""

    def __init__(self, message: str, fix: str, key: str = "for_each"):
        super().__init__(message)
        self.message, self.fix, self.key = message, fix, key   # key: for_each, as or max_items


def is_group(task: AgentTask) -> bool:
    return task.for_each is not None


def source_of(spec) -> str | None:
    """The task id a dynamic spec takes its list from, or None."""
    if isinstance(spec, dict) and isinstance(spec.get("from"), str):
        return spec["from"]
    return None


def item_id(group_id: str, index: int) -> str:
    return f"{group_id}[{index}]"


def group_of_item_id(task_id: str) -> str | None:
    """`review` for `review[3]`; None for an id that does not have the form of an item id."""
    match = _ITEM_ID.match(task_id) if isinstance(task_id, str) else None
    return match.group(1) if match else None


def parse_path(path: str) -> list:
    """`a.b[0].c` -> ["a", "b", 0, "c"]; SpecError when it is not a path."""
    if not isinstance(path, str) or not path.strip():
        raise SpecError(f"for_each path {path!r} is not a path",
                        "write keys separated by dots and list indexes in brackets, e.g. "
                        "files or plan.tasks[0].files; leave path out to take the whole output")
    steps, at = [], 0
    while at < len(path):
        match = _STEP.match(path, at)
        if match is None or match.group(0).startswith(".") == (at == 0) and \
                match.group(1) is not None:
            break   # a key: after a dot, but the first step has none
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        at = match.end()
    else:
        return steps
    raise SpecError(f"for_each path {path!r} cannot be read at character {at + 1}",
                    "write keys separated by dots and list indexes in brackets, e.g. files or "
                    "plan.tasks[0].files")


def check_spec(task: AgentTask, known: set[str], *, cap: int) -> None:
    """Raise SpecError when task's for_each cannot be used: its shape, `as`, `path`, an unknown
    `from` task, a static list past the cap."""
    spec = task.for_each
    if not isinstance(spec, dict):
        raise SpecError(f"for_each must be a list or a mapping, not {type(spec).__name__}",
                        "give a list of items, or {from: TASK_ID, path: KEY} to take the list "
                        "from another task's output")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise SpecError(f"for_each has an unknown key {unknown[0]!r}",
                        "use: " + ", ".join(SPEC_KEYS))
    if ("items" in spec) == ("from" in spec):
        raise SpecError("for_each needs either a list of items or `from`, not "
                        + ("both" if "items" in spec else "neither"),
                        "give a list, or {from: TASK_ID, path: KEY}")
    name = spec.get("as", DEFAULT_AS)
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise SpecError(f"`as` {name!r} is not a name", "use letters, digits and _, e.g. file",
                        "as")
    if name in (task.input_data or {}) or name in task.input_from:
        raise SpecError(f"`as` {name!r} is already a key of the task's input",
                        f"name the item something else (as: ...), or rename input key {name!r}",
                        "as")
    limit = spec.get("max_items")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise SpecError(f"max_items {limit!r} is not a whole number of items",
                        "give a whole number of at least 0, or leave it out for the config's "
                        "max_map_items", "max_items")
    if "items" in spec:
        items = spec["items"]
        if not isinstance(items, list):
            raise SpecError(f"for_each items must be a list, not {type(items).__name__}",
                            "give a list of items")
        if "path" in spec:
            raise SpecError("for_each path goes with `from`, not with a list",
                            "remove path, or take the list from a task with from: TASK_ID")
        most = limit if limit is not None else cap
        if len(items) > most:
            raise SpecError(f"for_each has {len(items)} items, over the cap of {most}",
                            "split the list over several tasks, or raise the cap (max_items on "
                            "this task, or max_map_items in config.yaml)")
        return
    source = spec["from"]
    if not isinstance(source, str) or not source:
        raise SpecError(f"for_each from {source!r} is not a task id",
                        "give the task_id of the task whose output holds the list")
    if source not in known:
        raise SpecError(f"for_each takes its list from unknown task {source!r}",
                        "use the task_id of a task in this run")
    if source == task.task_id:
        raise SpecError("for_each takes its list from the task itself",
                        "name the task whose output holds the list")
    if spec.get("path") is not None:
        parse_path(spec["path"])


def cap_of(task: AgentTask, default: int) -> int:
    limit = task.for_each.get("max_items") if isinstance(task.for_each, dict) else None
    return default if limit is None else limit


def items_of(task: AgentTask, outputs: dict, *, cap: int) -> list:
    """The group's items: its static list, or the list at its path in its source's output
    (`outputs`: {task_id: output} of the dependencies). MapError says why there is none."""
    spec = task.for_each
    if "items" in spec:
        return list(spec["items"])
    source = spec["from"]
    value = outputs.get(source)
    path = spec.get("path")
    where = f"the output of {source}"
    for step in parse_path(path) if path is not None else []:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                raise MapError(f"for_each: {where} has no item [{step}]"
                               + ("" if isinstance(value, list) else f" (it is {_kind(value)})"))
            value, where = value[step], f"{where}[{step}]"
        else:
            if not isinstance(value, dict) or step not in value:
                raise MapError(f"for_each: {where} has no key {step!r}"
                               + ("" if isinstance(value, dict) else f" (it is {_kind(value)})"))
            value, where = value[step], f"{where}.{step}"
    if not isinstance(value, list):
        raise MapError(f"for_each: {where} is {_kind(value)}, not a list")
    most = cap_of(task, cap)
    if len(value) > most:
        raise MapError(f"for_each: {where} has {len(value)} items, over the cap of {most} "
                       "(raise max_items on the task or max_map_items in config.yaml)")
    return value


def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true or false",
            type(None): "null"}.get(type(value), "a number")


def item_tasks(task: AgentTask, items: list, *, max_input_bytes: int | None = None
               ) -> list[AgentTask]:
    """Group `task`'s item tasks, `ID[i]` with input[as] = items[i] and every other field
    copied (no for_each). max_input_bytes: MapError when an item's input is past it."""
    spec = task.for_each
    name = spec.get("as", DEFAULT_AS)
    source = source_of(spec)
    depends_on = [d for d in task.depends_on if d != source or d in task.input_from.values()]
    out = []
    for index, item in enumerate(items):
        tid = item_id(task.task_id, index)
        data = {**task.input_data, name: item}
        if max_input_bytes is not None:
            try:
                size = len(json.dumps(data, default=str).encode())
            except (ValueError, RecursionError):
                raise MapError(f"for_each: the input of {tid} cannot be written as JSON") from None
            if size > max_input_bytes:
                raise MapError(f"for_each: the input of {tid} is {size} bytes, over the "
                               f"{max_input_bytes}-byte limit (max_input_bytes)")
        out.append(AgentTask(task.agent_type, task.task_description, data, task_id=tid,
                             timeout_seconds=task.timeout_seconds, output_format=task.output_format,
                             priority=task.priority, depends_on=list(depends_on), tier=task.tier,
                             input_from=dict(task.input_from)))
    return out


def expand(task: AgentTask, outputs: dict, *, cap: int, max_input_bytes: int) -> list[AgentTask]:
    """Group `task`'s item tasks, once its dependencies completed with `outputs`."""
    return item_tasks(task, items_of(task, outputs, cap=cap), max_input_bytes=max_input_bytes)


def group_outcome(group_id: str, results: list) -> tuple[str, object, str | None]:
    """(status, output, error) of a group from its items' results (objects or dicts with
    status, output and error), every one final."""
    for r in results:
        status = r["status"] if isinstance(r, dict) else r.status
        if status != "completed":
            tid = r["task_id"] if isinstance(r, dict) else r.task_id
            error = r.get("error") if isinstance(r, dict) else r.error
            return "failed", None, f"item {tid} {status}" + (f": {error}" if error else "")
    return "completed", [r["output"] if isinstance(r, dict) else r.output for r in results], None


def map_task(agent_type: str, task_description: str, items, *, as_: str = DEFAULT_AS,
             id: str = "", max_items: int | None = None, **fields) -> AgentTask:
    """A group task: one task per item of `items` (a list, or {"from": TASK_ID, "path": KEY}
    for the list in another task's output), each with the item at input[as_]. Its id names the
    items (`review` -> `review[0]`, ...); a task depending on it gets their outputs, in order.

        review = map_task("code_reviewer", "Review this file", ["a.py", "b.py"], as_="file",
                          id="review")
    """
    spec = {"items": list(items)} if isinstance(items, (list, tuple)) else dict(items)
    if as_ != DEFAULT_AS:
        spec["as"] = as_
    if max_items is not None:
        spec["max_items"] = max_items
    return AgentTask(agent_type, task_description, task_id=id, for_each=spec, **fields)
