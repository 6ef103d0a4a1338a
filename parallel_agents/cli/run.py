"""CLI `run`: run agents on tasks (`--agent`/`--tasks`), a ready-made team (`--team`) or a goal
that agent_orchestrator plans (`--goal`); the results as a table for people, `--json` for agents;
progress goes to stderr."""
from __future__ import annotations

import argparse
from pathlib import Path

from parallel_agents.core.errors import InputError
from parallel_agents.cli.estimate import add_options as add_estimate_options, preflight
from parallel_agents.cli.options import (add_json, add_refine_options, add_runtime_options,
                                         orchestrator, positive)
from parallel_agents.cli.progress import WorkflowProgress
from parallel_agents.cli.render import table, to_json
from parallel_agents.cli.report import orchestrator_with_progress, refinement_table, report, results_table
from parallel_agents.cli.taskargs import add_task_options, located_task_errors, tasks_from_args

TEAMS = ("content", "dev", "review")


def add_parsers(sub, only: str | None = None) -> None:
    """The parser of `run` (`only` names it or is None: this module has no other command)."""
    p = sub.add_parser("run", help="run agents (one task, a task file, a team or a goal)")
    what = add_task_options(p)
    _add_workflow_options(p, what)  # --team, --goal and their options
    add_runtime_options(p)
    add_estimate_options(p)   # --estimate, --max-cost
    p.add_argument("--reuse", action="store_true",
                   help="take a completed result of an earlier run instead of spawning a task "
                        "with the same agent definition, prompt, output format and tier "
                        "(reused: true, cost 0)")
    p.add_argument("--run-id", help=argparse.SUPPRESS)  # set by --attach for the run it starts
    add_json(p)


def _add_workflow_options(p, what) -> None:
    """`run --team ...` and `run --goal ...`."""
    what.add_argument("--team", choices=TEAMS, help="a ready-made team: content, dev or review")
    what.add_argument("--goal", metavar="TEXT",
                      help="let agent_orchestrator plan the goal, run the plan and merge the results")
    p.add_argument("--topic", help="content team: what the posts are about")
    p.add_argument("--platform", default="bluesky", help="content team: platform (default bluesky)")
    p.add_argument("--app", help="dev team: the app's name")
    p.add_argument("--features", help="dev team: comma-separated features, e.g. auth,tasks,teams")
    p.add_argument("--code", type=Path, metavar="FILE", help="review team: the file to review")
    p.add_argument("--max-tasks", type=positive, default=10, metavar="N",
                   help="goal: most tasks the plan may have (default 10)")
    p.add_argument("--refine-created", action="store_true",
                   help="goal: refine designs of agent_creator tasks to --target")
    p.add_argument("--install", action="store_true",
                   help="goal: install refined designs that reach --target (implies --refine-created)")
    add_refine_options(p)


def cmd_run(args, out) -> int:
    if args.team or args.goal:
        return _run_workflow(args, out)
    with located_task_errors(args) as tasks:
        tasks += tasks_from_args(args)
        orch, progress = orchestrator_with_progress(args, len(tasks))
        if preflight(args, out, lambda: orch.estimate(tasks))[0]:   # --estimate, --max-cost
            progress.close()
            return 0
        orch.run_parallel(tasks, run_id=getattr(args, "run_id", None))
    return report(orch, progress, args, out)


# -- run --team / --goal ------------------------------------------------------------------------------

def team_tasks(args) -> list:
    from parallel_agents.workflows import teams
    if args.team == "content":
        if not args.topic:
            raise InputError("--team content needs --topic", field="--topic",
                             fix='add --topic "Monday motivation"')
        return teams.create_content_team(args.topic, platform=args.platform)
    if args.team == "dev":
        if not args.app or not args.features:
            raise InputError("--team dev needs --app and --features", field="--app",
                             fix='add --app TaskManager --features auth,tasks,teams')
        return teams.create_dev_team(args.app, args.features)
    if not args.code:
        raise InputError("--team review needs --code FILE", field="--code", fix="add --code app.py")
    from parallel_agents.core import yamlio
    return teams.create_review_team(yamlio.read_text(args.code, shown=str(args.code)))


def _run_workflow(args, out) -> int:
    """`run --team` / `run --goal`."""
    if args.task or args.input:
        raise InputError("--task/--input go with --agent", field="--task",
                         fix="use --topic/--app/--features/--code with --team, or only --goal")
    if args.team:
        tasks = team_tasks(args)
        orch, progress = orchestrator_with_progress(args, len(tasks))
        if preflight(args, out, lambda: orch.estimate(tasks))[0]:   # --estimate, --max-cost
            progress.close()
            return 0
        orch.run_parallel(tasks)
        return report(orch, progress, args, out)
    return _run_goal(args, out)


def _run_goal(args, out) -> int:
    from parallel_agents.workflows.planning import estimate_orchestrate
    progress = WorkflowProgress(quiet=bool(args.json))
    orch = orchestrator(args, progress)
    refine = args.refine_created or args.install
    if preflight(args, out, lambda: estimate_orchestrate(
            orch, args.goal, max_tasks=args.max_tasks, refine_created=refine,
            target_score=args.target))[0]:
        return 0
    done = orch.orchestrate(args.goal, max_tasks=args.max_tasks, refine_created=refine,
                            target_score=args.target, max_rounds=args.max_rounds,
                            install=args.install)
    progress.close()
    if args.json:
        out(to_json(done.to_dict()))
        return 0 if done.ok else 1
    if done.error:
        out(f"no plan: {done.error}")
        return 1
    out(f"Plan: {done.plan.get('summary', '')}\n")
    out(table([{"id": t["id"], "agent": t["agent_type"], "after": ",".join(t["depends_on"]) or "-",
                "task": t["description"]} for t in done.plan["tasks"]],
              ["id", "agent", "after", "task"]))
    out("\n" + results_table(done.results))
    if done.refinements:
        out("\n" + refinement_table(done.refinements))
    for item in done.rejected_designs:
        out(f"design of {item['task_id']} rejected: {item['problems'][0]}")
    for item in done.installed:
        out(f"installed {item['name']}: {item['path']}" if "path" in item
            else f"not installed {item['name']}: {item['error']}")
    if done.synthesis is not None:
        out("\n# Synthesis\n\n" + done.synthesis.strip())
    elif done.synthesis_result is not None:
        out(f"\nsynthesis {done.synthesis_result.status}: {done.synthesis_result.error}")
    return 0 if done.ok else 1


COMMANDS = {"run": cmd_run}
