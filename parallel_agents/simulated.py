"""The simulated runtime: FakeOpenClaw (the contract double) with a responder that plays the
agents, so `demo`, examples and benchmarks run with no OpenClaw and no model.

Replies are generated from each agent's output_schema (see samples.py) and marked [simulated].
To show the ladder at work, the cheapest tier sometimes answers with prose-wrapped, invalid
JSON, deterministically per task. A task whose text carries a `SIM {...}` directive is scripted
by that directive instead (see fake_openclaw.directive_responder).
"""
from __future__ import annotations

import json

from .definitions import schema_registry
from .fake_openclaw import FakeOpenClaw, Reply, SpawnView, directive_responder, parse_directive
from .runtime import OpenClawRuntime
from .samples import agent_definition_sample, sample, seed_of


class AgentPlayer:
    """Plays whichever agent a prompt belongs to (found by its system prompt)."""

    def __init__(self, registry, *, latency: tuple[float, float] = (0.2, 0.9),
                 flaky_tier_models: tuple[str, ...] = (), flaky_share: float = 0.4):
        self.registry = registry
        self.latency = latency
        self.flaky_models = set(flaky_tier_models)
        self.flaky_share = flaky_share

    def definition_for(self, prompt: str):
        for d in self.registry:
            if d.system_prompt.strip() and prompt.startswith(d.system_prompt.strip()):
                return d
        return None

    def __call__(self, view: SpawnView) -> Reply:
        try:
            if parse_directive(view.task) is not None:
                return directive_responder(view)
        except ValueError:
            return directive_responder(view)
        seed = seed_of(view.label or view.task)
        lo, hi = self.latency
        latency = lo + (hi - lo) * (seed % 1000) / 1000
        d = self.definition_for(view.task)
        if d is None or d.output_format != "json":
            name = d.name if d else "agent"
            text = f"[simulated] {name} reply.\n\nThis text stands in for the agent's answer."
            return Reply(text=text, latency_s=latency)
        is_reask = "## Your previous reply was rejected" in view.task
        task_seed = seed_of(view.label.split("#")[0]) if view.label else seed
        flaky = view.model in self.flaky_models and (task_seed % 100) < self.flaky_share * 100
        if flaky and (not is_reask or task_seed % 2 == 0):  # half of those stay wrong: escalation
            return Reply(text="Here is my answer: {\"draft\": true, ", latency_s=latency)
        if d.name == "agent_creator":
            request = _input_block(view.task)
            value = agent_definition_sample(request.get("name", ""), request.get("purpose", ""))
        else:
            value = sample(d.output_schema, schema_registry(), seed=seed)
        return Reply(text=json.dumps(value, indent=1), latency_s=latency)


def _input_block(prompt: str) -> dict:
    """The JSON input data of a prompt built by prompts.build_prompt (best effort)."""
    start = prompt.find("\n<<<DATA-")
    if start < 0:
        return {}
    body_start = prompt.find("\n", start + 1) + 1
    end = prompt.find("\nDATA-", body_start)
    try:
        value = json.loads(prompt[body_start:end])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def simulated_runtime(registry=None, *, config=None, latency=(0.2, 0.9), flaky: bool = True,
                      lane_max_concurrent: int = 8, max_children: int = 20):
    """An OpenClawRuntime over a FakeOpenClaw that plays the registry's agents."""
    from .api import load_registry
    from .config import load_config
    registry = registry or load_registry()
    config = config or load_config()
    models = [t.model for t in config.tiers if t.model]
    cheapest = (models[0],) if flaky and models else ()
    player = AgentPlayer(registry, latency=latency, flaky_tier_models=cheapest)
    fake = FakeOpenClaw(player, lane_max_concurrent=lane_max_concurrent, max_children=max_children,
                        models=models or None, default_model=models[-1] if models else "fake/default")
    return OpenClawRuntime(fake)
