"""FakeOpenClaw: an in-process contract double of the OpenClaw 2026.9 gateway tool surface.

It is not a mock of our code: it answers `sessions_spawn`, `subagents` (list / wait / cancel),
`sessions_history` and `agents_wait` with the same keys, statuses and error texts as OpenClaw
2026.9.6, so code that works against it works against a real gateway (the integration tests
check the same contract there). Use it as a ToolCaller (`call`, `has`) or behind the
`tools` module shim (tests/shim/tools.py).

One module per part of the contract, each with the OpenClaw facts it mirrors:
    fake_runs.py        the runs, lanes, limits and clock (FakeOpenClaw's base, `runs()`)
    fake_ids.py         the UUIDv4 ids of runs, tasks and child sessions
    fake_spawn.py       sessions_spawn (refusals, agentId / sandbox targets) and agents_list
    fake_subagents.py   subagents list / wait / cancel
    fake_history.py     sessions_history
    fake_collectors.py  agents_wait (swarm collectors, structured output)
    directives.py       the `SIM {...}` directive language that scripts the children

Knobs beyond OpenClaw's own limits: `tools` (which tools exist, to play degraded runtimes),
`models` (allowed model refs; None = any), `swarm_enabled=False` (tools.swarm disabled: swarm
parameters are thrown), `requester_run_id` (set it to play an in-agent caller, where collectors
may omit groupId), `run_timeout_unit_s` (wall seconds per runTimeoutSeconds unit, so tests can
check timeouts in milliseconds while OpenClaw's integer-seconds contract stays intact),
`agents` / `allow_agents` / `sandboxed_agents` / `require_agent_id` (the configured OpenClaw
agents, the requester's subagents.allowAgents, the agents whose sub-agent sessions run
sandboxed, and subagents.requireAgentId: who a spawn's `agentId` may name: fake_spawn.py),
`collector_runs_start` (True: collectors run, as for tools injected into an agent's process;
False plays a gateway reached over HTTP - tests/fake_gateway.py - where OpenClaw 2026.9.6
accepts collector runs but never starts them: they list as queued, execution "queued",
runtime "n/a", and agents_wait keeps them pending until they are cancelled).

Behaviour is scripted by `responder(view: SpawnView) -> Reply` (directives.py); the default,
`directive_responder`, reads a `SIM {json}` line in the task text.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable

from parallel_agents.openclaw.spawn_targets import normalize_agent_id
from parallel_agents.openclaw.toolcaller import ToolError
from parallel_agents.simulation.directives import Reply, SpawnView, directive_responder
from parallel_agents.simulation.fake_collectors import CollectorTool
from parallel_agents.simulation.fake_history import HistoryTool
from parallel_agents.simulation.fake_runs import RunBoard
from parallel_agents.simulation.fake_spawn import SpawnTool
from parallel_agents.simulation.fake_subagents import SubagentsTool

__all__ = ["FakeOpenClaw", "ALL_TOOLS", "AGENTS_LIST"]

ALL_TOOLS = ("sessions_spawn", "subagents", "sessions_history", "agents_wait")
AGENTS_LIST = "agents_list"  # not offered by default (a stock gateway's "coding" profile lacks it)


class FakeOpenClaw(SpawnTool, SubagentsTool, HistoryTool, CollectorTool, RunBoard):
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
        RunBoard.__init__(self, lane_max_concurrent=lane_max_concurrent,
                          swarm_max_concurrent=swarm_max_concurrent,
                          collector_runs_start=collector_runs_start)
        self.max_children = max_children
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
        self.requester_session_key = f"agent:{agent_id}:main"
        self.calls: Counter = Counter()

    # -- ToolCaller -------------------------------------------------------------------------
    def has(self, tool: str) -> bool:
        return tool in self.tools

    def call(self, tool: str, args: dict) -> dict:
        handler = _HANDLERS.get(tool)
        with self.lock:   # cond's lock
            self.calls[tool] += 1
            if handler is None or tool not in self.tools:
                raise ToolError(f"Tool not available: {tool}", tool=tool,
                                fix=f"allow {tool} in the tool policy (gateway.tools.allow over HTTP)")
            return getattr(self, handler)(dict(args or {}))


# tool -> the method that answers it (looked up on the instance, so an override still answers)
_HANDLERS = {"sessions_spawn": "answer_sessions_spawn", "subagents": "answer_subagents",
             "sessions_history": "answer_sessions_history", "agents_wait": "answer_agents_wait",
             AGENTS_LIST: "answer_agents_list"}
