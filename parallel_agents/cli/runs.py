"""CLI for journaled runs: `runs` (list them, show one and wait for it - a detached `--attach`
run, say - or forget the results kept for `run --reuse`) and `resume` (finish a run from its
journal without re-spawning)."""
from __future__ import annotations

import json
import os
import time

from parallel_agents.core.errors import EnvironmentProblem, InputError
from parallel_agents.core.paths import runs_dir
from parallel_agents.cli.options import SCRIPT, add_json, add_runtime_options, positive
from parallel_agents.cli.render import table, to_json
from parallel_agents.cli.report import orchestrator_with_progress, report, results_table

WAIT_POLL_S = 0.5


def add_parsers(sub, only: str | None = None) -> None:
    """The parsers of runs and resume, in --help's order; `only`: just that
    command's (main builds one parser when the command line names its command)."""
    if only in (None, "runs"):
        p = sub.add_parser("runs", help="list journaled runs, or show one (and wait for it)")
        p.add_argument("run_id", nargs="?", help="show this run's results")
        p.add_argument("--wait", action="store_true",
                       help="with RUN_ID: wait until the run has finished (a detached --attach run)")
        p.add_argument("--timeout", type=positive, metavar="SECONDS",
                       help="with --wait: stop waiting after this long (the run goes on)")
        p.add_argument("--forget", action="store_true",
                       help="delete every result kept for `run --reuse` (journals stay)")
        add_json(p)

    if only in (None, "resume"):
        p = sub.add_parser("resume", help="finish a run from its journal without re-spawning")
        p.add_argument("run_id")
        add_runtime_options(p, concurrency=False)
        add_json(p)


def cmd_runs(args, out) -> int:
    if args.forget:
        return _forget(args, out)
    if args.run_id:
        return show_run(args, out)
    if args.wait or args.timeout:
        raise InputError("--wait needs a run id", field="--wait", fix="runs RUN_ID --wait")
    from parallel_agents.engine.runlist import list_runs
    runs = list_runs()
    if args.json:
        out(to_json({"runs": [r.to_dict() for r in runs]}))
        return 0
    if not runs:
        out("no runs yet")
        return 0
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


# -- runs RUN_ID [--wait] ------------------------------------------------------------------------
def show_run(args, out) -> int:
    """One run from its journal; with --wait, once it has finished (or --timeout passed)."""
    from parallel_agents.engine.journal import Journal, read_records
    from parallel_agents.engine.tasks import AgentResult
    path = Journal(args.run_id).path
    deadline = time.monotonic() + args.timeout if args.timeout else None
    while True:
        try:
            records = read_records(path)
        except InputError:   # a detached run writes its journal once OpenClaw has started it
            if not (args.wait and _still_running(args.run_id)):
                raise
            records = []
        finished = any(r["type"] == "run_finished" for r in records)
        if finished or not args.wait:
            break
        if not _still_running(args.run_id):
            raise EnvironmentProblem(f"run {args.run_id} stopped before it finished",
                                     field="run_id", fix=f"finish it: python3 {SCRIPT} resume "
                                                         f"{args.run_id} --attach")
        if deadline is not None and time.monotonic() >= deadline:
            break
        time.sleep(WAIT_POLL_S)
    start = next((r for r in records if r["type"] == "run_started"), {})
    if start.get("mode") == "host":
        return _show_plan(args, records, start, out)
    results = [AgentResult.from_dict(r["result"]) for r in records if r["type"] == "task_finished"]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    state = "done" if finished else "running" if _still_running(args.run_id) else "stopped"
    if finished:   # a detached run's spec and unread output are of no more use
        for suffix in (".json", ".out"):
            (runs_dir() / ".attach" / f"{args.run_id}{suffix}").unlink(missing_ok=True)
    body = {"run_id": args.run_id, "state": state, "tasks": len(start.get("tasks", [])),
            "counts": counts, "cost_usd": round(sum(r.cost_usd for r in results), 6),
            "results": [r.to_dict() for r in results]}
    if state != "done":
        body["next"] = (f"python3 {SCRIPT} runs {args.run_id} --wait" if state == "running" else
                        f"python3 {SCRIPT} resume {args.run_id} --attach")
    if args.json:
        out(to_json(body))
    else:
        out(results_table(results))
        out(f"\nrun {args.run_id}: {state}; {len(results)} of {body['tasks']} task(s) final; "
            f"${body['cost_usd']:.4f}" + (f"; next: {body['next']}" if "next" in body else ""))
    return 0 if finished and all(r.ok for r in results) else 1


def _show_plan(args, records: list[dict], start: dict, out) -> int:
    """A host-mode plan (plan/check): its final results so far; check --plan finishes it."""
    results = [r["result"] for r in records if r["type"] == "task_finished"]
    done = len(results) == len(start.get("tasks", []))
    body = {"plan_id": args.run_id, "mode": "host", "state": "done" if done else "open",
            "tasks": len(start.get("tasks", [])), "results": results}
    if not done:
        body["next"] = f"python3 {SCRIPT} check --plan {args.run_id} --json"
    if args.json:
        out(to_json(body))
    else:
        out(table([{"task": r["task_id"], "status": r["status"], "tier": r.get("tier") or "-",
                    "attempts": len(r.get("attempts") or []), "note": r.get("error") or ""}
                   for r in results], ["task", "status", "tier", "attempts", "note"]))
        out(f"\nplan {args.run_id} (host mode): {len(results)} of {body['tasks']} task(s) final"
            + (f"; next: {body['next']}" if not done else ""))
    return 0 if done and all(r["status"] == "completed" for r in results) else 1


def _still_running(run_id: str) -> bool:
    """Whether the detached process of `run_id` (its pid in the attach spec) is alive."""
    try:
        spec = json.loads((runs_dir() / ".attach" / f"{run_id}.json").read_text(encoding="utf-8"))
        os.kill(int(spec["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


# -- resume ----------------------------------------------------------------------------------------
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
    orch, progress = orchestrator_with_progress(args, total)
    orch.resume(args.run_id)
    return report(orch, progress, args, out)


COMMANDS = {"runs": cmd_runs, "resume": cmd_resume}
