"""CLI side of attached mode (attach.py): `--attach [SESSION] [--detach]` on the commands that run
agents, and `runs RUN_ID [--wait]` to see, or wait for, one run (a detached one, say)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from parallel_agents.core.errors import EnvironmentProblem, InputError
from parallel_agents.core.paths import runs_dir
from parallel_agents.cli.render import to_json

SCRIPT = str(Path(__file__).resolve().parent.parent / "ai_orchestrator.py")
WAIT_POLL_S = 0.5


def launch(args, argv: list[str], out, err) -> int:
    """Run this command again under `openclaw attach`, and pass its output on."""
    from parallel_agents.openclaw.attach import GRANT_TTL_MIN_MS, Launch, child_argv, openclaw_cli
    if args.detach and args.command != "run":
        raise InputError("--detach goes with `run`", field="--detach",
                         fix="drop --detach, or start a run with `run ... --attach --detach`")
    cli = openclaw_cli()
    run_id, ttl = _preflight(args)
    child = child_argv(argv, args.attach)
    if run_id and args.command == "run":
        child += ["--run-id", run_id]
    job = Launch(child, args.attach, run_id=run_id, ttl_ms=ttl or 2 * GRANT_TTL_MIN_MS)
    if args.detach:
        pid = job.start_detached(cli)
        body = {"run_id": run_id, "status": "running", "pid": pid, "log": str(job.log_path),
                "next": f"python3 {SCRIPT} runs {run_id} --wait --json"}
        out(to_json(body) if args.json else
            f"run {run_id} started in the background (pid {pid}); collect it with: {body['next']}")
        return 0
    code, tail = job.run(cli, err)
    text = job.output()
    said = "; ".join(line.strip() for line in tail.strip().splitlines()[-3:]) or "no output"
    if not text and run_id and (runs_dir() / f"{run_id}.jsonl").exists():  # it ran, then died
        raise EnvironmentProblem(f"the attached run {run_id} stopped before it finished (exit "
                                 f"{code}): {said}", field="--attach",
                                 fix=f"finish it: python3 {SCRIPT} resume {run_id} --attach")
    if text is None:   # OpenClaw failed before our command ran (no grant, no gateway, ...)
        raise EnvironmentProblem(
            f"openclaw attach failed (exit {code}): {said}", field="--attach",
            fix="run `python3 ai_orchestrator.py doctor` (attached mode needs a local gateway and a "
                "gateway token with operator.admin), or use host-agent mode (plan/check)")
    for line in text.rstrip("\n").split("\n") if text else []:
        out(line)
    job.clean()
    return code


def _preflight(args) -> tuple[str | None, int | None]:
    """Say what is wrong with the command before OpenClaw starts (3-30 s); for a `run` of tasks,
    its run id (so a detached run can be named at once) and the grant's lifetime."""
    from parallel_agents.core.config import load_config
    from parallel_agents.engine.journal import Journal, new_run_id, read_records
    from parallel_agents.openclaw.attach import grant_ttl_ms
    config = load_config()
    concurrency = getattr(args, "max_concurrent", None) or config.max_concurrent
    if args.command == "resume":
        start = next((r for r in read_records(Journal(args.run_id).path)
                      if r["type"] == "run_started"), {})
        timeouts = [t.get("timeout_seconds") or 120 for t in start.get("tasks", [])]
        return args.run_id, grant_ttl_ms(timeouts, len(config.tiers), concurrency)
    if args.command == "run" and not (getattr(args, "team", None) or getattr(args, "goal", None)):
        from parallel_agents.definitions.registry import load_registry
        from parallel_agents.cli.run import located_task_errors, tasks_from_args
        with located_task_errors(args) as tasks:
            tasks += tasks_from_args(args)
            registry = load_registry()
            agents = [registry.get(t.agent_type) for t in tasks]   # an unknown agent fails here
            timeouts = [t.timeout_seconds or a.timeout_seconds or 120 for t, a in zip(tasks, agents)]
        return new_run_id(), grant_ttl_ms(timeouts, len(config.tiers), concurrency)
    return None, None


# -- runs RUN_ID [--wait] ------------------------------------------------------------------------
def show_run(args, out) -> int:
    """One run from its journal; with --wait, once it has finished (or --timeout passed)."""
    from parallel_agents.cli.run import results_table
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
    from parallel_agents.cli.render import table
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
