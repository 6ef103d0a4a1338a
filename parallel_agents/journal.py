"""The journal: one append-only JSONL file per run under $PARALLEL_AGENTS_HOME/runs/.

Written before a spawn (intent) and after it (accepted, with the run id), and when attempts and
tasks finish, so that `resume` can collect what was already accepted instead of spawning it
again. The scheduler flushes an intent line, and everything before it, to the OS before it sends
the spawn, and flushes everything before it blocks waiting; that survives the process being
killed (kill -9). A receipt or result line lost to a kill costs nothing: resume finds an
accepted run by its unique label, and collects a finished run's reply again. `durable=True`
also fsyncs at each flush, for power loss. Secrets never go in.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .paths import runs_dir

_RUN_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _check_run_id(run_id: str) -> str:
    if not run_id or not set(run_id) <= _RUN_ID_CHARS or len(run_id) > 64:
        raise InputError(f"invalid run id {run_id!r}", field="run_id",
                         fix="use an id from `python3 ai_orchestrator.py runs`")
    return run_id


#: One encoder for every line (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


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
        return self._fh

    def write(self, record_type: str, *, flush: bool = True, **data) -> None:
        """Append one record. flush=False leaves it in the buffer until the next flushed record
        or flush(): for lines that resume can do without (see the module docstring)."""
        line = _ENCODER.encode({"t": round(time.time(), 3), "type": record_type, **data})
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


def read_records(path: Path) -> list[dict]:
    """All complete records; a torn last line (the process died mid-write) is ignored."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"no journal for run {path.stem!r}", file=str(path),
                         fix="use an id from `python3 ai_orchestrator.py runs`") from None
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


@dataclass
class RunSummary:
    run_id: str
    started: float
    tasks: int
    finished_tasks: int
    done: bool
    statuses: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def summarize(path: Path) -> RunSummary:
    records = read_records(path)
    start = next((r for r in records if r["type"] == "run_started"), {})
    finished = {r["task_id"]: r["result"]["status"] for r in records if r["type"] == "task_finished"}
    statuses: dict[str, int] = {}
    for status in finished.values():
        statuses[status] = statuses.get(status, 0) + 1
    return RunSummary(path.stem, start.get("t", 0.0), len(start.get("tasks", [])), len(finished),
                      any(r["type"] == "run_finished" for r in records), statuses)


def list_runs(folder: Path | None = None) -> list[RunSummary]:
    folder = folder or runs_dir()
    if not folder.is_dir():
        return []
    return sorted((summarize(p) for p in folder.glob("*.jsonl")), key=lambda s: s.started,
                  reverse=True)
