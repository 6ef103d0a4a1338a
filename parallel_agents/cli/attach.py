"""CLI side of attached mode (openclaw/attach.py): `--attach [SESSION] [--detach]` on the
commands that run agents runs the command again under `openclaw attach` (launch), and that
child, `ai_orchestrator.py _attached`, runs it on a runtime over the grant (child_main).
`runs RUN_ID [--wait]` (runs.py) sees, or waits for, one run (a detached one, say)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from parallel_agents.core.errors import EnvironmentProblem, InputError
from parallel_agents.core.paths import runs_dir
from parallel_agents.cli.options import SCRIPT
from parallel_agents.cli.render import to_json


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
        from parallel_agents.cli.taskargs import located_task_errors, tasks_from_args
        with located_task_errors(args) as tasks:
            tasks += tasks_from_args(args)
            registry = load_registry()
            agents = [registry.get(t.agent_type) for t in tasks]   # an unknown agent fails here
            timeouts = [t.timeout_seconds or a.timeout_seconds or 120 for t, a in zip(tasks, agents)]
        return new_run_id(), grant_ttl_ms(timeouts, len(config.tiers), concurrency)
    return None, None


# -- the child: the command itself, on a runtime over the grant ----------------------------------
def child_main(argv: list[str], run_command) -> int:
    """`ai_orchestrator.py _attached --strict-mcp-config --mcp-config PATH` (as OpenClaw starts
    the wrapper): run the spec's command over the grant, its output into the spec's file.
    `run_command(argv, runtime=..., out=...)` is the CLI's main."""
    from parallel_agents.openclaw.attach import SPEC_ENV, TOKEN_ENV, write_private
    from parallel_agents.openclaw.mcp import McpToolCaller
    from parallel_agents.openclaw.runtime import OpenClawRuntime
    spec_path = os.environ.get(SPEC_ENV)
    config = argv[argv.index("--mcp-config") + 1] if "--mcp-config" in argv[:-1] else None
    if not spec_path or not config:
        print("error: _attached is started by `openclaw attach --bin` (use --attach)", file=sys.stderr)
        return 2
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    caller = McpToolCaller.from_grant(config, os.environ)
    if spec.get("hold"):   # hand the grant to the Python process that asked, hold it till EOF
        write_private(Path(spec["hold"]), json.dumps({"url": caller.url, "token": os.environ[TOKEN_ENV]}))
        sys.stdin.read()
        return 0
    runtime = OpenClawRuntime(caller, collection="collector", requester_session_key=spec.get("session"))
    out_path = Path(spec["output"])
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        def out(text: str = "") -> None:
            fh.write(text + "\n")
            fh.flush()
        return run_command(spec["argv"], runtime=runtime, out=out)
