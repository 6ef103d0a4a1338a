"""The simulated runtime: FakeOpenClaw (the contract double) with a responder that plays the
agents, so `demo`, examples and benchmarks run with no OpenClaw and no model.

Replies are generated from each agent's output_schema (see definitions/samples.py) and marked
[simulated]. To show the ladder at work, the cheapest tier sometimes answers with prose-wrapped,
invalid JSON, deterministically per task. A task whose text carries a `SIM {...}` directive is
scripted by that directive instead (see directives.directive_responder). The meta agents (agent
creator, design reviewer, refiner, planner) are played by players.py.
"""
from __future__ import annotations

import json

from parallel_agents.definitions.model import schema_registry
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.definitions.samples import sample, seed_of
from parallel_agents.simulation.directives import Reply, SpawnView, directive_responder, directive_source
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.simulation.players import META_PLAYERS
from parallel_agents.simulation.prompt_reading import input_block


class AgentPlayer:
    """Plays whichever agent a prompt belongs to (found by its system prompt)."""

    def __init__(self, registry, *, latency: tuple[float, float] = (0.2, 0.9),
                 flaky_tier_models: tuple[str, ...] = (), flaky_share: float = 0.4):
        self.registry = registry
        self.latency = latency
        self.flaky_models = set(flaky_tier_models)
        self.flaky_share = flaky_share

    def definition_for(self, prompt: str):
        found = _played_by(self.registry, prompt)
        if found is None:  # an agent installed since this player started (install_agent)
            from parallel_agents.definitions.registry import load_registry
            from parallel_agents.core.errors import ParallelAgentsError
            try:
                current = load_registry()
            except ParallelAgentsError:
                return None
            found = _played_by(current, prompt) if current is not self.registry else None
        return found

    def __call__(self, view: SpawnView) -> Reply:
        if directive_source(view.task) is not None:  # scripted (a bad directive is its error)
            return directive_responder(view)
        seed = seed_of(view.label or view.task)
        lo, hi = self.latency
        latency = lo + (hi - lo) * (seed % 1000) / 1000
        d = self.definition_for(view.task)
        if d is None or d.output_format != "json":
            name = d.name if d else "agent"
            text = f"[simulated] {name} reply.\n\nThis text stands in for the agent's answer."
            results = input_block(view.task).get("results")
            if isinstance(results, dict) and results:
                text += "\n\nResults received: " + ", ".join(map(str, results)) + "."
            return Reply(text=text, latency_s=latency)
        is_reask = "## Your previous reply was rejected" in view.task
        task_seed = seed_of(view.label.split("#")[0]) if view.label else seed
        flaky = view.model in self.flaky_models and (task_seed % 100) < self.flaky_share * 100
        if flaky and (not is_reask or task_seed % 2 == 0):  # half of those stay wrong: escalation
            return Reply(text="Here is my answer: {\"draft\": true, ", latency_s=latency)
        if d.name in META_PLAYERS:
            value = META_PLAYERS[d.name](self, view.task)
        else:
            value = sample(d.output_schema, schema_registry(), seed=seed)
        return Reply(text=json.dumps(value, indent=1), latency_s=latency)


def _played_by(registry, prompt: str):
    for d in registry:
        if d.system_prompt.strip() and prompt.startswith(d.system_prompt.strip()):
            return d
    return None


def simulated_runtime(registry=None, *, config=None, latency=(0.2, 0.9), flaky: bool = True,
                      lane_max_concurrent: int = 8, max_children: int = 20):
    """An OpenClawRuntime over a FakeOpenClaw that plays the registry's agents."""
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.core.config import load_config
    registry = registry or load_registry()
    config = config or load_config()
    models = [t.model for t in config.tiers if t.model]
    cheapest = (models[0],) if flaky and models else ()
    player = AgentPlayer(registry, latency=latency, flaky_tier_models=cheapest)
    # a simulated OpenClaw configured for the registry: every agent_id a definition names
    # exists and may be targeted, and runs sandboxed when a definition requires it
    named = {d.agent_id for d in registry if d.agent_id}
    boxed = {d.agent_id or "main" for d in registry if d.sandbox == "require"}
    fake = FakeOpenClaw(player, lane_max_concurrent=lane_max_concurrent, max_children=max_children,
                        models=models or None, default_model=models[-1] if models else "fake/default",
                        agents=sorted(named | {"main"}), allow_agents=["*"], sandboxed_agents=boxed)
    return OpenClawRuntime(fake)
