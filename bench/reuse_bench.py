#!/usr/bin/env python3
"""Reuse finished work: a rerun of a 100-task file with `--reuse` after one changed task.

    python3 bench/reuse_bench.py [--n 100] [--json]

A task file of N reviews (four shipped reviewer agents in turn, every tenth task depending on the
one before it, as in the task-file bench) runs on the simulated runtime (`run --tasks FILE
--simulate --json`), each run in a fresh process sharing one temp PARALLEL_AGENTS_HOME: first
without `--reuse` (every completed result is kept), then with `--reuse` unchanged, with the text
of one task no other task depends on changed, and with the text of a task another depends on
changed. *spawns* = sessions_spawn calls the run made (its `runtime_calls`), checked against the
journal's spawn_accepted lines; *reused* = results that say `reused: true`; *cost* = what the run
spent. The reviewers start on the balanced tier, where the simulated runtime answers validly the
first time, so a spawned task is one spawn.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ENTRY = str(REPO / "ai_orchestrator.py")
GOAL_SPAWNS = 1

if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
from taskfile_bench import task_file  # noqa: E402  (the same 100-task file, one task changed)


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "PARALLEL_AGENTS_"))}
    env["PARALLEL_AGENTS_HOME"] = str(home)
    env["OPENCLAW_STATE_DIR"] = str(home.parent / "openclaw-state")
    return env


def _run(tasks: Path, env: dict, reuse: bool) -> dict:
    argv = [sys.executable, ENTRY, "run", "--tasks", str(tasks), "--simulate", "--json",
            "--max-concurrent", "20", *(["--reuse"] if reuse else [])]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"run exited {proc.returncode}: {proc.stderr[-1500:]}")
    report = json.loads(proc.stdout)
    journal = Path(env["PARALLEL_AGENTS_HOME"]) / "runs" / f"{report['run_id']}.jsonl"
    accepted = sum(1 for line in journal.read_text(encoding="utf-8").splitlines()
                   if '"type": "spawn_accepted"' in line or '"type":"spawn_accepted"' in line)
    return {"spawns": report["runtime_calls"].get("sessions_spawn", 0), "accepted": accepted,
            "reused": report.get("reused", 0), "completed": report["counts"].get("completed", 0),
            "cost_usd": report["cost_usd"], "wall_s": wall,
            "spawned": sorted(r["task_id"] for r in report["results"] if not r["reused"])}


def measure(n: int = 100) -> dict:
    independent = next(i for i in range(n // 2, n) if i % 10 not in (8, 9))   # nobody depends on it
    upstream = next(i for i in range(n // 2, n) if i % 10 == 8 and i != independent)  # i + 1 depends on it
    steps = [("first", "first run", None, False), ("same", "rerun, unchanged", None, True),
             ("one", f"rerun, review-{independent} changed", independent, True),
             ("upstream", f"rerun, review-{upstream} changed (review-{upstream + 1} depends on it)",
              upstream, True)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="pa-bench-reuse-") as tmp:
        tmp = Path(tmp)
        env = _env(tmp / "home" / "pa")
        for step, label, changed, reuse in steps:
            path = tmp / "tasks.yaml"
            path.write_text(task_file(n, changed), encoding="utf-8")
            rows.append({"step": step, "run": label, "reuse": reuse, "n": n, **_run(path, env, reuse)})
    return {"n": n, "rows": rows, "goals": goals(rows)}


def table(rows: list[dict]) -> list[list[str]]:
    out = [["run", "--reuse", "tasks", "spawns", "journal spawns", "reused", "completed", "cost USD",
            "wall s"]]
    for r in rows:
        out.append([r["run"], "yes" if r["reuse"] else "no", str(r["n"]), str(r["spawns"]),
                    str(r["accepted"]), str(r["reused"]), str(r["completed"]),
                    f"{r['cost_usd']:.4f}", f"{r['wall_s']:.1f}"])
    return out


def goals(rows: list[dict]) -> list[str]:
    row = next(r for r in rows if r["step"] == "one")
    ok = row["spawns"] == row["accepted"] == GOAL_SPAWNS and row["completed"] == row["n"]
    return [f"rerun of a {row['n']}-task file with --reuse after one changed task: {row['spawns']} "
            f"spawn(s), {row['reused']} reused (goal: exactly {GOAL_SPAWNS}): "
            + ("met" if ok else "MISSED")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100, help="tasks in the file (default 100)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = measure(args.n)
    if args.json:
        print(json.dumps(result))
    else:
        from tables import report
        print(report(table(result["rows"]), result["goals"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
