"""CLI `demo`: a multi-agent run on the simulated runtime (no OpenClaw), then a refinement loop:
what a run looks like - re-asks, escalation, costs - before any gateway is set up."""
from __future__ import annotations

from parallel_agents.cli.options import add_json, positive
from parallel_agents.cli.progress import WorkflowProgress
from parallel_agents.cli.render import to_json
from parallel_agents.cli.report import orchestrator_with_progress, refinement_table, report

DEMO_CODE = '''def average(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)
'''
DEMO_REQUEST = {"name": "crypto_analyst",
                "purpose": "Summarise the week's crypto market trends for a newsletter"}


def add_parsers(sub, only: str | None = None) -> None:
    """The parser of `demo` (`only` names it or is None: this module has no other command)."""
    p = sub.add_parser("demo", help="a multi-agent run on the simulated runtime (no OpenClaw)")
    p.add_argument("--max-concurrent", type=positive, default=5, metavar="N")
    add_json(p)


def demo_tasks():
    """A realistic mixed run: five content writers on one topic and five reviewers on one file."""
    from parallel_agents.engine.tasks import AgentTask
    writers = ["content_writer_creative", "content_writer_funny", "content_writer_educational",
               "content_writer_trendy", "content_writer_controversial"]
    reviewers = ["code_reviewer", "security_reviewer", "performance_reviewer",
                 "accessibility_reviewer", "test_engineer"]
    tasks = [AgentTask(w, "Write posts about Monday motivation",
                       {"topic": "Monday motivation", "platform": "bluesky"}, task_id=f"post-{w[15:]}")
             for w in writers]
    tasks += [AgentTask(r, "Review this module", {"file": "stats.py", "code": DEMO_CODE},
                        task_id=f"review-{r.split('_')[0]}") for r in reviewers]
    return tasks


def cmd_demo(args, out) -> int:
    if not args.json:
        out("Demo on the simulated runtime: 10 agents (5 writers, 5 reviewers), "
            f"max_concurrent {args.max_concurrent}. Outputs are [simulated]; the cheapest tier "
            "sometimes replies with invalid JSON, so you can watch re-asks and escalation. "
            "Then a refinement loop: an agent designed, reviewed and refined until it scores 8.5.\n")
    args.simulate = True
    tasks = demo_tasks()
    orch, progress = orchestrator_with_progress(args, len(tasks))
    orch.run_parallel(tasks)
    if args.json:  # one document: the run's report with the refinement loop in it
        progress.close()
        run = orch.last_run
        out(to_json({**run.to_dict(), "refinement": demo_refinement(args, None)}))
        return 0 if all(r.ok for r in run.results) else 1
    code = report(orch, progress, args, out)
    demo_refinement(args, out)
    return code


def demo_refinement(args, out) -> list[dict]:
    """The refinement loop part of `demo`: one new agent, created, reviewed and refined to 8.5 on
    the simulated runtime. Prints a table unless `out` is None; returns the results as dicts."""
    from parallel_agents.orchestrator import RealAIParallelOrchestrator
    from parallel_agents.simulation.simulated import simulated_runtime
    progress = WorkflowProgress(quiet=out is None)
    if out is not None:
        out(f"\nRefinement loop: agent_creator designs {DEMO_REQUEST['name']}, agent_design_reviewer "
            "scores it, agent_refiner applies the fixes, until it scores 8.5 (3 rounds at most).\n")
    orch = RealAIParallelOrchestrator(args.max_concurrent, runtime=simulated_runtime(latency=(0.05, 0.3)),
                                      on_event=progress)
    results = orch.run_iterative_refinement([DEMO_REQUEST], target_score=8.5, max_rounds=3)
    progress.close()
    if out is not None:
        out(refinement_table(results))
    return [r.to_dict() for r in results]


COMMANDS = {"demo": cmd_demo}
