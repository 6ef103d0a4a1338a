"""CLI for agents that make agents: `refine` (review and refine until a score), `create-agents`
(creator + reviewer per request) and `install-agent`. Library results rendered as tables for
people, `--json` for agents; progress goes to stderr."""
from __future__ import annotations

from pathlib import Path

from parallel_agents.core.errors import InputError
from parallel_agents.cli.estimate import add_options as add_estimate_options, preflight
from parallel_agents.cli.options import (add_json, add_refine_options, add_runtime_options,
                                         orchestrator, output_folder)
from parallel_agents.cli.progress import WorkflowProgress
from parallel_agents.cli.render import table, to_json
from parallel_agents.cli.report import orchestrator_with_progress, refinement_table, results_table


def add_parsers(sub, only: str | None = None) -> None:
    """The parsers of refine, create-agents and install-agent, in --help's order; `only`: just that
    command's (main builds one parser when the command line names its command)."""
    if only in (None, "refine"):
        p = sub.add_parser("refine", help="review and refine agents until they score --target")
        p.add_argument("agents", nargs="+", metavar="NAME_OR_FILE",
                       help="installed agent names or definition YAML files")
        add_refine_options(p)
        add_estimate_options(p)   # --estimate, --max-cost
        p.add_argument("--out", type=Path, metavar="DIR",
                       help="write each best version to DIR/NAME.yaml")
        p.add_argument("--install", action="store_true",
                       help="install the best versions that reach --target into your agents folder "
                            "(replacing the agent refined)")
        add_runtime_options(p)
        add_json(p)

    if only in (None, "create-agents"):
        p = sub.add_parser("create-agents", help="agents design new agents (creator + reviewer each)")
        p.add_argument("file", type=Path, metavar="FILE",
                       help="YAML list of {name, purpose, domain?, capabilities?}")
        p.add_argument("--out", type=Path, metavar="DIR",
                       help="write each valid design to DIR/NAME.yaml")
        p.add_argument("--install", action="store_true", help="install every valid design")
        add_runtime_options(p)
        add_json(p)

    if only in (None, "install-agent"):
        p = sub.add_parser("install-agent", help="install a definition into your agents folder")
        p.add_argument("file", type=Path, metavar="FILE", help="agent definition YAML")
        p.add_argument("--force", action="store_true", help="replace an agent of the same name")
        add_json(p)


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


# -- refine -----------------------------------------------------------------------------------------

def cmd_refine(args, out) -> int:
    from parallel_agents.workflows.meta import install_agent
    output_folder(args.out)  # before any work: a bad --out would waste the whole run
    from parallel_agents.workflows.refinement import estimate_refinement
    progress = WorkflowProgress(quiet=bool(args.json))
    orch = orchestrator(args, progress)
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
    from parallel_agents.core.errors import ParallelAgentsError
    from parallel_agents.workflows.meta import collect_designs, create_meta_agent_workflow, install_agent
    output_folder(args.out)  # before any work: a bad --out would waste the whole run
    tasks = create_meta_agent_workflow(_requests(args.file))
    orch, progress = orchestrator_with_progress(args, len(tasks))
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


COMMANDS = {"refine": cmd_refine, "create-agents": cmd_create_agents,
            "install-agent": cmd_install_agent}
