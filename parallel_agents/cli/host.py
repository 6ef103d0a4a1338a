"""CLI for using OpenClaw as it is: `plan` prints the sessions_spawn calls to make, `check`
validates the children's replies and prints what to do next (see hostmode.py), `doctor` says
what is ready and what to fix."""
from __future__ import annotations

import sys
from pathlib import Path

from parallel_agents.cli.estimate import add_options as add_estimate_options, preflight
from parallel_agents.cli.options import SCRIPT, add_json
from parallel_agents.cli.render import table, to_json
from parallel_agents.cli.taskargs import add_task_options, located_task_errors, tasks_from_args


def add_parsers(sub, only: str | None = None) -> None:
    """The parsers of plan, check and doctor, in --help's order; `only`: just that
    command's (main builds one parser when the command line names its command)."""
    if only in (None, "plan"):
        p = sub.add_parser("plan", help="host-agent mode: print the sessions_spawn calls to make")
        add_task_options(p)
        add_estimate_options(p)   # --estimate (no plan is made), --max-cost (no plan past it)
        p.add_argument("--collect", action="store_true",
                       help="add Swarm collector fields (collect, outputSchema, groupId) to JSON tasks")
        p.add_argument("--prompts", choices=("file", "inline"), default=None,
                       help="file (default): each spawn's task points the child at a prompt file, "
                            "so the host writes ~200 bytes per spawn; inline: the whole prompt is the "
                            "task (when children cannot read host files; chosen for you when OpenClaw "
                            "says so)")
        p.add_argument("--reuse", action="store_true",
                       help="finish a task from an earlier run's or plan's completed result instead of "
                            "listing its spawn, when its agent definition, prompt, output format and "
                            "tier are the same (reused: true); later checks of the plan reuse too")
        add_json(p)

    if only in (None, "check"):
        p = sub.add_parser("check", help="host-agent mode: validate children's replies, get next spawns")
        p.add_argument("--plan", required=True, metavar="PLAN_ID")
        p.add_argument("--task", metavar="TASK_ID",
                       help="the task a raw reply or sessions_history JSON belongs to")
        p.add_argument("--refused", action="append", default=[], metavar="LABEL",
                       help="the spawn with this label was refused (repeatable); --error gives why")
        p.add_argument("--error", metavar="TEXT", help="the refusal's error text (with --refused)")
        p.add_argument("replies", nargs="*", type=Path, metavar="FILE",
                       help="files with what OpenClaw delivered (the settled-children message, "
                            "completion events) or, with --task, a reply or sessions_history JSON; "
                            "default: stdin when it is not a terminal, else the gateway itself")
        add_json(p)

    if only in (None, "doctor"):
        p = sub.add_parser("doctor", help="check Python, dependencies, agents, config and the gateway")
        p.add_argument("--probe", action="store_true",
                       help="also spawn one tiny run per model tier on the gateway")
        p.add_argument("--gateway", metavar="URL",
                       help="check this gateway (default: OPENCLAW_GATEWAY_URL, then gateway.url "
                            "in config.yaml)")
        p.add_argument("--allow-insecure-http", action="store_true",
                       help="allow plain http:// to a gateway that is not on loopback")
        add_json(p)


def _deps():
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.core.config import load_config
    return load_registry(), load_config()


def _next(plan, spawns: list, running: int) -> str:
    check = f"python3 {SCRIPT} check --plan {plan.plan_id} --json"
    if plan.done:
        return "All done: every task is final. Read `results` (the output of each task)."
    if spawns:
        return ("Call sessions_spawn once per entry of `spawn` with exactly its `args`, all in this "
                "turn (with Tool Search: tool_call {\"id\": \"sessions_spawn\", \"args\": ARGS}). "
                f"If one is refused, run: python3 {SCRIPT} check --plan {plan.plan_id} --refused "
                "LABEL --error \"ERROR\" --json. Then call sessions_yield; when the children "
                f"have settled, run: {check}")
    return (f"{running or 'Some'} task(s) still running: call sessions_yield; when the children "
            f"have settled, run: {check}")


def _answer(plan, spawns, args, out, *, running: set = frozenset(), extra=None) -> int:
    results = plan.status(running)
    active = sum(1 for r in results if r["status"] in ("running", "spawned"))
    reused = sum(1 for r in results if r.get("reused"))
    nxt = _next(plan, spawns, active)
    body = {"plan_id": plan.plan_id, "done": plan.done, "spawn": spawns, "results": results,
            "next": nxt}
    if plan.reuse or reused:
        body["reused"] = reused   # tasks finished from kept results (plan --reuse), in all
    if plan.notes:
        body["notes"] = plan.notes
    body.update(extra or {})
    if args.json:
        out(to_json(body))
    else:
        out(table([{"task": r["task_id"], "agent": r["agent_type"], "status": r["status"],
                    "tier": r.get("tier") or "-", "attempts": len(r["attempts"]),
                    "note": r.get("error") or ("[reused]" if r.get("reused") else "")}
                   for r in results],
                  ["task", "agent", "status", "tier", "attempts", "note"]))
        out(f"\nplan {plan.plan_id}: {len(spawns)} spawn(s) to make"
            + (f", {reused} task(s) reused." if plan.reuse or reused else "."))
        for s in spawns:
            out(f"  sessions_spawn {s['args']['label']} ({s['agent_type']} on {s['tier']})")
        for note in plan.notes:
            out(f"note: {note}")
        out(("Use --json to get the exact arguments. " if spawns else "") + nxt)
    failed = [r for r in results if r["status"] in ("failed", "timeout", "skipped")]
    return 1 if plan.done and failed else 0


def cmd_plan(args, out) -> int:
    from parallel_agents.openclaw.hostenv import plan_settings
    from parallel_agents.host.hostmode import HostPlan
    registry, config = _deps()
    with located_task_errors(args) as tasks:
        tasks += tasks_from_args(args)
        done, estimate = preflight(args, out, lambda: _estimate(tasks, registry, config,
                                                                args.reuse),
                                   announce=False)   # the plan's notes say it
        if done:   # --estimate: no plan
            return 0
        settings = plan_settings(config, prompts=args.prompts)
        plan = HostPlan.create(tasks, registry, config, collect=args.collect,
                               prompts=settings.prompts, window=settings.window,
                               unusable=settings.unusable, reuse=args.reuse)   # holds its lock
    with plan:
        plan.notes[:0] = settings.notes
        if estimate is not None:   # --max-cost: the host is told what the plan should cost
            plan.notes.append(f"estimate: {estimate.summary()}, within --max-cost "
                              f"${args.max_cost:.4f}")
        return _answer(plan, plan.next_spawns(), args, out,
                       extra={"estimate": estimate.to_dict()} if estimate is not None else None)


def _estimate(tasks, registry, config, reuse: bool = False):
    from parallel_agents.engine.estimator import estimate_tasks
    from parallel_agents.engine.reuse import ReuseStore
    from parallel_agents.engine.usage_history import load_history
    return estimate_tasks(tasks, registry=registry, config=config,
                          history=load_history(registry=registry),
                          reuse=ReuseStore.from_config(config.reuse, lookup=True) if reuse else None)


def _load_plan(plan_id, registry, config, *, hold: bool = False):
    from parallel_agents.core.errors import InputError
    from parallel_agents.host.hostmode import HostPlan
    try:
        return HostPlan.load(plan_id, registry, config, hold=hold)
    except InputError as exc:  # the journal speaks of run ids; here it is the --plan argument
        problem = exc.problems[0]
        if problem.field != "run_id" and "no journal" not in problem.message:
            raise
        raise InputError(problem.message, field="--plan",
                         fix="use the plan_id that `plan` printed") from None


def cmd_check(args, out) -> int:
    """All or nothing: every input is read and matched to the plan's spawns before anything is
    recorded, so a bad input (named in the error) leaves the plan as it was; the plan's lock is
    held throughout, so two checks at once record each reply once."""
    from parallel_agents.core.errors import InputError
    registry, config = _deps()
    with _load_plan(args.plan, registry, config, hold=True) as plan:
        if args.error and not args.refused:
            raise InputError("--error goes with --refused LABEL", field="--error",
                             fix="add --refused LABEL (the label of the refused spawn)")
        refused, work, pasted = _understand(plan, args)   # raises before anything is recorded
        handled = []
        for label, s in refused:
            step = plan.refuse(label, args.error or "refused (no error text given)")
            handled.append({"source": "--refused", "task_id": s.task.task_id, "label": label,
                            "step": step})
        for source, kind, item in work:
            if kind == "refusal":
                s, error = item
                label = s.open["label"] if s.open else None
                step = plan.refuse(label, error) if label else "ignored: no spawn of this task is open"
                handled.append({"source": source, "task_id": s.task.task_id, "label": label,
                                "step": step})
                continue
            label, reply, s = item
            step = plan.record(s, reply, label=label) if s is not None else IGNORED_FOREIGN
            handled.append({"source": source, "task_id": s.task.task_id if s else None,
                            "label": label, "step": step})
        owed: set[str] = {label for label in args.refused if label in plan.open_labels()}
        running: set[str] = set()
        extra: dict = {"checked": handled}
        if pasted:   # what was passed is the news; every spawn still open may still be owed
            owed.update(plan.open_labels())
        elif plan.open_labels():
            running, gateway_problem = _read_gateway(plan, handled, owed)
            if gateway_problem is not None:
                if not args.refused:
                    raise gateway_problem
                extra["gateway"] = str(gateway_problem)
        return _answer(plan, plan.next_spawns(owed=owed), args, out, running=running, extra=extra)


#: The step of a child whose label this plan never listed (another plan's, or the host's own).
IGNORED_FOREIGN = "ignored: not a spawn of this plan"


def _understand(plan, args):
    """Read every input and match it to the plan, recording nothing: ([(label, task)] of
    --refused, [(source, "refusal" | "reply", item)], whether any child result was passed).
    An input that cannot be used is an InputError naming it."""
    from parallel_agents.core import yamlio
    from parallel_agents.core.errors import InputError
    from parallel_agents.host.hostinput import read_replies, refusal_in
    refused = []
    for label in args.refused:
        s = plan.find(label)
        if s is None:
            raise InputError(f"plan {plan.plan_id} never listed a spawn labelled {label!r}",
                             field="--refused", fix="pass the label of the refused spawn exactly "
                                                    "as `plan` or `check` listed it")
        refused.append((label, s))
    texts = [(str(p), yamlio.read_text(p, shown=str(p), max_bytes=10 << 20)) for p in args.replies]
    if not texts and not sys.stdin.isatty():
        texts = [("stdin", yamlio.read_stdin(max_bytes=10 << 20))]
    texts = [(source, text) for source, text in texts if text.strip()]
    work, pasted = [], False
    for source, text in texts:
        try:
            error = refusal_in(text)
            if error is not None and args.task:
                work.append((source, "refusal", (plan.match(None, args.task), error)))
                continue
            pairs = read_replies(text, task_id=args.task)
            pasted = pasted or bool(pairs)
            for label, reply in pairs:
                s = plan.match(label, args.task) if args.task else plan.find(label)
                work.append((source, "reply", (label, reply, s)))
        except InputError as exc:
            raise _naming(exc, source, several=len(texts) > 1) from None
    return refused, work, pasted


def _naming(exc, source: str, *, several: bool):
    """The error of one input, naming it (a file, or stdin) and saying nothing was recorded."""
    from dataclasses import replace
    nothing = "nothing was recorded: pass every input again once this one is fixed" if several \
        else "nothing was recorded"
    exc.problems = [replace(p, file=p.file or source,
                            fix=f"{p.fix}; {nothing}" if p.fix else nothing) for p in exc.problems]
    exc.args = (str(exc.problems[0]),)
    return exc


def _read_gateway(plan, handled: list, owed: set):
    """Record every finished child the local gateway shows; return (running labels, problem)."""
    import time
    from parallel_agents.core.errors import EnvironmentProblem, ParallelAgentsError
    from parallel_agents.openclaw.hostenv import gateway_caller
    from parallel_agents.host.hostread import FINISHED, MISSING, RUNNING, read_children
    labels = plan.open_labels()
    started = plan.started_at or time.time()
    try:
        seen = read_children(gateway_caller(), labels,
                             recent_minutes=int((time.time() - started) // 60) + 2)
    except ParallelAgentsError as exc:
        problem = exc.problems[0]
        return set(), EnvironmentProblem(
            f"cannot read the children's replies from the gateway: {problem.message}",
            field="gateway", fix=(problem.fix + "; or " if problem.fix else "") +
            f"save the message that reported the children to a file and run: python3 {SCRIPT} "
            f"check --plan {plan.plan_id} --json FILE")
    running = set()
    for label in labels:
        item = seen.get(label)
        if item is None or item.state == MISSING:
            owed.add(label)
        elif item.state == RUNNING:
            running.add(label)
        elif item.state == FINISHED:
            state = plan.match(label, None)
            step = plan.record(state, item.reply, label=label, tokens=item.total_tokens)
            handled.append({"source": "gateway", "task_id": state.task.task_id, "label": label,
                            "step": step})
    return running, None


def cmd_doctor(args, out) -> int:
    from parallel_agents.host.doctor import FAIL, run_checks
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
