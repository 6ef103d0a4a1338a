"""CLI workflows: `run --team|--goal`, `refine`, `create-agents`, `install-agent`, and the
refinement part of `demo`. Library results rendered as tables for people, `--json` for agents;
progress goes to stderr."""
from __future__ import annotations

import argparse
from pathlib import Path

from parallel_agents.core.errors import InputError
from parallel_agents.cli.progress import Progress
from parallel_agents.cli.render import table, to_json

TEAMS = ("content", "dev", "review")
WORKFLOW_EVENTS = {"refined": "refine {task_id}: {message}", "planned": "plan: {message}",
                   "installed": "installed {task_id}: {message}"}
DEMO_REQUEST = {"name": "crypto_analyst",
                "purpose": "Summarise the week's crypto market trends for a newsletter"}


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError("must be from 0 to 10")
    return value


def _refine_args(p) -> None:
    from parallel_agents.cli.run import _positive
    p.add_argument("--target", type=_score, default=8.5, metavar="SCORE",
                   help="stop refining an agent once its design scores this (0-10, default 8.5)")
    p.add_argument("--max-rounds", type=_positive, default=3, metavar="N",
                   help="reviews per agent at most (default 3)")


def add_run_options(p, what) -> None:
    """`run --team ...` and `run --goal ...` (called by cli_run.add_parsers)."""
    from parallel_agents.cli.run import _positive
    what.add_argument("--team", choices=TEAMS, help="a ready-made team: content, dev or review")
    what.add_argument("--goal", metavar="TEXT",
                      help="let agent_orchestrator plan the goal, run the plan and merge the results")
    p.add_argument("--topic", help="content team: what the posts are about")
    p.add_argument("--platform", default="bluesky", help="content team: platform (default bluesky)")
    p.add_argument("--app", help="dev team: the app's name")
    p.add_argument("--features", help="dev team: comma-separated features, e.g. auth,tasks,teams")
    p.add_argument("--code", type=Path, metavar="FILE", help="review team: the file to review")
    p.add_argument("--max-tasks", type=_positive, default=10, metavar="N",
                   help="goal: most tasks the plan may have (default 10)")
    p.add_argument("--refine-created", action="store_true",
                   help="goal: refine designs of agent_creator tasks to --target")
    p.add_argument("--install", action="store_true",
                   help="goal: install refined designs that reach --target (implies --refine-created)")
    _refine_args(p)


def add_parsers(sub, add_json) -> None:
    from parallel_agents.cli.run import _runtime_args
    p = sub.add_parser("refine", help="review and refine agents until they score --target")
    p.add_argument("agents", nargs="+", metavar="NAME_OR_FILE",
                   help="installed agent names or definition YAML files")
    _refine_args(p)
    from parallel_agents.cli.estimate import add_options as add_estimate_options
    add_estimate_options(p)   # --estimate, --max-cost
    p.add_argument("--out", type=Path, metavar="DIR", help="write each best version to DIR/NAME.yaml")
    p.add_argument("--install", action="store_true",
                   help="install the best versions that reach --target into your agents folder "
                        "(replacing the agent refined)")
    _runtime_args(p)
    add_json(p)

    p = sub.add_parser("create-agents", help="agents design new agents (creator + reviewer each)")
    p.add_argument("file", type=Path, metavar="FILE",
                   help="YAML list of {name, purpose, domain?, capabilities?}")
    p.add_argument("--out", type=Path, metavar="DIR", help="write each valid design to DIR/NAME.yaml")
    p.add_argument("--install", action="store_true", help="install every valid design")
    _runtime_args(p)
    add_json(p)

    p = sub.add_parser("install-agent", help="install a definition into your agents folder")
    p.add_argument("file", type=Path, metavar="FILE", help="agent definition YAML")
    p.add_argument("--force", action="store_true", help="replace an agent of the same name")
    add_json(p)


# -- shared -----------------------------------------------------------------------------------------

class WorkflowProgress(Progress):
    """Progress for workflows whose task count grows as they go (rounds, plan, synthesis):
    `[done/known]` per task, and one line per workflow step (refinement round, plan, install)."""

    def __init__(self, stream=None, *, quiet: bool = False):
        super().__init__(0, stream, quiet=quiet)
        self._seen: set[str] = set()

    def __call__(self, event) -> None:
        if event.kind in WORKFLOW_EVENTS:
            if not self.quiet:
                prefix = "\r\033[K" if self.tty else ""
                line = WORKFLOW_EVENTS[event.kind].format(task_id=event.task_id, message=event.message)
                self._write(f"{prefix}{line}\n")
            return
        if event.task_id not in self._seen and (event.kind == "queued" or event.kind in
                                                ("completed", "failed", "timeout", "skipped")):
            self._seen.add(event.task_id)
            self.total += 1
        super().__call__(event)


def _orchestrator(args, progress):
    from parallel_agents.cli.run import orchestrator_options
    from parallel_agents.orchestrator import RealAIParallelOrchestrator
    return RealAIParallelOrchestrator(getattr(args, "max_concurrent", None), on_event=progress,
                                      **orchestrator_options(args))


def _write_yaml(folder: Path, definition: dict) -> Path:
    from parallel_agents.core import yamlio
    from parallel_agents.core.errors import EnvironmentProblem
    path = folder / f"{definition['name']}.yaml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(yamlio.dump(definition), encoding="utf-8")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write it: {exc.strerror or exc}", file=str(path),
                                 field="--out", fix="name a folder you can write to") from None
    return path


def _scores(history) -> str:
    """`6.8 -> 8.7`; an invalid version shows as `7.9 invalid`, a failed round as `failed`."""
    def one(h):
        if h.get("score") is None:
            return "failed"
        return f"{h['score']:.1f}" + ("" if h.get("valid", True) else " invalid")
    return " -> ".join(one(h) for h in history) or "-"


def refinement_table(results) -> str:
    return table([{"agent": r.name, "rounds": r.rounds, "scores": _scores(r.history),
                   "best": "-" if r.score is None else f"{r.score:.1f}", "target": f"{r.target:g}",
                   "stopped": r.reason} for r in results],
                 ["agent", "rounds", "scores", "best", "target", "stopped"])


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


def cmd_run_workflow(args, out) -> int:
    """`run --team` / `run --goal` (cmd_run hands these over)."""
    if args.task or args.input:
        raise InputError("--task/--input go with --agent", field="--task",
                         fix="use --topic/--app/--features/--code with --team, or only --goal")
    if args.team:
        from parallel_agents.cli.run import _orchestrator as run_orchestrator, _report
        from parallel_agents.cli.estimate import preflight
        tasks = team_tasks(args)
        orch, progress = run_orchestrator(args, len(tasks))
        if preflight(args, out, lambda: orch.estimate(tasks))[0]:   # --estimate, --max-cost
            progress.close()
            return 0
        orch.run_parallel(tasks)
        return _report(orch, progress, args, out)
    return _run_goal(args, out)


def _run_goal(args, out) -> int:
    from parallel_agents.cli.run import results_table
    from parallel_agents.cli.estimate import preflight
    from parallel_agents.workflows.planning import estimate_orchestrate
    progress = WorkflowProgress(quiet=bool(args.json))
    orch = _orchestrator(args, progress)
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


# -- refine -----------------------------------------------------------------------------------------

def cmd_refine(args, out) -> int:
    from parallel_agents.cli.main import output_folder
    from parallel_agents.workflows.meta import install_agent
    output_folder(args.out)  # before any work: a bad --out would waste the whole run
    from parallel_agents.cli.estimate import preflight
    from parallel_agents.workflows.refinement import estimate_refinement
    progress = WorkflowProgress(quiet=bool(args.json))
    orch = _orchestrator(args, progress)
    if preflight(args, out, lambda: estimate_refinement(orch, args.agents, args.target,
                                                        args.max_rounds))[0]:
        return 0
    results = orch.run_iterative_refinement(args.agents, args.target, args.max_rounds)
    progress.close()
    written, installed = [], []
    for r in results:
        if args.out and r.definition:
            written.append(str(_write_yaml(args.out, r.definition)))
        if args.install and r.reached:
            installed.append(str(install_agent(r.definition, force=True)))
    if args.json:
        out(to_json({"target": args.target, "max_rounds": args.max_rounds,
                     "agents": [r.to_dict() for r in results], "written": written,
                     "installed": installed}))
    else:
        out(refinement_table(results))
        for path in written:
            out(f"wrote {path}")
        for path in installed:
            out(f"installed {path}")
    return 0 if all(r.reached for r in results) else 1


# -- create-agents / install-agent ----------------------------------------------------------------------

def _requests(path: Path) -> list:
    from parallel_agents.core import yamlio
    from parallel_agents.workflows.meta import agent_request
    shown = str(path)
    data, problem = yamlio.parse(yamlio.read_text(path, shown=shown), shown=shown)
    if problem:
        raise InputError(problem.message, problems=[problem])
    if isinstance(data, dict) and "agents" in data:
        data = data["agents"]
    if not isinstance(data, list) or not data:
        raise InputError("expected a non-empty list of agents to create", file=shown, line=1,
                         fix="write `- name: bug_hunter` / `  purpose: Find bugs in code` items")
    try:
        return [agent_request(item, i) for i, item in enumerate(data)]
    except InputError as exc:
        p = exc.problems[0]
        raise InputError(p.message, file=shown, field=p.field, fix=p.fix) from None


def cmd_create_agents(args, out) -> int:
    from parallel_agents.cli.run import _orchestrator as run_orchestrator, results_table
    from parallel_agents.core.errors import ParallelAgentsError
    from parallel_agents.cli.main import output_folder
    from parallel_agents.workflows.meta import collect_designs, create_meta_agent_workflow, install_agent
    output_folder(args.out)  # before any work: a bad --out would waste the whole run
    tasks = create_meta_agent_workflow(_requests(args.file))
    orch, progress = run_orchestrator(args, len(tasks))
    results = orch.run_parallel(tasks)
    progress.close()
    rows = []
    for design in collect_designs(tasks, results):
        row = design.to_dict()
        if design.valid and args.out:
            row["written"] = str(_write_yaml(args.out, design.definition))
        if design.valid and args.install:
            try:
                row["installed"] = str(install_agent(design.definition))
            except ParallelAgentsError as exc:
                row["install_error"] = str(exc.problems[0])
        rows.append(row)
    ok = all(r["valid"] and not r["error"] and "install_error" not in r for r in rows)
    if args.json:
        out(to_json({"agents": rows, "run": orch.last_run.to_dict()}))
        return 0 if ok else 1
    out(results_table(results) + "\n")
    out(table([{"agent": r["name"],
                "design": "valid" if r["valid"] else ("invalid" if r["definition"] else "none"),
                "score": "-" if r["score"] is None else f"{r['score']:.1f}", "verdict": r["verdict"] or "-",
                "where": r.get("installed") or r.get("written") or r.get("install_error")
                or r["error"] or "; ".join(r["problems"][:1]) or "-"} for r in rows],
              ["agent", "design", "score", "verdict", "where"]))
    if not args.install and any(r["valid"] for r in rows):
        out("\nInstall a design with --install, or --out DIR and then `install-agent DIR/NAME.yaml`.")
    return 0 if ok else 1


def cmd_install_agent(args, out) -> int:
    from parallel_agents.workflows.meta import install_agent
    path = install_agent(args.file, force=args.force)
    if args.json:
        out(to_json({"name": path.stem, "path": str(path)}))
    else:
        out(f"installed {path.stem}: {path}\n`list` shows it; run it with `run --agent {path.stem}`.")
    return 0


# -- demo ---------------------------------------------------------------------------------------------

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


COMMANDS = {"refine": cmd_refine, "create-agents": cmd_create_agents,
            "install-agent": cmd_install_agent}
