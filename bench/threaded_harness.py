"""Fan-out through an injected `tools` module served by a thread of its own, as a real host's is.

    python3 bench/threaded_harness.py --n 1000 --concurrent 50 [--latency 0.05]
                                      [--agent content_writer_funny] [--profile FILE] [--json]

A host that injects a Python `tools` module serves its calls somewhere else than the script's
thread (its own event loop or worker). This harness does the same: `sys.modules["tools"]` is a
module whose sessions_spawn / agents_wait / subagents / sessions_history hand each call to one
worker thread, which answers it from a FakeOpenClaw (children scripted by `SIM` directives to
answer after `latency` with one schema-valid reply) and wraps the answer as OpenClaw's tools do
(`{"content": [{"type": "text", "text": <JSON, indented>}], "details": ...}`). The
orchestrator is `RealAIParallelOrchestrator(max_concurrent=C)` with no runtime given: it selects
the injected module itself (runtimes.select_runtime).

Run in a fresh process with a fresh PARALLEL_AGENTS_HOME (bench/run.py makes one): the first
use is measured: the settings and the definition the run uses read (and, unchanged since they
shipped, taken as valid from the records shipped with them). (The reply
the children give is built from the agent's YAML before the clock starts, without the registry.)

Measured:
- wall: from constructing the orchestrator to run_parallel's return (first use included: the
  config and the definition read); ideal ceil(N/C) x latency;
- engine CPU per task: the process's CPU time in that window minus the host's, over N. The
  host's is all the worker thread's (time.thread_time in it: serving calls, waking up for them)
  and, in the caller's thread, the time spent inside the module's functions (handing a call
  over and waking up to its answer; time.thread_time around each). The rest is the engine:
  scheduler, journal, runtime, reply checks.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import queue
import resource
import sys
import threading
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "bench") not in sys.path:
    sys.path.insert(0, str(REPO / "bench"))

TOOLS = ("sessions_spawn", "agents_wait", "subagents", "sessions_history")


class ThreadedTools:
    """The worker thread behind the injected module: one call at a time, in call order."""

    def __init__(self, fake):
        self.fake = fake
        self.calls: queue.SimpleQueue = queue.SimpleQueue()
        self.cpu_s = 0.0          # the worker thread's CPU time so far (time.thread_time)
        self.caller_cpu_s = 0.0   # CPU time the module's functions used in the caller's thread
        self.served = 0
        self.thread = threading.Thread(target=self._serve, name="host-tools", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            item = self.calls.get()
            if item is None:
                return
            tool, args, box, done = item
            try:
                details = self.fake.call(tool, args)
                box.append({"content": [{"type": "text", "text": json.dumps(details, indent=2)}],
                            "details": details})
            except BaseException as exc:  # handed back to the caller's thread
                box.append(exc)
            self.cpu_s = time.thread_time()   # all of it: its wake-ups are the host's too
            self.served += 1
            done.set()

    def call(self, tool: str, args: dict):
        started = time.thread_time()
        box: list = []
        done = threading.Event()
        self.calls.put((tool, args, box, done))
        done.wait()
        self.caller_cpu_s += time.thread_time() - started   # handing over, waking up: the host's
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def module(self) -> types.ModuleType:
        """A `tools` module whose functions take the tool arguments as keyword arguments."""
        module = types.ModuleType("tools", "injected tools, served by the host-tools thread")
        for tool in TOOLS:
            setattr(module, tool, lambda _tool=tool, **kwargs: self.call(_tool, kwargs))
        return module

    def stop(self) -> None:
        self.calls.put(None)
        self.thread.join(timeout=5)


def reply_for(agent: str) -> str:
    """A schema-valid reply of the agent, from its shipped YAML read directly (the registry is
    left untouched: its first use belongs to the measured run)."""
    from parallel_agents.core.paths import SHIPPED_AGENTS
    from parallel_agents.definitions.model import read_definition_file, schema_registry
    from parallel_agents.definitions.samples import sample
    path = next(SHIPPED_AGENTS.rglob(f"{agent}.yaml"))
    data, _, problems = read_definition_file(path)
    if problems:
        raise SystemExit(f"{path}: {problems[0]}")
    if data.get("output_format") != "json":
        return f"[simulated] {agent} reply."
    return sample(data["output_schema"], schema_registry(), seed=1)


def measure(n: int, concurrent: int, latency: float, agent: str, profile: str | None = None) -> dict:
    from fanout import workload   # the same tasks and fake as bench/fanout.py
    from parallel_agents.orchestrator import RealAIParallelOrchestrator

    tasks, fake = workload(n, concurrent, latency, agent, reply_for(agent))
    host = ThreadedTools(fake)
    sys.modules["tools"] = host.module()
    try:
        if profile:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        worker0, caller0 = host.cpu_s, host.caller_cpu_s
        orch = RealAIParallelOrchestrator(max_concurrent=concurrent)   # config read: first use
        results = orch.run_parallel(tasks)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        worker = host.cpu_s - worker0 + host.caller_cpu_s - caller0
        if profile:
            profiler.disable()
            profiler.dump_stats(profile)
        kind = type(orch.runtime.caller).__name__
    finally:
        host.stop()
        sys.modules.pop("tools", None)
    report = orch.last_run
    ideal = math.ceil(n / concurrent) * latency
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    calls = sum(v for k, v in report.runtime_calls.items() if "." not in k)
    return {
        "n": n, "concurrent": concurrent, "latency_s": latency, "agent": agent, "caller": kind,
        "wall_s": wall, "run_wall_s": report.wall_seconds, "ideal_s": ideal, "ratio": wall / ideal,
        "cpu_s": cpu, "host_cpu_s": worker, "engine_cpu_s": cpu - worker,
        "engine_cpu_us_per_task": (cpu - worker) / n * 1e6, "host_cpu_us_per_task": worker / n * 1e6,
        "calls_per_task": calls / n, "runtime_calls": dict(report.runtime_calls),
        "statuses": statuses, "peak_in_flight": report.peak_in_flight,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "home": os.environ.get("PARALLEL_AGENTS_HOME"),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--concurrent", type=int, default=50)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--agent", default="content_writer_funny")
    p.add_argument("--profile", default=None, metavar="FILE", help="write cProfile stats of the run")
    p.add_argument("--json", action="store_true", help="(the output is always one JSON line)")
    args = p.parse_args(argv)
    out = measure(args.n, args.concurrent, args.latency, args.agent, args.profile)
    print(json.dumps(out))
    return 0 if out["statuses"] == {"completed": args.n} else 1


if __name__ == "__main__":
    sys.exit(main())
