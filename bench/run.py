#!/usr/bin/env python3
"""Run every benchmark side by side, print a table, and (re)write BENCHMARKS.md.

    python3 bench/run.py                   # full run; rewrites BENCHMARKS.md at the repo root
    python3 bench/run.py --quick           # tiny sizes, a few runs: checks the benches still work
    python3 bench/run.py --only ladder     # one benchmark (fanout | threaded | coldstart | gateway | attached |
                                           # ladder | host | taskfile | estimate | reuse);
                                           # may be repeated

Benchmarks:
- fanout: fan-out efficiency on FakeOpenClaw (bench/fanout.py), one fresh process per
  configuration and repeat, N x max_concurrent, 50 ms scripted latency per task. Headline:
  ratio = wall / ideal, ideal = ceil(N / C) x latency; and runtime tool calls per task. Each
  process gets a fresh user folder whose definition-validation cache is filled first (by a
  `list`), as it is after the skill's first use: the first use's cost is in the coldstart table.
- threaded: fan-out through an injected `tools` module whose calls a worker thread of its own
  serves (bench/threaded_harness.py), as a real host's are, the runtime selected from it; one
  fresh process and a fresh user folder per run, N=1000, C=50, 50 ms: the first use included.
  Headline: wall / ideal, and the engine's CPU time per task (the process's minus the worker's).
- coldstart: wall time of fresh CLI processes (bench/coldstart.py: list, show, plan) against
  the `python3 -c pass` floor.
- gateway: fan-out on a live OpenClaw gateway (bench/gateway_bench.py).
- ladder: ladder economics (bench/ladder.py) on a scripted workload of code reviews, in a fresh
  process: final pass rate and cost of the model ladder vs. always-strongest vs.
  always-cheapest at config.yaml's list prices. Headline: ladder cost as % of always-strongest
  at the same pass rate. Costs and pass rates are deterministic for a given seed; no timing.
- attached: attached mode against HTTP script mode on one live gateway (bench/attached_bench.py):
  the same N=16 tasks at C=8 both ways, side by side; and the bytes a host writes for the one
  attached command, per task.
- host: host cost (bench/host_cost.py), in a fresh process: the bytes a host agent following
  SKILL.md writes per task, the loop before and after prompt files and check reading the
  gateway. Deterministic; no timing.
- taskfile: task files at scale (bench/taskfile_bench.py): `plan --tasks FILE --json` and the
  task-file load alone for 400, 1,200 and 5,000 tasks, in fresh processes. Headline: the
  5,000-task plan's wall time (goal < 3 s), and ms per task staying flat as N grows.
- estimate: estimate against actual (bench/estimate_bench.py), in a fresh process: `--estimate`
  of the ladder workload learnt from one earlier run, then the run. Headline: the expected total
  against what the run spent (goal within +-25 %) and the share of tasks whose actual cost is
  inside their [low, high] (goal >= 90 %). Deterministic; no timing.
- reuse: reuse finished work (bench/reuse_bench.py): a 100-task file on the simulated runtime,
  run once, then rerun with `--reuse` after one task's text changed, each run a fresh process.
  Headline: the rerun's spawns (goal: exactly 1).

Ratios, not absolute times, are the headline: absolute times depend on the machine. A partial
run (--quick or --only) does not rewrite BENCHMARKS.md unless --output is given. Hand-written
notes below the NOTES_MARKER line of an existing BENCHMARKS.md are kept.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import coldstart  # noqa: E402
from tables import md_table, report  # noqa: E402

BENCHMARKS = ("fanout", "threaded", "coldstart", "gateway", "attached", "ladder", "host", "taskfile", "estimate",
              "reuse")
NOTES_MARKER = "<!-- notes below this line are kept by bench/run.py -->"

GOAL_RATIO = 1.05             # at N=1000, C=50
GOAL_CALLS_PER_TASK = 4.0
GOAL_ENGINE_CPU_US = 250.0    # engine CPU per task, both harnesses


# -- fan-out ----------------------------------------------------------------------------------
def _fanout_once(n: int, c: int, latency: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="pa-bench-fanout-") as home:
        env = dict(os.environ, PARALLEL_AGENTS_HOME=home,
                   OPENCLAW_STATE_DIR=str(Path(home) / "openclaw-state"))
        for key in ("OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN", "PARALLEL_AGENTS_DEBUG"):
            env.pop(key, None)
        # the steady state of an installed skill: definitions validated once, then cached
        subprocess.run([sys.executable, str(REPO / "ai_orchestrator.py"), "list", "--json"], cwd=REPO,
                       env=env, capture_output=True, check=True, timeout=120)
        proc = subprocess.run([sys.executable, str(BENCH / "fanout.py"), "--n", str(n),
                               "--concurrent", str(c), "--latency", str(latency)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"fanout N={n} C={c} printed nothing (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    result["exit_code"] = proc.returncode
    return result


def run_fanout(sizes, concurrency, latency: float, repeat: int, log) -> list[dict]:
    rows = []
    for n in sizes:
        for c in concurrency:
            runs = []
            for i in range(repeat):
                r = _fanout_once(n, c, latency)
                runs.append(r)
                log(f"  fanout N={n} C={c} run {i + 1}/{repeat}: ratio {r['ratio']:.3f}, "
                    f"{r['calls_per_task']:.2f} calls/task")
            ratios = sorted(r["ratio"] for r in runs)
            mid = min(runs, key=lambda r: abs(r["ratio"] - statistics.median(ratios)))
            rows.append({
                "n": n, "concurrent": c, "latency_ms": latency * 1000, "repeat": repeat,
                "wall_s": mid["wall_s"], "ideal_s": mid["ideal_s"],
                "ratio": statistics.median(ratios), "ratio_min": ratios[0], "ratio_max": ratios[-1],
                "calls_per_task": max(r["calls_per_task"] for r in runs),
                "runtime_calls": mid["runtime_calls"],
                "cpu_us_per_task": statistics.median(r["cpu_us_per_task"] for r in runs),
                "engine_cpu_us_per_task": statistics.median(r["engine_cpu_us_per_task"] for r in runs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "peak_in_flight": max(r["peak_in_flight"] for r in runs),
                "completed": min(r["statuses"].get("completed", 0) for r in runs),
                "ok": all(r["exit_code"] == 0 for r in runs),
            })
    return rows


def fanout_table(rows) -> list[list[str]]:
    head = ["N", "C", "latency", "wall s", "ideal s", "ratio", "ratio range", "calls/task",
            "CPU us/task", "engine CPU us/task", "peak RSS MB", "completed"]
    body = [[str(r["n"]), str(r["concurrent"]), f"{r['latency_ms']:.0f} ms", f"{r['wall_s']:.3f}",
             f"{r['ideal_s']:.3f}", f"{r['ratio']:.3f}",
             f"{r['ratio_min']:.3f}-{r['ratio_max']:.3f}", f"{r['calls_per_task']:.2f}",
             f"{r['cpu_us_per_task']:.0f}", f"{r['engine_cpu_us_per_task']:.0f}",
             f"{r['peak_rss_mb']:.1f}",
             f"{r['completed']}/{r['n']}"] for r in rows]
    return [head] + body


def fanout_goals(rows) -> list[str]:
    out = []
    target = [r for r in rows if r["n"] == 1000 and r["concurrent"] == 50]
    for r in target:
        out.append(f"ratio at N=1000, C=50: {r['ratio']:.3f}, runs {r['ratio_min']:.3f}-"
                   f"{r['ratio_max']:.3f} (goal <= {GOAL_RATIO}): "
                   + ("met" if r["ratio"] <= GOAL_RATIO else
                      f"MISSED: the scheduler, runtime and fake share one thread at "
                      f"~{r['cpu_us_per_task']:.0f} us of CPU per task, so each freed slot is "
                      "refilled only when the thread reaches its completion (see the notes)"))
    for r in target:
        out.append(f"engine CPU per task at N=1000, C=50 on FakeOpenClaw: "
                   f"{r['engine_cpu_us_per_task']:.0f} us (goal <= {GOAL_ENGINE_CPU_US:.0f}): "
                   + ("met" if r["engine_cpu_us_per_task"] <= GOAL_ENGINE_CPU_US else "MISSED"))
    worst = max((r["calls_per_task"] for r in rows), default=None)
    if worst is not None:
        out.append(f"runtime calls per task, worst configuration: {worst:.2f} (goal <= "
                   f"{GOAL_CALLS_PER_TASK:.0f}): " + ("met" if worst <= GOAL_CALLS_PER_TASK else "MISSED"))
    if any(not r["ok"] or r["completed"] != r["n"] for r in rows):
        out.append("NOT EVERY TASK COMPLETED: the figures above are not valid")
    return out


# -- fan-out through a threaded injected `tools` module -----------------------------------------
def _threaded_once(n: int, c: int, latency: float) -> dict:
    """bench/threaded_harness.py in a fresh process and a fresh user folder (first use included)."""
    return _bench_script("threaded_harness.py", "--n", str(n), "--concurrent", str(c),
                         "--latency", str(latency), timeout=600)


def run_threaded(n: int, c: int, latency: float, repeat: int, log) -> dict:
    runs = []
    for i in range(repeat):
        r = _threaded_once(n, c, latency)
        runs.append(r)
        log(f"  threaded N={n} C={c} run {i + 1}/{repeat}: ratio {r['ratio']:.3f}, engine "
            f"{r['engine_cpu_us_per_task']:.0f} us/task")
    ratios = sorted(r["ratio"] for r in runs)
    mid = min(runs, key=lambda r: abs(r["ratio"] - statistics.median(ratios)))
    return {"n": n, "concurrent": c, "latency_ms": latency * 1000, "repeat": repeat,
            "wall_s": mid["wall_s"], "ideal_s": mid["ideal_s"], "ratio": statistics.median(ratios),
            "ratio_min": ratios[0], "ratio_max": ratios[-1],
            "engine_cpu_us_per_task": statistics.median(r["engine_cpu_us_per_task"] for r in runs),
            "host_cpu_us_per_task": statistics.median(r["host_cpu_us_per_task"] for r in runs),
            "calls_per_task": max(r["calls_per_task"] for r in runs),
            "completed": min(r["statuses"].get("completed", 0) for r in runs),
            "caller": mid["caller"]}


def threaded_table(r: dict) -> list[list[str]]:
    head = ["N", "C", "latency", "wall s", "ideal s", "ratio", "ratio range", "engine CPU us/task",
            "host CPU us/task", "calls/task", "completed"]
    return [head, [str(r["n"]), str(r["concurrent"]), f"{r['latency_ms']:.0f} ms",
                   f"{r['wall_s']:.3f}", f"{r['ideal_s']:.3f}", f"{r['ratio']:.3f}",
                   f"{r['ratio_min']:.3f}-{r['ratio_max']:.3f}",
                   f"{r['engine_cpu_us_per_task']:.0f}", f"{r['host_cpu_us_per_task']:.0f}",
                   f"{r['calls_per_task']:.2f}", f"{r['completed']}/{r['n']}"]]


def threaded_goals(r: dict) -> list[str]:
    busy = (r["engine_cpu_us_per_task"] + r["host_cpu_us_per_task"]) * r["n"] / 1e6
    out = [f"threaded `tools` module, N={r['n']}, C={r['concurrent']}, first use included: ratio "
           f"{r['ratio']:.3f}, runs {r['ratio_min']:.3f}-{r['ratio_max']:.3f} (goal <= "
           f"{GOAL_RATIO}): " + ("met" if r["ratio"] <= GOAL_RATIO else
                                 f"MISSED: engine and host together use {busy:.2f} s of CPU for an "
                                 f"ideal of {r['ideal_s']:.2f} s, in one process (one GIL)"),
           f"engine CPU per task on the threaded harness: {r['engine_cpu_us_per_task']:.0f} us "
           f"(goal <= {GOAL_ENGINE_CPU_US:.0f}): "
           + ("met" if r["engine_cpu_us_per_task"] <= GOAL_ENGINE_CPU_US else "MISSED")]
    if r["completed"] != r["n"]:
        out.append("NOT EVERY TASK COMPLETED: the figures above are not valid")
    return out


def _attached_goals(result: dict) -> list[str]:
    import attached_bench
    return attached_bench.goals(result)


# -- the standalone benches, each in a fresh process --------------------------------------------
def _bench_script(script: str, *args: str, own_home: bool = True, timeout: int = 900) -> dict:
    """bench/SCRIPT --json in a fresh process, the user's OpenClaw and parallel-agents settings
    left out; with own_home, in a temp PARALLEL_AGENTS_HOME (and OpenClaw state dir) of its own
    (otherwise the script makes its own per measurement). Its last stdout line, as JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "PARALLEL_AGENTS_"))}
    with tempfile.TemporaryDirectory(prefix="pa-bench-") as home:
        if own_home:
            env.update(PARALLEL_AGENTS_HOME=home, OPENCLAW_STATE_DIR=str(Path(home) / "openclaw-state"))
        proc = subprocess.run([sys.executable, str(BENCH / script), *args, "--json"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{script} {' '.join(args)} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def run_host_cost() -> dict:
    """Host cost: bench/host_cost.py; its rows and goals."""
    return _bench_script("host_cost.py")


def run_taskfile(quick: bool) -> dict:
    """Task files at scale: bench/taskfile_bench.py (a fresh process and home per measurement)."""
    return _bench_script("taskfile_bench.py", *(["--quick"] if quick else []), own_home=False,
                         timeout=1800)


def run_ladder(n: int, seed: int) -> dict:
    """Ladder economics: bench/ladder.py; its JSON figures."""
    return _bench_script("ladder.py", "--n", str(n), "--seed", str(seed), timeout=600)


def run_estimate(n: int) -> dict:
    """Estimate against actual: bench/estimate_bench.py; its figures."""
    return _bench_script("estimate_bench.py", "--n", str(n), timeout=600)


def run_reuse(n: int) -> dict:
    """A --reuse rerun: bench/reuse_bench.py (its runs share one home of its own)."""
    return _bench_script("reuse_bench.py", "--n", str(n), own_home=False, timeout=1800)


def ladder_intro(result: dict) -> list[str]:
    """What the ladder table measures, with the workload's parameters (for BENCHMARKS.md)."""
    tiers = ", ".join(f"{t} `{m}` ${p['input']:.2f} / ${p['output']:.2f}"
                      for (t, m), p in zip(result["models"].items(), result["prices"].values()))
    shares = ", ".join(f"{t} {100 * s:.0f}%" for t, s in result["shares"].items())
    return [
        f"N={result['n']} code reviews (`{result['agent']}`, seed {result['seed']}), each strategy "
        "one `RealAIParallelOrchestrator` run over `OpenClawRuntime(FakeOpenClaw(...))` with "
        "per-model scripted replies (`SIM` `by_model`). Each tier gets exactly a fixed share of "
        f"the tasks right ({shares}; which tasks, a seeded hash decides), the same tasks for "
        "every strategy, and a task a cheaper tier gets right every stronger tier gets right too. A wrong reply is either schema-invalid JSON "
        f"({100 * result['schema_share']:.0f}% of them: the engine re-asks once with the "
        "validation errors, gets the same reply, escalates) or a valid review that misses the "
        "planted bug (the run's quality gate rejects it; the engine escalates). Past the top of "
        "its ladder a task fails. Token usage per attempt: the real prompt at 4 characters a "
        f"token (~{result['input_tokens']} for a first attempt; a re-ask carries its validation "
        f"errors too) and {result['output_tokens']} output tokens per reply. Cost = the engine's "
        f"cost_usd at config.yaml prices (USD per million input / output tokens: {tiers}).",
        "",
        "- **pass rate** = tasks completed / N; **% of strongest** = cost / always-strongest's cost.",
        "- **ladder** is the product as shipped: each task starts on its agent's tier "
        f"(`{result['agent']}`: {_agent_tier(result)}, where " + _start_count(result) + " shipped "
        "agents start) and climbs; **ladder-from-fast** starts every task on the first tier (an "
        "agent with `tier: fast`); **always-strongest** starts it on the strongest (nothing to "
        "escalate to); **always-cheapest** runs a config with only the first tier.",
        "- same pass rate = the ladder's is at least always-strongest's minus half a percentage "
        "point.",
    ]


def _agent_tier(result: dict) -> str:
    row = next(r for r in result["rows"] if r["strategy"] == "ladder")
    return row["tiers"][0]


def _start_count(result: dict) -> str:
    starts = result.get("agent_start_tiers") or {}
    second = list(result["models"])[1] if len(result["models"]) > 1 else None
    total = sum(starts.values())
    return f"{starts.get(second, 0)} of the {total}" if total else "most"


def _estimate_table(result: dict) -> list[list[str]]:
    import estimate_bench
    return estimate_bench.table(result)


def _estimate_goals(result: dict) -> list[str]:
    import estimate_bench
    return estimate_bench.goals(result)


def _reuse_table(result: dict) -> list[list[str]]:
    import reuse_bench
    return reuse_bench.table(result["rows"])


def ladder_goals(result: dict) -> list[str]:
    import ladder
    return ladder.goals(result)


# -- cold start ---------------------------------------------------------------------------------
def coldstart_table(rows) -> list[list[str]]:
    floor = next(r["median_ms"] for r in rows if r["key"] == "floor")
    head = ["command", "runs", "median ms", "x floor", "above floor ms", "min ms", "max ms"]
    body = [[r["command"], str(r["runs"]), f"{r['median_ms']:.1f}", f"{r['median_ms'] / floor:.2f}",
             "-" if r["above_floor_ms"] is None else f"{r['above_floor_ms']:+.1f}",
             f"{r['min_ms']:.1f}", f"{r['max_ms']:.1f}"] for r in rows]
    return [head] + body


def coldstart_goals(rows) -> list[str]:
    out = []
    for r in rows:
        if r["goal_ms"] is not None:
            floor = next(x["median_ms"] for x in rows if x["key"] == "floor")
            out.append(f"`{r['command']}` median {r['median_ms']:.0f} ms wall, {r['median_ms'] / floor:.1f}x "
                       f"the bare interpreter (goal <= {r['goal_ms']:.0f} ms): "
                       + ("met" if r["median_ms"] <= r["goal_ms"] else "MISSED"))
    return out


# -- rendering ------------------------------------------------------------------------------------
def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {"nproc": nproc, "cpu": cpu or "unknown", "python": platform.python_version(),
            "implementation": platform.python_implementation(), "executable": sys.executable,
            "platform": platform.platform(), "load": load}


def render_markdown(results: dict, info: dict, command: str, date: str, notes: str | None) -> str:
    lines = ["# Benchmarks", "",
             f"Generated by `{command}` on {date}. Do not edit above the notes marker: "
             "re-run the command instead.", "",
             f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['implementation']} "
             f"{info['python']} ({info['executable']}), {info['platform']}. "
             f"Load average (1/5/15 min) at the start: {info['load']}; at the end: "
             f"{info.get('load_end', 'n/a')}.", ""]
    headline = [f"- {g}" for g in fanout_goals(results.get("fanout", []))
                + (threaded_goals(results["threaded"]) if "threaded" in results else [])
                + coldstart_goals(results.get("coldstart", []))
                + (gateway_goals(results["gateway"]) if "gateway" in results else [])
                + (_attached_goals(results["attached"]) if "attached" in results else [])
                + (ladder_goals(results["ladder"]) if "ladder" in results else [])
                + (results["host"]["goals"] if "host" in results else [])
                + (results["taskfile"]["goals"] if "taskfile" in results else [])
                + (_estimate_goals(results["estimate"]) if "estimate" in results else [])
                + (results["reuse"]["goals"] if "reuse" in results else [])]
    if headline:
        lines += ["Headline (goals from the issue):", ""] + headline + [""]
    if "fanout" in results:
        rows = results["fanout"]
        lines += ["## Fan-out efficiency (FakeOpenClaw)", "",
                  "N tasks for one agent (`content_writer_funny`), each scripted to answer after "
                  "the latency shown with one schema-valid reply, so every task completes on its "
                  "first attempt; `RealAIParallelOrchestrator(max_concurrent=C)` over "
                  "`OpenClawRuntime(FakeOpenClaw(...))` with the fake's lane, max-children and "
                  "swarm limits raised to C, so only the scheduler's window bounds the fan-out. "
                  "One fresh process per run; journals in a temp PARALLEL_AGENTS_HOME whose validation "
                  "cache a `list` filled first (the steady state after first use; the first use "
                  "itself is in the cold-start table).", "",
                  "- **ratio** = wall / ideal, ideal = ceil(N/C) x latency (1.000 = no overhead); "
                  "median of the runs, range = min-max.",
                  "- **calls/task** = OpenClawRuntime tool calls (sessions_spawn + agents_wait + "
                  "...) / N, worst run.",
                  "- **CPU us/task** = CPU time of the whole process during the run / N: the "
                  "scheduler, the runtime and the fake together (one thread).",
                  "- **engine CPU us/task** = the same less the CPU time spent inside the "
                  "fake's tool calls (time.thread_time around each): the engine alone.",
                  "- **peak RSS** = the process's max resident set (one configuration per process).",
                  "", md_table(fanout_table(rows)), ""]
        lines += [f"- {g}" for g in fanout_goals(rows)] + [""]
    if "threaded" in results:
        lines += ["## Fan-out through a threaded injected `tools` module", "",
                  " ".join(_threaded_doc().split()), "",
                  md_table(threaded_table(results["threaded"])), ""]
        lines += [f"- {g}" for g in threaded_goals(results["threaded"])] + [""]
    if "coldstart" in results:
        rows = results["coldstart"]
        lines += ["## CLI cold start", "",
                  "Wall time of fresh processes of the same interpreter, medians, commands "
                  "interleaved round-robin. Warm rows come after one warm-up (validation cache and "
                  "bytecode cache filled; the bytecode cache in a temp PYTHONPYCACHEPREFIX). "
                  "*First run* = a fresh PARALLEL_AGENTS_HOME each run (an empty validation "
                  "cache), as after an install: the definitions a command uses are read and "
                  "parsed (`list`: all of them; `plan`: the one it uses, the registry loading "
                  "lazily) and taken as valid from the index shipped with them "
                  "(definitions/shipped_index.py), the shipped settings likewise. *No bytecode cache* = a copy of the skill's code run with "
                  "PYTHONDONTWRITEBYTECODE=1: our modules compiled from source on every run (the "
                  "standard library and dependencies keep their caches), as when the skill folder "
                  "is read-only. *x floor* = median / the `python3 -c pass` median; *above floor* "
                  "= median minus it: our cost over the bare interpreter.", "",
                  md_table(coldstart_table(rows)), ""]
        lines += [f"- {g}" for g in coldstart_goals(rows)] + [""]
    if "gateway" in results:
        import gateway_bench
        g = results["gateway"]
        lines += ["## Fan-out on a live OpenClaw gateway", "",
                  f"openclaw {g.get('openclaw', '?')} from npm on loopback, models served by "
                  "tests/integration/model_server.py answering after the scripted latency; "
                  "`RealAIParallelOrchestrator` over `GatewayToolCaller` (HTTP `/tools/invoke`, "
                  "plain runs + `subagents` + `sessions_history`). *spawn ms* = one "
                  "sessions_spawn HTTP call (a wave's spawns are sent together, up to 8 at "
                  "once); *run ms* = the gateway's own run time of a child (model latency "
                  "included); *gateway CPU* = CPU time the gateway's processes used during the "
                  "fan-out, per task, and as a share of the wall time.", "",
                  md_table([gateway_bench.COLUMNS, gateway_bench.row(g)]), ""]
        lines += [f"- {goal}" for goal in gateway_goals(g)] + [""]
    if "attached" in results:
        import attached_bench
        lines += ["## Attached mode against HTTP script mode (live OpenClaw gateway)", "",
                  f"openclaw {results['attached'].get('openclaw', '?')}. "
                  + " ".join(attached_bench.__doc__.split("\n\n", 2)[2].split()), "",
                  md_table(attached_bench.table(results["attached"])), ""]
        lines += [f"- {goal}" for goal in _attached_goals(results["attached"])] + [""]
    if "ladder" in results:
        import ladder
        result = results["ladder"]
        lines += ["## Ladder economics (FakeOpenClaw, scripted workload)", ""]
        lines += ladder_intro(result)
        lines += ["", md_table(ladder.table(result)), ""]
        lines += [f"- {goal}" for goal in ladder_goals(result)] + [""]
    if "host" in results:
        import host_cost
        lines += ["## Host cost (host-agent mode, FakeOpenClaw gateway)", "",
                  host_cost.__doc__.split("\n\n", 2)[2].strip(), "",
                  md_table(host_cost.table(results["host"]["rows"])), ""]
        lines += [f"- {goal}" for goal in results["host"]["goals"]] + [""]
    if "taskfile" in results:
        import taskfile_bench
        lines += ["## Task files at scale (plan --tasks)", "",
                  " ".join(taskfile_bench.__doc__.split("\n\n", 2)[2].split()), "",
                  md_table(taskfile_bench.table(results["taskfile"]["rows"])), ""]
        lines += [f"- {goal}" for goal in results["taskfile"]["goals"]] + [""]
    if "estimate" in results:
        import estimate_bench
        lines += ["## Estimate against actual (ladder workload, FakeOpenClaw)", "",
                  " ".join(estimate_bench.__doc__.split("\n\n", 2)[2].split()), "",
                  md_table(estimate_bench.table(results["estimate"])), ""]
        lines += [f"- {goal}" for goal in _estimate_goals(results["estimate"])] + [""]
    if "reuse" in results:
        import reuse_bench
        lines += ["## Reuse finished work (run --reuse, simulated runtime)", "",
                  " ".join(reuse_bench.__doc__.split("\n\n", 2)[2].split()), "",
                  md_table(reuse_bench.table(results["reuse"]["rows"])), ""]
        lines += [f"- {goal}" for goal in results["reuse"]["goals"]] + [""]
    lines += [NOTES_MARKER, ""]
    if notes:
        lines.append(notes.strip("\n"))
        lines.append("")
    return "\n".join(lines)


def _threaded_doc() -> str:
    """What the threaded table measures: threaded_harness.py's docstring past its first lines."""
    import threaded_harness
    return threaded_harness.__doc__.split("\n\n", 2)[2]


def kept_notes(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    _, marker, notes = text.partition(NOTES_MARKER)
    return notes if marker else None


def gateway_goals(result: dict) -> list[str]:
    ratio = result["ratio"]
    reason = (f"each child costs the gateway about "
              f"{(result['run_ms_median'] or 0) / 1000 - result['latency_s']:.1f} s beyond the model's "
              f"latency (run ms above) and each spawn request ~{result['spawn_ms_median']:.0f} ms, "
              "though a wave's spawns are sent together")
    if result.get("gateway_cpu_ms_per_task") is not None:
        reason = (f"the gateway itself is the bottleneck: it used {result['gateway_cpu_s']:.1f} s of "
                  f"CPU for the fan-out ({result['gateway_cpu_ms_per_task']} ms per task: spawn, "
                  f"run, transcript), {result['gateway_busy']:.0%} of the wall time: its CPU "
                  f"time alone is {result['gateway_cpu_s'] / result['ideal_s']:.1f}x the ideal "
                  f"wall time on this machine; " + reason)
    verdict = "met" if ratio <= 1.3 else "MISSED: " + reason
    return [f"ratio at N={result['n']}, C={result['concurrent']}: {ratio:.2f} (goal <= 1.3): {verdict}"]


def _sections(results: dict):
    """(title, table rows, goal lines) of each benchmark that ran, for the terminal."""
    import attached_bench
    import gateway_bench
    import host_cost
    import ladder
    import taskfile_bench
    sections = {
        "fanout": lambda r: ("Fan-out efficiency on FakeOpenClaw (ratio = wall / ideal, ideal = "
                             "ceil(N/C) x latency)", fanout_table(r), fanout_goals(r)),
        "threaded": lambda r: ("Fan-out through an injected `tools` module served by a thread of "
                               "its own (first use included)", threaded_table(r), threaded_goals(r)),
        "coldstart": lambda r: ("CLI cold start (fresh processes, median wall time)",
                                coldstart_table(r), coldstart_goals(r)),
        "gateway": lambda r: ("Fan-out on a live OpenClaw gateway (scripted model server)",
                              [gateway_bench.COLUMNS, gateway_bench.row(r)], gateway_goals(r)),
        "attached": lambda r: ("Attached mode against HTTP script mode (one live gateway)",
                               attached_bench.table(r), _attached_goals(r)),
        "ladder": lambda r: ("Ladder economics on FakeOpenClaw (scripted code reviews, config.yaml "
                             "list prices)", ladder.table(r), ladder_goals(r)),
        "host": lambda r: ("Host cost: bytes a host following SKILL.md writes per task",
                           host_cost.table(r["rows"]), r["goals"]),
        "taskfile": lambda r: ("Task files at scale: plan --tasks FILE and the load alone (fresh "
                               "processes, medians)", taskfile_bench.table(r["rows"]), r["goals"]),
        "estimate": lambda r: ("Estimate against actual: --estimate of the ladder workload, "
                               "learnt from one earlier run", _estimate_table(r),
                               _estimate_goals(r)),
        "reuse": lambda r: ("Reuse finished work: reruns of a task file with --reuse (fresh "
                            "processes, simulated runtime)", _reuse_table(r), r["goals"]),
    }
    return [sections[name](results[name]) for name in sections if name in results]


# -- main -----------------------------------------------------------------------------------------
def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Run the parallel-agents benchmarks.")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and few runs (N=20, 1 repeat, 3 cold-start runs)")
    p.add_argument("--only", action="append", choices=BENCHMARKS, metavar="NAME",
                   help="run only this benchmark (fanout | threaded | coldstart | gateway | attached | "
                        "ladder | host "
                        "| taskfile | estimate | reuse); "
                        "may be repeated")
    p.add_argument("--sizes", type=_ints, default=None, help="fan-out N values, e.g. 100,1000")
    p.add_argument("--concurrency", type=_ints, default=None, help="max_concurrent values, e.g. 8,50")
    p.add_argument("--latency", type=float, default=0.05, help="scripted latency per task, seconds")
    p.add_argument("--repeat", type=int, default=None, help="runs per fan-out configuration")
    p.add_argument("--cold-runs", type=int, default=None, help="runs per cold-start command")
    p.add_argument("--ladder-n", type=int, default=None,
                   help="tasks in the ladder workload (default 300; --quick: 40)")
    p.add_argument("--ladder-seed", type=int, default=7, help="seed of the ladder workload")
    p.add_argument("--output", type=Path, default=None,
                   help="write the report here (default: BENCHMARKS.md on a full run only)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = p.parse_args(argv)

    selected = args.only or list(BENCHMARKS)
    sizes = args.sizes or ([20] if args.quick else [100, 1000])
    concurrency = args.concurrency or [8, 50]
    repeat = args.repeat or (1 if args.quick else 5)
    cold_runs = args.cold_runs or (3 if args.quick else 15)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    command = shlex.join(["python3", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    info = machine()
    date = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")

    results: dict = {}
    if "fanout" in selected:
        log(f"fanout: N in {sizes}, C in {concurrency}, latency {args.latency * 1000:.0f} ms, "
            f"{repeat} run(s) each")
        results["fanout"] = run_fanout(sizes, concurrency, args.latency, repeat, log)
    if "threaded" in selected:
        n, c = (20, 4) if args.quick else (1000, 50)
        log(f"threaded: injected tools module on a worker thread, N={n}, C={c}, "
            f"{args.latency * 1000:.0f} ms, {repeat} run(s), fresh process and user folder each")
        results["threaded"] = run_threaded(n, c, args.latency, repeat, log)
    if "coldstart" in selected:
        log(f"coldstart: {cold_runs} runs per command")
        results["coldstart"] = coldstart.measure(cold_runs, fresh_runs=min(5, cold_runs))
    if "gateway" in selected:
        import gateway_bench
        n, c = (8, 4) if args.quick else (24, 8)
        log(f"gateway: live OpenClaw gateway, N={n}, C={c}, 1 s scripted latency")
        results["gateway"] = gateway_bench.run(n=n, concurrent=c, latency=1.0, log=log)
    if "attached" in selected:
        import attached_bench
        n, c = (8, 4) if args.quick else (16, 8)
        log(f"attached: live OpenClaw gateway, attached vs HTTP, N={n}, C={c}, 1 s scripted latency")
        results["attached"] = attached_bench.run(n=n, concurrent=c, latency=1.0, log=log)
    if "ladder" in selected:
        ladder_n = args.ladder_n or (40 if args.quick else 300)
        log(f"ladder: N={ladder_n} scripted code reviews, seed {args.ladder_seed}, 4 strategies")
        results["ladder"] = run_ladder(ladder_n, args.ladder_seed)
    if "host" in selected:
        log("host: bytes a host writes per task, examples/tasks.yaml and a 5-agent team")
        results["host"] = run_host_cost()
    if "taskfile" in selected:
        log("taskfile: plan --tasks and the load alone, " + ("100 and 400 tasks" if args.quick
            else "400, 1,200 and 5,000 tasks") + ", fresh processes")
        results["taskfile"] = run_taskfile(args.quick)
    if "estimate" in selected:
        estimate_n = args.ladder_n or (40 if args.quick else 300)
        log(f"estimate: N={estimate_n} scripted code reviews, estimated, then run")
        results["estimate"] = run_estimate(estimate_n)
    if "reuse" in selected:
        reuse_n = 20 if args.quick else 100
        log(f"reuse: a {reuse_n}-task file run, then rerun with --reuse, fresh processes")
        results["reuse"] = run_reuse(reuse_n)
    try:
        info["load_end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass

    print(f"parallel-agents benchmarks - {date} - {info['nproc']} CPUs, Python {info['python']}, "
          f"load {info['load']}")
    for title, rows, goal_lines in _sections(results):
        print(report(rows, goal_lines, title))
    if args.json:
        print(json.dumps({"machine": info, "results": results}, indent=1))

    partial = args.quick or args.only or args.sizes or args.concurrency or args.ladder_n
    output = args.output or (None if partial else REPO / "BENCHMARKS.md")
    if args.no_write or output is None:
        print("\n(BENCHMARKS.md not rewritten: " + ("--no-write" if args.no_write else
              "partial run; pass --output PATH to write a report") + ")")
    else:
        text = render_markdown(results, info, command, date, kept_notes(output))
        output.write_text(text, encoding="utf-8")
        print(f"\nwrote {output}")
    failed = any(not r["ok"] or r["completed"] != r["n"] for r in results.get("fanout", [])) or (
        "threaded" in results and results["threaded"]["completed"] != results["threaded"]["n"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
