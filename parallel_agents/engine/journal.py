"""The journal: one append-only JSONL file per run under $PARALLEL_AGENTS_HOME/runs/.

Written before a spawn (intent) and after it (accepted, with the run id), and when attempts and
tasks finish, so that `resume` can collect what was already accepted instead of spawning it
again. The scheduler flushes an intent line, and everything before it, to the OS before it sends
the spawn, and flushes everything before it blocks waiting; that survives the process being
killed (kill -9). A receipt or result line lost to a kill costs nothing: resume finds an
accepted run by its unique label, and collects a finished run's reply again. `durable=True`
also fsyncs at each flush, for power loss. Secrets never go in. Only one process at a time
writes a journal (locks.py).

Reading (read_records) keeps every line that is a record - a JSON object with a `type`, a time
`t` and the fields the readers of its type use - and skips the rest:

- a *torn* line, one a killed process left half-written (it breaks off inside the record), is
  skipped silently wherever it is: the writer flushes a spawn's intent before the spawn is sent,
  so nothing a torn line held had happened yet, or it is a receipt or result resume finds again.
  A writer that opens a journal whose last line is torn starts a new line first;
- a *damaged* line (not UTF-8, not JSON, JSON that is not a record, a record without a field it
  needs) cannot come from a kill: someone or something changed the file. read_records says which
  line is bad (one line: file, line, field and fix; exit 2) when the line is one of the records
  resume and check rebuild their state from (NEEDED below, or a line whose type cannot be told),
  since carrying on without it could spawn or record something twice; a damaged line of a type
  they do without (run_finished, run_resumed, run_aborted, a type this version does not know) is
  skipped. `runs` lists every run, with the line numbers of any damaged line.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

from parallel_agents.core.errors import InputError
from parallel_agents.core.paths import runs_dir
from parallel_agents.engine.tasks import AgentTask

_RUN_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()   # (uuid costs an import)


def _check_run_id(run_id: str) -> str:
    if not run_id or not set(run_id) <= _RUN_ID_CHARS or len(run_id) > 64:
        raise InputError(f"invalid run id {run_id!r}", field="run_id",
                         fix="use an id from `python3 ai_orchestrator.py runs`")
    return run_id


#: The line encoders (json.dumps with options builds one per call). Per-attempt and per-task
#: records hold the engine's values and parsed JSON (never circular): no cycle check, a third of
#: the work; records with a caller's tasks keep it.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_TREE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, check_circular=False)
_CALLERS_DATA = frozenset(("run_started", "group_expanded"))


class Journal:
    def __init__(self, run_id: str, folder: Path | None = None, *, redact: tuple[str, ...] = (),
                 durable: bool = False):
        self.run_id = _check_run_id(run_id)
        self.folder = folder or runs_dir()
        self.path = self.folder / f"{self.run_id}.jsonl"
        self._redact = tuple(s for s in redact if s)
        self._fh = None
        self.durable = durable

    def _open(self):
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
            if not _ends_a_line(self.path):   # a torn last line: never write onto it
                self._fh.write("\n")
        return self._fh

    def write(self, record_type: str, *, flush: bool = True, **data) -> None:
        """Append one record. flush=False leaves it in the buffer until the next flushed record
        or flush(): for lines that resume can do without (see the module docstring)."""
        encoder = _ENCODER if record_type in _CALLERS_DATA else _TREE_ENCODER
        line = encoder.encode({"t": round(time.time(), 3), "type": record_type, **data})
        for secret in self._redact:
            line = line.replace(secret, "[redacted]")
        fh = self._open()
        fh.write(line + "\n")
        if flush:
            self.flush()

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            if self.durable:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def records(self) -> list[dict]:
        return read_records(self.path)


def _ends_a_line(path: Path) -> bool:
    """Whether the file is empty or ends with a line break."""
    with open(path, "rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


# -- reading ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BadLine:
    """A line of a journal that is not a record (and was not torn by a kill)."""

    line: int
    field: str              # what is wrong with it: "line", "type", "<type>.<key>"
    message: str
    record_type: str | None = None   # when the line says what it was meant to be

    @property
    def needed(self) -> bool:
        """Whether resume or check would rebuild its state from a line like this one."""
        return self.record_type is None or self.record_type in NEEDED


class Records(list):
    """The records of a journal (a list of dicts, in order), with what was skipped: `torn` (how
    many lines a killed writer left half-written) and `damaged` (BadLine of every other line that
    is not a record)."""

    def __init__(self, items=(), *, path: Path | None = None, torn: int = 0,
                 damaged: tuple[BadLine, ...] = ()):
        super().__init__(items)
        self.path = path
        self.torn = torn
        self.damaged = list(damaged)


def _text(value) -> bool:
    return isinstance(value, str)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_or_none(value) -> bool:
    return value is None or isinstance(value, str)


def _anything(value) -> bool:
    return True


def _numbered(value) -> bool:
    return isinstance(value, dict) and _whole(value.get("number"))


def _tasks(value) -> bool:
    return isinstance(value, list) and all(_task(t) for t in value)


_TASK_FIELDS = frozenset(f.name for f in fields(AgentTask))


def _task(value) -> bool:
    """A task as AgentTask.to_dict wrote it (AgentTask.from_dict takes no other keys)."""
    return (isinstance(value, dict) and set(value) <= _TASK_FIELDS
            and _text(value.get("agent_type")) and _text(value.get("task_description"))
            and _text(value.get("task_id", "")) and isinstance(value.get("depends_on", []), list)
            and isinstance(value.get("input_data") or {}, dict))


def _finished(value) -> bool:
    return (isinstance(value, dict) and _text(value.get("status")) and "output" in value
            and isinstance(value.get("attempts", []), list)
            and all(isinstance(a, dict) for a in value.get("attempts", [])))


_WORDS = {_text: "text", _whole: "a whole number", _number: "a number",
          _text_or_none: "text or null", _anything: "present", _numbered: "an attempt object with "
          "a whole `number`", _tasks: "a list of tasks (AgentTask.to_dict)",
          _finished: "a result object (`status`, `output`, `attempts`)"}

#: What a record of each type must hold: the fields its readers (restore_state, HostPlan.load,
#: summarize, show_run) look up, with the kind of value they need.
FIELDS: dict[str, dict] = {
    "run_started": {"tasks": _tasks},
    "spawn_intent": {"task_id": _text, "attempt": _whole, "label": _text, "tier": _text_or_none,
                     "model": _text_or_none},
    "spawn_accepted": {"task_id": _text, "attempt": _numbered, "tier_index": _whole,
                       "timeout": _number},
    "spawn_refused": {"task_id": _text},
    "spawn_withdrawn": {"task_id": _text},
    "attempt_finished": {"task_id": _text, "attempt": _numbered},   # + the tier: see _tier_of
    "escalated": {"task_id": _text, "tier_index": _whole},
    "reask_planned": {"task_id": _text, "hint": _anything},
    "retry_planned": {"task_id": _text, "transient_failures": _whole},
    "task_finished": {"task_id": _text, "result": _finished},
    "group_expanded": {"task_id": _text, "items": _tasks},   # a for_each group's item tasks
    "model_unusable": {"model": _text, "reason": _text},
}

#: The types resume (restore_state) and check (HostPlan.load) rebuild a run's state from.
NEEDED = frozenset(FIELDS)


def _problem(record: dict) -> tuple[str, str] | None:
    """(field, message) of what keeps this JSON object from being a record, or None."""
    kind = record.get("type")
    if not _text(kind) or not kind:
        return "type", "journal line has no record type"
    if not _number(record.get("t")):
        return f"{kind}.t", "journal record has no time `t` (a number)"
    if "task_id" in record and not _text(record["task_id"]):
        return f"{kind}.task_id", "journal record's task_id is not text"
    for key, check in FIELDS.get(kind, {}).items():
        if key not in record:
            return f"{kind}.{key}", f"journal record has no {key!r}"
        if not check(record[key]):
            return f"{kind}.{key}", f"journal record's {key!r} is not {_WORDS[check]}"
    if kind == "attempt_finished" and not _tier_of(record):
        return (f"{kind}.tier_index", "journal record has no tier: neither 'tier_index' nor "
                                      "'step' with 'next_tier_index'")
    return None


def _tier_of(record: dict) -> bool:
    """An attempt_finished says where its task stands: the scheduler's `tier_index`, or host
    mode's `step` and `next_tier_index`."""
    if "tier_index" in record:
        return _whole(record["tier_index"])
    return _text(record.get("step")) and _whole(record.get("next_tier_index"))


def _cut_off(text: str) -> bool:
    """Whether this unparsable line is a record a writer was killed in the middle of: it starts
    like one and breaks off inside it (an open string or bracket, nothing closed that was not
    open)."""
    if not text.startswith("{"):
        return False
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth <= 0:
                return False     # a complete value, then more: not a cut-off record
    return depth > 0


_RECORD_START = '{"t": '   # how every line Journal.write makes begins


def _read_line(raw: bytes):
    """-> ("record", dict) | ("torn", None) | ("bad", (field, message, type or None)) | None
    for a blank line; also ("joined", dict): a torn line an older version wrote a record onto."""
    cut = False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":
            return "bad", ("line", f"journal line is not UTF-8 text (byte {exc.start + 1})", None)
        text, cut = raw[:exc.start].decode("utf-8", errors="replace"), True  # cut mid-character
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        joined = None if cut else _joined(text)
        if joined is not None:
            return "joined", joined
        if cut or _cut_off(text):
            return "torn", None
        return "bad", ("line", "journal line is not JSON", None)
    if cut:   # a whole value, then part of a character: not a write cut off by a kill
        return "bad", ("line", "journal line is not UTF-8 text (it ends inside a character)", None)
    if not isinstance(value, dict):
        kind = {list: "a list", str: "text", bool: "true or false", type(None): "null"}.get(
            type(value), "a number")
        return "bad", ("line", f"journal line is {kind}, not a record", None)
    problem = _problem(value)
    if problem is not None:
        kind = value.get("type") if _text(value.get("type")) and value.get("type") else None
        return "bad", (*problem, kind)
    return "record", value


def _joined(text: str) -> dict | None:
    """A line where an older version, finding the journal's last line torn, appended its first
    record onto it: that record, when the rest of the line is one."""
    start = text.find(_RECORD_START, 1)
    while start != -1:
        try:
            value = json.loads(text[start:])
        except (ValueError, RecursionError):
            start = text.find(_RECORD_START, start + 1)
            continue
        return value if isinstance(value, dict) and _problem(value) is None else None
    return None


def read_records(path: Path, *, strict: bool = True) -> Records:
    """Every record of a journal, in order (see the module docstring for what is skipped).
    strict: a damaged line resume or check would need is an InputError naming it; otherwise it
    is only listed in `.damaged`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no journal for run {path.stem!r}", file=str(path),
                         fix="use an id from `python3 ai_orchestrator.py runs`") from None
    records, damaged, torn = [], [], 0
    for number, raw in enumerate(data.split(b"\n"), 1):
        read = _read_line(raw)
        if read is None:
            continue
        kind, value = read
        if kind == "record":
            records.append(value)
        elif kind == "joined":
            torn += 1
            records.append(value)
        elif kind == "torn":
            torn += 1
        else:
            damaged.append(BadLine(number, *value))
    found = Records(records, path=path, torn=torn, damaged=damaged)
    if strict:
        bad = next((b for b in damaged if b.needed), None)
        if bad is not None:
            raise damaged_error(path, bad)
    return found


def damaged_error(path: Path, bad: BadLine) -> InputError:
    return InputError(f"line {bad.line} is damaged: {bad.message}", file=str(path), line=bad.line,
                      field=bad.field,
                      fix=f"repair line {bad.line} of the journal, or delete it: what it recorded "
                          "then counts as never done, and may be done again")
