"""OpenClawRuntime: spawn / wait / collect / cancel sub-agent runs on top of any ToolCaller.

This is the facade of OpenClaw's sub-agent contract. Above it, runs are just `Receipt`s and
`RunOutcome`s; below it, a `ToolCaller` moves JSON. The contract itself, tool by tool, is in
the modules it composes: spawn.py (sessions_spawn: arguments, receipts, refusals, labels),
collectors.py (agents_wait), plainruns.py (subagents list / wait / cancel), history.py
(sessions_history), with toolcalls.py counting the calls and runs.py keeping each run's state.

Two collection paths, both kept (docs/DESIGN.md "OpenClaw facts"):
- collector: `sessions_spawn {collect:true, groupId, outputSchema?}` then `agents_wait` returns
  the full reply, the validated `structured` value and token usage. Collectors do not count
  against maxChildrenPerAgent (5) but against tools.swarm.maxChildrenPerGroup (50).
- history: a plain quiet run (`expectsCompletionMessage:false`); status from `subagents`
  (wait, else list polling), the reply from `sessions_history` (last assistant message).
`collection="auto"` uses the collector when the caller offers `agents_wait`, else history; in
auto mode a collector spawn refused for swarm reasons falls back to history once and stays there.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid

from parallel_agents.openclaw.collectors import known_collectors, wait_collectors
from parallel_agents.openclaw.plainruns import PlainRuns
from parallel_agents.openclaw.runs import Backoff, FoundRun, RunOutcome, RunTable, TrackedRun
from parallel_agents.openclaw.spawn import Receipt, SpawnRefused, SpawnRequest, classify_refusal, privilege_fix
from parallel_agents.openclaw.toolcaller import ToolCaller, ToolError
from parallel_agents.openclaw.toolcalls import ToolCalls

log = logging.getLogger(__name__)

__all__ = ["OpenClawRuntime"]


class OpenClawRuntime:
    """Spawn, wait for, collect and cancel OpenClaw sub-agent runs through a ToolCaller."""

    def __init__(self, caller: ToolCaller, *, collection: str = "auto",
                 requester_session_key: str | None = None, group_id: str | None = None):
        if collection not in ("auto", "collector", "history"):
            raise ValueError(f"collection must be auto, collector or history, not {collection!r}")
        self.caller = caller
        self.collection = collection
        self.requester_session_key = requester_session_key
        self.group_id = group_id or f"parallel-agents-{uuid.uuid4().hex[:12]}"
        self.tools = ToolCalls(caller)
        self.calls = self.tools.calls   # per tool and per "tool.action": tests and benchmarks read it
        self.table = RunTable()
        self.plain = PlainRuns(self.tools, self.table)
        self._lock = threading.RLock()
        self._auto_fallback = False

    # -- capabilities ---------------------------------------------------------------------
    @property
    def collection_mode(self) -> str:
        """The collection path new spawns use: "collector" or "history"."""
        if self.collection != "auto":
            return self.collection
        collectors_ok = getattr(self.caller, "collector_runs_start", True)
        return "collector" if (collectors_ok and self.tools.can("agents_wait")
                               and not self._auto_fallback) else "history"

    def missing_capabilities(self) -> list[str]:
        """What the caller lacks, and what that costs."""
        can = self.tools.can
        out = []
        if not can("sessions_spawn"):
            out.append("no sessions_spawn tool: cannot start sub-agents at all")
        if not can("subagents"):
            out.append("no subagents tool: cannot cancel timed-out runs; run status is inferred "
                       "by polling sessions_history, timeouts from local deadlines")
        if not can("sessions_history"):
            out.append("no sessions_history tool: replies of plain (non-collector) runs cannot be read")
        if not can("agents_wait"):
            out.append("no agents_wait tool: no collector mode - no structured output or token "
                       "usage, replies capped at 4000 chars per text block, at most "
                       "maxChildrenPerAgent (default 5) active children")
        if self.collection == "collector" and not can("agents_wait"):
            out.append("collection='collector' needs agents_wait: collector runs will be read "
                       "through subagents/sessions_history instead")
        return out

    # -- spawn ----------------------------------------------------------------------------
    def effective_request(self, req: SpawnRequest) -> SpawnRequest:
        """The request as this runtime will send it (collection mode and group id applied)."""
        if self.collection_mode == "collector":
            return req.routed(collect=True, group_id=req.group_id or self.group_id)
        return req.routed(collect=False, group_id=None)

    def spawn(self, req: SpawnRequest) -> Receipt:
        """Start one run. Raises SpawnRefused (kind backpressure | transient | permanent).

        Collector refusals this runtime can route around are retried once: a full swarm group
        (maxTotalPerGroup) gets a fresh group id; in auto mode a model that cannot take an
        outputSchema runs this request as a plain run, and swarm being unavailable switches
        all further spawns to history collection.
        """
        eff = self.effective_request(req)
        try:
            return self._spawn(eff)
        except SpawnRefused as refused:
            msg = refused.message.lower()
            if not eff.collect or refused.kind != "permanent":
                raise
            if "maxtotalpergroup" in msg and req.group_id is None:
                with self._lock:
                    self.group_id = f"parallel-agents-{uuid.uuid4().hex[:12]}"
                return self._spawn(self.effective_request(req))
            if self.collection != "auto":
                raise
            if "tool-capable" in msg:
                return self._spawn(req.routed(collect=False, group_id=None))
            if "swarm" in msg or "collect" in msg:
                log.debug("collector spawn refused (%s); using history collection from now on",
                          refused.message)
                with self._lock:
                    self._auto_fallback = True
                return self._spawn(self.effective_request(req))
            raise

    @property
    def spawn_concurrency(self) -> int:
        """How many tool calls this runtime makes at once: the caller's `parallel_calls` (a
        gateway over HTTP serves several), else 1 (an injected module may not be thread-safe)."""
        return self.tools.concurrency

    def spawn_many(self, reqs: list[SpawnRequest]) -> list:
        """`spawn` for each request, up to `spawn_concurrency` at a time. Returns, in the order
        given, each request's Receipt or the exception its spawn raised (nothing is lost when
        one of them fails: the others' receipts still come back)."""
        return self.tools.map(self.spawn, reqs)

    def _spawn(self, req: SpawnRequest) -> Receipt:
        try:
            result = self.tools.call("sessions_spawn", req.to_args())
        except ToolError as exc:  # thrown input errors are permanent; transport errors are not
            if exc.fatal:  # no spawn can succeed until a person fixes it: stop the run
                raise
            if exc.retryable and not getattr(exc, "unreachable", False):
                # the request may have been accepted before the answer was lost: adopt that run
                found = self.find_by_label(req.label)
                if found is not None:
                    log.debug("adopted run %s of an unanswered spawn %s", found.run_id, req.label)
                    return Receipt(found.run_id, found.session_key, found.model or req.model,
                                   {"status": "accepted", "runId": found.run_id, "adopted": True})
            kind = "transient" if exc.retryable else \
                ("backpressure" if classify_refusal("error", exc.message) == "backpressure" else "permanent")
            raise SpawnRefused(exc.message, kind) from exc
        status = result.get("status")
        run_id = result.get("runId")
        if status == "accepted" and isinstance(run_id, str) and run_id:
            session_key = result.get("childSessionKey") or result.get("sessionKey")
            model = result.get("resolvedModel") or req.model
            run = TrackedRun(run_id, session_key, req.label, req.collect, model,
                             int(req.run_timeout_seconds or 0))
            run.spawned_here = True
            self.table.add(run)
            return Receipt(run_id, session_key, model, result, collect=req.collect)
        error = str(result.get("error") or f"sessions_spawn returned status {status!r} without a runId")
        fix = privilege_fix(req.agent_id, req.sandbox, error)
        raise SpawnRefused(f"{error} ({fix})" if fix else error, classify_refusal(status, error),
                           raw=result)

    # -- wait -----------------------------------------------------------------------------
    def wait(self, run_ids, timeout_s: float) -> list[RunOutcome]:
        """Block until at least one run is terminal or `timeout_s` passes; return the finished.

        Outcomes already collected are returned again immediately (idempotent). Never busy-loops:
        every round either blocks in a wait tool or sleeps with back-off (0.05 s doubling to 2 s).
        """
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return []
        deadline = time.monotonic() + max(0.0, float(timeout_s))
        runs = self.table.track_all(ids)
        done = [r.outcome for r in runs if r.outcome is not None]
        if done:
            return done
        backoff = Backoff()
        while True:
            started = time.monotonic()
            collectors, plain = [], []
            can_wait = None  # asked at most once a round, and only when a collector is pending
            for r in runs:
                if r.outcome is not None:
                    continue
                if r.collect and not r.via_history:
                    if can_wait is None:
                        can_wait = self.tools.can("agents_wait")
                    if can_wait:
                        collectors.append(r)
                        continue
                plain.append(r)
            mixed = bool(collectors) and bool(plain)
            remaining = deadline - started
            if collectors:
                budget = min(remaining, backoff.delay) if mixed else remaining
                wait_collectors(self.tools, self.table, collectors, budget)
            if plain and not any(r.outcome for r in runs):
                remaining = deadline - time.monotonic()
                budget = min(remaining, backoff.delay) if mixed else remaining
                self.plain.wait(plain, max(0.0, budget), backoff)
            done = [r.outcome for r in runs if r.outcome is not None]
            now = time.monotonic()
            if done or now >= deadline:
                return done
            if mixed:
                backoff.next()
            elif now - started < 0.01:  # a round returned at once: never spin
                time.sleep(min(backoff.next(), max(0.0, deadline - now)))

    # -- runs this runtime did not spawn ----------------------------------------------------
    def adopt(self, run_id: str, *, collect: bool, session_key: str | None = None,
              label: str = "", run_timeout_s: int = 0, accepted_at: float | None = None) -> None:
        """Track a run this runtime did not spawn (resume re-attaching a journaled one): a
        collector is then read through agents_wait, as it was spawned, not through history.
        `accepted_at` (wall clock): how far back `subagents list` must reach to see it end."""
        run = self.table.track(run_id)
        run.collect = collect
        run.session_key = run.session_key or session_key
        run.label = run.label or label
        run.run_timeout_s = run.run_timeout_s or int(run_timeout_s or 0)
        if accepted_at is not None and not run.spawned_here:
            run.accepted_wall = float(accepted_at)

    def known_runs(self, runs: list[dict]) -> dict[str, bool | None]:
        """Whether the gateway still knows each of these journaled runs (`resume` asks before it
        re-attaches them), as {run_id: True | False | None}. Each run is a dict with run_id,
        collect, session_key and accepted_at (wall clock).

        False only where the gateway answered and has no such run: a collector that agents_wait
        calls not_found and that `subagents list` does not show either, or a plain run that the
        list, asked to reach back past its acceptance, does not show (or, beyond the list's 24
        hours, whose session sessions_history does not know). True: it is there (agents_wait
        knows it, or calls it not_owner; the list shows it). None: this runtime cannot tell (a
        tool missing or failing): the caller re-attaches it as before. A collector that
        agents_wait reports finished keeps that outcome, so the wait that follows returns it
        at once."""
        verdict: dict[str, bool | None] = {r["run_id"]: None for r in runs}
        known_collectors(self.tools, self.table, [r["run_id"] for r in runs if r.get("collect")],
                         verdict)
        rest = [r for r in runs if verdict[r["run_id"]] is None]
        if rest:
            self.plain.known(rest, verdict)
        return verdict

    def find_by_label(self, label: str, since: float | None = None) -> FoundRun | None:
        """The run that a spawn with this (unique) label started, if the gateway lists exactly
        one: how a spawn whose answer was lost (a crash, an HTTP timeout after the gateway
        accepted it) is adopted instead of spawned twice. `since` (wall clock): when the spawn
        was sent, so the list reaches back far enough to show it (resume, hours later)."""
        return self.plain.find_by_label(label, since)

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, run_id: str) -> bool:
        """Best-effort cancel through `subagents cancel`; False when the runtime cannot cancel."""
        if not self.tools.can("subagents"):
            return False
        run = self.table.track(run_id)
        if run.outcome is not None:
            return False
        return self.plain.cancel(run)
