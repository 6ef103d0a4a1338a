"""Fan-out efficiency: one configuration, in this process, reported as one JSON line on stdout.

    python3 bench/fanout.py --n 1000 --concurrent 50 [--latency 0.05] [--agent content_writer_funny]
                            [--profile FILE]

N tasks for one agent, each scripted by a `SIM {...}` directive (FakeOpenClaw's language) to
answer after `latency` seconds with one schema-valid reply (built once with samples.sample), so
every task completes on its first attempt. The fake's own limits (lane, max children, swarm
group) are raised to at least `concurrent`, so only the scheduler's window bounds the fan-out.

Measured: wall time of run_parallel (the orchestrator's own RunReport.wall_seconds), the ideal
ceil(N/C) x latency, their ratio, runtime tool calls per task, this process's peak RSS, and CPU
time per task: of the whole process, and of the engine alone (the process's minus what the
fake's tool calls used, timed with time.thread_time around each call; one thread).
bench/run.py starts one fresh process per configuration, so the RSS is per configuration.
Journals go to $PARALLEL_AGENTS_HOME (bench/run.py points it at a temp folder).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def workload(n: int, concurrent: int, latency: float, agent: str, reply):
    """(tasks, fake): N tasks for `agent`, each scripted to answer `reply` after `latency`, and a
    FakeOpenClaw whose own limits are raised to C, so only the scheduler's window bounds the
    fan-out (shared with bench/threaded_harness.py). validate_structured=False: OpenClaw checks
    structured output against the outputSchema in the gateway's process; in an in-process
    harness it would be billed to the engine."""
    from parallel_agents.engine.tasks import AgentTask
    from parallel_agents.simulation.directives import directive_responder
    from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
    directive = "SIM " + json.dumps({"latency": latency, "reply": reply}, separators=(",", ":"))
    tasks = [AgentTask(agent, f"Benchmark task {i}: write one post.\n{directive}", task_id=f"t{i:05d}")
             for i in range(n)]
    fake = FakeOpenClaw(directive_responder, max_children=max(5, concurrent),
                        lane_max_concurrent=max(8, concurrent),
                        swarm_max_concurrent=max(8, concurrent),
                        max_children_per_group=max(50, concurrent), validate_structured=False)
    return tasks, fake


def build(n: int, concurrent: int, latency: float, agent: str):
    from parallel_agents.api import load_registry
    from parallel_agents.definitions.model import schema_registry
    from parallel_agents.definitions.samples import sample
    from parallel_agents.openclaw.runtime import OpenClawRuntime
    from parallel_agents.orchestrator import RealAIParallelOrchestrator

    registry = load_registry()
    definition = registry.get(agent)
    reply = sample(definition.output_schema, schema_registry(), seed=1) \
        if definition.output_format == "json" else f"[simulated] {agent} reply."
    tasks, fake = workload(n, concurrent, latency, agent, reply)
    runtime = OpenClawRuntime(TimedCaller(fake))
    orch = RealAIParallelOrchestrator(max_concurrent=concurrent, runtime=runtime, registry=registry)
    return orch, tasks, fake


class TimedCaller:
    """The fake as the runtime's tool caller, with the CPU time spent inside its calls (in this
    thread: time.thread_time), so that the engine's own CPU time can be told apart."""

    def __init__(self, fake):
        self.fake = fake
        self.cpu_s = 0.0

    def has(self, tool: str) -> bool:
        return self.fake.has(tool)

    def call(self, tool: str, args: dict) -> dict:
        started = time.thread_time()
        try:
            return self.fake.call(tool, args)
        finally:
            self.cpu_s += time.thread_time() - started

    def __getattr__(self, name):   # the fake's other attributes (collector_runs_start, ...)
        return getattr(self.fake, name)


def measure(n: int, concurrent: int, latency: float, agent: str, profile: str | None = None) -> dict:
    orch, tasks, fake = build(n, concurrent, latency, agent)
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    caller = orch.runtime.caller
    cpu0, fake0 = time.process_time(), caller.cpu_s
    results = orch.run_parallel(tasks)
    cpu, fake_cpu = time.process_time() - cpu0, caller.cpu_s - fake0
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    report = orch.last_run
    ideal = math.ceil(n / concurrent) * latency
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    attempts = sum(len(r.attempts) for r in results)
    calls = sum(v for k, v in report.runtime_calls.items() if "." not in k)  # "subagents.list" is a sub-count
    return {
        "n": n, "concurrent": concurrent, "latency_s": latency, "agent": agent,
        "wall_s": report.wall_seconds, "ideal_s": ideal, "ratio": report.wall_seconds / ideal,
        "cpu_s": cpu, "cpu_us_per_task": cpu / n * 1e6, "fake_cpu_s": fake_cpu,
        "engine_cpu_us_per_task": (cpu - fake_cpu) / n * 1e6,
        "calls_per_task": calls / n, "runtime_calls": dict(report.runtime_calls),
        "attempts_per_task": attempts / n, "statuses": statuses,
        "peak_in_flight": report.peak_in_flight, "fake_peak_running": fake.peak_running,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "home": os.environ.get("PARALLEL_AGENTS_HOME"),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrent", type=int, required=True)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--agent", default="content_writer_funny")
    p.add_argument("--profile", default=None, metavar="FILE", help="write cProfile stats of the run")
    args = p.parse_args(argv)
    started = time.monotonic()
    out = measure(args.n, args.concurrent, args.latency, args.agent, args.profile)
    out["process_s"] = time.monotonic() - started
    print(json.dumps(out))
    return 0 if out["statuses"] == {"completed": args.n} else 1


if __name__ == "__main__":
    sys.exit(main())
