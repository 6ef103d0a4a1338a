"""FakeOpenClaw's `subagents` tool: list, wait and cancel, the runs as the requester sees them.

Contract facts mirrored here (OpenClaw 2026.9.6, node_modules/openclaw/dist):
- subagents (openclaw-tools-*.mjs createSubagentsTool): actions are exactly list | wait | cancel.
  `list` -> `{status:"ok", action:"list", requesterSessionKey, callerSessionKey, callerIsSubagent,
  total, taskTotal, tasks:[{taskId, runtime, deliveryStatus, execution:{state}, status:
  queued|running|completed|failed|timed_out|cancelled|blocked, label?, progressSummary?,
  error?}], active:[view], recent:[view], text}`. A completed row's progressSummary is the reply
  (cut at 4096 chars with "…", whitespace collapsed); a cancelled row's error is "Cancelled by
  operator."; a failed row's error is OpenClaw's summary of the failure (here: the scripted
  text). view = `{index, runId, sessionKey, taskName?, label, task, status:
  queued|running|done|failed|timeout|killed, execution, deliveryStatus: not_required|pending,
  pendingDescendants, runtime ("n/a", "61ms", "3s"), runtimeMs, model, totalTokens?,
  startedAt?, endedAt?}`: the tool drops the views' `line` (it is in `text`); totalTokens only
  once the model has answered (not while running, nor after a failed, timed-out or cancelled
  run here); no startedAt while a collector waits to start. Task rows carry no runId; they
  share the spawn `label`. `wait {taskIds (1-32), timeoutSeconds 0-60 int, default 30}` ->
  `{status:"ok", action:"wait", reason: completed|attention|unavailable|timeout, tasks,
  completed:[taskId], attention:[taskId], unavailable?:[taskId]}`. `cancel {taskId}` ->
  `{status:"cancelled"|"error", taskId, found, cancelled, reason?}` or `{status:"forbidden",
  error:"Task outside session tree."}`.
"""
from __future__ import annotations

import re
import time

from parallel_agents.openclaw.toolcaller import ToolError
from parallel_agents.simulation.fake_runs import TERMINAL, Run

__all__ = ["SubagentsTool", "CANCELLED_ERROR"]

CANCELLED_ERROR = "Cancelled by operator."
PROGRESS_SUMMARY_MAX_CHARS = 4096
_TASK_STATUS = {"queued": "queued", "running": "running", "done": "completed", "failed": "failed",
                "timeout": "timed_out", "killed": "cancelled"}


class SubagentsTool:
    """The subagents tool, mixed into FakeOpenClaw (over its RunBoard; requester_session_key).
    FakeOpenClaw.call calls `answer_subagents` under the board's lock."""

    def answer_subagents(self, a: dict) -> dict:
        action = a.get("action") or "list"
        if action == "list":
            return self._subagents_list(a)
        if action == "wait":
            return self._subagents_wait(a)
        if action == "cancel":
            return self._subagents_cancel(a)
        return {"status": "error", "error": "Unsupported action."}

    def _task_row(self, run: Run) -> dict:
        status = _TASK_STATUS[run.status]
        if run.status == "queued" and not run.collect:
            status = "running"  # plain runs waiting for a lane slot are registered as running
        state = "finished" if run.status in TERMINAL else ("queued" if status == "queued" else "running")
        row = {"taskId": run.task_id, "runtime": "subagent",
               "deliveryStatus": "pending" if run.expects_completion else "not_applicable",
               "execution": {"state": state}, "status": status}
        if run.label:
            row["label"] = run.label
        if run.status == "done":
            summary = _progress_summary(run.reply.text)
            if summary:
                row["progressSummary"] = summary
        elif run.status == "failed" and run.reply.fail:
            row["error"] = run.reply.fail[:120]
        elif run.status == "killed":
            row["error"] = CANCELLED_ERROR
        return row

    def _view(self, run: Run, index: int, now: float) -> tuple[dict, str]:
        """(a list view as the subagents tool returns it, its line of the list `text`)."""
        status = {"queued": "queued" if run.collect else "running"}.get(run.status, run.status)
        # a collector waiting for its start has no start time; a plain run waiting for a lane
        # slot is registered as running from its spawn on
        started = run.start_at if run.start_at is not None else (None if run.collect else run.created_at)
        runtime_ms = int(max(0.0, (run.ended_at or now) - started) * 1000) if started is not None else 0
        runtime = _compact_duration(runtime_ms)
        label = _truncate_line(run.label or run.task.strip(), 48)
        task = _truncate_line(run.task.strip(), 72)
        usage = self.usage(run) if run.status == "done" else None  # token usage once the model answered
        total = (usage["inputTokens"] + usage["outputTokens"]) if usage else 0
        tokens = (f", tokens {_short_tokens(total)} (in {_short_tokens(usage['inputTokens'])} / out "
                  f"{_short_tokens(usage['outputTokens'])})") if total > 0 else ""
        line = (f"{index}. {run.task_name + ': ' if run.task_name else ''}{label} "
                f"({run.model.rsplit('/', 1)[-1]}, {runtime}{tokens}) {status}"
                f"{'' if task.lower() == label.lower() else ' - ' + task}")
        view = {"index": index, "runId": run.run_id, "sessionKey": run.session_key}
        if run.task_name:
            view["taskName"] = run.task_name
        view.update({"label": label, "task": task, "status": status,
                     "execution": {"state": "finished" if run.status in TERMINAL else
                                   ("queued" if status == "queued" else "running")},
                     "deliveryStatus": "pending" if run.expects_completion else "not_required",
                     "pendingDescendants": 0, "runtime": runtime, "runtimeMs": runtime_ms,
                     "model": run.model})
        if total > 0:
            view["totalTokens"] = total
        if started is not None:
            view["startedAt"] = self.wall_ms(started)
        if run.ended_at is not None:
            view["endedAt"] = self.wall_ms(run.ended_at)
        return view, line

    def _subagents_list(self, a: dict) -> dict:
        now = time.monotonic()
        self.advance(now)
        recent_minutes = a.get("recentMinutes")
        recent_minutes = min(1440, int(recent_minutes)) if isinstance(recent_minutes, int) and recent_minutes > 0 else 30
        cutoff = now - recent_minutes * 60
        ordered = sorted(self.by_run_id.values(), key=lambda r: -(r.start_at or r.created_at))
        active = [r for r in ordered if r.status not in TERMINAL]
        recent = [r for r in ordered if r.status in TERMINAL and r.ended_at >= cutoff]
        views, lines = zip(*[self._view(r, i, now) for i, r in enumerate(active + recent, start=1)]) \
            if active or recent else ((), ())
        tasks = [self._task_row(r) for r in sorted(active + recent,
                                                    key=lambda r: -(r.ended_at or r.start_at or r.created_at))]
        active_views, recent_views = list(views[:len(active)]), list(views[len(active):])
        text = "\n".join(["active subagents:", *(lines[:len(active)] or ["(none)"]), "",
                          f"recent (last {recent_minutes}m):", *(lines[len(active):] or ["(none)"])])
        return {"status": "ok", "action": "list", "requesterSessionKey": self.requester_session_key,
                "callerSessionKey": self.requester_session_key, "callerIsSubagent": False,
                "total": len(self.by_run_id), "taskTotal": len(tasks), "tasks": tasks,
                "active": active_views, "recent": recent_views, "text": text}

    def _subagents_wait(self, a: dict) -> dict:
        tool = "subagents"
        ids = a.get("taskIds")
        ids = [ids] if isinstance(ids, str) else ids
        ids = list(dict.fromkeys(i.strip() for i in (ids or []) if isinstance(i, str) and i.strip()))
        if not ids:
            raise ToolError("taskIds required", tool=tool)
        if len(ids) > 32:
            raise ToolError("subagents wait supports at most 32 taskIds.", tool=tool)
        timeout = a.get("timeoutSeconds")
        if timeout is None:
            timeout = 30
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
            raise ToolError("timeoutSeconds must be a non-negative integer", tool=tool)
        deadline = time.monotonic() + min(60, timeout)
        while True:
            now = time.monotonic()
            self.advance(now)
            found = [self.by_task[i] for i in ids if i in self.by_task]
            unavailable = [i for i in ids if i not in self.by_task]
            completed = [r.task_id for r in found if r.status in TERMINAL]
            reason = "unavailable" if unavailable else ("completed" if completed else None)
            if reason or now >= deadline:
                result = {"status": "ok", "action": "wait", "reason": reason or "timeout",
                          "tasks": [self._task_row(r) for r in found], "completed": completed,
                          "attention": []}
                if unavailable:
                    result["unavailable"] = unavailable
                return result
            self.sleep_until(deadline)

    def _subagents_cancel(self, a: dict) -> dict:
        task_id = a.get("taskId")
        if not isinstance(task_id, str) or not task_id.strip():
            raise ToolError("taskId required", tool="subagents")
        task_id = task_id.strip()
        now = time.monotonic()
        self.advance(now)
        run = self.by_task.get(task_id)
        if run is None:
            return {"status": "forbidden", "error": "Task outside session tree."}
        if run.status in TERMINAL:
            return {"status": "error", "taskId": task_id, "found": True, "cancelled": False,
                    "reason": "Task is already terminal."}
        self.end_run(run, "killed", now)
        self.start_queued(now)
        self.wake_sleepers()
        return {"status": "cancelled", "taskId": task_id, "found": True, "cancelled": True}


def _truncate_line(value: str, max_chars: int) -> str:
    """subagents list labels and tasks (truncateLine): cut with "..." at `max_chars`."""
    value = value.rstrip()
    return value if len(value) <= max_chars else value[:max_chars - 3].rstrip() + "..."


def _compact_duration(ms: int) -> str:
    """A list view's `runtime` (formatDurationCompact): "n/a", "640ms", "3s", "2m 5s", "1h 4m"."""
    if ms <= 0:
        return "n/a"
    if ms < 1000:
        return f"{ms}ms"
    seconds = int(ms / 1000 + 0.5)
    parts = [(seconds // 86400, "d"), (seconds // 3600 % 24, "h"), (seconds // 60 % 60, "m"), (seconds % 60, "s")]
    return " ".join([f"{n}{unit}" for n, unit in parts if n][:2])


def _short_tokens(n: int) -> str:
    """Token counts in the list text (formatTokenShort): 950, 3.9k, 12k, 1.2m."""
    if n < 1000:
        return str(max(0, n))
    value, suffix = (n / 1000, "k") if n < 1_000_000 else (n / 1_000_000, "m")
    text = f"{value:.{0 if n >= 10_000 and suffix == 'k' else 1}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + suffix


def _progress_summary(text: str) -> str | None:
    """A completed run's task-row progressSummary: the reply (cut at 4096 chars with "…"),
    whitespace runs collapsed."""
    if len(text) > PROGRESS_SUMMARY_MAX_CHARS:
        text = text[:PROGRESS_SUMMARY_MAX_CHARS - 1] + "…"
    return re.sub(r"\s+", " ", text).strip() or None
