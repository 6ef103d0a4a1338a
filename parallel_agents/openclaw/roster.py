"""Who sub-agents may run as, from an openclaw.json: the configured OpenClaw agents, the
requesting agent, the ids its spawns may name (agentId) and which of them run sandboxed.

Facts relied on (openclaw 2026.9.6; spawn_targets.py has OpenClaw's rules): the configured ids
are the keys of agents.entries, else the ids of the legacy agents.list, else just "main"; the
requesting agent is the one marked `default: true`, else the only one, else "main"; who it may
spawn as comes from its own subagents.allowAgents, else agents.defaults.subagents.allowAgents
("*" = any configured agent); an agent's sub-agents are sandboxed when its sandbox.mode (else
the defaults') is non-main or all.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from parallel_agents.openclaw.localconfig import MAIN_AGENT, setting
from parallel_agents.openclaw.spawn_targets import SANDBOXED_MODES, allowed_targets, normalize_agent_id, target_error

__all__ = ["AgentRoster", "agent_roster"]


@dataclass(frozen=True)
class AgentRoster:
    """The configured OpenClaw agents and who the requesting agent may spawn as (agentId)."""

    configured: tuple[str, ...]            # agent ids (("main",) when none are configured)
    roster_field: str | None               # "agents.entries" | "agents.list" | None (no roster)
    requester: str                         # the agent whose spawns these are
    allow_agents: tuple[str, ...] | None   # its subagents.allowAgents; None = not set
    allow_field: str                       # where that is (or would be) set
    sandbox_modes: dict = field(default_factory=dict, compare=False)  # id -> sandbox.mode

    def allowed(self) -> tuple[bool, list[str]]:
        """(allowAny, the agent ids a spawn may name) - what agents_list would show."""
        return allowed_targets(self.requester, self.allow_agents, self.configured)

    def refusal(self, agent_id: str) -> str | None:
        """OpenClaw's refusal text for a spawn with this agentId; None when it is accepted."""
        return target_error(self.requester, self.allow_agents, self.configured, agent_id)

    def sandboxed(self, agent_id: str | None) -> bool:
        """Whether a sub-agent running as `agent_id` (None: the requester) is sandboxed."""
        return self.sandbox_modes.get(normalize_agent_id(agent_id or self.requester), "off") \
            in SANDBOXED_MODES


def agent_roster(config: dict) -> AgentRoster:
    """An AgentRoster from an openclaw.json (see the module docstring)."""
    agents = config.get("agents") if isinstance(config.get("agents"), dict) else {}
    entries: dict[str, dict] = {}
    field_name = None
    if isinstance(agents.get("entries"), dict):
        field_name = "agents.entries"
        entries = {normalize_agent_id(k): v for k, v in agents["entries"].items() if isinstance(v, dict)}
    elif isinstance(agents.get("list"), list):
        field_name = "agents.list"
        for item in agents["list"]:
            if isinstance(item, dict):
                entries.setdefault(normalize_agent_id(item.get("id")), item)
    configured = tuple(entries) if field_name else (MAIN_AGENT,)
    marked = [k for k, v in entries.items() if v.get("default") is True]
    requester = marked[0] if len(marked) == 1 and agents.get("ownership") != "explicit" else \
        configured[0] if len(configured) == 1 else MAIN_AGENT
    own = setting(entries.get(requester), "subagents", "allowAgents")
    defaults = setting(agents, "defaults", "subagents", "allowAgents")
    allow = own if isinstance(own, list) else defaults if isinstance(defaults, list) else None
    where = (f'the subagents.allowAgents of agent "{requester}" ({field_name})' if isinstance(own, list)
             else "agents.defaults.subagents.allowAgents")
    default_mode = setting(agents, "defaults", "sandbox", "mode", default="off")
    modes = {k: setting(v, "sandbox", "mode", default=default_mode) for k, v in entries.items()}
    modes.setdefault(MAIN_AGENT, default_mode)
    return AgentRoster(configured, field_name, requester,
                       tuple(str(a) for a in allow if isinstance(a, str)) if allow is not None else None,
                       where, modes)
