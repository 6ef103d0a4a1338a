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

    def __init__(self, **kw):
        for key in self.__slots__:
            setattr(self, key, kw.get(key))

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
    the board's own methods change them. `cond` is the lock every tool call holds.
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
        self.cond = threading.Condition(threading.Lock())
        self.by_run_id: dict[str, Run] = {}
        self.by_task: dict[str, Run] = {}
        self.by_session: dict[str, Run] = {}
        # The runs not yet terminal (queued or running) and the queued ones, in spawn order, and
        # the number of collectors ever spawned per swarm group: they keep every call O(live
        # runs) instead of O(all runs), so a 1000-task fan-out does not slow the fake down as it
        # goes. Runs enter at register and leave through start_queued (queued) and end_run (live)
        # only.
        self._live: dict[str, Run] = {}
        self._queued: dict[str, Run] = {}
        self._parked: dict[str, Run] = {}  # collectors that never start (collector_runs_start=False)
        self._group_total: Counter = Counter()
        self._ends: list = []  # heap of (planned end, seq, run) for runs started; lazily pruned
        self._attempts: Counter = Counter()
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
        self._attempts[key] += 1
        return self._attempts[key]

    def group_counts(self, group_id: str | None) -> tuple[int, int]:
        """(collectors ever spawned, collectors live) in a swarm group; (0, 0) without one."""
        if not group_id:
            return 0, 0
        live = sum(1 for r in self.live_runs() if r.collect and r.group_id == group_id)
        return self._group_total[group_id], live

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
            self._group_total[run.group_id] += 1
        self.by_task[run.task_id] = run
        self.by_session[run.session_key] = run
        self.start_queued(now)
        self.peak_active_children = max(self.peak_active_children, self.active_children())
        self.cond.notify_all()

    # -- simulation -------------------------------------------------------------------------
    def live_runs(self) -> list[Run]:
        """Queued and running runs, in spawn order."""
        return list(self._live.values())

    def end_run(self, run: Run, status: str, t: float) -> None:
        run.status, run.ended_at = status, t
        self._live.pop(run.run_id, None)
        self._queued.pop(run.run_id, None)
        self._parked.pop(run.run_id, None)

    def start_queued(self, t: float) -> None:
        queued = self._queued  # in spawn order: FIFO
        lane_busy = len(self._live) - len(queued) - len(self._parked)
        if queued and lane_busy < self.lane_max_concurrent:
            live = self.live_runs()
            # with no more live runs than the swarm limit, no group can reach it: skip the count
            swarm_bound = len(live) > self.swarm_max_concurrent
            group_busy = Counter(r.group_id for r in live if r.status == "running" and r.collect) \
                if swarm_bound else None
            for run in list(queued.values()):
                if lane_busy >= self.lane_max_concurrent:
                    break
                if swarm_bound and run.collect and group_busy[run.group_id] >= self.swarm_max_concurrent:
                    continue
                del queued[run.run_id]
                run.status, run.start_at = "running", t
                heapq.heappush(self._ends, (run.planned_end(), run.seq, run))  # fixed from now on
                lane_busy += 1
                if swarm_bound and run.collect:
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
            self.start_queued(self._t)
            next_end = self._next_end()
            if next_end > now:
                break
            while ends and ends[0][0] <= next_end:
                _, _, run = heapq.heappop(ends)
                if run.status == "running":
                    self.end_run(run, run.end_status(), run.planned_end())
            self._t = next_end
        self._t = max(self._t, now)

    def sleep_until(self, deadline: float) -> None:
        """Wait (releasing `cond`) until the next run ends, a notify, or `deadline`."""
        wake = min(self._next_end(), deadline)
        delay = wake - time.monotonic()
        if delay > 0:
            self.cond.wait(delay)

    def wall_ms(self, t: float | None) -> int | None:
        """A monotonic time as epoch milliseconds, as OpenClaw stamps them."""
        return None if t is None else int((self._wall0 + (t - self._mono0)) * 1000)

    def active_children(self) -> int:
        return sum(1 for r in self.live_runs() if not r.collect)

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
