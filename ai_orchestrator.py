#!/usr/bin/env python3
"""parallel-agents: the public API (names kept from the skill this one replaces) and the CLI.

    from ai_orchestrator import AgentTask, list_available_agents, get_agent_prompt
    python3 ai_orchestrator.py list | show NAME | validate

This file only wires; the engine lives in parallel_agents/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parallel_agents import __version__  # noqa: E402
from parallel_agents.api import (  # noqa: E402
    get_agent_prompt, list_available_agents, load_registry, validate_agent_type)
from parallel_agents.errors import (  # noqa: E402
    DefinitionError, ParallelAgentsError, UnknownAgentError)
from parallel_agents.tasks import AgentResult, AgentTask, Attempt  # noqa: E402

__all__ = ["AgentTask", "AgentResult", "Attempt", "list_available_agents", "get_agent_prompt",
           "validate_agent_type", "load_registry", "ParallelAgentsError", "DefinitionError",
           "UnknownAgentError", "__version__"]

if __name__ == "__main__":
    from parallel_agents.cli import main
    sys.exit(main())
