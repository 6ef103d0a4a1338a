"""Task files for `run --tasks FILE` / `plan --tasks FILE`: YAML or JSON, a list of tasks or a
mapping with a `tasks` list (and nothing else). Keys are AgentTask's field names, with the short
forms `agent`, `task`, `input` and `id` accepted (one of the two forms per task). Unknown keys,
wrong types and keys written twice are errors naming file, line and field.

Lines come from one pass: the YAML is composed once per file (TaskLines), however many tasks or
problems it has, and errors found later (pre-flight checks, the registry) are located from the
same pass (task_lines, used by cli_run).

Map over a list (mapping.py): `for_each: [...]` or `for_each: {from: TASK_ID, path: KEY}`, with
optional `as: NAME` (default item) and `max_items: N`, makes the task a group of one task per
item; `as` and `max_items` go into AgentTask.for_each."""
from __future__ import annotations

import contextlib
import gc
import hashlib
from pathlib import Path

from parallel_agents.engine import mapping
from parallel_agents.core import yamlio
from parallel_agents.core.deps import require
from parallel_agents.core.errors import InputError, Problem
from parallel_agents.engine.tasks import AgentTask

ALIASES = {"agent": "agent_type", "task": "task_description", "input": "input_data", "id": "task_id"}
TYPES = {"agent_type": str, "task_description": str, "input_data": dict, "task_id": str,
         "timeout_seconds": int, "output_format": str, "priority": int, "depends_on": list,
         "tier": str, "input_from": dict}
REQUIRED = ("agent_type", "task_description")
MAP_KEYS = ("for_each", "as", "max_items")  # folded into AgentTask.for_each (mapping.py)
TOP_LEVEL = ("tasks",)  # the keys a task file's top-level mapping may have

_MERGE = "tag:yaml.org,2002:merge"  # `<<: *defaults`: merged keys, not a repeat


class TaskLines:
    """Where things are in a task file, from one composition of its YAML: the line of each task
    and of each key in it (as written; of a key written twice, the last, which the loaded data
    keeps), the keys of a top-level mapping, and every key written twice in one mapping."""

    def __init__(self):
        self.root = 1
        self.top: dict[str, int] = {}                       # top-level key -> line
        self.items: list[tuple[int, dict[str, int]]] = []   # per task: (line, {key: line})
        # (task index or None for the top level, field path, line, line of the first one)
        self.repeats: list[tuple[int | None, str, int, int]] = []

    def line(self, index: int, key=None) -> int | None:
        """The line of task `index`, or of its key `key` (the task's line if it has no such key)."""
        if not 0 <= index < len(self.items):
            return None
        line, keys = self.items[index]
        return line if key is None else keys.get(str(key), line)

    def keys(self, index: int) -> list[str]:
        """Task `index`'s keys as written, in order."""
        return list(self.items[index][1]) if 0 <= index < len(self.items) else []


def _compose(text: str) -> TaskLines:
    """TaskLines of YAML text: one yaml.compose and one walk of its nodes (each node once, even
    when *aliases repeat it). Text that does not compose gives an empty TaskLines."""
    yaml = require("yaml")
    found = TaskLines()
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return found
    if root is None:
        return found
    found.root = root.start_mark.line + 1
    mapping, sequence = yaml.MappingNode, yaml.SequenceNode
    items = root
    if isinstance(root, mapping):
        items = None
        found.top = _keys(yaml, root, None, None, found.repeats)
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "tasks":
                items = value  # the last `tasks:` wins, as in the loaded data
    if not isinstance(items, sequence):
        return found
    seen: set[int] = set()
    for index, item in enumerate(items.value):
        again = id(item) in seen  # `- *task`: the same node again; its repeats are noted once
        seen.add(id(item))
        if not isinstance(item, mapping):
            found.items.append((item.start_mark.line + 1, {}))
            continue
        path = (None, f"tasks[{index}]")  # a path is (parent path, key or list index)
        found.items.append((item.start_mark.line + 1,
                            _keys(yaml, item, index, path, [] if again else found.repeats)))
        stack = [] if again else [(value, (path, key.value)) for key, value in item.value
                                  if isinstance(value, (mapping, sequence))]
        while stack:  # repeated keys further down (in `input`, say), each node once
            node, path = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, mapping):
                _keys(yaml, node, index, path, found.repeats)
                stack.extend((value, (path, key.value)) for key, value in node.value
                             if isinstance(value, (mapping, sequence)))
            else:
                stack.extend((value, (path, i)) for i, value in enumerate(node.value)
                             if isinstance(value, (mapping, sequence)))
    return found


def _shown(path, key: str) -> str:
    """`tasks[0].input.code` for the path of a mapping and one of its keys."""
    parts = [f".{key}"]
    while path is not None:
        path, part = path
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(reversed(parts)).lstrip(".")


def _keys(yaml, node, index, path, repeats: list) -> dict[str, int]:
    """{key: line} of a mapping node's scalar keys (the last of a repeated key), noting repeats:
    a key is repeated when its value and its resolved type are the same (`1` and `"1"` differ)."""
    keys: dict[str, int] = {}
    first: dict[tuple, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
            continue
        line = key.start_mark.line + 1
        same = (key.tag, key.value)
        if same in first:
            repeats.append((index, _shown(path, key.value), line, first[same]))
        else:
            first[same] = line
        keys[key.value] = line
    return keys


_cache: tuple[bytes, TaskLines] | None = None  # the last file's lines, by the hash of its text


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def task_lines(path: Path) -> TaskLines:
    """TaskLines of a task file; the pass load_tasks made when the file is unchanged since, one
    new pass otherwise (after yamlio.parse's guards: data too deep to compose safely gives an
    empty TaskLines, whose lines are None)."""
    global _cache
    try:
        text = yamlio.read_text(path, max_bytes=1 << 30)
    except InputError:  # gone or unreadable since it was loaded: no lines to give
        return TaskLines()
    digest = _digest(text)
    if _cache is not None and _cache[0] == digest:
        return _cache[1]
    with _no_gc():
        _, problem = yamlio.parse(text, shown=str(path))
        found = TaskLines() if problem else _compose(text)
    _cache = (digest, found)
    return found


@contextlib.contextmanager
def _no_gc():
    """The cyclic garbage collector paused: loading and composing YAML allocate several objects
    per node and none of them is garbage yet, so the collections they trigger find nothing while
    each scans every object alive; on a 5,000-task file they took about half the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_tasks(path: Path, *, max_bytes: int = 5_000_000) -> list[AgentTask]:
    global _cache
    shown = str(path)
    text = yamlio.read_text(path, shown=shown, max_bytes=max_bytes)
    with _no_gc():
        data, problem = yamlio.parse(text, shown=shown)
        if problem:
            raise InputError(problem.message, problems=[problem])
        where = _compose(text)
    _cache = (_digest(text), where)  # for errors found later about these tasks (cli_run)
    problems: list[Problem] = []
    if isinstance(data, dict) and "tasks" in data:
        for key in data:
            if key not in TOP_LEVEL:
                problems.append(Problem(f"unknown key {key!r} beside tasks", shown,
                                        where.top.get(str(key), where.root), str(key),
                                        "remove it: the top level of a task file holds only "
                                        "`tasks:`, and a task's keys go in its `- agent: ...` item"))
        data = data["tasks"]
    if not isinstance(data, list) or not data:
        raise InputError("expected a non-empty list of tasks", file=shown, line=1,
                         fix="write `- agent: code_reviewer` / `  task: ...` items, or `tasks: [...]`")
    repeats: dict[int | None, list] = {}
    for index, field, line, first in where.repeats:
        repeats.setdefault(index, []).append((field, line, first))
    for field, line, first in repeats.get(None, []):
        problems.append(_written_twice(shown, field, line, first))
    tasks, indexes = [], []
    for i, item in enumerate(data):
        line = where.line(i)
        if not isinstance(item, dict):
            problems.append(Problem("a task must be a mapping", shown, line, f"tasks[{i}]",
                                    "give agent and task keys"))
            continue
        for field, key_line, first in repeats.get(i, []):
            problems.append(_written_twice(shown, field, key_line, first))
        fields, written, mapped = {}, {}, {}
        for key, value in item.items():
            name = ALIASES.get(key, key)
            if name in MAP_KEYS:
                mapped[name] = value
                continue
            if name not in TYPES:
                problems.append(Problem(f"unknown key {key!r}", shown, where.line(i, key),
                                        f"tasks[{i}].{key}",
                                        "use: " + ", ".join(["agent", "task", "input", *list(TYPES)[3:],
                                                             *MAP_KEYS])))
                continue
            if name in written:
                short = {v: k for k, v in ALIASES.items()}[name]
                problems.append(Problem(f"both {short!r} and {name!r} are given", shown,
                                        where.line(i, key), f"tasks[{i}].{key}",
                                        f"keep one of them; {short} is short for {name}"))
                continue
            written[name] = key
            expected = TYPES[name]
            if value is not None and not (isinstance(value, expected) and not
                                          (expected is int and isinstance(value, bool))):
                problems.append(Problem(f"must be {expected.__name__}, not {type(value).__name__}",
                                        shown, where.line(i, key), f"tasks[{i}].{key}",
                                        f"write a {expected.__name__}"))
                continue
            if name == "depends_on" and not all(isinstance(d, str) for d in value):
                problems.append(Problem("must be a list of task ids", shown,
                                        where.line(i, key), f"tasks[{i}].{key}",
                                        "write task ids as strings"))
                continue
            fields[name] = value
        given = {ALIASES.get(key, key) for key in item}  # a wrong-typed key is reported once, above
        missing = [k for k in REQUIRED if not fields.get(k) and (k not in given or k in fields)]
        for k in missing:
            short = {v: k2 for k2, v in ALIASES.items()}[k]
            problems.append(Problem(f"missing {short!r}", shown, line, f"tasks[{i}]", f"add `{short}: ...`"))
        mapped = {k: v for k, v in mapped.items() if v is not None}  # null: not given, as above
        if mapped:
            spec = _for_each(mapped, shown, where, i, problems)
            if spec is not None:
                fields["for_each"] = spec
        if not missing and not problems:
            tasks.append(AgentTask(**fields))
            indexes.append(i)
    known = {t.task_id for t in tasks}
    for task, i in zip(tasks, indexes):
        if task.for_each is None:
            continue
        try:  # the cap is checked before the run starts, against config's max_map_items
            mapping.check_spec(task, known, cap=float("inf"))
        except mapping.SpecError as exc:
            key = exc.key if exc.key in data[i] else "for_each"  # else: a key in the mapping
            problems.append(Problem(exc.message, shown, where.line(i, key), f"tasks[{i}].{key}",
                                    exc.fix))
    if problems:
        raise InputError(f"{shown}: invalid task file", problems=problems)
    return tasks


def _for_each(mapped: dict, shown: str, where: TaskLines, i: int, problems: list):
    """AgentTask.for_each from a task's for_each, as and max_items keys, or None (a problem
    noted)."""
    if "for_each" not in mapped:
        key = next(iter(mapped))
        problems.append(Problem(f"{key!r} goes with for_each", shown, where.line(i, key),
                                f"tasks[{i}].{key}", "add for_each: [...] (the items), or "
                                                     "remove it"))
        return None
    value = mapped["for_each"]
    if isinstance(value, list):
        spec = {"items": value}
    elif isinstance(value, dict):
        spec = dict(value)
    else:
        problems.append(Problem(f"must be a list or a mapping, not {type(value).__name__}", shown,
                                where.line(i, "for_each"), f"tasks[{i}].for_each",
                                "give a list of items, or {from: TASK_ID, path: KEY} to take "
                                "the list from another task's output"))
        return None
    for key in ("as", "max_items"):
        if key in mapped:
            if key in spec:
                problems.append(Problem(f"{key!r} is given twice: beside for_each and in it",
                                        shown, where.line(i, key), f"tasks[{i}].{key}",
                                        "keep one of them"))
                return None
            spec[key] = mapped[key]
    return spec


def _written_twice(shown: str, field: str, line: int, first: int) -> Problem:
    return Problem(f"key written twice (first on line {first}); only the last would count", shown,
                   line, field, "keep one of them")
