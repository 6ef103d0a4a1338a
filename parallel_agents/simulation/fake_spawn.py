"""FakeOpenClaw's sessions_spawn: its input errors, its refusals, who a child may run as
(agentId, sandbox; and agents_list, which shows it) and the receipt of an accepted run.

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
"""
from __future__ import annotations

import re
import time

from parallel_agents.openclaw.spawn_targets import (AGENT_ID_RE, SANDBOX_REQUIRED_ERROR, allowed_targets,
                                                    normalize_agent_id, target_error)
from parallel_agents.openclaw.toolcaller import ToolError
from parallel_agents.simulation.directives import SpawnView, attempt_key, child_reads, deliver_as_asked
from parallel_agents.simulation.fake_ids import uuid4_strings
from parallel_agents.simulation.fake_runs import Run

__all__ = ["SpawnTool", "REQUIRE_AGENT_ID_ERROR", "COMPLETION_NOTES"]

REQUIRE_AGENT_ID_ERROR = ("sessions_spawn requires explicit agentId when requireAgentId is "
                          "configured. Provide an allowed configured agentId.")
TASK_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
RESERVED_TASK_NAMES = {"all", "last"}
UNSUPPORTED_SPAWN_KEYS = ("target", "transport", "channel", "to", "threadId", "thread_id",
                          "replyTo", "reply_to")
TIMEOUT_KEYS = ("timeoutSeconds", "timeout_seconds")
_REFUSED_KEYS = frozenset(UNSUPPORTED_SPAWN_KEYS + TIMEOUT_KEYS)
SWARM_PARAMS = ("collect", "outputSchema", "fastMode", "groupId")
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


class SpawnTool:
    """sessions_spawn and agents_list, mixed into FakeOpenClaw (over its RunBoard and knobs:
    responder, max_children, max_children_per_group, max_total_per_group, swarm_enabled, models,
    default_model, agent_id, agents, allow_agents, sandboxed_agents, require_agent_id,
    requester_run_id, requester_session_key, run_timeout_unit_s). FakeOpenClaw.call calls the
    `answer_*` methods under the board's lock."""

    def answer_sessions_spawn(self, a: dict) -> dict:
        tool = "sessions_spawn"
        if not self.swarm_enabled:
            swarm_param = next((k for k in SWARM_PARAMS if k in a), None)
            if swarm_param:
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
        if not _REFUSED_KEYS.isdisjoint(a):   # one set test for the usual spawn, then which key
            for key in UNSUPPORTED_SPAWN_KEYS:
                if key in a:
                    raise ToolError(f'sessions_spawn does not support "{key}"; remove channel-delivery '
                                    f'parameters.', tool=tool)
            for key in TIMEOUT_KEYS:
                if key in a:
                    raise ToolError(f'sessions_spawn does not support "{key}". Use "runTimeoutSeconds" '
                                    f'for a per-run timeout.', tool=tool,
                                    fix="pass runTimeoutSeconds instead of timeoutSeconds")
        task = a.get("task")
        if not isinstance(task, str) or not task or task.isspace():   # (no copy of the text)
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
        self.advance(now)

        group_id = None
        if collect:
            explicit = a.get("groupId").strip() if isinstance(a.get("groupId"), str) else ""
            group_id = explicit or (f"swarm:{self.requester_session_key}:{self.requester_run_id}"
                                    if self.requester_run_id else None)
            total, live = self.group_counts(group_id)
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
            active = self.active_children()
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
        counter = attempt_key(seen_task) or label
        view = SpawnView(task=seen_task, model=model, label=label, task_name=task_name,
                         attempt=self.next_attempt(counter), collect=collect, output_schema=output_schema,
                         agent_id=target)
        reply = deliver_as_asked(seen_task, self.responder(view))
        if reply.spawn_error:
            return {"status": "error", "error": reply.spawn_error}

        expects = False if collect else a.get("expectsCompletionMessage") is not False
        mode = "collector" if collect else ("announce" if expects else "quiet")
        run_id, task_id, session_uuid = uuid4_strings(3)
        run = Run(run_id=run_id, task_id=task_id, session_key=f"agent:{target}:subagent:{session_uuid}", task=task,
                  label=label, task_name=task_name, model=model,
                  timeout_s=int(rts or 0) * self.run_timeout_unit_s,
                  collect=collect, group_id=group_id, output_schema=output_schema,
                  expects_completion=expects, reply=reply, created_at=now, status="queued",
                  agent_id=target, sandbox=a.get("sandbox") if isinstance(a.get("sandbox"), str) else None)
        self.register(run, now)
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
        if not requested:   # runs as the requester itself: refused only under requireAgentId
            return {"status": "forbidden", "error": REQUIRE_AGENT_ID_ERROR} if self.require_agent_id else None
        error = target_error(self.agent_id, self.allow_agents, self.configured_agents(), requested)
        return {"status": "forbidden", "error": error} if error else None

    def answer_agents_list(self, a: dict) -> dict:
        allow_any, allowed = self.allowed_targets()
        configured = self.configured_agents()
        first = [self.agent_id] if self.agent_id in allowed else []
        rows = [{"id": i, "configured": i in configured, "model": self.default_model,
                 "agentRuntime": {"id": "auto", "source": "implicit"}}
                for i in first + [i for i in allowed if i != self.agent_id]]
        return {"requester": self.agent_id, "allowAny": allow_any, "agents": rows}
