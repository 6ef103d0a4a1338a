"""A runtime-injected `tools` module whose children play the registry's agents (simulated
replies from each agent's schema). The docs tests put this folder first on PYTHONPATH so that
examples written for a runtime that injects `tools` run as written.

The functions take the tool arguments as keyword arguments and return OpenClaw's
`{content, details}` wrapper, like tests/shim/tools.py.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from parallel_agents.api import load_registry  # noqa: E402
from parallel_agents.config import load_config  # noqa: E402
from parallel_agents.fake_openclaw import FakeOpenClaw  # noqa: E402
from parallel_agents.simulated import AgentPlayer  # noqa: E402

_models = [t.model for t in load_config().tiers if t.model]
FAKE = FakeOpenClaw(AgentPlayer(load_registry(), latency=(0.01, 0.05)), models=_models,
                    default_model=_models[-1], max_children=20)


def _wrap(details: dict) -> dict:
    return {"content": [{"type": "text", "text": json.dumps(details)}], "details": details}


def sessions_spawn(**kwargs) -> dict:
    return _wrap(FAKE.call("sessions_spawn", kwargs))


def subagents(**kwargs) -> dict:
    return _wrap(FAKE.call("subagents", kwargs))


def sessions_history(**kwargs) -> dict:
    return _wrap(FAKE.call("sessions_history", kwargs))


def agents_wait(**kwargs) -> dict:
    return _wrap(FAKE.call("agents_wait", kwargs))
