"""CLI commands that run agents: run, demo, runs, resume."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from parallel_agents.core.errors import InputError
from parallel_agents.cli.render import table, to_json

DEMO_CODE = '''def average(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)
'''


def add_parsers(sub, add_json) -> None:
    p = sub.add_parser("run", help="run agents (one task, a task file, a team or a goal)")
    what = add_task_options(p)
    from parallel_agents.cli.workflows import add_run_options
    add_run_options(p, what)  # --team, --goal and their options
    _runtime_args(p)
    from parallel_agents.cli.estimate import add_options as add_estimate_options
    add_estimate_options(p)   # --estimate, --max-cost
    p.add_argument("--reuse", action="store_true",
                   help="take a completed result of an earlier run instead of spawning a task "
                        "with the same agent definition, prompt, output format and tier "
                        "(reused: true, cost 0)")
    p.add_argument("--run-id", help=argparse.SUPPRESS)  # set by --attach for the run it starts
    add_json(p)

    p = sub.add_parser("demo", help="a multi-agent run on the simulated runtime (no OpenClaw)")
    p.add_argument("--max-concurrent", type=_positive, default=5, metavar="N")
    add_json(p)

    p = sub.add_parser("runs", help="list journaled runs, or show one (and wait for it)")
    p.add_argument("run_id", nargs="?", help="show this run's results")
    p.add_argument("--wait", action="store_true",
                   help="with RUN_ID: wait until the run has finished (a detached --attach run)")
    p.add_argument("--timeout", type=_positive, metavar="SECONDS",
                   help="with --wait: stop waiting after this long (the run goes on)")
    p.add_argument("--forget", action="store_true",
                   help="delete every result kept for `run --reuse` (journals stay)")
    add_json(p)

    p = sub.add_parser("resume", help="finish a run from its journal without re-spawning")
    p.add_argument("run_id")
    _runtime_args(p, concurrency=False)
    add_json(p)


def add_task_options(p):
    """--agent NAME --task TEXT [--input FILE] | --tasks FILE (shared by run and plan); returns
    the exclusive group so a command can add more ways to name its tasks."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--agent", help="agent type for a single task (with --task)")
    what.add_argument("--tasks", type=Path, metavar="FILE", help="YAML/JSON file of tasks")
    p.add_argument("--task", help="task description (with --agent)")
    p.add_argument("--input", metavar="FILE", help="YAML/JSON input data (with --agent)")
    return what


def tasks_from_args(args):
    """The tasks named by add_task_options' arguments."""
    if args.agent:
        return [single_task(args)]
    if args.task or args.input:
        raise InputError("--task/--input go with --agent, not --tasks", field="--tasks",
                         fix="put task text and input in the task file")
    from parallel_agents.engine.taskfile import load_tasks
    return load_tasks(args.tasks)


@contextlib.contextmanager
def located_task_errors(args):
    """Errors about the tasks named by add_task_options' arguments point at what the user wrote:
    the task file, line and key (`tasks.yaml:7: tasks[1].depends_on: ...`), or the option
    (--agent, --task, --input FILE). Yields a list for the tasks, to find them by position.
    However many tasks and problems, the file's lines come from one pass over it (the one
    taskfile.load_tasks made, when the file is unchanged)."""
    tasks: list = []
    try:
        yield tasks
    except InputError as exc:
        from parallel_agents.core.errors import CostLimitExceeded   # about the whole run, not one task
        if any(not p.file for p in exc.problems) and not isinstance(exc, CostLimitExceeded):
            found: dict = {}  # filled on first use: task positions and the file's lines
            exc.problems = [p if p.file else _locate(p, exc, args, tasks, found)
                            for p in exc.problems]
        raise


_OPTIONS = {"agent_type": "--agent", "task_description": "--task", "input_data": "--input"}


def _locate(problem, exc, args, tasks, found: dict):
    from parallel_agents.core.errors import Problem, UnknownAgentError
    if args.agent:
        option = _OPTIONS.get(problem.field)
        if option is None:
            return problem
        file = args.input if option == "--input" else None
        return Problem(problem.message, file, None, option, problem.fix)
    if "positions" not in found:  # of a repeated id, the later task
        found["positions"] = {t.task_id: i for i, t in enumerate(tasks)}
    tid = getattr(exc, "task_id", None)
    index = found["positions"].get(tid) if isinstance(tid, str) else None
    if index is None and isinstance(exc, UnknownAgentError):
        index = next((i for i, t in enumerate(tasks) if t.agent_type == exc.name), None)
    shown = str(args.tasks)
    if index is None:
        return Problem(problem.message, shown, None, problem.field, problem.fix)
    if "lines" not in found:
        from parallel_agents.engine.taskfile import task_lines
        found["lines"] = task_lines(args.tasks)
    line, key = _task_key_line(found["lines"], index, problem.field)
    return Problem(problem.message, shown, line, f"tasks[{index}]" + (f".{key}" if key else ""),
                   problem.fix)


def _task_key_line(lines, index: int, field: str | None):
    """(line, key as written) of task `index`'s field, from a task file's TaskLines
    (taskfile.ALIASES: the user may have written `agent` or `agent_type`); the key is None when
    the task does not set it."""
    from parallel_agents.engine.taskfile import ALIASES
    fields = [field, "input_from"] if field == "depends_on" else [field]  # input_from adds deps
    keys = lines.keys(index)
    key = next((k for f in fields for k in keys if ALIASES.get(k, k) == f), None)
    return lines.line(index, key), key


def _positive(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _usd(text: str) -> float:
    import argparse
    import math
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD, e.g. 2.50") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 (leave it out for no budget)")
    return value


def _runtime_args(p, *, concurrency: bool = True) -> None:
    if concurrency:
        p.add_argument("--max-concurrent", type=_positive, metavar="N",
                       help="attempts in flight at most (default: config max_concurrent)")
        p.add_argument("--budget", type=_usd, metavar="USD", help="stop starting attempts past this spend")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--simulate", action="store_true",
                       help="use the simulated runtime (no OpenClaw; outputs are marked [simulated])")
    which.add_argument("--attach", nargs="?", const="main", default=None, metavar="SESSION",
                       help="attached mode: run through an OpenClaw attach grant bound to SESSION "
                            "(default: the main session); needs the `openclaw` CLI, no gateway "
                            "configuration")
    p.add_argument("--detach", action="store_true",
                   help="with --attach: start the run in the background and return its run id at "
                        "once; `runs RUN_ID --wait` collects it")
    which.add_argument("--gateway", metavar="URL",
                       help="drive this OpenClaw gateway over HTTP (default: OPENCLAW_GATEWAY_URL, "
                            "then gateway.url in config.yaml; token: OPENCLAW_GATEWAY_TOKEN)")
    p.add_argument("--allow-insecure-http", action="store_true",
                   help="allow plain http:// to a gateway that is not on loopback (sends the "
                        "token unencrypted: trusted networks only)")


def orchestrator_options(args) -> dict:
    """RealAIParallelOrchestrator's keyword arguments from the options of _runtime_args."""
    from parallel_agents.core.config import load_config
    config = load_config()
    url, insecure = getattr(args, "gateway", None), getattr(args, "allow_insecure_http", False)
    if url or insecure:
        config = config.with_gateway(url=url, allow_insecure_http=insecure)
    runtime = getattr(args, "runtime_object", None) or \
        ("simulated" if getattr(args, "simulate", False) else url)
    return {"runtime": runtime, "config": config, "budget_usd": getattr(args, "budget", None),
            "reuse": bool(getattr(args, "reuse", False))}


def _orchestrator(args, total: int):
    from parallel_agents.orchestrator import RealAIParallelOrchestrator
    from parallel_agents.cli.progress import Progress
    progress = Progress(total, quiet=bool(args.json))
    orch = RealAIParallelOrchestrator(getattr(args, "max_concurrent", None), on_event=progress,
                                      **orchestrator_options(args))
    return orch, progress


def _report(orch, progress, args, out) -> int:
    progress.close()
    report = orch.last_run
    if args.json:
        out(to_json(report.to_dict()))
    else:
        out(results_table(report.results))
        counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items()))
        calls = sum(report.runtime_calls.values())
        reused = sum(1 for r in report.results if r.reused)
        out(f"\nrun {report.run_id}: {counts}" + (f" ({reused} reused)" if reused else "")
            + f"; ${report.cost_usd:.4f}; {report.wall_seconds:.1f}s; {calls} runtime calls")
        if report.unpriced_models:
            out("no price in config for: " + ", ".join(report.unpriced_models))
    for note in report.runtime_notes:  # what the runtime lacks: on stderr, even with --json
        print(f"note: {note}", file=sys.stderr)
    return 0 if all(r.ok for r in report.results) else 1


def results_table(results) -> str:
    rows = []
    for r in results:
        tokens = r.usage["input_tokens"] + r.usage["output_tokens"]
        rows.append({"task": r.task_id, "status": r.status, "tier": r.tier or "-",
                     "attempts": len(r.attempts), "tokens": tokens, "cost": f"${r.cost_usd:.4f}",
                     "time": f"{r.execution_time:.1f}s",
                     "note": r.error or ("[reused] " if r.reused else "") + _preview(r.output)})
    return table(rows, ["task", "status", "tier", "attempts", "tokens", "cost", "time", "note"])


def _preview(output) -> str:
    if output is None:
        return ""
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return " ".join(text.split())[:80]


def single_task(args):
    """The task of `--agent NAME --task TEXT [--input FILE]`, with the agent's own timeout."""
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.cli.main import _read_input_file
    from parallel_agents.engine.tasks import AgentTask
    if not args.task:
        raise InputError("--agent needs --task", field="--task", fix='add --task "what to do"')
    input_data = _read_input_file(args.input) if args.input else {}
    definition = load_registry().get(args.agent)  # UnknownAgentError: located_task_errors names --agent
    return AgentTask(definition.name, args.task, input_data,
                     timeout_seconds=definition.timeout_seconds or 120)


def cmd_run(args, out) -> int:
    if args.team or args.goal:
        from parallel_agents.cli.workflows import cmd_run_workflow
        return cmd_run_workflow(args, out)
    with located_task_errors(args) as tasks:
        tasks += tasks_from_args(args)
        orch, progress = _orchestrator(args, len(tasks))
        from parallel_agents.cli.estimate import preflight
        if preflight(args, out, lambda: orch.estimate(tasks))[0]:   # --estimate, --max-cost
            progress.close()
            return 0
        orch.run_parallel(tasks, run_id=getattr(args, "run_id", None))
    return _report(orch, progress, args, out)


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
    orch, progress = _orchestrator(args, len(tasks))
    orch.run_parallel(tasks)
    from parallel_agents.cli.workflows import demo_refinement
    if args.json:  # one document: the run's report with the refinement loop in it
        progress.close()
        report = orch.last_run
        out(to_json({**report.to_dict(), "refinement": demo_refinement(args, None)}))
        return 0 if all(r.ok for r in report.results) else 1
    code = _report(orch, progress, args, out)
    demo_refinement(args, out)
    return code


def cmd_runs(args, out) -> int:
    if args.forget:
        return _forget(args, out)
    if args.run_id:
        from parallel_agents.cli.attach import show_run
        return show_run(args, out)
    if args.wait or args.timeout:
        raise InputError("--wait needs a run id", field="--wait", fix="runs RUN_ID --wait")
    from parallel_agents.engine.journal import list_runs
    runs = list_runs()
    if args.json:
        out(to_json({"runs": [r.to_dict() for r in runs]}))
        return 0
    if not runs:
        out("no runs yet")
        return 0
    import time
    out(table([{"run": r.run_id, "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started)),
                "tasks": r.tasks, "finished": r.finished_tasks,
                "state": ("unreadable" if r.unreadable else "done" if r.done else "open")
                + (f", damaged line(s) {', '.join(map(str, r.damaged_lines))}" if r.damaged_lines else ""),
                "statuses": ", ".join(f"{n} {k}" for k, n in sorted(r.statuses.items()))}
               for r in runs], ["run", "started", "tasks", "finished", "state", "statuses"]))
    return 0


def _forget(args, out) -> int:
    """`runs --forget`: empty the store of results kept for `run --reuse`."""
    if args.run_id or args.wait or args.timeout:
        raise InputError("--forget goes alone: it clears every kept result, not one run's",
                         field="--forget", fix="python3 ai_orchestrator.py runs --forget")
    from parallel_agents.core.paths import display
    from parallel_agents.engine.reuse import ReuseStore
    store = ReuseStore()
    cleared = store.clear()
    if args.json:
        out(to_json({"forgotten": cleared.to_dict(), "folder": str(store.folder)}))
    else:
        out(f"forgot {cleared.entries} kept result(s), {cleared.bytes} bytes, in "
            f"{display(store.folder)}; journals are kept")
    return 0


def cmd_resume(args, out) -> int:
    from parallel_agents.engine.journal import Journal, read_records
    records = read_records(Journal(args.run_id).path)
    start = next((r for r in records if r["type"] == "run_started"), {})
    if start.get("mode") == "host":
        raise InputError(f"{args.run_id} is a host-mode plan: the host agent finishes it",
                         field="run_id", fix=f"python3 ai_orchestrator.py check --plan {args.run_id} --json")
    if start.get("door") == "attach" and getattr(args, "runtime_object", None) is None:
        raise InputError(f"run {args.run_id} ran attached: its children are collectors of the bound "
                         "session, which only a grant can collect", field="--attach",
                         fix=f"python3 ai_orchestrator.py resume {args.run_id} --attach")
    total = len(start.get("tasks", []))
    orch, progress = _orchestrator(args, total)
    orch.resume(args.run_id)
    return _report(orch, progress, args, out)


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "runs": cmd_runs, "resume": cmd_resume}
