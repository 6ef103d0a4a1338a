"""The runs in the user folder, one summary per journal (`runs`): its tasks, how many finished
and how, whether it ended, and any damaged line (a journal that cannot be read at all is listed
with why)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from parallel_agents.core.paths import runs_dir
from parallel_agents.engine.journal import read_records


@dataclass
class RunSummary:
    run_id: str
    started: float
    tasks: int
    finished_tasks: int
    done: bool
    statuses: dict = field(default_factory=dict)
    damaged_lines: list = field(default_factory=list)   # line numbers of lines that are not records
    unreadable: str | None = None                        # why the journal could not be read at all

    def to_dict(self) -> dict:
        out = self.__dict__.copy()
        if not out["damaged_lines"]:
            del out["damaged_lines"]
        if out["unreadable"] is None:
            del out["unreadable"]
        return out


def summarize(path: Path) -> RunSummary:
    try:
        records = read_records(path, strict=False)
    except OSError as exc:
        return RunSummary(path.stem, 0.0, 0, 0, False, unreadable=exc.strerror or str(exc))
    start = next((r for r in records if r["type"] == "run_started"), {})
    finished = {r["task_id"]: r["result"]["status"] for r in records if r["type"] == "task_finished"}
    statuses: dict[str, int] = {}
    for status in finished.values():
        statuses[status] = statuses.get(status, 0) + 1
    items = sum(len(r["items"]) for r in records if r["type"] == "group_expanded")  # for_each
    return RunSummary(path.stem, start.get("t", 0.0), len(start.get("tasks", [])) + items, len(finished),
                      any(r["type"] == "run_finished" for r in records), statuses,
                      [b.line for b in records.damaged])


def list_runs(folder: Path | None = None) -> list[RunSummary]:
    folder = folder or runs_dir()
    if not folder.is_dir():
        return []
    return sorted((summarize(p) for p in folder.glob("*.jsonl")), key=lambda s: s.started,
                  reverse=True)
