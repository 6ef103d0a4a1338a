#!/usr/bin/env python3
"""Task files at scale: `plan --tasks FILE --json` and the task-file load alone, in fresh processes.

    python3 bench/taskfile_bench.py [--sizes 400,1200,5000] [--repeat 3] [--quick] [--json]

Task files of N tasks (`tasks:` with one `- id / agent / task / input` item each, four shipped
reviewer agents in turn, every tenth task depending on the one before it), as a user would write
them. Every figure is the median of fresh processes of this interpreter, with a temp
PARALLEL_AGENTS_HOME whose validation cache a `list` filled first (the steady state after first
use). *plan s* = the wall time of the whole `python3 ai_orchestrator.py plan --tasks FILE --json`
process: interpreter start, reading and checking the file, the pre-flight checks of every task,
the plan's journal and the first window's prompt files, the JSON answer (a warm-up plan fills
the bytecode cache first, in a temp PYTHONPYCACHEPREFIX). *load s* = taskfile.load_tasks(FILE)
alone, timed inside a fresh process (imports not counted): reading, parsing, and one composition
for lines and keys written twice. *load ms/task* = load s / N: it does not grow with N when the
load is linear. Before the fix the file was composed again for every task: these files of 400
and 1,200 tasks took 16 s and 145 s to plan when this bench was written.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ENTRY = str(REPO / "ai_orchestrator.py")

SIZES = (400, 1200, 5000)
GOAL_N = 5000
GOAL_S = 3.0
AGENTS = ("code_reviewer", "security_reviewer", "performance_reviewer", "test_engineer")

_LOAD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from parallel_agents.engine.taskfile import load_tasks
started = time.perf_counter()
tasks = load_tasks(Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started, "tasks": len(tasks)}))
"""


def task_file(n: int, changed: int | None = None) -> str:
    """n review tasks over four agents, every tenth depending on the one before; task `changed`
    (an index) with another text (bench/reuse_bench.py's one edited task)."""
    lines = ["tasks:\n"]
    for i in range(n):
        text = f"Review module {i} of the billing service." + (" Focus on rounding." if i == changed else "")
        lines.append(f"  - id: review-{i}\n    agent: {AGENTS[i % len(AGENTS)]}\n    task: {text}\n"
                     f"    input: {{file: billing/part_{i}.py, code: 'def total_{i}(xs): return sum(xs)'}}\n")
        if i % 10 == 9:
            lines.append(f"    depends_on: [review-{i - 1}]\n")
    return "".join(lines)


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "PARALLEL_AGENTS_"))}
    env["PARALLEL_AGENTS_HOME"] = str(home)
    env["OPENCLAW_STATE_DIR"] = str(home.parent / "openclaw-state")
    env["PYTHONPYCACHEPREFIX"] = str(home.parent / "pycache")  # the repo is not touched
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(argv: list[str], env: dict, timeout: float) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {proc.returncode}: {proc.stderr[-800:]}")
    return elapsed, proc.stdout


def measure(sizes=SIZES, repeat: int = 3, timeout: float = 600.0) -> list[dict]:
    """One row per size: median plan wall seconds and load seconds over `repeat` fresh processes
    each (sizes interleaved round-robin, so machine noise hits every size alike)."""
    py = sys.executable
    plans: dict[int, list[float]] = {n: [] for n in sizes}
    loads: dict[int, list[float]] = {n: [] for n in sizes}
    spawns: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="pa-bench-taskfile-") as tmp:
        tmp = Path(tmp)
        env = _env(tmp / "home" / "pa")
        _run([py, ENTRY, "list", "--json"], env, timeout)  # fills the validation cache
        files, size = {}, {}
        for n in sizes:
            files[n] = tmp / f"tasks-{n}.yaml"
            files[n].write_text(task_file(n), encoding="utf-8")
            size[n] = files[n].stat().st_size
        _run([py, ENTRY, "plan", "--tasks", str(files[min(sizes)]), "--json"], env, timeout)  # warm-up
        for _ in range(repeat):
            for n in sizes:
                seconds, out = _run([py, ENTRY, "plan", "--tasks", str(files[n]), "--json"], env,
                                    timeout)
                plans[n].append(seconds)
                spawns[n] = len(json.loads(out)["spawn"])
                _, out = _run([py, "-c", _LOAD, str(REPO), str(files[n])], env, timeout)
                loaded = json.loads(out)
                assert loaded["tasks"] == n, loaded
                loads[n].append(loaded["seconds"])
    rows = []
    for n in sizes:
        plan = statistics.median(plans[n])
        rows.append({"n": n, "runs": repeat, "plan_s": plan, "plan_min_s": min(plans[n]),
                     "plan_max_s": max(plans[n]), "load_s": statistics.median(loads[n]),
                     "load_ms_per_task": statistics.median(loads[n]) / n * 1000, "spawns": spawns[n],
                     "bytes": size[n]})
    return rows


def table(rows: list[dict]) -> list[list[str]]:
    out = [["tasks", "file KB", "runs", "plan s", "plan range s", "load s", "load ms/task",
            "first spawns"]]
    for r in rows:
        out.append([str(r["n"]), f"{r['bytes'] / 1024:.0f}", str(r["runs"]), f"{r['plan_s']:.2f}",
                    f"{r['plan_min_s']:.2f}-{r['plan_max_s']:.2f}", f"{r['load_s']:.2f}",
                    f"{r['load_ms_per_task']:.3f}", str(r["spawns"])])
    return out


def goals(rows: list[dict]) -> list[str]:
    row = next((r for r in rows if r["n"] == GOAL_N), None)
    if row is None:
        return [f"`plan --tasks` of a {GOAL_N}-task file (goal < {GOAL_S:.0f} s): not measured "
                f"(sizes {', '.join(str(r['n']) for r in rows)})"]
    small = min(rows, key=lambda r: r["n"])
    growth = (f"; the load {row['load_ms_per_task']:.3f} ms per task against "
              f"{small['load_ms_per_task']:.3f} at {small['n']} tasks" if small is not row else "")
    return [f"`plan --tasks` of a {GOAL_N}-task file: {row['plan_s']:.2f} s wall, the load alone "
            f"{row['load_s']:.2f} s (goal < {GOAL_S:.0f} s){growth}: "
            + ("met" if row["plan_s"] < GOAL_S else "MISSED")]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=_ints, default=None, help="task counts, e.g. 400,1200,5000")
    p.add_argument("--repeat", type=int, default=None, help="fresh processes per size (default 3)")
    p.add_argument("--quick", action="store_true", help="sizes 100,400 once each")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    sizes = args.sizes or ([100, 400] if args.quick else list(SIZES))
    rows = measure(sizes, repeat=args.repeat or (1 if args.quick else 3))
    if args.json:
        print(json.dumps({"rows": rows, "goals": goals(rows)}))
    else:
        sys.path.insert(0, str(BENCH))
        from tables import report
        print(report(table(rows), goals(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
