#!/usr/bin/env python3
"""Seed-compatible helpers: retry and the model hierarchy, over the same engine as
RealAIParallelOrchestrator. They return the agents' validated outputs, not spawn receipts.

    from helpers import spawn_with_retry, MODEL_HIERARCHY
    output = spawn_with_retry(AgentTask("code_reviewer", "Review this", {"code": src}),
                              runtime="simulated")
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parallel_agents.core.deps import dependencies_required, use_user_packages  # noqa: E402

use_user_packages()  # what `setup` installed for this python3, ahead of its own site-packages
with dependencies_required():  # missing ones: MissingDependency (an ImportError) with the fix
    from parallel_agents.helpers_api import (
        MODEL_HIERARCHY, collect_agent_results, spawn_parallel_with_retry,
        spawn_with_model_hierarchy, spawn_with_retry)

__all__ = ["MODEL_HIERARCHY", "spawn_with_retry", "spawn_parallel_with_retry",
           "spawn_with_model_hierarchy", "collect_agent_results"]
