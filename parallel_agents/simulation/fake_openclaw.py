"""FakeOpenClaw: an in-process contract double of the OpenClaw 2026.9 gateway tool surface.

It is not a mock of our code: it answers `sessions_spawn`, `subagents` (list / wait / cancel),
`sessions_history` and `agents_wait` with the same keys, statuses and error texts as OpenClaw
2026.9.6, so code that works against it works against a real gateway (the integration tests
check the same contract there). Use it as a ToolCaller (`call`, `has`) or behind the
`tools` module shim (tests/shim/tools.py).

Time is real (`time.monotonic`) but there are no threads: state is computed lazily on every
call. A run accepted at t starts when a lane slot frees (FIFO), finishes at start + latency, or
times out at start + runTimeoutSeconds. Waiting tools sleep exactly until the next run ends or
their timeout, whichever is first (a Condition, so a cancel from another thread wakes them).

Knobs beyond OpenClaw's own limits: `tools` (which tools exist, to play degraded runtimes),
`models` (allowed model refs; None = any), `swarm_enabled=False` (tools.swarm disabled: swarm
parameters are thrown), `requester_run_id` (set it to play an in-agent caller, where collectors
may omit groupId), `run_timeout_unit_s` (wall seconds per runTimeoutSeconds unit, so tests can
check timeouts in milliseconds while OpenClaw's integer-seconds contract stays intact),
`agents` / `allow_agents` / `sandboxed_agents` / `require_agent_id` (the configured OpenClaw
agents, the requester's subagents.allowAgents, the agents whose sub-agent sessions run
sandboxed, and subagents.requireAgentId: who a spawn's `agentId` may name, below),
`collector_runs_start` (True: collectors run, as for tools injected into an agent's process;
False plays a gateway reached over HTTP - tests/fake_gateway.py - where OpenClaw 2026.9.6
accepts collector runs but never starts them: they list as queued, execution "queued",
runtime "n/a", and agents_wait keeps them pending until they are cancelled).

Behaviour is scripted by `responder(view: SpawnView) -> Reply`. The default,
`directive_responder`, reads one directive line in the task text:

    SIM {"latency": 0.05, "reply": {"ok": true}}

keys (all optional; unknown keys are ignored):
    latency      seconds from run start to its end (default 0.01)
    reply        the child's final text; an object/array is sent as JSON (default "OK")
    fail         the run fails with this error text
    hang         true: the run never answers (ends only by runTimeoutSeconds or cancel)
    spawn_error  sessions_spawn refuses with {"status": "error", "error": <text>}
    fail_first   N: fail/hang/spawn_error apply only to attempts 1..N of this label
                 (alone, it means "fail with 'simulated failure' the first N times")
    replies      [first, second, ...]: the reply of attempt n is replies[min(n, len) - 1]
    key          count attempts per this key instead of per label (a host-mode re-ask or a
                 new tier has a new label)
A task that points at a prompt file (host mode) is read as a child would: the directive is
looked up in the file (child_reads).
    by_model     {"<model ref or its last segment>": {same keys}} overrides for that model
The same language will steer a scripted model server behind a real gateway, so it stays small
and model-agnostic.

Contract facts mirrored here (OpenClaw 2026.9.6, node_modules/openclaw/dist unless noted):
- sessions_spawn (sessions-spawn-tool-*.mjs): input errors are thrown (ToolInputError ->
  ToolError here): `sessions_spawn does not support "timeoutSeconds". Use "runTimeoutSeconds" for
  a per-run timeout.`, `sessions_spawn "outputSchema" requires collect=true.`, `sessions_spawn
  "groupId" requires collect=true.`, `task required`. Bad taskName is a *result*:
  `{status:"error", error:'Invalid taskName "X". Use 1-64 chars matching [a-z][a-z0-9_-]*.'}`
  (regex `^[a-z][a-z0-9_-]{0,63}$`, reserved "all"/"last").
  Admission (subagent-spawn-ownership-*.mjs resolveChildAdmission): `{status:"forbidden", error:
  "sessions_spawn has reached max active children for this session (5/5;
  agents.defaults.subagents.maxChildrenPerAgent)."}`; collectors do not count there but against
  `sessions_spawn reached tools.swarm.maxChildrenPerGroup (50/50).` and
  `... tools.swarm.maxTotalPerGroup (200/200).` A collector without groupId and without a
  requesting run id (HTTP / script callers) gets `{status:"error", error:"sessions_spawn
  collect=true requires a requesting run id when groupId is omitted."}`.
  Bad model: `{status:"error", error:'sessions_spawn model "m" is not usable: model not allowed:
  m'}` (docs claim invalid models are skipped with a warning; the code refuses).
  Least privilege (spawn_targets.py has the rules and their sources; seen the same on a live
  gateway): an `agentId` not matching `[a-z0-9][a-z0-9_-]{0,63}` is `{status:"error", error:
  'Invalid agentId "X". Agent IDs must match [a-z0-9][a-z0-9_-]{0,63}.'}`; after the
  max-children admission, one the requester may not target is "forbidden" (`agentId is not
  allowed for sessions_spawn (allowed: a, b)` or `agentId "X" is not in the configured agent
  registry (allowed: ...)`), and so is a spawn without agentId under requireAgentId ("sessions_spawn
  requires explicit agentId when requireAgentId is configured. Provide an allowed configured
  agentId."). `sandbox` "require" for a child whose agent is not sandboxed is "forbidden" with
  spawn_targets.SANDBOX_REQUIRED_ERROR; any value but "require" is taken as "inherit" (not
  refused). Then comes the model check. The child's session key names the agent it runs as:
  `agent:<agentId>:subagent:<uuid>`.
  Accepted: `{status:"accepted", childSessionKey:"agent:<id>:subagent:<uuid>", sessionKey
  (collectors only), runId, mode:"run", expectsCompletionMessage, context:"isolated", taskName?,
  note, resolvedModel, resolvedProvider?, modelApplied:true}`.
- agents_list (openclaw-tools-*.mjs createAgentsListTool; no arguments) -> `{requester,
  allowAny, agents: [{id, name?, configured, model, agentRuntime: {id, source}}]}`: the agents
  the requester may target, itself first when it may. Not in the "coding" tool profile, so a
  stock gateway offers it neither over HTTP nor through an attach grant (tools.alsoAllow:
  ["agents_list"] does); here it is offered when `tools` names it.
- Lanes: children run on the `subagent` lane, `agents.defaults.subagents.maxConcurrent` default 8
  (docs/tools/subagents/operations.md); collectors also queue FIFO per swarm group at
  `tools.swarm.maxConcurrent` default 8 (docs/tools/swarm.md). Queued runs are accepted, not
  refused. A plain run waiting for a lane slot lists as "running": registerSubagentRun
  (subagent-registry-*.mjs) gives only collectors a "queued" execution status. Use
  `FakeOpenClaw.runs()` to see real start times. runTimeoutSeconds counts from the run's actual
  start, like the agent run's own timeout (the registry's hard deadline uses an observed start
  when it has one, else the registration time).
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
- sessions_history (openclaw-tools-*.mjs createSessionsHistoryTool): `{sessionKey, messages,
  truncated, droppedMessages, contentTruncated, contentRedacted, bytes, pendingInputs:{items,
  total}}`. The task message is a pending input (`{id, state: queued|cancelled, acceptedAt,
  message:{role:"user", content}}`, its text capped at ~1/8 of 4096 bytes) until the run takes
  it (here: when it starts); then it is the first message, `{role:"user", content: "[Subagent
  Context] You are running as a subagent (depth 1/5). ...\n\n[Subagent Task]\n\n<task>\n\n
  Begin. Execute the assigned task to completion.", timestamp, idempotencyKey:"<runId>:user",
  __openclaw}` (content a plain string). The reply: `{role:"assistant", content:[{type:"text",
  text}], api, provider, model, stopReason:"stop", timestamp, responseId, __openclaw}`; a failed
  run's reply has stopReason "error", no errorMessage and the text "⚠️ LLM request failed
  (request format rejected, HTTP 400)." with idempotencyKey "<runId>:terminal-error" instead of
  responseId (what the gateway records when the model answers HTTP 400). Text blocks over 4000
  chars become `text[:4000] + "\\n…(truncated)…"`; messages are capped at 81920 JSON bytes
  (oldest dropped; a lone oversize message becomes `[sessions_history omitted: message too
  large]`). Stripping `usage`/`details`/`cost` also sets contentTruncated, so it is true for
  nearly every assistant reply - we mirror that quirk. Unknown key: `{status:"error", error:
  "No session found: K"}`.
- agents_wait (agents-wait-tool-*.mjs): `{ids (1-1000), timeoutSeconds (number, default 30,
  clamped to tools.swarm.waitTimeoutSecondsMax 600)}` -> `{completed:[{runId, status:
  done|failed|killed|timeout, result, structured?, error?, schemaError?, sessionKey, label?,
  usage?:{inputTokens, outputTokens}}], pending:[runId], errors?:[{runId, error:
  not_found|not_owner}], success?:false}`; returns when any id is complete, none is pending, or
  the timeout passes. Non-collector ids are `not_found`. A schema miss turns "done" into
  "failed" with schemaError "structured_output was not called".
"""
from __future__ import annotations

import heapq
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from parallel_agents.openclaw.spawn_targets import (AGENT_ID_RE, SANDBOX_REQUIRED_ERROR, allowed_targets,
                                           normalize_agent_id, target_error)
from parallel_agents.openclaw.toolcaller import ToolError

__all__ = ["FakeOpenClaw", "Reply", "SpawnView", "directive_responder", "parse_directive",
           "ALL_TOOLS", "AGENTS_LIST", "TRUNCATION_MARKER",
           "HISTORY_TEXT_MAX_CHARS"]

ALL_TOOLS = ("sessions_spawn", "subagents", "sessions_history", "agents_wait")
AGENTS_LIST = "agents_list"  # not offered by default (a stock gateway's "coding" profile lacks it)
REQUIRE_AGENT_ID_ERROR = ("sessions_spawn requires explicit agentId when requireAgentId is "
                          "configured. Provide an allowed configured agentId.")
HISTORY_TEXT_MAX_CHARS = 4000
HISTORY_MAX_BYTES = 81920
TRUNCATION_MARKER = "\n…(truncated)…"
OMITTED_PLACEHOLDER = "[sessions_history omitted: message too large]"
TASK_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
RESERVED_TASK_NAMES = {"all", "last"}
UNSUPPORTED_SPAWN_KEYS = ("target", "transport", "channel", "to", "threadId", "thread_id",
                          "replyTo", "reply_to")
COMPLETION_NOTES = {
    "collector": "Collector run: no completion notification is sent. The requester must explicitly "
                 "collect this run's result with the available collector wait capability, using "
                 "its run id.",
    "quiet": "Quiet run: no completion notification is sent. Do not wait for an announcement.",
    "announce": "The final reply returns to the requester as a completion event. Continue any "
                "independent work. Wait for completion events for ALL required children before "
                "your final answer; never busy-poll. If a completion arrives after your final "
                "answer, reply ONLY with NO_REPLY.",
}
# The child's task message (sessions-spawn-tool-*.mjs buildSubagentTaskMessage; depth 1 of the
# default maxSpawnDepth 5): a plain string, as sessions_history shows it.
SUBAGENT_TASK_MESSAGE = ("[Subagent Context] You are running as a subagent (depth 1/5). Complete the "
                         "current [Subagent Task]; inherited conversation is background context, not "
                         "your assignment.\n\n[Subagent Task]\n\n{task}\n\nBegin. Execute the "
                         "assigned task to completion.")
# A failed run's last assistant message: what the live gateway records when the model answers
# HTTP 400 (the scripted model server's `fail`). The scripted error text itself shows in the task
# row's `error` and the collector item's `error` instead.
FAILED_REPLY_TEXT = "⚠️ LLM request failed (request format rejected, HTTP 400)."
CANCELLED_ERROR = "Cancelled by operator."
PENDING_INPUTS_MAX_BYTES = 4096
PROGRESS_SUMMARY_MAX_CHARS = 4096
_TERMINAL = ("done", "failed", "timeout", "killed")
_TASK_STATUS = {"queued": "queued", "running": "running", "done": "completed", "failed": "failed",
                "timeout": "timed_out", "killed": "cancelled"}
_COLLECTOR_STATUS = {"done": "done", "failed": "failed", "timeout": "timeout", "killed": "killed"}


@dataclass
class Reply:
    """What a scripted child does. `spawn_error` refuses at spawn; `hang` never answers."""

    text: str = ""
    latency_s: float = 0.01
    usage: dict | None = None  # {"input_tokens": n, "output_tokens": m}
    fail: str | None = None
    hang: bool = False
    spawn_error: str | None = None


@dataclass(frozen=True)
class SpawnView:
    """What the responder sees of one sessions_spawn call."""

    task: str
    model: str  # the resolved model ref
    label: str
    task_name: str | None
    attempt: int  # 1-based count of spawns with this label, this one included
    collect: bool = False
    output_schema: dict | None = None
    agent_id: str = "main"  # the agent the child runs as (agentId, else the requester)


_DIRECTIVE_RE = re.compile(r"^[ \t>]*SIM[ \t]+(\{.*\})[ \t]*$", re.MULTILINE)


def parse_directive(task: str) -> dict | None:
    """The `SIM {json}` directive in a task text, or None. Raises ValueError on bad JSON."""
    match = _DIRECTIVE_RE.search(task or "")
    if not match:
        return None
    value = json.loads(match.group(1))
    if not isinstance(value, dict):
        raise ValueError("SIM directive must be a JSON object")
    return value


_PROMPT_FILE_RE = re.compile(r"(/\S+\.md)\b")


def child_reads(task: str) -> str:
    """The task as a child sees it once it has done what it says: a task that points at a prompt
    file (host mode's `prompts: file`, hostmode.py) is followed by that file's text, which a real
    child reads with its `read` tool (the scripted model server's children do the same)."""
    if _DIRECTIVE_RE.search(task or ""):
        return task
    match = _PROMPT_FILE_RE.search(task or "")
    if match:
        try:
            return f"{task}\n\n{Path(match.group(1)).read_text(encoding='utf-8')}"
        except OSError:
            pass
    return task


_ANSWER_FILE_RE = re.compile(r"to the file (/\S+) with your write tool")


def _deliver_as_asked(task: str, reply: "Reply") -> "Reply":
    """A child asked to write its answer to a file (host mode's prompt files) does so with its
    write tool and replies DONE, as the scripted model server's children do on a live gateway."""
    match = _ANSWER_FILE_RE.search(task or "")
    if not match or reply.fail or reply.hang or reply.spawn_error or reply.text is None:
        return reply
    try:
        Path(match.group(1)).write_text(reply.text, encoding="utf-8")
    except OSError:
        return reply        # cannot write files: answer in the reply, as the prompt allows
    return Reply(text="DONE", latency_s=reply.latency_s, usage=reply.usage)


def _attempt_key(task: str) -> str | None:
    """The directive's `key`: attempts are counted per key when given (a re-ask or a new tier
    has a new label and a new task text), else per label."""
    try:
        spec = parse_directive(task)
    except ValueError:
        return None
    return str(spec["key"]) if spec and spec.get("key") is not None else None


def _model_override(by_model: dict, model: str) -> dict:
    if not isinstance(by_model, dict):
        return {}
    if model in by_model:
        return by_model[model] or {}
    tail = model.rsplit("/", 1)[-1]
    for key, value in by_model.items():
        if key.rsplit("/", 1)[-1] == tail:
            return value or {}
    return {}


def directive_responder(view: SpawnView) -> Reply:
    """Script the child from the `SIM {...}` line in its task text (see the module docstring)."""
    try:
        spec = parse_directive(view.task) or {}
    except ValueError as exc:
        return Reply(spawn_error=f"SIM directive is not valid JSON: {exc}")
    spec = {**spec, **_model_override(spec.get("by_model"), view.model)}
    reply = spec.get("reply", "OK")
    if isinstance(spec.get("replies"), list) and spec["replies"]:
        reply = spec["replies"][min(view.attempt, len(spec["replies"])) - 1]
    text = reply if isinstance(reply, str) else json.dumps(reply)
    fail, hang, spawn_error = spec.get("fail"), bool(spec.get("hang")), spec.get("spawn_error")
    fail_first = spec.get("fail_first")
    if fail_first is not None:
        if not (fail or hang or spawn_error):
            fail = "simulated failure"
        if view.attempt > int(fail_first):
            fail, hang, spawn_error = None, False, None
    return Reply(text=text, latency_s=float(spec.get("latency", 0.01)), fail=fail, hang=hang,
                 spawn_error=spawn_error)


class _Run:
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


def _json_bytes(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


class FakeOpenClaw:
    """A contract double of the OpenClaw gateway's sub-agent tools. See the module docstring."""

    def __init__(self, responder: Callable[[SpawnView], Reply] | None = None, *,
                 max_children: int = 5, lane_max_concurrent: int = 8,
                 swarm_max_concurrent: int = 8, max_children_per_group: int = 50,
                 max_total_per_group: int = 200, wait_timeout_seconds_max: float = 600,
                 models: Iterable[str] | None = None, default_model: str = "fake/default",
                 agent_id: str = "main", tools: Iterable[str] = ALL_TOOLS,
                 requester_run_id: str | None = None, swarm_enabled: bool = True,
                 run_timeout_unit_s: float = 1.0, collector_runs_start: bool = True,
                 validate_structured: bool = True, agents: Iterable[str] | None = None,
                 allow_agents: Iterable[str] | None = None, sandboxed_agents: Iterable[str] = (),
                 require_agent_id: bool = False):
        self.responder = responder or directive_responder
        # OpenClaw checks a collector's structured_output against its outputSchema, in its own
        # process. A benchmark that runs this fake in the engine's one thread may switch that
        # off: it is the gateway's CPU, not the engine's (a reply is then taken as valid JSON).
        self.validate_structured = validate_structured
        self.max_children = max_children
        self.lane_max_concurrent = lane_max_concurrent
        self.swarm_max_concurrent = swarm_max_concurrent
        self.max_children_per_group = max_children_per_group
        self.max_total_per_group = max_total_per_group
        self.wait_timeout_seconds_max = wait_timeout_seconds_max
        self.models = set(models) if models is not None else None
        self.default_model = default_model
        self.agent_id = agent_id
        # Who a spawn may run as (see the module docstring): the configured agent ids (None: no
        # agents.entries/list, i.e. only "main"), the requester's subagents.allowAgents (None: not
        # set, i.e. only itself), the agents whose sub-agent sessions are sandboxed.
        self.agents = None if agents is None else [normalize_agent_id(a) for a in agents]
        self.allow_agents = None if allow_agents is None else list(allow_agents)
        self.sandboxed_agents = {normalize_agent_id(a) for a in sandboxed_agents}
        self.require_agent_id = require_agent_id
        self.tools = set(tools)
        self.requester_run_id = requester_run_id
        self.swarm_enabled = swarm_enabled
        # Wall seconds one runTimeoutSeconds unit lasts. OpenClaw only takes whole seconds; tests
        # shrink the unit (e.g. 0.02) to check timeouts fast without breaking that contract.
        self.run_timeout_unit_s = run_timeout_unit_s
        # False plays a gateway reached over HTTP: collector runs are accepted but never start
        # (OpenClaw 2026.9.6). The same attribute on GatewayToolCaller tells OpenClawRuntime
        # not to choose the collector path there.
        self.collector_runs_start = collector_runs_start
        self.requester_session_key = f"agent:{agent_id}:main"
        self.calls: Counter = Counter()
        self.peak_running = 0
        self.peak_active_children = 0
        self._cond = threading.Condition(threading.Lock())
        self._runs: dict[str, _Run] = {}
        # The runs not yet terminal (queued or running) and the queued ones, in spawn order, and
        # the number of collectors ever spawned per swarm group: they keep every call O(live
        # runs) instead of O(all runs), so a 1000-task fan-out does not slow the fake down as it
        # goes. Runs enter at spawn and leave through _start (queued) and _end (live) only.
        self._live: dict[str, _Run] = {}
        self._queued: dict[str, _Run] = {}
        self._parked: dict[str, _Run] = {}  # collectors that never start (collector_runs_start=False)
        self._group_total: Counter = Counter()
        self._ends: list = []  # heap of (planned end, seq, run) for runs started; lazily pruned
        self._by_task: dict[str, _Run] = {}
        self._by_session: dict[str, _Run] = {}
        self._attempts: Counter = Counter()
        self._seq = itertools.count(1)
        self._msg_seq = itertools.count(1)
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._t = self._mono0

    # -- ToolCaller -------------------------------------------------------------------------
    def has(self, tool: str) -> bool:
        return tool in self.tools

    def call(self, tool: str, args: dict) -> dict:
        handler = {"sessions_spawn": self._sessions_spawn, "subagents": self._subagents,
                   "sessions_history": self._sessions_history,
                   "agents_wait": self._agents_wait, AGENTS_LIST: self._agents_list}.get(tool)
        with self._cond:
            self.calls[tool] += 1
            if handler is None or tool not in self.tools:
                raise ToolError(f"Tool not available: {tool}", tool=tool,
                                fix=f"allow {tool} in the tool policy (gateway.tools.allow over HTTP)")
            return handler(dict(args or {}))

    # -- inspection for tests ---------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Snapshots of every accepted run, in spawn order.

        Times are time.monotonic() values; `timeout_s` is the effective timeout in wall seconds
        (runTimeoutSeconds x run_timeout_unit_s, 0 = none); `reply` is a finished run's whole final
        text (what OpenClaw delivers to the host; sessions_history cuts it at 4000 characters).
        """
        with self._cond:
            self._advance(time.monotonic())
            return [{"run_id": r.run_id, "task_id": r.task_id, "session_key": r.session_key,
                     "label": r.label, "task_name": r.task_name, "model": r.model,
                     "agent_id": r.agent_id, "sandbox": r.sandbox,
                     "status": r.status, "collect": r.collect, "group_id": r.group_id,
                     "created_at": r.created_at, "start_at": r.start_at, "ended_at": r.ended_at,
                     "timeout_s": r.timeout_s,
                     "reply": r.reply.text if r.status == "done" else None}
                    for r in sorted(self._runs.values(), key=lambda r: r.seq)]

    # -- simulation -------------------------------------------------------------------------
    def _live_runs(self) -> list[_Run]:
        """Queued and running runs, in spawn order."""
        return list(self._live.values())

    def _end(self, run: _Run, status: str, t: float) -> None:
        run.status, run.ended_at = status, t
        self._live.pop(run.run_id, None)
        self._queued.pop(run.run_id, None)
        self._parked.pop(run.run_id, None)

    def _start_queued(self, t: float) -> None:
        queued = self._queued  # in spawn order: FIFO
        lane_busy = len(self._live) - len(queued) - len(self._parked)
        if queued and lane_busy < self.lane_max_concurrent:
            live = self._live_runs()
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

    def _advance(self, now: float) -> None:
        ends = self._ends
        while True:
            self._start_queued(self._t)
            next_end = self._next_end()
            if next_end > now:
                break
            while ends and ends[0][0] <= next_end:
                _, _, run = heapq.heappop(ends)
                if run.status == "running":
                    self._end(run, run.end_status(), run.planned_end())
            self._t = next_end
        self._t = max(self._t, now)

    def _next_event(self) -> float:
        return self._next_end()

    def _sleep_until(self, deadline: float) -> None:
        wake = min(self._next_event(), deadline)
        delay = wake - time.monotonic()
        if delay > 0:
            self._cond.wait(delay)

    def _ms(self, t: float | None) -> int | None:
        return None if t is None else int((self._wall0 + (t - self._mono0)) * 1000)

    def _active_children(self) -> int:
        return sum(1 for r in self._live_runs() if not r.collect)

    # -- sessions_spawn ---------------------------------------------------------------------
    def _sessions_spawn(self, a: dict) -> dict:
        tool = "sessions_spawn"
        swarm_param = next((k for k in ("collect", "outputSchema", "fastMode", "groupId") if k in a), None)
        if swarm_param and not self.swarm_enabled:
            raise ToolError(f'sessions_spawn parameter "{swarm_param}" requires tools.swarm.enabled=true.',
                            tool=tool)
        collect = a.get("collect") is True
        if a.get("outputSchema") is not None and not collect:
            raise ToolError('sessions_spawn "outputSchema" requires collect=true.', tool=tool)
        if a.get("groupId") is not None and not collect:
            raise ToolError('sessions_spawn "groupId" requires collect=true.', tool=tool)
        if collect and (a.get("thread") is True or a.get("visible") is True or a.get("mode") == "session"):
            raise ToolError("sessions_spawn collect=true does not support thread, visible, or session mode.",
                            tool=tool)
        for key in UNSUPPORTED_SPAWN_KEYS:
            if key in a:
                raise ToolError(f'sessions_spawn does not support "{key}"; remove channel-delivery '
                                f'parameters.', tool=tool)
        for key in ("timeoutSeconds", "timeout_seconds"):
            if key in a:
                raise ToolError(f'sessions_spawn does not support "{key}". Use "runTimeoutSeconds" '
                                f'for a per-run timeout.', tool=tool,
                                fix="pass runTimeoutSeconds instead of timeoutSeconds")
        task = a.get("task")
        if not isinstance(task, str) or not task.strip():
            raise ToolError("task required", tool=tool)
        rts = a.get("runTimeoutSeconds", a.get("run_timeout_seconds"))
        if rts is not None and (isinstance(rts, bool) or not isinstance(rts, (int, float))
                                or rts < 0 or int(rts) != rts):
            raise ToolError("runTimeoutSeconds must be a non-negative integer", tool=tool)
        task_name = a.get("taskName")
        task_name = task_name.strip() if isinstance(task_name, str) and task_name.strip() else None
        if task_name is not None:
            if not TASK_NAME_RE.match(task_name):
                return {"status": "error", "error": f'Invalid taskName "{task_name}". Use 1-64 chars '
                                                    f'matching [a-z][a-z0-9_-]*.'}
            if task_name in RESERVED_TASK_NAMES:
                return {"status": "error", "error": f'Invalid taskName "{task_name}". Reserved '
                                                    f'subagent targets cannot be used as taskName values.'}
        requested_agent = a.get("agentId").strip() if isinstance(a.get("agentId"), str) else ""
        if requested_agent and not AGENT_ID_RE.match(requested_agent):
            return {"status": "error", "error": f'Invalid agentId "{requested_agent}". Agent IDs must '
                                                f'match [a-z0-9][a-z0-9_-]{{0,63}}.'}
        target = normalize_agent_id(requested_agent) if requested_agent else self.agent_id
        label = a.get("label").strip() if isinstance(a.get("label"), str) else ""
        now = time.monotonic()
        self._advance(now)

        group_id = None
        if collect:
            explicit = a.get("groupId").strip() if isinstance(a.get("groupId"), str) else ""
            group_id = explicit or (f"swarm:{self.requester_session_key}:{self.requester_run_id}"
                                    if self.requester_run_id else None)
            total = self._group_total[group_id] if group_id else 0
            live = sum(1 for r in self._live_runs() if r.collect and r.group_id == group_id) \
                if group_id else 0
            if total >= self.max_total_per_group:
                return {"status": "forbidden", "error": f"sessions_spawn reached tools.swarm.maxTotalPerGroup "
                                                        f"({total}/{self.max_total_per_group})."}
            if live >= self.max_children_per_group:
                return {"status": "forbidden", "error": f"sessions_spawn reached tools.swarm.maxChildrenPerGroup "
                                                        f"({live}/{self.max_children_per_group})."}
            refused = self._target_refusal(requested_agent, target)
            if refused:
                return refused
            if not group_id:
                return {"status": "error", "error": "sessions_spawn collect=true requires a requesting run "
                                                    "id when groupId is omitted."}
        else:
            active = self._active_children()
            if active >= self.max_children:
                return {"status": "forbidden",
                        "error": f"sessions_spawn has reached max active children for this session "
                                 f"({active}/{self.max_children}; "
                                 f"agents.defaults.subagents.maxChildrenPerAgent)."}
            refused = self._target_refusal(requested_agent, target)
            if refused:
                return refused
        if a.get("sandbox") == "require" and target not in self.sandboxed_agents:
            return {"status": "forbidden", "error": SANDBOX_REQUIRED_ERROR}

        requested = a.get("model").strip() if isinstance(a.get("model"), str) else ""
        if requested and self.models is not None and requested not in self.models:
            return {"status": "error", "error": f'sessions_spawn model "{requested}" is not usable: '
                                                f'model not allowed: {requested}'}
        model = requested or self.default_model
        output_schema = a.get("outputSchema") if collect and isinstance(a.get("outputSchema"), dict) else None

        seen_task = child_reads(task)
        counter = _attempt_key(seen_task) or label
        self._attempts[counter] += 1
        view = SpawnView(task=seen_task, model=model, label=label, task_name=task_name,
                         attempt=self._attempts[counter], collect=collect, output_schema=output_schema,
                         agent_id=target)
        reply = _deliver_as_asked(seen_task, self.responder(view))
        if reply.spawn_error:
            return {"status": "error", "error": reply.spawn_error}

        expects = False if collect else a.get("expectsCompletionMessage") is not False
        mode = "collector" if collect else ("announce" if expects else "quiet")
        run = _Run(seq=next(self._seq), run_id=str(uuid.uuid4()), task_id=str(uuid.uuid4()),
                   session_key=f"agent:{target}:subagent:{uuid.uuid4()}", task=task,
                   label=label, task_name=task_name, model=model,
                   timeout_s=int(rts or 0) * self.run_timeout_unit_s,
                   collect=collect, group_id=group_id, output_schema=output_schema,
                   expects_completion=expects, reply=reply, created_at=now, status="queued",
                   msg_ids=(f"msg-{next(self._msg_seq)}", f"msg-{next(self._msg_seq)}"),
                   agent_id=target, sandbox=a.get("sandbox") if isinstance(a.get("sandbox"), str) else None)
        self._runs[run.run_id] = run
        self._live[run.run_id] = run
        if collect and not self.collector_runs_start:
            self._parked[run.run_id] = run  # accepted, listed as queued, never started
        else:
            self._queued[run.run_id] = run
        if collect:
            self._group_total[group_id] += 1
        self._by_task[run.task_id] = run
        self._by_session[run.session_key] = run
        self._start_queued(now)
        self.peak_active_children = max(self.peak_active_children, self._active_children())
        self._cond.notify_all()
        receipt = {"status": "accepted", "childSessionKey": run.session_key}
        if collect:
            receipt["sessionKey"] = run.session_key
        receipt.update({"runId": run.run_id, "mode": "run", "expectsCompletionMessage": mode == "announce",
                        "context": "isolated"})
        if task_name:
            receipt["taskName"] = task_name
        receipt["note"] = COMPLETION_NOTES[mode]
        receipt["resolvedModel"] = model
        if "/" in model:
            receipt["resolvedProvider"] = model.split("/", 1)[0]
        receipt["modelApplied"] = True
        return receipt

    # -- who a spawn may run as (agentId) ----------------------------------------------------
    def configured_agents(self) -> list[str]:
        """OpenClaw's listAgentIds: the configured ids, or just "main" without a roster."""
        return list(dict.fromkeys(self.agents)) if self.agents is not None else ["main"]

    def allowed_targets(self) -> tuple[bool, list[str]]:
        """(allowAny, the sorted ids the requester may name as agentId)."""
        return allowed_targets(self.agent_id, self.allow_agents, self.configured_agents())

    def _target_refusal(self, requested: str, target: str) -> dict | None:
        """The refusal of a spawn that may not run as `target` (None: it may)."""
        if self.require_agent_id and not requested:
            return {"status": "forbidden", "error": REQUIRE_AGENT_ID_ERROR}
        error = target_error(self.agent_id, self.allow_agents, self.configured_agents(), requested)
        return {"status": "forbidden", "error": error} if error else None

    def _agents_list(self, a: dict) -> dict:
        allow_any, allowed = self.allowed_targets()
        configured = self.configured_agents()
        first = [self.agent_id] if self.agent_id in allowed else []
        rows = [{"id": i, "configured": i in configured, "model": self.default_model,
                 "agentRuntime": {"id": "auto", "source": "implicit"}}
                for i in first + [i for i in allowed if i != self.agent_id]]
        return {"requester": self.agent_id, "allowAny": allow_any, "agents": rows}

    # -- usage / results --------------------------------------------------------------------
    def _usage(self, run: _Run) -> dict | None:
        if run.start_at is None:
            return None
        if run.reply.usage is not None:
            return {"inputTokens": int(run.reply.usage.get("input_tokens", 0)),
                    "outputTokens": int(run.reply.usage.get("output_tokens", 0))}
        out = len(run.reply.text) // 4 if run.status == "done" else 0
        return {"inputTokens": len(run.task) // 4, "outputTokens": out}

    def _collector_item(self, run: _Run) -> dict:
        status = _COLLECTOR_STATUS[run.status]
        result = run.reply.text if run.status == "done" else ""
        structured, schema_error = None, None
        if run.output_schema is not None and run.status == "done":
            structured, schema_error = _structured(run.reply.text, run.output_schema
                                                   if self.validate_structured else None)
            if schema_error:
                status = "failed"
        item = {"runId": run.run_id, "status": status, "result": result}
        if structured is not None:
            item["structured"] = structured
        if run.status == "failed":
            item["error"] = run.reply.fail
        if schema_error:
            item["schemaError"] = schema_error
        item["sessionKey"] = run.session_key
        if run.label:
            item["label"] = run.label
        usage = self._usage(run)
        if usage:
            item["usage"] = usage
        return item

    # -- subagents --------------------------------------------------------------------------
    def _task_row(self, run: _Run) -> dict:
        status = _TASK_STATUS[run.status]
        if run.status == "queued" and not run.collect:
            status = "running"  # plain runs waiting for a lane slot are registered as running
        state = "finished" if run.status in _TERMINAL else ("queued" if status == "queued" else "running")
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

    def _view(self, run: _Run, index: int, now: float) -> tuple[dict, str]:
        """(a list view as the subagents tool returns it, its line of the list `text`)."""
        status = {"queued": "queued" if run.collect else "running"}.get(run.status, run.status)
        # a collector waiting for its start has no start time; a plain run waiting for a lane
        # slot is registered as running from its spawn on
        started = run.start_at if run.start_at is not None else (None if run.collect else run.created_at)
        runtime_ms = int(max(0.0, (run.ended_at or now) - started) * 1000) if started is not None else 0
        runtime = _compact_duration(runtime_ms)
        label = _truncate_line(run.label or run.task.strip(), 48)
        task = _truncate_line(run.task.strip(), 72)
        usage = self._usage(run) if run.status == "done" else None  # token usage once the model answered
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
                     "execution": {"state": "finished" if run.status in _TERMINAL else
                                   ("queued" if status == "queued" else "running")},
                     "deliveryStatus": "pending" if run.expects_completion else "not_required",
                     "pendingDescendants": 0, "runtime": runtime, "runtimeMs": runtime_ms,
                     "model": run.model})
        if total > 0:
            view["totalTokens"] = total
        if started is not None:
            view["startedAt"] = self._ms(started)
        if run.ended_at is not None:
            view["endedAt"] = self._ms(run.ended_at)
        return view, line

    def _subagents(self, a: dict) -> dict:
        action = a.get("action") or "list"
        if action == "list":
            return self._subagents_list(a)
        if action == "wait":
            return self._subagents_wait(a)
        if action == "cancel":
            return self._subagents_cancel(a)
        return {"status": "error", "error": "Unsupported action."}

    def _subagents_list(self, a: dict) -> dict:
        now = time.monotonic()
        self._advance(now)
        recent_minutes = a.get("recentMinutes")
        recent_minutes = min(1440, int(recent_minutes)) if isinstance(recent_minutes, int) and recent_minutes > 0 else 30
        cutoff = now - recent_minutes * 60
        ordered = sorted(self._runs.values(), key=lambda r: -(r.start_at or r.created_at))
        active = [r for r in ordered if r.status not in _TERMINAL]
        recent = [r for r in ordered if r.status in _TERMINAL and r.ended_at >= cutoff]
        views, lines = zip(*[self._view(r, i, now) for i, r in enumerate(active + recent, start=1)]) \
            if active or recent else ((), ())
        tasks = [self._task_row(r) for r in sorted(active + recent,
                                                    key=lambda r: -(r.ended_at or r.start_at or r.created_at))]
        active_views, recent_views = list(views[:len(active)]), list(views[len(active):])
        text = "\n".join(["active subagents:", *(lines[:len(active)] or ["(none)"]), "",
                          f"recent (last {recent_minutes}m):", *(lines[len(active):] or ["(none)"])])
        return {"status": "ok", "action": "list", "requesterSessionKey": self.requester_session_key,
                "callerSessionKey": self.requester_session_key, "callerIsSubagent": False,
                "total": len(self._runs), "taskTotal": len(tasks), "tasks": tasks,
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
            self._advance(now)
            found = [self._by_task[i] for i in ids if i in self._by_task]
            unavailable = [i for i in ids if i not in self._by_task]
            completed = [r.task_id for r in found if r.status in _TERMINAL]
            reason = "unavailable" if unavailable else ("completed" if completed else None)
            if reason or now >= deadline:
                result = {"status": "ok", "action": "wait", "reason": reason or "timeout",
                          "tasks": [self._task_row(r) for r in found], "completed": completed,
                          "attention": []}
                if unavailable:
                    result["unavailable"] = unavailable
                return result
            self._sleep_until(deadline)

    def _subagents_cancel(self, a: dict) -> dict:
        task_id = a.get("taskId")
        if not isinstance(task_id, str) or not task_id.strip():
            raise ToolError("taskId required", tool="subagents")
        task_id = task_id.strip()
        now = time.monotonic()
        self._advance(now)
        run = self._by_task.get(task_id)
        if run is None:
            return {"status": "forbidden", "error": "Task outside session tree."}
        if run.status in _TERMINAL:
            return {"status": "error", "taskId": task_id, "found": True, "cancelled": False,
                    "reason": "Task is already terminal."}
        self._end(run, "killed", now)
        self._start_queued(now)
        self._cond.notify_all()
        return {"status": "cancelled", "taskId": task_id, "found": True, "cancelled": True}

    # -- sessions_history -------------------------------------------------------------------
    def _task_message(self, run: _Run) -> str:
        return SUBAGENT_TASK_MESSAGE.format(task=run.task.strip())

    def _raw_messages(self, run: _Run) -> list[dict]:
        """The child's transcript: the task message once the run has started, then its reply."""
        if run.start_at is None:
            return []  # the task message is still a pending input (or, parked, nowhere)
        user_key = f"{run.run_id}:user"
        messages = [{"role": "user", "content": self._task_message(run), "timestamp": self._ms(run.created_at),
                     "idempotencyKey": user_key,
                     "__openclaw": {"senderIsOwner": False, "id": run.msg_ids[0], "idempotencyKey": user_key,
                                    "seq": 1}}]
        if run.status not in ("done", "failed"):
            return messages
        provider, _, model = run.model.partition("/") if "/" in run.model else ("", "", run.model)
        usage = self._usage(run) or {"inputTokens": 0, "outputTokens": 0}
        reply = {"role": "assistant", "content": [], "api": "openai-completions",
                 "provider": provider or "fake", "model": model,
                 "usage": {"input": usage["inputTokens"], "output": usage["outputTokens"],
                           "totalTokens": usage["inputTokens"] + usage["outputTokens"]},
                 "stopReason": "stop", "timestamp": self._ms(run.ended_at)}
        meta = {"runId": run.run_id, "id": run.msg_ids[1]}
        if run.status == "done":
            reply["content"] = [{"type": "text", "text": run.reply.text}]
            reply["responseId"] = f"chatcmpl-{uuid.uuid5(uuid.NAMESPACE_OID, run.run_id).hex[:20]}"
        else:  # no errorMessage: the failure is the reply's text
            reply["content"] = [{"type": "text", "text": FAILED_REPLY_TEXT}]
            reply["stopReason"] = "error"
            reply["idempotencyKey"] = meta["idempotencyKey"] = f"{run.run_id}:terminal-error"
        reply["__openclaw"] = {**meta, "seq": 2}
        return messages + [reply]

    def _pending_inputs(self, run: _Run) -> tuple[dict, bool]:
        """(pendingInputs, truncated): the task message until the run starts and consumes it
        (state "queued"; "cancelled" when cancelled first). A parked collector never got one."""
        if run.start_at is not None or (run.collect and not self.collector_runs_start):
            return {"items": [], "total": 0}, False
        state = "queued" if run.status == "queued" else "cancelled"
        item = {"id": run.msg_ids[0], "state": state, "acceptedAt": self._ms(run.created_at)}
        # boundPendingInputs: each message gets a share of 4096 bytes, its text 1/8 of that
        budget = PENDING_INPUTS_MAX_BYTES - _json_bytes({"items": [item], "total": 1}) - 12
        text, truncated = _truncate_text(self._task_message(run), max(1, budget // 8))
        message = {"role": "user", "content": text}
        if _json_bytes(message) > budget:
            message, truncated = {"role": "user", "content": "[Input omitted; request limit: 1]"}, True
        return {"items": [{**item, "message": message}], "total": 1}, truncated

    def _sessions_history(self, a: dict) -> dict:
        key = a.get("sessionKey")
        if not isinstance(key, str) or not key.strip():
            raise ToolError("sessionKey required", tool="sessions_history")
        key = key.strip()
        self._advance(time.monotonic())
        run = self._by_session.get(key)
        if run is None:
            return {"status": "error", "error": f"No session found: {key}"}
        raw = self._raw_messages(run)
        limit = a.get("limit")
        if isinstance(limit, int) and limit > 0:
            raw = raw[-limit:]
        pending, content_truncated = self._pending_inputs(run)
        pending_bytes = _json_bytes(pending)
        budget = HISTORY_MAX_BYTES - pending_bytes
        messages = []
        for message in raw:
            message, truncated = _sanitize(message)
            content_truncated |= truncated
            messages.append(message)
        items, dropped = list(messages), False
        while _json_bytes(items) > budget and len(items) > 1:
            items.pop(0)
            dropped = True
        hard_capped = False
        if _json_bytes(items) > budget:
            meta = items[-1].get("__openclaw", {})
            items = [{"role": "assistant", "content": OMITTED_PLACEHOLDER, "__openclaw": dict(meta)}]
            hard_capped = True
        return {"sessionKey": key, "messages": items,
                "truncated": dropped or content_truncated or hard_capped,
                "droppedMessages": dropped or hard_capped, "contentTruncated": content_truncated,
                "contentRedacted": False, "bytes": _json_bytes(items) + pending_bytes,
                "pendingInputs": pending}

    # -- agents_wait ------------------------------------------------------------------------
    def _agents_wait(self, a: dict) -> dict:
        tool = "agents_wait"
        ids = a.get("ids")
        if not isinstance(ids, list) or len(ids) > 1000:
            raise ToolError("agents_wait supports at most 1000 ids." if isinstance(ids, list)
                            else "ids required", tool=tool)
        ids = list(dict.fromkeys(i.strip() for i in ids if isinstance(i, str) and i.strip()))
        if not ids:
            raise ToolError("agents_wait requires at least one non-empty run id.", tool=tool)
        timeout = a.get("timeoutSeconds")
        timeout = timeout if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) \
            and math.isfinite(timeout) else 30
        deadline = time.monotonic() + min(max(0.0, timeout), self.wait_timeout_seconds_max)
        while True:
            now = time.monotonic()
            self._advance(now)
            errors, completed, pending = [], [], []
            for run_id in ids:
                run = self._runs.get(run_id)
                if run is None or not run.collect:
                    errors.append({"runId": run_id, "error": "not_found"})
                elif run.status in _TERMINAL:
                    completed.append(run)
                else:
                    pending.append(run_id)
            if completed or not pending or now >= deadline:
                completed.sort(key=lambda r: r.ended_at)
                result = {"completed": [self._collector_item(r) for r in completed], "pending": pending}
                if errors:
                    result["errors"] = errors
                if not completed and not pending and errors:
                    result["success"] = False
                return result
            self._sleep_until(deadline)


def _truncate_text(text: str, max_chars: int = HISTORY_TEXT_MAX_CHARS) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + TRUNCATION_MARKER, True


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


def _sanitize(message: dict) -> tuple[dict, bool]:
    """sessions_history's sanitizeHistoryMessage: strip details/usage/cost, cap text blocks."""
    entry, truncated = dict(message), False
    for key in ("details", "usage", "cost"):
        if key in entry:
            del entry[key]
            truncated = True  # OpenClaw counts stripped metadata as truncation
    content = entry.get("content")
    if isinstance(content, str):
        entry["content"], cut = _truncate_text(content)
        truncated |= cut
    elif isinstance(content, list):
        blocks = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                block = dict(block)
                block["text"], cut = _truncate_text(block["text"])
                truncated |= cut
            blocks.append(block)
        entry["content"] = blocks
    return entry, truncated


_VALIDATORS: dict[int, tuple[dict, object]] = {}   # id(schema) -> (schema, its validator)


def _validator(schema: dict):
    """One validator per output schema (schemas are long-lived definition objects): building one
    resolves the schema's ids, which costs more than most validations."""
    hit = _VALIDATORS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    import jsonschema
    validator = jsonschema.validators.validator_for(schema)(schema)
    if len(_VALIDATORS) > 256:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def _structured(text: str, schema: dict) -> tuple[object | None, str | None]:
    """Stand-in for the child's structured_output tool call: the reply text is the payload."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None, "structured_output was not called"
    if schema is None:      # not checked here (FakeOpenClaw(validate_structured=False))
        return value, None
    import jsonschema
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return None, f"structured_output rejected at {where}: {error.message}"
    return value, None
