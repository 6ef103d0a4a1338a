"""OpenClawRuntime: spawn / wait / collect / cancel sub-agent runs on top of any ToolCaller.

This is the one module that knows OpenClaw's sub-agent contract. Above it, runs are just
`Receipt`s and `RunOutcome`s; below it, a `ToolCaller` moves JSON.

Two collection paths, both kept (docs/DESIGN.md "OpenClaw facts"):
- collector: `sessions_spawn {collect:true, groupId, outputSchema?}` then `agents_wait` returns
  the full reply, the validated `structured` value and token usage. Collectors do not count
  against maxChildrenPerAgent (5) but against tools.swarm.maxChildrenPerGroup (50).
- history: a plain quiet run (`expectsCompletionMessage:false`); status from `subagents`
  (wait, else list polling), the reply from `sessions_history` (last assistant message).
`collection="auto"` uses the collector when the caller offers `agents_wait`, else history; in
auto mode a collector spawn refused for swarm reasons falls back to history once and stays there.

Contract facts relied on (OpenClaw 2026.9.6, node_modules/openclaw; "code" = dist/*.mjs):
- sessions_spawn args (code: sessions-spawn-tool-*.mjs createSessionsSpawnToolSchema): task,
  taskName, label, model, runTimeoutSeconds (int >= 0; 0 = none), cleanup "keep"|"delete",
  expectsCompletionMessage, collect, outputSchema, groupId, agentId (a configured OpenClaw agent
  the child runs as), sandbox "inherit"|"require" (both sent only when the agent definition sets
  them: definitions.py; their refusals: spawn_targets.py). `timeoutSeconds` is *thrown* as an
  input error; outputSchema/groupId without collect are thrown too. A collector spawned without
  groupId and without a requesting run id (HTTP/script) is refused: "sessions_spawn collect=true
  requires a requesting run id when groupId is omitted." - so we always send a groupId.
- Accepted receipt: {status:"accepted", runId, childSessionKey, sessionKey (collectors), mode,
  expectsCompletionMessage, context, taskName?, note, resolvedModel, resolvedProvider?,
  modelApplied}. Refusals: {status:"forbidden"|"error", error}. Texts used for classification:
  "sessions_spawn has reached max active children for this session (n/m; ...)" and
  "sessions_spawn reached tools.swarm.maxChildrenPerGroup (n/m)." (back-pressure, code:
  subagent-spawn-ownership-*.mjs resolveChildAdmission); 'sessions_spawn model "m" is not usable:
  <reason>' (permanent unless the reason says "Retry", code: resolveSubagentModelAndThinkingPlan;
  docs/tools/subagents/tool-reference.md wrongly says bad models are skipped with a warning);
  'Invalid taskName "x". ...', "... maxTotalPerGroup ...", depth/sandbox/agentId/swarm-disabled
  (permanent); "could not verify the selected model", "could not reserve swarm FIFO order",
  "Failed to register subagent run", "could not read the requester session" (transient).
- subagents actions are exactly list | wait | cancel (no "kill"; code: SubagentsToolSchema).
  wait and cancel take *task ids* (`taskIds` 1-32, `taskId`), not run ids; `list.tasks[]` rows
  carry taskId, status (queued|running|completed|failed|timed_out|cancelled|blocked), label and
  error but no runId, so a run is matched to its task row by its spawn label. `list.active[]` /
  `list.recent[]` views carry runId, sessionKey, status (queued|running|done|failed|timeout|
  killed, possibly suffixed " (waiting on N children)"), model, totalTokens. `wait` returns
  {reason: completed|attention|unavailable|timeout, tasks, completed, attention, unavailable?};
  timeoutSeconds is an integer 0-60. cancel -> {status:"cancelled"|"error", found, cancelled}.
- sessions_history {sessionKey, limit?} -> {messages, truncated, droppedMessages,
  contentTruncated, ...}. Text blocks over 4000 chars end with "\\n…(truncated)…"; a message over
  the 80 KB cap becomes "[sessions_history omitted: message too large]". `contentTruncated` is
  NOT a usable signal: the tool also sets it whenever it strips `usage`/`details`/`cost`, i.e. on
  virtually every assistant reply (code: sanitizeHistoryMessage). We detect truncation from the
  marker / placeholder / stopReason "length" on the reply itself. History carries no usage (it is
  stripped), so history-path usage is 0 (+ total_tokens from `subagents list` when known).
- agents_wait {ids (1-1000), timeoutSeconds (number, default 30, max 600)} -> {completed:[{runId,
  status: done|failed|killed|timeout, result, structured?, error?, schemaError?, sessionKey,
  label?, usage?:{inputTokens, outputTokens}}], pending, errors?:[{runId, error:
  not_found|not_owner}]}; returns as soon as one id is complete (code: agents-wait-tool-*.mjs).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from parallel_agents.openclaw.toolcaller import ToolCaller, ToolError

log = logging.getLogger(__name__)

__all__ = ["OpenClawRuntime", "SpawnRequest", "Receipt", "RunOutcome", "SpawnRefused",
           "classify_refusal", "privilege_fix", "collector_schema", "make_task_name",
           "TRUNCATION_MARKER"]

TRUNCATION_MARKER = "\n…(truncated)…"
OMITTED_PLACEHOLDER = "[sessions_history omitted: message too large]"
TASK_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_RESERVED_TASK_NAMES = {"all", "last"}
_LIST_STATUS = {"done": "ok", "failed": "error", "timeout": "timeout", "killed": "cancelled"}
_TASK_STATUS = {"completed": "ok", "failed": "error", "timed_out": "timeout",
                "cancelled": "cancelled", "blocked": "error"}
_COLLECTOR_STATUS = {"done": "ok", "failed": "error", "timeout": "timeout", "killed": "cancelled"}
_HISTORY_STOP = {"stop": "ok", "length": "ok", "end_turn": "ok", "error": "error",
                 "aborted": "cancelled"}
_HISTORY_ONLY_GRACE_S = 30.0
_LIST_DEFAULT_RECENT_MINUTES = 30  # subagents list shows runs ended this long ago unless told
_LIST_MAX_RECENT_MINUTES = 1440    # the most it shows (OpenClaw 2026.9.6 MAX_RECENT_MINUTES)
_LIST_CLOCK_SKEW_S = 120.0         # allowance for the gateway's clock when reaching back


# -- requests and results -------------------------------------------------------------------
@dataclass
class SpawnRequest:
    """One sessions_spawn call. `to_args()` gives its exact argument dict."""

    task: str
    label: str
    task_name: str
    model: str | None
    run_timeout_seconds: int
    output_schema: dict | None = None
    collect: bool = False
    group_id: str | None = None
    agent_id: str | None = None   # sessions_spawn agentId: the OpenClaw agent the child runs as
    sandbox: str | None = None    # sessions_spawn sandbox: "require" | "inherit"

    def to_args(self) -> dict:
        args: dict[str, Any] = {"task": self.task, "label": self.label}
        if self.task_name:
            args["taskName"] = self.task_name
        if self.model:
            args["model"] = self.model
        if self.agent_id:
            args["agentId"] = self.agent_id
        if self.sandbox:
            args["sandbox"] = self.sandbox
        args["runTimeoutSeconds"] = max(0, int(self.run_timeout_seconds))
        args["cleanup"] = "keep"  # "delete" archives the child before we read its history
        args["expectsCompletionMessage"] = False  # script mode: no announce to the requester
        if self.collect:
            args["collect"] = True
            if self.output_schema is not None:
                args["outputSchema"] = self.output_schema
            if self.group_id:
                args["groupId"] = self.group_id
        return args


@dataclass(frozen=True)
class Receipt:
    run_id: str
    session_key: str
    resolved_model: str | None
    raw: dict
    collect: bool = False   # a Swarm collector run (agents_wait reads it), else a plain run


@dataclass
class RunOutcome:
    run_id: str
    status: str  # "ok" | "error" | "timeout" | "cancelled"
    text: str | None = None
    structured: object | None = None
    truncated: bool = False
    usage: dict = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    model: str | None = None
    error: str | None = None


class SpawnRefused(Exception):
    """sessions_spawn did not accept the run. kind: "backpressure" | "transient" | "permanent"."""

    def __init__(self, message: str, kind: str, raw: dict | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.raw = raw

    @property
    def retryable(self) -> bool:
        return self.kind != "permanent"


_BACKPRESSURE = ("max active children", "maxchildrenperagent", "maxchildrenpergroup")
_PERMANENT = ("is not usable", "invalid taskname", "invalid agentid", "reserved subagent target",
              "maxtotalpergroup", "not allowed at this depth", "requires agentid",
              "requires explicit agentid", "tools.swarm.enabled", "requires collect=true",
              "requires mode=run", "requires a requesting run id", "does not support",
              "requires visible=true", "tool-capable", "sandbox", "not allowed", "cwd override",
              "invalid thinking level", "defaultagentid", "configured agent registry")
_TRANSIENT = ("retry", "could not verify", "could not reserve", "no longer current",
              "failed to register", "could not read the requester session", "failed to start",
              "temporarily", "timed out", "timeout", "unavailable", "econn", "gateway")


#: agents_wait cuts a collector's `result` text at 4096 characters, ending it with "…" (seen on
#: 2026.9.6); its `structured` value (an outputSchema run) comes back whole.
COLLECTOR_RESULT_MAX = 4096


def collector_schema(schema: dict | None, output_format: str) -> dict:
    """The outputSchema a collector spawn carries, so its answer comes back whole as `structured`:
    the agent's own schema for JSON (a plain object schema when it `$ref`s a document OpenClaw
    cannot resolve - our own validation still applies the real one), a string otherwise."""
    if output_format != "json" or not isinstance(schema, dict):
        return _STRING_SCHEMA
    hit = _REFS.get(id(schema))
    if hit is None or hit[0] is not schema:   # asked once per attempt: remember per schema
        hit = _REFS[id(schema)] = (schema, '"$ref"' in json.dumps(schema))
    return _OBJECT_SCHEMA if hit[1] else schema


_STRING_SCHEMA, _OBJECT_SCHEMA = {"type": "string"}, {"type": "object"}
_REFS: dict[int, tuple[dict, bool]] = {}


def classify_refusal(status: str | None, error: str) -> str:
    """Classify a sessions_spawn refusal from its status and OpenClaw's error text."""
    text = (error or "").lower()
    if any(p in text for p in _BACKPRESSURE):
        return "backpressure"
    if "retry" in text:
        return "transient"
    if any(p in text for p in _PERMANENT):
        return "permanent"
    if any(p in text for p in _TRANSIENT):
        return "transient"
    return "permanent" if status == "forbidden" else "transient"


def privilege_fix(agent_id: str | None, sandbox: str | None, error: str) -> str | None:
    """What to change when a spawn carrying a definition's agent_id / sandbox was refused for it
    (OpenClaw's texts: spawn_targets.py); None for any other refusal."""
    text = (error or "").lower()
    if sandbox == "require" and 'sandbox="require"' in text:
        who = f'agent "{agent_id}"' if agent_id else "the requesting agent"
        return (f"the agent definition sets sandbox: require; give {who} a sandbox in openclaw.json "
                '(sandbox.mode "all" or "non-main"), or remove sandbox from the definition')
    if agent_id and ("agentid" in text or "agent registry" in text):
        return (f'the agent definition sets agent_id: {agent_id}; add "{agent_id}" to agents.list '
                "in openclaw.json and to the requesting agent's subagents.allowAgents, or remove "
                "agent_id from the definition")
    return None


#: `subagents list` shows a run's label cut to 48 characters ("..." at the end; OpenClaw
#: 2026.9.6 subagent-list-*.mjs truncateLine(label, 48)); task rows keep it whole.
LIST_LABEL_MAX = 48


def attempt_label(task_id: str, number: int, run_id: str | None = None) -> str:
    """The label of a task's n-th attempt in a run: `<task_id>#<n>@<run>` (`run`: 6 hex digits
    of the run id's hash). Unique per attempt *and run* - the same task file run again soon
    after must not find, and adopt, the previous run's child when a spawn answer is lost - and
    short enough that `subagents list` shows it whole (a lost answer is adopted by finding this
    exact label there). A longer task id is cut and given 8 hex digits of its hash."""
    run = f"@{run_tag(run_id)}" if run_id else ""
    label = f"{task_id}#{number}{run}"
    if len(label) <= LIST_LABEL_MAX:
        return label
    suffix = f"~{_digest(task_id, 8)}#{number}{run}"
    return task_id[:LIST_LABEL_MAX - len(suffix)].rstrip() + suffix


def run_tag(run_id: str) -> str:
    """6 hex digits that stand for a run in its spawn labels (and host mode's prompt folder)."""
    return _digest(run_id, 6)


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def make_task_name(text: str, suffix: str = "") -> str:
    """A valid taskName (`[a-z][a-z0-9_-]{0,63}`, not "all"/"last") derived from any text."""
    base = re.sub(r"[^a-z0-9_-]+", "-", (text or "").lower()).strip("-_") or "task"
    if not base[0].isalpha():
        base = "t-" + base
    suffix = re.sub(r"[^a-z0-9_-]+", "-", suffix.lower())
    name = (base[: 64 - len(suffix)] + suffix)[:64]
    return "task-" + name[:59] if name in _RESERVED_TASK_NAMES else name


@dataclass(frozen=True)
class FoundRun:
    """A run found by its label (see OpenClawRuntime.find_by_label)."""

    run_id: str
    session_key: str | None
    model: str | None
    timeout: int | None
    accepted_at: float  # wall-clock seconds


# -- runtime --------------------------------------------------------------------------------
class _Run:
    __slots__ = ("run_id", "session_key", "label", "collect", "resolved_model", "spawned_at",
                 "run_timeout_s", "task_id", "outcome", "via_history", "total_tokens", "spawned_here",
                 "accepted_wall")

    def __init__(self, run_id: str, session_key: str | None = None, label: str = "",
                 collect: bool = False, resolved_model: str | None = None,
                 run_timeout_s: int = 0):
        self.run_id, self.session_key, self.label = run_id, session_key, label
        self.collect, self.resolved_model, self.run_timeout_s = collect, resolved_model, run_timeout_s
        self.spawned_at = time.monotonic()
        self.task_id: str | None = None
        self.outcome: RunOutcome | None = None
        self.via_history = False  # a collector we read through list/history instead
        self.total_tokens: int | None = None
        self.spawned_here = False  # spawned_at is the real spawn time (not a re-attach's)
        self.accepted_wall: float | None = None  # a re-attached run: when it was accepted (wall)


class _Backoff:
    def __init__(self, first: float = 0.05, cap: float = 2.0):
        self.delay, self.cap = first, cap

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.cap, self.delay * 2)
        return delay


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
        self.calls: Counter = Counter()
        self._lock = threading.RLock()
        self._runs: dict[str, _Run] = {}
        self._disabled: set[str] = set()  # tools that failed non-retryably; use fallbacks
        self._wait_action_ok = True
        self._no_wait_tasks: set[str] = set()
        self._auto_fallback = False

    # -- capabilities ---------------------------------------------------------------------
    def _can(self, tool: str) -> bool:
        return tool not in self._disabled and self.caller.has(tool)

    @property
    def collection_mode(self) -> str:
        """The collection path new spawns use: "collector" or "history"."""
        if self.collection != "auto":
            return self.collection
        collectors_ok = getattr(self.caller, "collector_runs_start", True)
        return "collector" if (collectors_ok and self._can("agents_wait")
                               and not self._auto_fallback) else "history"

    def missing_capabilities(self) -> list[str]:
        """What the caller lacks, and what that costs."""
        out = []
        if not self._can("sessions_spawn"):
            out.append("no sessions_spawn tool: cannot start sub-agents at all")
        if not self._can("subagents"):
            out.append("no subagents tool: cannot cancel timed-out runs; run status is inferred "
                       "by polling sessions_history, timeouts from local deadlines")
        if not self._can("sessions_history"):
            out.append("no sessions_history tool: replies of plain (non-collector) runs cannot be read")
        if not self._can("agents_wait"):
            out.append("no agents_wait tool: no collector mode - no structured output or token "
                       "usage, replies capped at 4000 chars per text block, at most "
                       "maxChildrenPerAgent (default 5) active children")
        if self.collection == "collector" and not self._can("agents_wait"):
            out.append("collection='collector' needs agents_wait: collector runs will be read "
                       "through subagents/sessions_history instead")
        return out

    # -- tool calls -----------------------------------------------------------------------
    def _call(self, tool: str, args: dict) -> dict:
        with self._lock:
            self.calls[tool] += 1
            if "action" in args:
                self.calls[f"{tool}.{args['action']}"] += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("call %s %s", tool, {k: v for k, v in args.items() if k != "task"})
        result = self.caller.call(tool, args)
        if not isinstance(result, dict):
            raise ToolError(f"returned {type(result).__name__}, expected an object", tool=tool)
        return result

    def _soft_call(self, tool: str, args: dict) -> dict | None:
        """Call a read tool; None on failure. A non-retryable failure disables the tool."""
        try:
            return self._call(tool, args)
        except ToolError as exc:
            if exc.fatal:  # bad token, unreachable gateway: nothing works until fixed
                raise
            if not exc.retryable:
                log.debug("disabling %s after %s", tool, exc)
                with self._lock:
                    self._disabled.add(tool)
            else:
                log.debug("%s failed (retryable): %s", tool, exc)
            return None

    def _track(self, run_id: str) -> _Run:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                run = self._runs[run_id] = _Run(run_id)
            return run

    # -- spawn ----------------------------------------------------------------------------
    def effective_request(self, req: SpawnRequest) -> SpawnRequest:
        """The request as this runtime will send it (collection mode and group id applied)."""
        if self.collection_mode == "collector":
            return replace(req, collect=True, group_id=req.group_id or self.group_id)
        return replace(req, collect=False, group_id=None)

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
                return self._spawn(replace(req, collect=False, group_id=None))
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
        return max(1, int(getattr(self.caller, "parallel_calls", 1) or 1))

    def spawn_many(self, reqs: list[SpawnRequest]) -> list:
        """`spawn` for each request, up to `spawn_concurrency` at a time. Returns, in the order
        given, each request's Receipt or the exception its spawn raised (nothing is lost when
        one of them fails: the others' receipts still come back)."""
        return self._map(self.spawn, reqs)

    def _map(self, fn, items: list) -> list:
        def one(item):
            try:
                return fn(item)
            except Exception as exc:  # handed back to the caller, who decides
                return exc
        width = min(self.spawn_concurrency, len(items))
        if width <= 1:
            return [one(item) for item in items]
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="openclaw-call") as pool:
            return list(pool.map(one, items))

    def _spawn(self, req: SpawnRequest) -> Receipt:
        try:
            result = self._call("sessions_spawn", req.to_args())
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
            with self._lock:
                run = self._runs[run_id] = _Run(run_id, session_key, req.label, req.collect, model,
                                                int(req.run_timeout_seconds or 0))
                run.spawned_here = True
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
        with self._lock:  # _track for every id, under one acquisition
            known = self._runs
            runs = [known.get(r) or known.setdefault(r, _Run(r)) for r in ids]
        done = [r.outcome for r in runs if r.outcome is not None]
        if done:
            return done
        backoff = _Backoff()
        while True:
            started = time.monotonic()
            collectors, plain = [], []
            can_wait = None  # asked at most once a round, and only when a collector is pending
            for r in runs:
                if r.outcome is not None:
                    continue
                if r.collect and not r.via_history:
                    if can_wait is None:
                        can_wait = self._can("agents_wait")
                    if can_wait:
                        collectors.append(r)
                        continue
                plain.append(r)
            mixed = bool(collectors) and bool(plain)
            remaining = deadline - started
            if collectors:
                budget = min(remaining, backoff.delay) if mixed else remaining
                self._wait_collectors(collectors, budget)
            if plain and not any(r.outcome for r in runs):
                remaining = deadline - time.monotonic()
                budget = min(remaining, backoff.delay) if mixed else remaining
                self._wait_plain(plain, max(0.0, budget), backoff)
            done = [r.outcome for r in runs if r.outcome is not None]
            now = time.monotonic()
            if done or now >= deadline:
                return done
            if mixed:
                backoff.next()
            elif now - started < 0.01:  # a round returned at once: never spin
                time.sleep(min(backoff.next(), max(0.0, deadline - now)))

    def _finish(self, run: _Run, outcome: RunOutcome) -> None:
        with self._lock:
            if run.outcome is None:
                run.outcome = outcome

    def _wait_collectors(self, runs: list[_Run], budget: float) -> None:
        by_id = {r.run_id: r for r in runs}
        result = self._soft_call("agents_wait", {"ids": list(by_id)[:1000],
                                                 "timeoutSeconds": round(max(0.0, budget), 3)})
        if result is None:
            return
        for item in result.get("completed") or []:
            run = by_id.get(item.get("runId"))
            if run is not None:
                self._finish(run, self._collector_outcome(run, item))
        for err in result.get("errors") or []:
            run = by_id.get(err.get("runId"))
            if run is not None:  # not_found / not_owner: read it like a plain run instead
                log.debug("agents_wait %s for %s; reading it through subagents/history",
                          err.get("error"), run.run_id)
                run.via_history = True

    def _collector_outcome(self, run: _Run, item: dict) -> RunOutcome:
        status = _COLLECTOR_STATUS.get(item.get("status"), "error")
        usage = item.get("usage") or {}
        result = item.get("result")
        if item.get("schemaError") and not (item.get("error") or "").strip() and status == "error":
            # the run finished; its answer missed the schema even after OpenClaw's nudge: an
            # invalid reply (our own validation names what is wrong, and the re-ask says so)
            status = "ok"
        error = None
        if status != "ok":
            error = (item.get("error") or "").strip() or item.get("schemaError") or \
                (result or "").strip() or f"run {item.get('status')}"
        cut = (item.get("structured") is None and isinstance(result, str)
               and len(result) >= COLLECTOR_RESULT_MAX and result.endswith("…"))
        return RunOutcome(run.run_id, status,
                          text=result if status == "ok" else (result or None),
                          structured=item.get("structured"), truncated=cut,
                          usage={"input_tokens": int(usage.get("inputTokens") or 0),
                                 "output_tokens": int(usage.get("outputTokens") or 0)},
                          model=run.resolved_model, error=error)

    def adopt(self, run_id: str, *, collect: bool, session_key: str | None = None,
              label: str = "", run_timeout_s: int = 0, accepted_at: float | None = None) -> None:
        """Track a run this runtime did not spawn (resume re-attaching a journaled one): a
        collector is then read through agents_wait, as it was spawned, not through history.
        `accepted_at` (wall clock): how far back `subagents list` must reach to see it end."""
        run = self._track(run_id)
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
        collectors = [r for r in runs if r.get("collect")]
        if collectors and self._can("agents_wait"):
            result = self._soft_call("agents_wait", {"ids": [r["run_id"] for r in collectors][:1000],
                                                     "timeoutSeconds": 0})
            if result is not None:
                for item in result.get("completed") or []:
                    if item.get("runId") in verdict:
                        verdict[item["runId"]] = True
                        run = self._track(item["runId"])
                        run.collect = True
                        self._finish(run, self._collector_outcome(run, item))
                for run_id in result.get("pending") or []:
                    if run_id in verdict:
                        verdict[run_id] = True
                for err in result.get("errors") or []:
                    if err.get("runId") in verdict and err.get("error") == "not_owner":
                        verdict[err["runId"]] = True
        rest = [r for r in runs if verdict[r["run_id"]] is None]
        if not rest:
            return verdict
        now = time.time()
        accepted = [float(r.get("accepted_at") or now) for r in rest]
        minutes = _minutes_since(min(accepted))
        snapshot = None
        if self._can("subagents"):
            snapshot = self._soft_call("subagents", {"action": "list", "recentMinutes": minutes})
            if snapshot is not None and snapshot.get("status") not in (None, "ok"):
                snapshot = None
        if snapshot is not None:
            listed = {v.get("runId") for v in (snapshot.get("active") or []) + (snapshot.get("recent") or [])
                      if isinstance(v, dict)}
            for r, at in zip(rest, accepted):
                if r["run_id"] in listed:
                    verdict[r["run_id"]] = True
                elif now - at + _LIST_CLOCK_SKEW_S <= minutes * 60:
                    verdict[r["run_id"]] = False  # accepted within the window: it would be listed
        for r in rest:
            if verdict[r["run_id"]] is None and r.get("session_key") and self._can("sessions_history"):
                history = self._soft_call("sessions_history", {"sessionKey": r["session_key"], "limit": 1})
                if history is not None and history.get("status") == "error" and \
                        str(history.get("error") or "").lower().startswith("no session found"):
                    verdict[r["run_id"]] = False
        return verdict

    # -- plain runs: status from subagents, reply from sessions_history -------------------
    def find_by_label(self, label: str, since: float | None = None) -> "FoundRun | None":
        """The run that a spawn with this (unique) label started, if the gateway lists exactly
        one: how a spawn whose answer was lost (a crash, an HTTP timeout after the gateway
        accepted it) is adopted instead of spawned twice. `since` (wall clock): when the spawn
        was sent, so the list reaches back far enough to show it (resume, hours later)."""
        snapshot = self._list(reach_back=since)
        if snapshot is None:
            return None
        views = [v for v in (snapshot.get("active") or []) + (snapshot.get("recent") or [])
                 if isinstance(v, dict) and (v.get("label") or "").strip() == label.strip()]
        if len({v.get("runId") for v in views}) != 1 or not views[0].get("runId"):
            return None
        view = views[0]
        run = self._track(view["runId"])
        run.label = label
        run.session_key = run.session_key or view.get("sessionKey")
        run.resolved_model = run.resolved_model or view.get("model")
        started = view.get("startedAt")
        accepted_at = started / 1000 if isinstance(started, (int, float)) and started > 1e11 else time.time()
        return FoundRun(run.run_id, run.session_key, run.resolved_model, None, accepted_at)

    def _list(self, runs: list[_Run] = (), reach_back: float | None = None) -> dict | None:
        """`subagents list`; with `runs` that this runtime spawned, only as far back as needed to
        see them end (`recentMinutes`): a long session's older runs are not sent every round.
        Runs re-attached, or `reach_back` (a wall-clock time), more than the default 30 minutes
        ago make it reach back that far (at most the 24 hours OpenClaw shows)."""
        args = {"action": "list"}
        if reach_back is not None:
            minutes = _minutes_since(reach_back)
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
            minutes = _minutes_since(min(walls)) if walls else 0
            if minutes > _LIST_DEFAULT_RECENT_MINUTES:
                args["recentMinutes"] = minutes
        result = self._soft_call("subagents", args)
        if result is None or result.get("status") not in (None, "ok"):
            return None
        return result

    def _absorb_list(self, runs: list[_Run], snapshot: dict) -> list[tuple[_Run, str, str | None]]:
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

    def _match_task(self, run: _Run, rows: list[dict]) -> None:
        if run.task_id or not run.label:
            return
        with self._lock:
            taken = {r.task_id for r in self._runs.values() if r.task_id}
        label = run.label.strip()  # OpenClaw stores the trimmed label on the task row
        candidates = [t.get("taskId") for t in rows
                      if t.get("label") == label and t.get("taskId") not in taken]
        if len(candidates) == 1:
            run.task_id = candidates[0]

    def _wait_plain(self, runs: list[_Run], budget: float, backoff: _Backoff) -> None:
        if not self._can("subagents"):
            self._poll_history_only(runs, budget, backoff)
            return
        need_list = any(r.task_id is None or r.session_key is None for r in runs)
        if need_list:
            snapshot = self._list(runs)
            if snapshot is None:
                if not self._can("subagents"):
                    self._poll_history_only(runs, budget, backoff)
                return
            finished = self._absorb_list(runs, snapshot)
            if finished:
                self._collect_plain(finished)
                return
        # subagents wait blocks on task ids (1-32, whole seconds); only use it when it covers
        # every pending run, else a run it cannot see would finish unnoticed until it returns
        waitable = [r for r in runs if r.task_id and r.task_id not in self._no_wait_tasks]
        if self._wait_action_ok and len(waitable) == len(runs) <= 32 and budget >= 1:
            self._subagents_wait(waitable, budget)
            return
        time.sleep(min(backoff.next(), budget))
        snapshot = self._list(runs)
        if snapshot is not None:
            finished = self._absorb_list(runs, snapshot)
            if finished:
                self._collect_plain(finished)

    def _subagents_wait(self, waitable: list[_Run], budget: float) -> None:
        by_task = {r.task_id: r for r in waitable}
        args = {"action": "wait", "taskIds": list(by_task), "timeoutSeconds": int(min(60, budget))}
        try:
            result = self._call("subagents", args)
        except ToolError as exc:
            if exc.fatal:
                raise
            if not exc.retryable:
                log.debug("subagents wait unusable (%s); polling subagents list", exc)
                self._wait_action_ok = False
            return
        if result.get("status") != "ok" or "reason" not in result:
            log.debug("subagents wait unsupported (%s); polling subagents list", result.get("error"))
            self._wait_action_ok = False
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
            self._no_wait_tasks.update(list(result.get("attention") or []) +
                                       list(result.get("unavailable") or []))
        if finished:
            self._collect_plain(finished)

    def _collect_plain(self, finished: list[tuple[_Run, str, str | None]]) -> None:
        def read(item):
            run, status, _ = item
            if status in ("ok", "error") and run.session_key and self._can("sessions_history"):
                return _read_reply(self._soft_call("sessions_history",
                                                   {"sessionKey": run.session_key, "limit": 20}))
            return None, False, None, None, None
        replies = self._map(read, finished)  # several transcripts at once where the caller allows
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        for (run, status, error), reply in zip(finished, replies):
            text, truncated, model, reply_error, _ = reply
            if status == "ok" and text is None:
                reason = ("no sessions_history tool" if not self._can("sessions_history")
                          else "no assistant reply in sessions_history")
                status, error = "error", reply_error or f"run finished but its reply cannot be read: {reason}"
            if status != "ok" and not error:
                error = reply_error or {"timeout": f"run timed out (runTimeoutSeconds={run.run_timeout_s})",
                                        "cancelled": "run cancelled"}.get(status, "run failed")
            usage = {"input_tokens": 0, "output_tokens": 0}
            if run.total_tokens is not None:
                usage["total_tokens"] = run.total_tokens
            self._finish(run, RunOutcome(run.run_id, status, text=text if status == "ok" else None,
                                         truncated=truncated, usage=usage,
                                         model=model or run.resolved_model, error=error))

    def _poll_history_only(self, runs: list[_Run], budget: float, backoff: _Backoff) -> None:
        """No subagents tool: infer the end of a run from its transcript, time out locally."""
        if not self._can("sessions_history"):
            for run in runs:
                self._finish(run, RunOutcome(run.run_id, "error", model=run.resolved_model,
                                             error="cannot observe the run: the runtime offers "
                                                   "neither subagents nor sessions_history"))
            return
        end = time.monotonic() + budget
        while True:
            for run in runs:
                if run.outcome is not None or not run.session_key:
                    continue
                history = self._soft_call("sessions_history", {"sessionKey": run.session_key, "limit": 20})
                text, truncated, model, reply_error, stop = _read_reply(history)
                status = _HISTORY_STOP.get(stop or "")
                if status == "cancelled" and "timed out" in (reply_error or ""):
                    status = "timeout"  # a real gateway ends a timed-out run with "aborted"
                if status:
                    self._finish(run, RunOutcome(run.run_id, status, text=text if status == "ok" else None,
                                                 truncated=truncated, model=model or run.resolved_model,
                                                 error=None if status == "ok" else (reply_error or stop)))
                elif run.run_timeout_s and time.monotonic() > (run.spawned_at + run.run_timeout_s
                                                               + _HISTORY_ONLY_GRACE_S):
                    self._finish(run, RunOutcome(run.run_id, "timeout", model=run.resolved_model,
                                                 error="no reply before runTimeoutSeconds (+30 s grace); "
                                                       "no subagents tool to confirm or cancel"))
            if any(r.outcome for r in runs) or not self._can("sessions_history"):
                return
            now = time.monotonic()
            if now >= end:
                return
            time.sleep(min(backoff.next(), end - now))

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, run_id: str) -> bool:
        """Best-effort cancel through `subagents cancel`; False when the runtime cannot cancel."""
        if not self._can("subagents"):
            return False
        run = self._track(run_id)
        if run.outcome is not None:
            return False
        if run.task_id is None:
            snapshot = self._list()
            if snapshot is None:
                return False
            self._absorb_list([run], snapshot)
            if run.task_id is None:
                log.debug("cannot cancel %s: no unique task row for label %r", run_id, run.label)
                return False
        result = self._soft_call("subagents", {"action": "cancel", "taskId": run.task_id})
        return bool(result) and (result.get("status") == "cancelled" or result.get("cancelled") is True)


def _minutes_since(wall: float) -> int:
    """`recentMinutes` that shows a run accepted at `wall` (our clock; the gateway's may differ
    a little), at most what OpenClaw shows."""
    age = time.time() - wall + _LIST_CLOCK_SKEW_S
    return int(min(_LIST_MAX_RECENT_MINUTES, max(1, math.ceil(age / 60) + 1)))


# -- sessions_history parsing ---------------------------------------------------------------
def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b["text"] for b in content
                         if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))
    return message.get("text") if isinstance(message.get("text"), str) else ""


def _read_reply(history: dict | None):
    """(text, truncated, model, error, stopReason) of the last assistant message, or Nones."""
    if not history or history.get("status") in ("error", "forbidden"):
        return None, False, None, (history or {}).get("error"), None
    messages = [m for m in history.get("messages") or [] if isinstance(m, dict)]
    latest = text_message = None
    for message in reversed(messages):
        if message.get("role") == "user":
            break  # the reply must come after the task message
        if message.get("role") == "assistant":
            latest = latest or message
            if _message_text(message).strip():
                text_message = message
                break
    if latest is None:
        return None, False, None, None, None
    stop = latest.get("stopReason")
    text = _message_text(text_message) if text_message is not None else ""
    error = latest.get("errorMessage")
    if stop == "error" and not error:
        # a live gateway reports a failed model call as the reply's text, e.g.
        # "⚠️ LLM request failed (request format rejected, HTTP 400)." - an error, never an answer
        return None, False, _model_of(latest), (_message_text(latest).strip() or "run failed"), stop
    if text == OMITTED_PLACEHOLDER:
        return None, True, _model_of(latest), "reply omitted by sessions_history (over 80 KB)", stop or "stop"
    truncated = TRUNCATION_MARKER in text or stop == "length"
    return (text if text.strip() else None), truncated, _model_of(latest), error, stop


def _model_of(message: dict) -> str | None:
    model, provider = message.get("model"), message.get("provider")
    if not isinstance(model, str) or not model:
        return None
    return f"{provider}/{model}" if isinstance(provider, str) and provider and \
        not model.startswith(provider + "/") else model

