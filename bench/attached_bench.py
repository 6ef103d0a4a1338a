#!/usr/bin/env python3
"""Attached mode against HTTP script mode, side by side on one live OpenClaw gateway.

    python3 bench/attached_bench.py [--n 16] [--concurrent 8] [--latency 1.0] [--json]

Starts the scripted model server and one gateway (tests/integration/openclaw_gateway.py: its
config lists sessions_spawn in gateway.tools.allow, so script mode can use /tools/invoke; attached
mode needs no such entry), warms it up, then runs the same N `content_writer_funny` tasks
(scripted to answer after `latency` seconds with one schema-valid reply) twice at max_concurrent C:

- http: RealAIParallelOrchestrator over GatewayToolCaller (bench/gateway_bench.py's measure():
  plain runs, subagents, sessions_history);
- attached: the CLI a host would exec - `ai_orchestrator.py run --tasks FILE --attach
  --max-concurrent C --json` - with the gateway's environment and the real `openclaw` CLI on
  PATH: a grant minted by `openclaw attach --bin`, collectors, agents_wait.

Reported per mode: the fan-out's wall time (the orchestrator's run time) and ratio = wall /
ideal, ideal = ceil(N/C) x latency; for attached mode also the whole command's wall time (the
`openclaw` CLI's start and the grant included); tool calls per task; the cost the run reports
(from token usage: attached mode's agents_wait reports it, sessions_history does not); the
gateway's CPU per task; and the bytes a host writes to start it (the one exec, as compact JSON,
with the skill at ~/.openclaw/skills/parallel-agents), per task.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (str(REPO), str(REPO / "tests" / "integration"), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from tables import report  # noqa: E402

COLUMNS = ["mode", "N", "C", "latency", "fan-out wall s", "ideal s", "ratio", "command wall s",
           "tool calls/task", "cost USD", "gateway CPU ms/task", "host bytes/task", "completed"]
REAL_SKILL = "/root/.openclaw/skills/parallel-agents"


def attached_run(gateway, pkg: Path, node: str, folder: Path, *, n: int, concurrent: int,
                 latency: float) -> dict:
    """The attached command as a host runs it; its figures."""
    import gateway_bench
    import openclaw_gateway as og
    from parallel_agents.core import yamlio
    from parallel_agents.definitions.registry import Registry
    tasks, reply = gateway_bench._tasks(n, latency, Registry.load(overlay=None), f"att-{os.getpid()}")
    task_file = folder / "tasks.json"
    task_file.write_text(json.dumps({"tasks": [t.to_dict() for t in tasks]}))
    home = folder / "pa-home"
    home.mkdir(exist_ok=True)
    config = og.scripted_config()
    (home / "config.yaml").write_text(yamlio.dump({"tiers": config.data["tiers"],
                                                   "prices": config.data["prices"]}))
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "openclaw").write_text(f'#!/bin/sh\nexec "{node}" "{pkg / "openclaw.mjs"}" "$@"\n')
    (bin_dir / "openclaw").chmod(0o755)
    env = dict(gateway.env, PARALLEL_AGENTS_HOME=str(home), OPENCLAW_SHELL="exec",
               PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), gateway.env["PATH"]]))
    command = [sys.executable, str(REPO / "ai_orchestrator.py"), "run", "--tasks", str(task_file),
               "--attach", "--max-concurrent", str(concurrent), "--json"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    command_wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"attached run failed (exit {done.returncode}): {done.stderr[-1500:]}")
    report = json.loads(done.stdout)
    host_command = ("python3 " + " ".join(command[1:])).replace(str(REPO), REAL_SKILL) \
        .replace(str(task_file), "~/tasks.json")
    host_bytes = len(json.dumps({"command": host_command}, separators=(",", ":")).encode())
    completed = sum(1 for r in report["results"] if r["status"] == "completed" and r["output"] == reply)
    return {"wall_s": report["wall_seconds"], "command_wall_s": round(command_wall, 2),
            "tool_calls_per_task": round(sum(report["runtime_calls"].values()) / n, 2),
            "cost_usd": report["cost_usd"], "completed": completed,
            "host_bytes_per_task": round(host_bytes / n, 1)}


def run(*, n: int = 16, concurrent: int = 8, latency: float = 1.0, log=None) -> dict:
    import gateway_bench
    import openclaw_gateway as og
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    pkg, node = og.find_openclaw()
    ideal = math.ceil(n / concurrent) * latency
    with tempfile.TemporaryDirectory(prefix="pa-attached-bench-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("PARALLEL_AGENTS_HOME", str(folder / "http-home"))
        with og.ModelServer.start(folder / "models") as models, \
                og.Gateway.start(pkg, node, folder / "gateway", models.url) as gateway:
            og.warm_up(gateway)
            rows = []
            cpu = gateway_bench.gateway_cpu_seconds(gateway.proc.pid)
            http = gateway_bench.measure(gateway.url, gateway.token, n=n, concurrent=concurrent,
                                         latency=latency, runs_folder=folder / "runs")
            used = gateway_bench.gateway_cpu_seconds(gateway.proc.pid) - cpu
            rows.append({"mode": "http", "wall_s": http["wall_s"], "command_wall_s": None,
                         "tool_calls_per_task": http["http_calls_per_task"],
                         "cost_usd": None, "completed": http["completed"], "host_bytes_per_task": None,
                         "gateway_cpu_ms_per_task": round(used * 1000 / n)})
            log(f"http: {http['wall_s']:.2f}s for {n} tasks")
            cpu = gateway_bench.gateway_cpu_seconds(gateway.proc.pid)
            attached = attached_run(gateway, pkg, node, folder, n=n, concurrent=concurrent, latency=latency)
            used = gateway_bench.gateway_cpu_seconds(gateway.proc.pid) - cpu
            rows.append({"mode": "attached", **attached, "gateway_cpu_ms_per_task": round(used * 1000 / n)})
            log(f"attached: {attached['wall_s']:.2f}s fan-out, {attached['command_wall_s']:.2f}s command")
    for row in rows:
        row.update(n=n, concurrent=concurrent, latency_s=latency, ideal_s=ideal,
                   ratio=round(row["wall_s"] / ideal, 3))
    return {"rows": rows, "openclaw": og.openclaw_version(pkg)}


def table(result: dict) -> list[list[str]]:
    out = [COLUMNS]
    for r in result["rows"]:
        out.append([r["mode"], str(r["n"]), str(r["concurrent"]), f"{r['latency_s']:g} s",
                    f"{r['wall_s']:.2f}", f"{r['ideal_s']:.2f}", f"{r['ratio']:.2f}",
                    "-" if r["command_wall_s"] is None else f"{r['command_wall_s']:.2f}",
                    f"{r['tool_calls_per_task']:.2f}",
                    "not reported" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}",
                    str(r["gateway_cpu_ms_per_task"]),
                    "-" if r["host_bytes_per_task"] is None else f"{r['host_bytes_per_task']:.1f}",
                    f"{r['completed']}/{r['n']}"])
    return out


def goals(result: dict) -> list[str]:
    http, attached = (next(r for r in result["rows"] if r["mode"] == m) for m in ("http", "attached"))
    return [f"attached fan-out at N={attached['n']}, C={attached['concurrent']}: ratio {attached['ratio']:.2f} "
            f"(HTTP script mode on the same gateway: {http['ratio']:.2f}); the whole command, the "
            f"`openclaw` CLI and its grant included, {attached['command_wall_s']:.2f} s; "
            f"{attached['host_bytes_per_task']:.1f} host bytes per task; cost {attached['cost_usd']:.4f} USD "
            "from reported token usage (script mode over HTTP reports none)"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--concurrent", type=int, default=8)
    p.add_argument("--latency", type=float, default=1.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = run(n=args.n, concurrent=args.concurrent, latency=args.latency)
    print(report(table(result), goals(result)))
    if args.json:
        print(json.dumps(result))
    return 0 if all(r["completed"] == r["n"] for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
