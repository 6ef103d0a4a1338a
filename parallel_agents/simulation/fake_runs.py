"""FakeOpenClaw's runs, lanes and limits: the state every tool of the fake reads and advances.

Time is real (`time.monotonic`) but there are no threads: state is computed lazily on every
call (`advance`). A run accepted at t starts when a lane slot frees (FIFO), finishes at start +
latency, or times out at start + runTimeoutSeconds. Waiting tools sleep exactly until the next
run ends or their timeout, whichever is first (`sleep_until`, on a Condition, so a cancel from
another thread wakes them).

Contract facts mirrored here (OpenClaw 2026.9.6):
- Lanes: children run on the `subagent` lane, `agents.defaults.subagents.maxConcurrent` default 8
  (docs/tools/subagents/operations.md); collectors also queue FIFO per swarm group at
  `tools.swarm.maxConcurrent` default 8 (docs/tools/swarm.md). Queued runs are accepted, not
  refused. A plain run waiting for a lane slot lists as "running": registerSubagentRun
  (subagent-registry-*.mjs) gives only collectors a "queued" execution status. Use
  `FakeOpenClaw.runs()` to see real start times. runTimeoutSeconds counts from the run's actual
  start, like the agent run's own timeout (the registry's hard deadline uses an observed start
  when it has one, else the registration time).
- Collectors spawned through a gateway reached over HTTP are accepted but never start
  (`collector_runs_start=False`): they are parked, listed as queued, until cancelled.
"""
from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections import Counter

__all__ = ["Run", "RunBoard", "TERMINAL"]

TERMINAL = ("done", "failed", "timeout", "killed")


class Run:
    """One accepted sessions_spawn run. `reply` is the responder's Reply (directives.py)."""

    __slots__ = ("seq", "run_id", "task_id", "session_key", "task", "label", "task_name", "model",
                 "timeout_s", "collect", "group_id", "output_schema", "expects_completion",
                 "reply", "created_at", "start_at", "ended_at", "status", "msg_ids", "agent_id",
                 "sandbox")

    def __init__(self, *, seq=None, run_id=None, task_id=None, session_key=None, task=None, label=None,
                 task_name=None, model=None, timeout_s=None, collect=None, group_id=None,
                 output_schema=None, expects_completion=None, reply=None, created_at=None,
                 start_at=None, ended_at=None, status=None, msg_ids=None, agent_id=None, sandbox=None,
                 **_unknown):
        # one assignment per slot, spelled out: a setattr loop over the slots cost a spawn more
        # than the rest of its bookkeeping (unknown keys are ignored, as they always were)
        self.seq, self.run_id, self.task_id, self.session_key = seq, run_id, task_id, session_key
        self.task, self.label, self.task_name, self.model = task, label, task_name, model
        self.timeout_s, self.collect, self.group_id = timeout_s, collect, group_id
        self.output_schema, self.expects_completion, self.reply = output_schema, expects_completion, reply
        self.created_at, self.start_at, self.ended_at, self.status = created_at, start_at, ended_at, status
        self.msg_ids, self.agent_id, self.sandbox = msg_ids, agent_id, sandbox

    def planned_end(self) -> float:
        if self.start_at is None or self.status != "running":
            return math.inf
        limit = self.start_at + self.timeout_s if self.timeout_s else math.inf
        if self.reply.hang:
            return limit
        return min(self.start_at + max(0.0, self.reply.latency_s), limit)

    def end_status(self) -> str:
        limit = self.start_at + self.timeout_s if self.timeout_s else math.inf
        if self.reply.hang or self.start_at + max(0.0, self.reply.latency_s) > limit:
            return "timeout"
        return "failed" if self.reply.fail else "done"


class RunBoard:
    """The runs of one requester session, their lanes and the clock (FakeOpenClaw's base).

    The tools read `by_run_id` (every run, in spawn order), `by_task` and `by_session`; only
    the board's own methods change them. `cond` (its lock, `lock`) is what every tool call holds.
    """

    def __init__(self, *, lane_max_concurrent: int, swarm_max_concurrent: int,
                 collector_runs_start: bool):
        self.lane_max_concurrent = lane_max_concurrent
        self.swarm_max_concurrent = swarm_max_concurrent
        # False plays a gateway reached over HTTP: collector runs are accepted but never start
        # (OpenClaw 2026.9.6). The same attribute on GatewayToolCaller tells OpenClawRuntime
        # not to choose the collector path there.
        self.collector_runs_start = collector_runs_start
        self.peak_running = 0
        self.peak_active_children = 0
        # `lock` is `cond`'s own lock: tool calls take it directly (Condition.__enter__ is a
        # Python-level call on every tool call), and cond.wait releases it all the same
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.by_run_id: dict[str, Run] = {}
        self.by_task: dict[str, Run] = {}
        self.by_session: dict[str, Run] = {}
        # The runs not yet terminal (queued or running) and the queued ones, in spawn order, and
        # counts kept as runs change state: collectors ever spawned, live and running per swarm
        # group, and live plain children. They keep every call O(1) in the runs (start_queued:
        # O(queued)) instead of a scan over them, so a 1000-task fan-out does not slow the fake
        # down as it goes. Runs enter at register and leave through start_queued (queued) and
        # end_run (live) only; those three keep the counts.
        self._live: dict[str, Run] = {}
        self._live_collectors: dict[str, Run] = {}
        self._queued: dict[str, Run] = {}
        self._parked: dict[str, Run] = {}  # collectors that never start (collector_runs_start=False)
        self._group_total: Counter = Counter()
        self._group_live: Counter = Counter()
        self._group_running: Counter = Counter()
        self._live_children = 0
        self._ends: list = []  # heap of (planned end, seq, run) for runs started; lazily pruned
        self._attempts: dict[str, int] = {}
        self._sleepers = 0  # tool calls waiting in sleep_until: only they need a notify
        self._seq = itertools.count(1)
        self._msg_seq = itertools.count(1)
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._t = self._mono0

    # -- inspection for tests ---------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Snapshots of every accepted run, in spawn order.

        Times are time.monotonic() values; `timeout_s` is the effective timeout in wall seconds
        (runTimeoutSeconds x run_timeout_unit_s, 0 = none); `reply` is a finished run's whole final
        text (what OpenClaw delivers to the host; sessions_history cuts it at 4000 characters).
        """
        with self.cond:
            self.advance(time.monotonic())
            return [{"run_id": r.run_id, "task_id": r.task_id, "session_key": r.session_key,
                     "label": r.label, "task_name": r.task_name, "model": r.model,
                     "agent_id": r.agent_id, "sandbox": r.sandbox,
                     "status": r.status, "collect": r.collect, "group_id": r.group_id,
                     "created_at": r.created_at, "start_at": r.start_at, "ended_at": r.ended_at,
                     "timeout_s": r.timeout_s,
                     "reply": r.reply.text if r.status == "done" else None}
                    for r in sorted(self.by_run_id.values(), key=lambda r: r.seq)]

    # -- admission ----------------------------------------------------------------------------
    def next_attempt(self, key: str) -> int:
        """Count one more spawn under `key` (a label or a directive's key): its 1-based attempt."""
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        return attempt

    def group_counts(self, group_id: str | None) -> tuple[int, int]:
        """(collectors ever spawned, collectors live) in a swarm group; (0, 0) without one."""
        if not group_id:
            return 0, 0
        return self._group_total[group_id], self._group_live[group_id]

    def split_collectors(self, run_ids: list[str]) -> tuple[list[Run], list[str], list[str]]:
        """(the ended collectors, the ids of the live ones, the ids that name no collector) among
        `run_ids`, each in their order. agents_wait asks this for all its ids (~50) on every
        pass: the live ones are told apart by one dict test each, the few others looked up."""
        live = self._live_collectors
        pending = [i for i in run_ids if i in live]
        if len(pending) == len(run_ids):
            return [], pending, []
        ended, unknown = [], []
        for run_id in run_ids:
            if run_id not in live:
                run = self.by_run_id.get(run_id)
                if run is None or not run.collect:
                    unknown.append(run_id)
                else:
                    ended.append(run)
        return ended, pending, unknown

    def register(self, run: Run, now: float) -> None:
        """Take an accepted run: number it, queue it (or park a collector that never starts) and
        start what the lanes allow."""
        run.seq = next(self._seq)
        run.msg_ids = (f"msg-{next(self._msg_seq)}", f"msg-{next(self._msg_seq)}")
        self.by_run_id[run.run_id] = run
        self._live[run.run_id] = run
        if run.collect and not self.collector_runs_start:
            self._parked[run.run_id] = run  # accepted, listed as queued, never started
        else:
            self._queued[run.run_id] = run
        if run.collect:
            self._live_collectors[run.run_id] = run
            self._group_total[run.group_id] += 1
            self._group_live[run.group_id] += 1
        else:
            self._live_children += 1
        self.by_task[run.task_id] = run
        self.by_session[run.session_key] = run
        self.start_queued(now)
        self.peak_active_children = max(self.peak_active_children, self._live_children)
        self.wake_sleepers()

    # -- simulation -------------------------------------------------------------------------
    def live_runs(self) -> list[Run]:
        """Queued and running runs, in spawn order."""
        return list(self._live.values())

    def end_run(self, run: Run, status: str, t: float) -> None:
        """End a live run (done, failed, timeout, killed) at `t` and take it out of the counts."""
        was_running = run.status == "running"
        run.status, run.ended_at = status, t
        if self._live.pop(run.run_id, None) is None:
            return   # ended before: the counts have it already
        self._queued.pop(run.run_id, None)
        self._parked.pop(run.run_id, None)
        if run.collect:
            del self._live_collectors[run.run_id]
            _decrement(self._group_live, run.group_id)
            if was_running:
                _decrement(self._group_running, run.group_id)
        else:
            self._live_children -= 1

    def start_queued(self, t: float) -> None:
        """Start queued runs, FIFO, while the lane has slots; a collector whose swarm group runs
        its limit waits (later runs may pass it). The running count only grows here, so
        peak_running is brought up to date here and nowhere else."""
        queued = self._queued  # in spawn order: FIFO
        if not queued:
            return
        lane_busy = len(self._live) - len(queued) - len(self._parked)
        if lane_busy >= self.lane_max_concurrent:
            return
        group_busy = self._group_running
        for run in list(queued.values()):
            if lane_busy >= self.lane_max_concurrent:
                break
            if run.collect and group_busy[run.group_id] >= self.swarm_max_concurrent:
                continue
            del queued[run.run_id]
            run.status, run.start_at = "running", t
            heapq.heappush(self._ends, (run.planned_end(), run.seq, run))  # fixed from now on
            lane_busy += 1
            if run.collect:
                group_busy[run.group_id] += 1
        self.peak_running = max(self.peak_running, lane_busy)

    def _next_end(self) -> float:
        """The earliest planned end of a running run (runs cancelled meanwhile are dropped)."""
        ends = self._ends
        while ends and ends[0][2].status != "running":
            heapq.heappop(ends)
        return ends[0][0] if ends else math.inf

    def advance(self, now: float) -> None:
        """Start and end runs up to `now`, in the order their events happen."""
        ends = self._ends
        while True:
            if self._queued:
                self.start_queued(self._t)
            next_end = self._next_end()
            if next_end > now:
                break
            while ends and ends[0][0] <= next_end:
                end, _, run = heapq.heappop(ends)
                if run.status == "running":   # `end` is its planned_end(), fixed at its start
                    self.end_run(run, run.end_status(), end)
            self._t = next_end
        self._t = max(self._t, now)

    def sleep_until(self, deadline: float) -> None:
        """Wait (releasing `cond`) until the next run ends, a notify, or `deadline`."""
        wake = min(self._next_end(), deadline)
        delay = wake - time.monotonic()
        if delay > 0:
            self._sleepers += 1
            try:
                self.cond.wait(delay)
            finally:
                self._sleepers -= 1

    def wake_sleepers(self) -> None:
        """Wake the calls waiting in sleep_until (the board changed: a run came or went). Called
        under `cond`; skipped when none waits (the usual case: every spawn would pay for it)."""
        if self._sleepers:
            self.cond.notify_all()

    def wall_ms(self, t: float | None) -> int | None:
        """A monotonic time as epoch milliseconds, as OpenClaw stamps them."""
        return None if t is None else int((self._wall0 + (t - self._mono0)) * 1000)

    def active_children(self) -> int:
        """Live (queued or running) runs that are not collectors."""
        return self._live_children

    def usage(self, run: Run) -> dict | None:
        """A run's token usage ({inputTokens, outputTokens}): the reply's own, else ~4 chars a
        token; None before it starts."""
        if run.start_at is None:
            return None
        if run.reply.usage is not None:
            return {"inputTokens": int(run.reply.usage.get("input_tokens", 0)),
                    "outputTokens": int(run.reply.usage.get("output_tokens", 0))}
        out = len(run.reply.text) // 4 if run.status == "done" else 0
        return {"inputTokens": len(run.task) // 4, "outputTokens": out}


def _decrement(counts: Counter, key) -> None:
    """One less under `key`, dropping it at zero so counts of finished groups do not pile up."""
    if counts[key] <= 1:
        counts.pop(key, None)
    else:
        counts[key] -= 1
