"""Which OpenClaw agent a sub-agent may run as: OpenClaw's sub-agent target policy.

A spawn's `agentId` names a configured OpenClaw agent (its tool policy, workspace, model and
sandbox apply to the child). OpenClaw 2026.9.6 decides whether the requesting agent may name it
(node_modules/openclaw/dist; seen the same on a live gateway, tests/integration/
test_least_privilege_live.py):

- Ids (agent-id-*.mjs): valid ids match `[a-z0-9][a-z0-9_-]{0,63}` case-insensitively and are
  lower-cased; others are refused at spawn (`Invalid agentId "X". ...`).
- Configured agents (agent-scope-config-*.mjs listAgentIds): the keys of `agents.entries`, else
  the `id`s of the legacy `agents.list`; with neither, just "main".
- Targets (subagent-spawn-ownership-*.mjs resolveSubagentAllowedTargetIds): the requester's
  `subagents.allowAgents` (its own entry's, else `agents.defaults.subagents.allowAgents`): not
  set -> only the requester itself; `["*"]` -> every configured agent plus the requester; else the
  listed ids that are configured. agents_list shows exactly these.
- Refusals (resolveSubagentTargetPolicy, status "forbidden"): `agentId "X" is not in the
  configured agent registry (allowed: a, b)` when X is listed (or "*" is) but not configured,
  else `agentId is not allowed for sessions_spawn (allowed: a, b)`; ids sorted, "none" if empty.
  A spawn without agentId runs as the requester and is not checked.
- Sandbox (sandbox/config-*.mjs, resolveSpawnSandboxError): a sub-agent session is sandboxed when
  its agent's `sandbox.mode` (its entry's, else agents.defaults') is "non-main" or "all";
  `sandbox: "require"` for one that is not is forbidden with SANDBOX_REQUIRED_ERROR.

Used by the contract fake (simulation/fake_spawn.py) and by `doctor` on the local config
(openclaw_local.py), so both apply the same rules.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["AGENT_ID_RE", "SANDBOX_REQUIRED_ERROR", "normalize_agent_id", "allowed_targets",
           "target_error", "SANDBOXED_MODES"]

AGENT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)
SANDBOX_REQUIRED_ERROR = ('sessions_spawn sandbox="require" needs a sandboxed target runtime. Pick a '
                          'sandboxed agentId or use sandbox="inherit".')
SANDBOXED_MODES = ("non-main", "all")   # sandbox.mode values under which a sub-agent is sandboxed
DEFAULT_AGENT = "main"


def normalize_agent_id(value) -> str:
    """OpenClaw's normalizeAgentId: a valid id lower-cased; otherwise runs of other characters
    become "-" (trimmed, 64 at most), and "main" when nothing is left."""
    text = str(value or "").strip()
    if AGENT_ID_RE.match(text):
        return text.lower()
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:64]
    return cleaned or DEFAULT_AGENT


def _listed(allow_agents: Iterable | None) -> set[str]:
    return {normalize_agent_id(x) for x in allow_agents or () if str(x).strip() not in ("", "*")}


def allowed_targets(requester: str, allow_agents: Iterable | None,
                    configured: Iterable[str]) -> tuple[bool, list[str]]:
    """(allowAny, the sorted agent ids `requester` may name as agentId)."""
    if allow_agents is None:
        return False, [requester]
    configured = {normalize_agent_id(c) for c in configured}
    if any(str(x).strip() == "*" for x in allow_agents):
        return True, sorted(configured | {requester})
    return False, sorted(_listed(allow_agents) & configured)


def target_error(requester: str, allow_agents: Iterable | None, configured: Iterable[str],
                 requested: str | None) -> str | None:
    """OpenClaw's refusal text for a spawn with agentId `requested` (None when it may)."""
    if not requested:
        return None
    target = normalize_agent_id(requested)
    allow_any, allowed = allowed_targets(requester, allow_agents, configured)
    if target in allowed:
        return None
    shown = ", ".join(allowed) or "none"
    if allow_any or target in _listed(allow_agents):
        return f'agentId "{target}" is not in the configured agent registry (allowed: {shown})'
    return f"agentId is not allowed for sessions_spawn (allowed: {shown})"
