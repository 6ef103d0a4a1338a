#!/usr/bin/env python3
"""Fan-out on a live OpenClaw gateway: N tasks at max_concurrent C, models scripted to answer
after a fixed latency.

    python3 bench/gateway_bench.py [--n 24] [--concurrent 8] [--latency 1.0] [--json]
    python3 bench/gateway_bench.py --gateway-url URL   # an already running test gateway; token
                                                       # from OPENCLAW_GATEWAY_TOKEN

Without --gateway-url it starts its own: the scripted model server and `openclaw gateway run`
(tests/integration/openclaw_gateway.py; OpenClaw from $OPENCLAW_PACKAGE_DIR or
.ci/install-openclaw), warms it up with one run, and stops both afterwards. The gateway runs
agents.defaults.subagents.maxConcurrent = 8 children at once and allows 20 active children.

N `content_writer_funny` tasks, each scripted by a `SIM {...}` directive to answer after
`latency` seconds with one schema-valid reply, run through RealAIParallelOrchestrator over a
GatewayToolCaller (history collection: plain runs + subagents + sessions_history - collector
runs do not start over HTTP). Reported:
- ratio = wall / ideal, ideal = ceil(N / C) x latency (wall = the orchestrator's run time);
- HTTP calls per task = POST /tools/invoke requests the runtime made / N;
- spawn overhead = median (and p90) wall time of one sessions_spawn request (the scheduler
  sends a wave's spawns at once, up to GatewayToolCaller.parallel_calls, so these overlap);
- run ms = the median `runtimeMs` the gateway lists for these runs (start to end of one run:
  the scripted latency plus the gateway's own per-run work);
- gateway CPU = CPU seconds the gateway's processes used during the fan-out (when this script
  started the gateway), per task and as a share of the wall time: a gateway that is busy for
  most of the wall time is the bottleneck, whatever the client does.

`measure(url, token, ...)` runs one configuration against a given gateway and returns the
figures as a dict; `run(...)` starts a gateway for it; `main()` prints a one-line table.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
INTEGRATION = REPO / "tests" / "integration"
for _path in (str(REPO), str(INTEGRATION), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from tables import text_table  # noqa: E402

AGENT = "content_writer_funny"
COLUMNS = ["N", "C", "latency", "wall s", "ideal s", "ratio", "HTTP calls/task", "spawn ms (median)",
           "spawn ms (p90)", "run ms (median)", "gateway CPU ms/task", "completed"]


class TimedCaller:
    """A ToolCaller wrapper that counts every tool request and times it, per tool."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: Counter = Counter()
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def __getattr__(self, name):  # has(), collector_runs_start, ... of the wrapped caller
        return getattr(self.inner, name)

    def call(self, tool: str, args: dict) -> dict:
        started = time.perf_counter()
        try:
            return self.inner.call(tool, args)
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self.calls[tool] += 1
                self.seconds[tool].append(elapsed)


def _tasks(n: int, latency: float, registry, tag: str):
    from parallel_agents.definitions.model import schema_registry
    from parallel_agents.definitions.samples import sample
    from parallel_agents.engine.tasks import AgentTask
    reply = sample(registry.get(AGENT).output_schema, schema_registry(), seed=1)
    directive = "SIM " + json.dumps({"latency": latency, "reply": reply, "tag": tag}, separators=(",", ":"))
    return [AgentTask(AGENT, f"Benchmark post {i} ({tag}).\n{directive}", task_id=f"bench-{tag}-{i:04d}",
                      timeout_seconds=max(60, int(latency * 10)))
            for i in range(n)], reply


def measure(url: str, token: str, *, n: int = 24, concurrent: int = 8, latency: float = 1.0,
            runs_folder: Path | None = None) -> dict:
    """One fan-out of `n` tasks at `concurrent` against the gateway at `url`; the figures."""
    import openclaw_gateway as og
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    from parallel_agents.orchestrator import RealAIParallelOrchestrator
    from parallel_agents.definitions.registry import Registry
    from parallel_agents.openclaw.runtime import OpenClawRuntime

    registry = Registry.load(overlay=None)
    tag = f"{time.strftime('%H%M%S')}-{os.getpid()}"
    tasks, reply = _tasks(n, latency, registry, tag)
    caller = TimedCaller(GatewayToolCaller(url, token, timeout_s=60))
    orch = RealAIParallelOrchestrator(concurrent, runtime=OpenClawRuntime(caller, collection="history"),
                                      config=og.scripted_config(), registry=registry,
                                      runs_folder=runs_folder)
    results = orch.run_parallel(tasks)
    report = orch.last_run
    spawns = sorted(caller.seconds["sessions_spawn"])
    listing = caller.inner.call("subagents", {"action": "list"})  # not counted: the run is over
    run_ms = sorted(v["runtimeMs"] for v in listing.get("recent") or []
                    if str(v.get("label", "")).startswith(f"bench-{tag}-") and isinstance(v.get("runtimeMs"), int))
    ideal = math.ceil(n / concurrent) * latency
    completed = sum(1 for r in results if r.status == "completed" and r.output == reply)
    return {
        "n": n, "concurrent": concurrent, "latency_s": latency,
        "wall_s": round(report.wall_seconds, 3), "ideal_s": round(ideal, 3),
        "ratio": round(report.wall_seconds / ideal, 3) if ideal else None,
        "http_calls": dict(caller.calls), "http_calls_per_task": round(sum(caller.calls.values()) / n, 2),
        "runtime_calls": report.runtime_calls,
        "spawn_ms_median": round(statistics.median(spawns) * 1000, 1) if spawns else None,
        "spawn_ms_p90": round(spawns[min(len(spawns) - 1, int(len(spawns) * 0.9))] * 1000, 1) if spawns else None,
        "run_ms_median": statistics.median(run_ms) if run_ms else None,  # the gateway's own runtimeMs
        "tool_ms_median": {tool: round(statistics.median(times) * 1000, 1)
                           for tool, times in caller.seconds.items()},
        "peak_in_flight": report.peak_in_flight, "completed": completed,
        "statuses": dict(Counter(r.status for r in results)),
    }


def run(*, n: int = 24, concurrent: int = 8, latency: float = 1.0, log=None) -> dict:
    """Start the model server and a gateway, warm it up, measure, stop both."""
    import openclaw_gateway as og
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    pkg, node = og.find_openclaw()
    with tempfile.TemporaryDirectory(prefix="pa-gateway-bench-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("PARALLEL_AGENTS_HOME", str(folder / "pa-home"))
        started = time.monotonic()
        with og.ModelServer.start(folder / "models") as models, \
                og.Gateway.start(pkg, node, folder / "gateway", models.url) as gateway:
            ready = time.monotonic() - started
            warm = og.warm_up(gateway)
            log(f"gateway: openclaw {og.openclaw_version(pkg)} ready in {ready:.1f}s, first run {warm:.1f}s")
            cpu_before = gateway_cpu_seconds(gateway.proc.pid)
            result = measure(gateway.url, gateway.token, n=n, concurrent=concurrent, latency=latency,
                             runs_folder=folder / "runs")
            cpu = gateway_cpu_seconds(gateway.proc.pid) - cpu_before
    result.update(gateway_cpu_s=round(cpu, 2), gateway_cpu_ms_per_task=round(cpu * 1000 / n),
                  gateway_busy=round(cpu / result["wall_s"], 2))
    result.update(openclaw=og.openclaw_version(pkg), gateway_ready_s=round(ready, 1),
                  first_run_s=round(warm, 1))
    return result


def gateway_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` and its descendants (Linux)."""
    import openclaw_gateway as og
    total = 0
    for p in [pid] + [child for child, _ in og.descendants(pid)]:
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def row(result: dict) -> list[str]:
    return [str(result["n"]), str(result["concurrent"]), f"{result['latency_s']:g} s",
            f"{result['wall_s']:.2f}", f"{result['ideal_s']:.2f}", f"{result['ratio']:.2f}",
            f"{result['http_calls_per_task']:.2f}", f"{result['spawn_ms_median']:.0f}",
            f"{result['spawn_ms_p90']:.0f}",
            "-" if result["run_ms_median"] is None else f"{result['run_ms_median']:.0f}",
            "-" if result.get("gateway_cpu_ms_per_task") is None else
            f"{result['gateway_cpu_ms_per_task']} ({result['gateway_busy']:.0%} busy)",
            f"{result['completed']}/{result['n']}"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Fan-out on a live OpenClaw gateway (scripted models).")
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--concurrent", type=int, default=8)
    p.add_argument("--latency", type=float, default=1.0, help="scripted model latency, seconds")
    p.add_argument("--gateway-url", help="use this running gateway (token: OPENCLAW_GATEWAY_TOKEN)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = p.parse_args(argv)
    if args.gateway_url:
        result = measure(args.gateway_url, os.environ.get("OPENCLAW_GATEWAY_TOKEN", ""), n=args.n,
                         concurrent=args.concurrent, latency=args.latency)
    else:
        result = run(n=args.n, concurrent=args.concurrent, latency=args.latency)
    print("Fan-out on a live OpenClaw gateway (ratio = wall / ideal, ideal = ceil(N/C) x latency)")
    print(text_table([COLUMNS, row(result)]))
    if args.json:
        print(json.dumps(result, indent=1))
    return 0 if result["completed"] == result["n"] else 1


if __name__ == "__main__":
    sys.exit(main())
