"""Everything that can be wrong with a batch of tasks is found before anything spawns, the same
way for script mode (scheduler) and host mode (plan).

An error about one task carries `task_id` (and the task's field in the problem), so a caller
that read the tasks from a file can point at the file, line and key (see cli_run)."""
from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import dataclass

from parallel_agents.engine import mapping
from parallel_agents.core.errors import InputError
from parallel_agents.engine.graph import reject_cycles
from parallel_agents.engine.ladder import Ladder
from parallel_agents.prompts.build import build_prompt
from parallel_agents.engine.tasks import OUTPUT_FORMATS, AgentTask

MAX_TASK_ID = 200
MAX_TIMEOUT_SECONDS = 86_400  # 24 h: OpenClaw's runTimeoutSeconds is a whole number of seconds
ID_FORM = "NFKC"  # ids equal in this Unicode normal form are one id (they look alike)


@dataclass(frozen=True)
class Prepared:
    fmt: str          # the output format the task's replies are checked against
    timeout: int      # seconds per attempt
    tier_index: int   # where on the ladder the task starts
    prompt: str | None = None   # every attempt's prompt but a re-ask's, when nothing feeds it


def task_error(task_id: str | None, message: str, *, field: str, fix: str) -> InputError:
    """An InputError about one task's field; `task_id` says which task."""
    error = InputError(message, field=field, fix=fix)
    error.task_id = task_id
    return error


_ID_FIX = (f"use up to {MAX_TASK_ID} characters with no line breaks, control, bidi or zero-width "
           "characters, or spaces at either end, e.g. review-api")


def _check_id(task: AgentTask) -> None:
    tid = task.task_id
    if not isinstance(tid, str) or not tid.strip() or tid != tid.strip() or len(tid) > MAX_TASK_ID:
        raise task_error(tid, f"task id {str(tid)[:60]!r} cannot be used", field="task_id",
                         fix=_ID_FIX)
    bad = _invisible(tid)
    if bad is not None:
        name = unicodedata.name(bad, "")
        raise task_error(tid, f"task id {tid[:60]!r} cannot be used: it contains "
                              f"U+{ord(bad):04X}{' ' + name if name else ''}", field="task_id",
                         fix=_ID_FIX)


def _invisible(text: str) -> str | None:
    """The first character of `text` that does not show, or shows text that is not there: a
    control character, a line or paragraph separator, a format character (bidi controls such as
    U+202E, zero-width spaces and joiners, U+FEFF) or half a surrogate pair."""
    if text.isascii():
        return next((c for c in text if c < " " or c == "\x7f"), None)
    return next((c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")), None)


def _check_unique(tasks: list[AgentTask]) -> None:
    """Task ids are unique, and stay unique in Unicode normal form ID_FORM: `café` written with
    one accented letter or with e and a combining accent, a full-width `ａ` and `a`, the ligature
    `ﬁ` and `fi` look the same and are the same id (the ids themselves are kept as written)."""
    ids = [t.task_id for t in tasks]
    counts = Counter(ids)
    if len(counts) != len(ids):
        dupes = sorted(i for i, n in counts.items() if n > 1)
        raise task_error(dupes[0], f"task ids must be unique; repeated: {', '.join(dupes[:5])}",
                         field="task_id", fix="give each task its own task_id")
    forms: dict[str, str] = {}
    for tid in ids:
        form = tid if tid.isascii() else unicodedata.normalize(ID_FORM, tid)
        first = forms.setdefault(form, tid)
        if first != tid:
            raise task_error(tid, f"task ids {ascii(first)} and {ascii(tid)} are the same id "
                                  f"in Unicode normal form {ID_FORM}",
                             field="task_id",
                             fix="give each task its own task_id; ids that differ only in how "
                                 "Unicode writes them, such as a composed or decomposed accent, a "
                                 "full-width letter or a ligature, count as one")


def _check_timeout(task: AgentTask) -> None:
    value = task.timeout_seconds
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0
                              or value > MAX_TIMEOUT_SECONDS):
        shown = repr(value) if not isinstance(value, int) or value.bit_length() <= 10_000 \
            else f"a {value.bit_length()}-bit number"  # str() of a huge int raises ValueError
        over = isinstance(value, int) and not isinstance(value, bool) and value > MAX_TIMEOUT_SECONDS
        raise task_error(task.task_id, f"timeout_seconds of task {task.task_id} is {shown}"
                         + (f", over the maximum of {MAX_TIMEOUT_SECONDS} (24 h)" if over else ""),
                         field="timeout_seconds",
                         fix=f"give a whole number of seconds of at least 1 and at most "
                             f"{MAX_TIMEOUT_SECONDS}, i.e. 24 h; 0: the default")


def _check_text_size(task: AgentTask, max_input_bytes: int) -> None:
    text = task.task_description
    if not isinstance(text, str) or len(text) * 4 <= max_input_bytes:  # UTF-8: <= 4 bytes a character
        return
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_input_bytes:
        raise task_error(task.task_id, f"task text of task {task.task_id} is {size} bytes, over "
                         f"the {max_input_bytes}-byte limit", field="task_description",
                         fix="shorten it, or put the material in a file the agent reads; or raise "
                             "max_input_bytes in config.yaml, which limits the task text and the "
                             "input each on its own")


_SIZER = json.JSONEncoder(default=str)   # json.dumps with an option builds an encoder per call


def _input_size(task: AgentTask) -> int | None:
    if task.input_data == {}:
        return 2   # "{}"
    try:
        return len(_SIZER.encode(task.input_data).encode())
    except (ValueError, RecursionError):  # a loop or absurd depth: build_prompt names it
        return None


def _check_group(task: AgentTask, known: set[str], max_map_items: int,
                 max_input_bytes: int) -> None:
    """A group's for_each (mapping.py); a static list's items are checked as its item tasks
    will be: their input's size."""
    try:
        mapping.check_spec(task, known, cap=max_map_items)
        if "items" in task.for_each:
            mapping.item_tasks(task, task.for_each["items"], max_input_bytes=max_input_bytes)
    except mapping.SpecError as exc:
        raise task_error(task.task_id, f"task {task.task_id}: {exc.message}", field=exc.key,
                         fix=exc.fix) from None
    except mapping.MapError as exc:
        raise task_error(task.task_id, f"task {task.task_id}: {str(exc).removeprefix('for_each: ')}",
                         field="for_each", fix="send a summary or a path instead, or raise "
                                               "max_input_bytes") from None


def _check_item_ids(tasks: list[AgentTask]) -> None:
    """No task has an id a group's items will have (`review[0]` beside a group `review`)."""
    groups = {t.task_id for t in tasks if t.for_each is not None}
    if not groups:
        return
    for task in tasks:
        group = mapping.group_of_item_id(task.task_id)
        if group in groups:
            raise task_error(task.task_id, f"task id {task.task_id!r} is the id of an item of "
                             f"group {group!r}", field="task_id",
                             fix="give the task another id: a group's items are named "
                                 "GROUP[0], GROUP[1], ...")


def prepare_tasks(tasks: list[AgentTask], definitions: dict, *, ladder: Ladder,
                  default_timeout: int, max_input_bytes: int,
                  max_map_items: int = mapping.DEFAULT_MAX_ITEMS) -> dict[str, Prepared]:
    """{task_id: Prepared} for valid tasks; InputError naming the task, field and fix otherwise.
    `definitions` maps task_id to its resolved AgentDefinition. A group (for_each) is checked
    as a task (its items are copies of it) and for its spec; max_map_items: the default cap on
    a group's items."""
    for task in tasks:
        _check_id(task)
    _check_unique(tasks)
    _check_item_ids(tasks)
    known = {t.task_id for t in tasks}
    prepared = {}
    for task in tasks:
        if task.for_each is not None:
            _check_group(task, known, max_map_items, max_input_bytes)
        _check_timeout(task)
        _check_text_size(task, max_input_bytes)
        d = definitions[task.task_id]
        fmt = task.output_format or d.output_format
        if fmt not in OUTPUT_FORMATS:
            raise task_error(task.task_id, f"unknown output_format {fmt!r} for task {task.task_id}",
                             field="output_format", fix="use one of: " + ", ".join(OUTPUT_FORMATS))
        if fmt == "json" and not d.output_schema:
            raise task_error(task.task_id,
                             f"agent {d.name!r} has no output_schema, so it cannot return json",
                             field="output_format", fix="use markdown, code or text for this agent")
        size = _input_size(task)
        if size is not None and size > max_input_bytes:
            raise task_error(task.task_id, f"input_data of task {task.task_id} is {size} bytes, "
                             f"over the {max_input_bytes}-byte limit", field="input_data",
                             fix="send a summary or a path instead, or raise max_input_bytes")
        try:  # what would only fail at spawn time (empty text, data JSON cannot carry) fails now
            prompt = build_prompt(d, task.task_description, task.input_data, output_format=fmt)
        except InputError as exc:
            problem = exc.problems[0]
            raise task_error(task.task_id, f"task {task.task_id}: {problem.message}",
                             field=problem.field, fix=problem.fix) from None
        for dep in task.depends_on:
            if dep not in known:
                group = mapping.group_of_item_id(dep)
                fix = (f"depend on the group {group!r}: it gives the list of its items' outputs"
                       if group in known else "use the task_id of a task in this run")
                raise task_error(task.task_id, f"task {task.task_id} depends on unknown task {dep!r}",
                                 field="depends_on", fix=fix)
        timeout = int(task.timeout_seconds or d.timeout_seconds or default_timeout)
        try:
            tier_index = ladder.start(task_tier=task.tier, agent_tier=d.tier)
        except InputError as exc:
            problem = exc.problems[0]
            raise task_error(task.task_id if task.tier else None, problem.message,  # else: the agent's
                             field=problem.field, fix=problem.fix) from None
        # with no upstream task, the prompt checked here is the one each attempt sends
        unfed = not task.depends_on and not task.input_from and task.for_each is None
        prepared[task.task_id] = Prepared(fmt, timeout, tier_index, prompt if unfed else None)
    reject_cycles({t.task_id: t.depends_on for t in tasks})
    return prepared
