#!/usr/bin/env python3
"""Simple parallel research: three planners research one trip at the same time.

    python3 examples/simple_parallel_research.py --simulate
    python3 examples/simple_parallel_research.py --city Lisbon --simulate --json

Without --simulate it uses the runtime it finds (an injected `tools` module, or the gateway
named by OPENCLAW_GATEWAY_URL / OPENCLAW_GATEWAY_TOKEN).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ai_orchestrator import AgentTask, ParallelAgentsError, RealAIParallelOrchestrator  # noqa: E402

FOCUSES = {
    "evenings": "Find evening venues and events worth booking",
    "dinner": "Find restaurants suited to a birthday dinner for a group",
    "photos": "Find photo spots and the best time of day for each",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", default="Savannah")
    parser.add_argument("--dates", default="a long weekend")
    parser.add_argument("--simulate", action="store_true", help="use the simulated runtime")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tasks = [AgentTask("travel_event_planner", f"{goal} in the city given.",
                       {"city": args.city, "dates": args.dates, "focus": focus},
                       task_id=f"research-{focus}", timeout_seconds=90)
             for focus, goal in FOCUSES.items()]
    orch = RealAIParallelOrchestrator(max_concurrent=3,
                                      runtime="simulated" if args.simulate else None)
    try:
        results = orch.run_parallel(tasks)
    except ParallelAgentsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            summary = r.output.get("summary") if isinstance(r.output, dict) else r.error
            print(f"{r.task_id}: {r.status} on {r.tier} ({len(r.attempts)} attempt(s)) - {summary}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
