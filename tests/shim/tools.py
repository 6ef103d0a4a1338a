"""A `tools` module backed by a FakeOpenClaw: what a runtime-injected tools module looks like.

Tests put tests/shim on sys.path, then `import tools`. Each function takes the tool arguments as
keyword arguments and returns the result wrapped the way OpenClaw's tools return it
(`{"content": [{"type": "text", "text": <json>}], "details": <json>}`), so callers must unwrap.
Set `tools.INCLUDE_DETAILS = False` to return only the text block (the other unwrap path).
`tools.reset(**kwargs)` replaces `tools.FAKE` with a fresh `FakeOpenClaw(**kwargs)`.

With PARALLEL_AGENTS_SHIM=agents in the environment, the children play the registry's agents
(simulated replies from each agent's schema, as in `demo`): the docs tests use this so that
examples written for a runtime that injects `tools` run as written.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from parallel_agents.simulation.fake_openclaw import FakeOpenClaw  # noqa: E402


def _initial_fake() -> FakeOpenClaw:
    if os.environ.get("PARALLEL_AGENTS_SHIM") != "agents":
        return FakeOpenClaw()
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.core.config import load_config
    from parallel_agents.simulation.simulated import AgentPlayer
    models = [t.model for t in load_config().tiers if t.model]
    return FakeOpenClaw(AgentPlayer(load_registry(), latency=(0.01, 0.05)), models=models,
                        default_model=models[-1], max_children=20)


FAKE = _initial_fake()
INCLUDE_DETAILS = True


def reset(**kwargs) -> FakeOpenClaw:
    """Start over with a fresh fake (and details included again)."""
    global FAKE, INCLUDE_DETAILS
    FAKE = FakeOpenClaw(**kwargs)
    INCLUDE_DETAILS = True
    return FAKE


def _wrap(details: dict) -> dict:
    result = {"content": [{"type": "text", "text": json.dumps(details, indent=2)}]}
    if INCLUDE_DETAILS:
        result["details"] = details
    return result


def sessions_spawn(**kwargs) -> dict:
    return _wrap(FAKE.call("sessions_spawn", kwargs))


def subagents(**kwargs) -> dict:
    return _wrap(FAKE.call("subagents", kwargs))


def sessions_history(**kwargs) -> dict:
    return _wrap(FAKE.call("sessions_history", kwargs))


def agents_wait(**kwargs) -> dict:
    return _wrap(FAKE.call("agents_wait", kwargs))
