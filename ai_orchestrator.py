#!/usr/bin/env python3
"""parallel-agents: the public API (names kept from the skill this one replaces) and the CLI.

    from ai_orchestrator import RealAIParallelOrchestrator, AgentTask
    results = RealAIParallelOrchestrator(max_concurrent=5).run_parallel(tasks)

    python3 ai_orchestrator.py --help     (list, show, validate, run, demo, plan, check, doctor,
                                           runs, resume, refine, create-agents, install-agent,
                                           package, install, upgrade, setup)

This file only wires; the engine lives in parallel_agents/. Names are imported on first use,
so the CLI and `import ai_orchestrator` start fast.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parallel_agents.core.deps import import_attr, use_user_packages  # noqa: E402

use_user_packages()  # what `setup` installed for this python3, ahead of its own site-packages

if __name__ == "__main__":
    from parallel_agents.cli.main import main
    sys.exit(main())

_EXPORTS = {
    "RealAIParallelOrchestrator": "orchestrator", "RunReport": "orchestrator",
    "AgentTask": "engine.tasks", "AgentResult": "engine.tasks", "Attempt": "engine.tasks", "Event": "engine.events",
    "map_task": "engine.mapping",
    "list_available_agents": "api", "get_agent_prompt": "api", "validate_agent_type": "api",
    "load_registry": "api",
    "create_content_team": "workflows.teams", "create_dev_team": "workflows.teams", "create_review_team": "workflows.teams",
    "create_meta_agent_workflow": "workflows.meta", "collect_designs": "workflows.meta", "normalise_design": "workflows.meta",
    "install_agent": "workflows.meta", "CreatedAgent": "workflows.meta",
    "RefinementResult": "workflows.refinement", "OrchestrationResult": "workflows.planning", "plan_problems": "workflows.planning",
    "ParallelAgentsError": "core.errors", "DefinitionError": "core.errors", "InputError": "core.errors",
    "EnvironmentProblem": "core.errors", "RunAborted": "core.errors", "ToolError": "core.errors",
    "UnknownAgentError": "core.errors", "attached_runtime": "openclaw.attach", "MissingDependency": "core.errors",
    "CostLimitExceeded": "core.errors",
}
__all__ = [*_EXPORTS, "__version__"]
from parallel_agents import __version__  # noqa: E402


def __getattr__(name: str):
    if name in _EXPORTS:
        value = import_attr(f"parallel_agents.{_EXPORTS[name]}", name)  # MissingDependency
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ai_orchestrator' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
