"""CLI for using OpenClaw as it is: `plan` prints the sessions_spawn calls to make, `check`
validates the children's replies and prints what to do next (see hostmode.py), `doctor` says
what is ready and what to fix."""
from __future__ import annotations

import sys
from pathlib import Path

from .render import table, to_json

SCRIPT = str(Path(__file__).resolve().parent.parent / "ai_orchestrator.py")


def add_parsers(sub, add_json) -> None:
    from .cli_run import add_task_options
    p = sub.add_parser("plan", help="host-agent mode: print the sessions_spawn calls to make")
    add_task_options(p)
    p.add_argument("--collect", action="store_true",
                   help="add Swarm collector fields (collect, outputSchema, groupId) to JSON tasks")
    add_json(p)

    p = sub.add_parser("check", help="host-agent mode: validate children's replies, get next spawns")
    p.add_argument("--plan", required=True, metavar="PLAN_ID")
    p.add_argument("--task", metavar="TASK_ID",
                   help="the task a raw reply or sessions_history JSON belongs to")
    p.add_argument("replies", nargs="*", type=Path, metavar="FILE",
                   help="files with replies (completion events, raw text, sessions_history "
                        "JSON); default: stdin when it is not a terminal")
    add_json(p)

    p = sub.add_parser("doctor", help="check Python, dependencies, agents, config and the gateway")
    p.add_argument("--probe", action="store_true",
                   help="also spawn one tiny run per model tier on the gateway")
    p.add_argument("--gateway", metavar="URL",
                   help="check this gateway (default: OPENCLAW_GATEWAY_URL, then gateway.url in config.yaml)")
    p.add_argument("--allow-insecure-http", action="store_true",
                   help="allow plain http:// to a gateway that is not on loopback")
    add_json(p)


def _deps():
    from .api import load_registry
    from .config import load_config
    return load_registry(), load_config()


def _answer(plan, spawns, args, out, extra=None) -> int:
    from .hostmode import INSTRUCTIONS
    results = plan.status()
    if plan.done:
        nxt = "All done: every task is final. Read `results` (output of each task)."
    else:
        nxt = INSTRUCTIONS.format(script=SCRIPT, plan_id=plan.plan_id) if spawns else (
            "Waiting for replies of the spawned tasks; pass them to check when they arrive.")
    body = {"plan_id": plan.plan_id, "done": plan.done, "spawn": spawns, "results": results,
            "next": nxt, **(extra or {})}
    if args.json:
        out(to_json(body))
    else:
        out(table([{"task": r["task_id"], "agent": r["agent_type"], "status": r["status"],
                    "tier": r.get("tier") or "-", "attempts": len(r["attempts"]),
                    "note": r.get("error") or ""} for r in results],
                  ["task", "agent", "status", "tier", "attempts", "note"]))
        out(f"\nplan {plan.plan_id}: {len(spawns)} spawn(s) to make.")
        for s in spawns:
            out(f"  sessions_spawn {s['args']['label']} ({s['agent_type']} on {s['tier']})")
        out(("Use --json to get the exact arguments. " if spawns else "") + nxt)
    failed = [r for r in results if r["status"] in ("failed", "timeout", "skipped")]
    return 1 if plan.done and failed else 0


def cmd_plan(args, out) -> int:
    from .cli_run import located_task_errors, tasks_from_args
    from .hostmode import HostPlan
    registry, config = _deps()
    with located_task_errors(args) as tasks:
        tasks += tasks_from_args(args)
        plan = HostPlan.create(tasks, registry, config, collect=args.collect)
    return _answer(plan, plan.next_spawns(), args, out)


def cmd_check(args, out) -> int:
    from . import yamlio
    from .hostmode import HostPlan, read_replies
    from .errors import InputError
    registry, config = _deps()
    try:
        plan = HostPlan.load(args.plan, registry, config)
    except InputError as exc:  # the journal speaks of run ids; here it is the --plan argument
        problem = exc.problems[0]
        if problem.field != "run_id" and "no journal" not in problem.message:
            raise
        raise InputError(problem.message, field="--plan",
                         fix="use the plan_id that `plan` printed") from None
    texts = [(str(p), yamlio.read_text(p, shown=str(p), max_bytes=10 << 20)) for p in args.replies]
    if not texts and not sys.stdin.isatty():
        texts = [("stdin", sys.stdin.read())]
    handled = []
    for source, text in texts:
        if not text.strip():
            continue
        for label, reply in read_replies(text, task_id=args.task):
            state = plan.match(label, args.task)
            step = plan.record(state, reply, label=label)
            handled.append({"source": source, "task_id": state.task.task_id, "label": label,
                            "step": step})
    return _answer(plan, plan.next_spawns(), args, out, {"checked": handled})


def cmd_doctor(args, out) -> int:
    from .doctor import FAIL, run_checks
    checks = run_checks(probe=args.probe, gateway=args.gateway,
                        allow_insecure_http=args.allow_insecure_http)
    ok = all(c.state != FAIL for c in checks)
    if args.json:
        out(to_json({"ok": ok, "checks": [c.to_dict() for c in checks]}))
    else:
        for check in checks:
            out(check.line())
    return 0 if ok else 1


COMMANDS = {"plan": cmd_plan, "check": cmd_check, "doctor": cmd_doctor}
