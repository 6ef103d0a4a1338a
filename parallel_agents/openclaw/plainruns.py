"""Plain runs (the history collection path): a quiet run (`expectsCompletionMessage:false`) whose
status comes from `subagents` (wait, else list polling) and whose reply is the last assistant
message of its `sessions_history` (read by history.py). Without a subagents tool, a run's end is
inferred from its transcript and its timeout kept locally.

Contract facts relied on (OpenClaw 2026.9.6, node_modules/openclaw; "code" = dist/*.mjs):
- subagents actions are exactly list | wait | cancel (no "kill"; code: SubagentsToolSchema).
  wait and cancel take *task ids* (`taskIds` 1-32, `taskId`), not run ids; `list.tasks[]` rows
  carry taskId, status (queued|running|completed|failed|timed_out|cancelled|blocked), label and
  error but no runId, so a run is matched to its task row by its spawn label. `list.active[]` /
  `list.recent[]` views carry runId, sessionKey, status (queued|running|done|failed|timeout|
  killed, possibly suffixed " (waiting on N children)"), model, totalTokens. `wait` returns
  {reason: completed|attention|unavailable|timeout, tasks, completed, attention, unavailable?};
  timeoutSeconds is an integer 0-60. cancel -> {status:"cancelled"|"error", found, cancelled}.
- History carries no usage, so history-path usage is 0 (+ total_tokens from `subagents list`
  when known).
"""
from __future__ import annotations

import logging
import math
import time

from parallel_agents.openclaw.history import read_history
from parallel_agents.openclaw.runs import Backoff, FoundRun, RunOutcome, RunTable, TrackedRun
from parallel_agents.openclaw.toolcaller import ToolError
from parallel_agents.openclaw.toolcalls import ToolCalls

log = logging.getLogger(__name__)

__all__ = ["PlainRuns", "reply_of", "minutes_since", "LIST_CLOCK_SKEW_S"]

_LIST_STATUS = {"done": "ok", "failed": "error", "timeout": "timeout", "killed": "cancelled"}
_TASK_STATUS = {"completed": "ok", "failed": "error", "timed_out": "timeout",
                "cancelled": "cancelled", "blocked": "error"}
_HISTORY_STOP = {"stop": "ok", "length": "ok", "end_turn": "ok", "error": "error",
                 "aborted": "cancelled"}
_HISTORY_ONLY_GRACE_S = 30.0
_LIST_DEFAULT_RECENT_MINUTES = 30  # subagents list shows runs ended this long ago unless told
_LIST_MAX_RECENT_MINUTES = 1440    # the most it shows (OpenClaw 2026.9.6 MAX_RECENT_MINUTES)
LIST_CLOCK_SKEW_S = 120.0          # allowance for the gateway's clock when reaching back


def minutes_since(wall: float) -> int:
    """`recentMinutes` that shows a run accepted at `wall` (our clock; the gateway's may differ
    a little), at most what OpenClaw shows."""
    age = time.time() - wall + LIST_CLOCK_SKEW_S
    return int(min(_LIST_MAX_RECENT_MINUTES, max(1, math.ceil(age / 60) + 1)))


def reply_of(history: dict | None):
    """(text, truncated, model, error, stopReason) of a plain run's reply, or Nones: the reply
    must come after the task message (a user message after it: not answered yet)."""
    r = read_history(history)
    if r.refused or not r.found or r.user_after:
        return None, False, None, r.refusal, None
    if r.stop == "error" and not r.error_message:
        # a live gateway reports a failed model call as the reply's text, e.g.
        # "⚠️ LLM request failed (request format rejected, HTTP 400)." - an error, never an answer
        return None, False, r.model, (r.text or "").strip() or "run failed", r.stop
    if r.omitted:
        return None, True, r.model, "reply omitted by sessions_history (over 80 KB)", r.stop or "stop"
    return r.text, r.truncated, r.model, r.error_message, r.stop


class PlainRuns:
    """Status and replies of plain runs through subagents and sessions_history."""

    def __init__(self, tools: ToolCalls, table: RunTable):
        self.tools, self.table = tools, table
        self.wait_action_ok = True
        self.no_wait_tasks: set[str] = set()

    # -- subagents list -------------------------------------------------------------------
    def find_by_label(self, label: str, since: float | None = None) -> FoundRun | None:
        """See OpenClawRuntime.find_by_label."""
        snapshot = self.list(reach_back=since)
        if snapshot is None:
            return None
        views = [v for v in (snapshot.get("active") or []) + (snapshot.get("recent") or [])
                 if isinstance(v, dict) and (v.get("label") or "").strip() == label.strip()]
        if len({v.get("runId") for v in views}) != 1 or not views[0].get("runId"):
            return None
        view = views[0]
        run = self.table.track(view["runId"])
        run.label = label
        run.session_key = run.session_key or view.get("sessionKey")
        run.resolved_model = run.resolved_model or view.get("model")
        started = view.get("startedAt")
        accepted_at = started / 1000 if isinstance(started, (int, float)) and started > 1e11 else time.time()
        return FoundRun(run.run_id, run.session_key, run.resolved_model, None, accepted_at)

    def list(self, runs: list[TrackedRun] = (), reach_back: float | None = None) -> dict | None:
        """`subagents list`; with `runs` that this runtime spawned, only as far back as needed to
        see them end (`recentMinutes`): a long session's older runs are not sent every round.
        Runs re-attached, or `reach_back` (a wall-clock time), more than the default 30 minutes
        ago make it reach back that far (at most the 24 hours OpenClaw shows)."""
        args = {"action": "list"}
        if reach_back is not None:
            minutes = minutes_since(reach_back)
            if minutes > _LIST_DEFAULT_RECENT_MINUTES:
                args["recentMinutes"] = minutes
        if runs and all(r.spawned_here for r in runs):
            oldest = min(r.spawned_at for r in runs)
            minutes = math.ceil((time.monotonic() - oldest) / 60) + 1
            if minutes < _LIST_DEFAULT_RECENT_MINUTES:
                args["recentMinutes"] = minutes
        elif runs:
            # re-attached runs accepted long ago (a resume hours later): reach back to them, or
            # a run that ended more than the default 30 minutes ago would never be seen to end
            walls = [r.accepted_wall for r in runs if not r.spawned_here and r.accepted_wall]
            minutes = minutes_since(min(walls)) if walls else 0
            if minutes > _LIST_DEFAULT_RECENT_MINUTES:
                args["recentMinutes"] = minutes
        result = self.tools.soft_call("subagents", args)
        if result is None or result.get("status") not in (None, "ok"):
            return None
        return result

    def absorb_list(self, runs: list[TrackedRun], snapshot: dict) -> list[tuple[TrackedRun, str, str | None]]:
        """Update runs from a list snapshot; return (run, status, error) for terminal ones."""
        views = {v.get("runId"): v for v in (snapshot.get("active") or []) + (snapshot.get("recent") or [])
                 if isinstance(v, dict)}
        rows = [t for t in snapshot.get("tasks") or [] if isinstance(t, dict)]
        finished = []
        for run in runs:
            view = views.get(run.run_id)
            if view is None:
                continue
            run.session_key = run.session_key or view.get("sessionKey")
            run.resolved_model = run.resolved_model or view.get("model")
            if isinstance(view.get("totalTokens"), int):
                run.total_tokens = view["totalTokens"]
            if not run.label:
                run.label = view.get("label") or ""
            self._match_task(run, rows)
            status = str(view.get("status") or "").split(" (")[0]
            if status in _LIST_STATUS:
                row = next((t for t in rows if t.get("taskId") == run.task_id), None)
                finished.append((run, _LIST_STATUS[status], (row or {}).get("error")))
        return finished

    def _match_task(self, run: TrackedRun, rows: list[dict]) -> None:
        if run.task_id or not run.label:
            return
        taken = self.table.task_ids()
        label = run.label.strip()  # OpenClaw stores the trimmed label on the task row
        candidates = [t.get("taskId") for t in rows
                      if t.get("label") == label and t.get("taskId") not in taken]
        if len(candidates) == 1:
            run.task_id = candidates[0]

    def known(self, runs: list[dict], verdict: dict[str, bool | None]) -> None:
        """Mark in `verdict` which of these journaled plain runs the gateway still knows (see
        OpenClawRuntime.known_runs): the list, asked to reach back past their acceptance, shows
        them or not; beyond its 24 hours, sessions_history knowing their session or not."""
        now = time.time()
        accepted = [float(r.get("accepted_at") or now) for r in runs]
        minutes = minutes_since(min(accepted))
        snapshot = None
        if self.tools.can("subagents"):
            snapshot = self.tools.soft_call("subagents", {"action": "list", "recentMinutes": minutes})
            if snapshot is not None and snapshot.get("status") not in (None, "ok"):
                snapshot = None
        if snapshot is not None:
            listed = {v.get("runId") for v in (snapshot.get("active") or []) + (snapshot.get("recent") or [])
                      if isinstance(v, dict)}
            for r, at in zip(runs, accepted):
                if r["run_id"] in listed:
                    verdict[r["run_id"]] = True
                elif now - at + LIST_CLOCK_SKEW_S <= minutes * 60:
                    verdict[r["run_id"]] = False  # accepted within the window: it would be listed
        for r in runs:
            if verdict[r["run_id"]] is None and r.get("session_key") and self.tools.can("sessions_history"):
                history = self.tools.soft_call("sessions_history", {"sessionKey": r["session_key"], "limit": 1})
                if history is not None and history.get("status") == "error" and \
                        str(history.get("error") or "").lower().startswith("no session found"):
                    verdict[r["run_id"]] = False

    # -- wait -----------------------------------------------------------------------------
    def wait(self, runs: list[TrackedRun], budget: float, backoff: Backoff) -> None:
        """One round of waiting for these plain runs, at most `budget` seconds."""
        if not self.tools.can("subagents"):
            self._poll_history_only(runs, budget, backoff)
            return
        need_list = any(r.task_id is None or r.session_key is None for r in runs)
        if need_list:
            snapshot = self.list(runs)
            if snapshot is None:
                if not self.tools.can("subagents"):
                    self._poll_history_only(runs, budget, backoff)
                return
            finished = self.absorb_list(runs, snapshot)
            if finished:
                self._collect(finished)
                return
        # subagents wait blocks on task ids (1-32, whole seconds); only use it when it covers
        # every pending run, else a run it cannot see would finish unnoticed until it returns
        waitable = [r for r in runs if r.task_id and r.task_id not in self.no_wait_tasks]
        if self.wait_action_ok and len(waitable) == len(runs) <= 32 and budget >= 1:
            self._subagents_wait(waitable, budget)
            return
        time.sleep(min(backoff.next(), budget))
        snapshot = self.list(runs)
        if snapshot is not None:
            finished = self.absorb_list(runs, snapshot)
            if finished:
                self._collect(finished)

    def _subagents_wait(self, waitable: list[TrackedRun], budget: float) -> None:
        by_task = {r.task_id: r for r in waitable}
        args = {"action": "wait", "taskIds": list(by_task), "timeoutSeconds": int(min(60, budget))}
        try:
            result = self.tools.call("subagents", args)
        except ToolError as exc:
            if exc.fatal:
                raise
            if not exc.retryable:
                log.debug("subagents wait unusable (%s); polling subagents list", exc)
                self.wait_action_ok = False
            return
        if result.get("status") != "ok" or "reason" not in result:
            log.debug("subagents wait unsupported (%s); polling subagents list", result.get("error"))
            self.wait_action_ok = False
            return
        finished = []
        for row in result.get("tasks") or []:
            run = by_task.get(row.get("taskId"))
            if run is not None and row.get("status") in _TASK_STATUS:
                status = _TASK_STATUS[row["status"]]
                error = row.get("error") or ("blocked" if row["status"] == "blocked" else None)
                finished.append((run, status, error))
        if result.get("reason") in ("attention", "unavailable") and not finished:
            # these tasks make wait return at once; poll them with list instead
            self.no_wait_tasks.update(list(result.get("attention") or []) +
                                      list(result.get("unavailable") or []))
        if finished:
            self._collect(finished)

    def _collect(self, finished: list[tuple[TrackedRun, str, str | None]]) -> None:
        """Read the replies of runs the list or wait saw end, and record their outcomes."""
        tools = self.tools

        def read(item):
            run, status, _ = item
            if status in ("ok", "error") and run.session_key and tools.can("sessions_history"):
                return reply_of(tools.soft_call("sessions_history",
                                                {"sessionKey": run.session_key, "limit": 20}))
            return None, False, None, None, None
        replies = tools.map(read, finished)  # several transcripts at once where the caller allows
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        for (run, status, error), reply in zip(finished, replies):
            text, truncated, model, reply_error, _ = reply
            if status == "ok" and text is None:
                reason = ("no sessions_history tool" if not tools.can("sessions_history")
                          else "no assistant reply in sessions_history")
                status, error = "error", reply_error or f"run finished but its reply cannot be read: {reason}"
            if status != "ok" and not error:
                error = reply_error or {"timeout": f"run timed out (runTimeoutSeconds={run.run_timeout_s})",
                                        "cancelled": "run cancelled"}.get(status, "run failed")
            usage = {"input_tokens": 0, "output_tokens": 0}
            if run.total_tokens is not None:
                usage["total_tokens"] = run.total_tokens
            self.table.finish(run, RunOutcome(run.run_id, status, text=text if status == "ok" else None,
                                              truncated=truncated, usage=usage,
                                              model=model or run.resolved_model, error=error))

    def _poll_history_only(self, runs: list[TrackedRun], budget: float, backoff: Backoff) -> None:
        """No subagents tool: infer the end of a run from its transcript, time out locally."""
        tools, finish = self.tools, self.table.finish
        if not tools.can("sessions_history"):
            for run in runs:
                finish(run, RunOutcome(run.run_id, "error", model=run.resolved_model,
                                       error="cannot observe the run: the runtime offers "
                                             "neither subagents nor sessions_history"))
            return
        end = time.monotonic() + budget
        while True:
            for run in runs:
                if run.outcome is not None or not run.session_key:
                    continue
                history = tools.soft_call("sessions_history", {"sessionKey": run.session_key, "limit": 20})
                text, truncated, model, reply_error, stop = reply_of(history)
                status = _HISTORY_STOP.get(stop or "")
                if status == "cancelled" and "timed out" in (reply_error or ""):
                    status = "timeout"  # a real gateway ends a timed-out run with "aborted"
                if status:
                    finish(run, RunOutcome(run.run_id, status, text=text if status == "ok" else None,
                                           truncated=truncated, model=model or run.resolved_model,
                                           error=None if status == "ok" else (reply_error or stop)))
                elif run.run_timeout_s and time.monotonic() > (run.spawned_at + run.run_timeout_s
                                                               + _HISTORY_ONLY_GRACE_S):
                    finish(run, RunOutcome(run.run_id, "timeout", model=run.resolved_model,
                                           error="no reply before runTimeoutSeconds (+30 s grace); "
                                                 "no subagents tool to confirm or cancel"))
            if any(r.outcome for r in runs) or not tools.can("sessions_history"):
                return
            now = time.monotonic()
            if now >= end:
                return
            time.sleep(min(backoff.next(), end - now))

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, run: TrackedRun) -> bool:
        """`subagents cancel` of the run's task (found in the list first); False when it cannot."""
        if run.task_id is None:
            snapshot = self.list()
            if snapshot is None:
                return False
            self.absorb_list([run], snapshot)
            if run.task_id is None:
                log.debug("cannot cancel %s: no unique task row for label %r", run.run_id, run.label)
                return False
        result = self.tools.soft_call("subagents", {"action": "cancel", "taskId": run.task_id})
        return bool(result) and (result.get("status") == "cancelled" or result.get("cancelled") is True)
