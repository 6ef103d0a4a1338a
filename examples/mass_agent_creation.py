#!/usr/bin/env python3
"""Mass agent creation: ten agent_creator tasks at once, each followed by an agent_design_reviewer
that reviews that creator's design (the seed's Example 5, with the reviewers actually given the
designs).

    python3 examples/mass_agent_creation.py --simulate
    python3 examples/mass_agent_creation.py --simulate --install     # into your agents folder
    python3 examples/mass_agent_creation.py --simulate --json

Without --simulate it uses the runtime it finds (an injected `tools` module, or the gateway
named by OPENCLAW_GATEWAY_URL / OPENCLAW_GATEWAY_TOKEN).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ai_orchestrator import (ParallelAgentsError, RealAIParallelOrchestrator,  # noqa: E402
                             collect_designs, create_meta_agent_workflow, install_agent)

NEW_AGENTS = [
    {"name": "engagement_optimizer", "purpose": "Analyze social media posts",
     "domain": "social media", "capabilities": ["analytics", "optimization"]},
    {"name": "workout_designer", "purpose": "Create gym/home workouts",
     "domain": "fitness", "capabilities": ["program design", "adaptation"]},
    {"name": "email_drafter", "purpose": "Write professional/personal emails",
     "domain": "communication", "capabilities": ["tone adaptation", "drafting"]},
    {"name": "meal_planner", "purpose": "Plan weekly meals within a budget",
     "domain": "nutrition", "capabilities": ["menu planning", "shopping lists"]},
    {"name": "budget_tracker", "purpose": "Categorise spending and flag overruns",
     "domain": "personal finance", "capabilities": ["categorisation", "alerts"]},
    {"name": "meeting_summarizer", "purpose": "Summarise meeting notes into decisions and actions",
     "domain": "productivity", "capabilities": ["summarisation", "action extraction"]},
    {"name": "bug_triager", "purpose": "Triage bug reports by severity and component",
     "domain": "software QA", "capabilities": ["classification", "deduplication"]},
    {"name": "release_notes_writer", "purpose": "Write release notes from a list of changes",
     "domain": "technical writing", "capabilities": ["change grouping", "plain language"]},
    {"name": "seo_auditor", "purpose": "Audit a web page's text for search visibility",
     "domain": "marketing", "capabilities": ["keyword analysis", "metadata review"]},
    {"name": "interview_coach", "purpose": "Prepare interview questions for a job description",
     "domain": "careers", "capabilities": ["question design", "feedback"]},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulate", action="store_true", help="use the simulated runtime")
    parser.add_argument("--install", action="store_true",
                        help="install every valid design into $PARALLEL_AGENTS_HOME/agents")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tasks = create_meta_agent_workflow(NEW_AGENTS)     # 10 creators + 10 reviewers
    orch = RealAIParallelOrchestrator(max_concurrent=10,
                                      runtime="simulated" if args.simulate else None)
    try:
        results = orch.run_parallel(tasks)
        designs = collect_designs(tasks, results)
        installed = {d.name: str(install_agent(d.definition)) for d in designs
                     if args.install and d.installable}
    except ParallelAgentsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps([{**d.to_dict(), "installed": installed.get(d.name)} for d in designs],
                         indent=2))
    else:
        for d in designs:
            state = "valid" if d.valid else (d.error or "; ".join(map(str, d.problems[:1])))
            where = f" -> {installed[d.name]}" if d.name in installed else ""
            print(f"{d.name}: {state}, review score {d.score}{where}")
        scores = [d.score for d in designs if d.score is not None]
        if scores:
            print(f"average review score {sum(scores) / len(scores):.1f}/10 over {len(scores)} designs; "
                  f"{orch.last_run.peak_in_flight} agents ran at once at the peak")
    return 0 if all(d.valid and d.error is None for d in designs) else 1


if __name__ == "__main__":
    sys.exit(main())
