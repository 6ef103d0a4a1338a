"""One `sessions_spawn` call: the arguments it sends, the receipt of an accepted run, what a
refusal means (back-pressure, transient, permanent) and what to fix, and the labels and task
names the runs carry.

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
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["SpawnRequest", "Receipt", "SpawnRefused", "classify_refusal", "privilege_fix",
           "attempt_label", "run_tag", "make_task_name", "LIST_LABEL_MAX", "TASK_NAME_RE"]

TASK_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_RESERVED_TASK_NAMES = {"all", "last"}


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

    def routed(self, *, collect: bool, group_id: str | None) -> "SpawnRequest":
        """This request as a runtime sends it: a collector (in a swarm group) or a plain run. A
        copy of its fields (dataclasses.replace runs __init__ again: a spawn's worth of time)."""
        if collect == self.collect and group_id == self.group_id:
            return self
        copy = object.__new__(SpawnRequest)
        copy.__dict__.update(self.__dict__, collect=collect, group_id=group_id)
        return copy

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


@functools.lru_cache(maxsize=64)   # every label of a run carries it
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
