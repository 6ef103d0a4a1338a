"""Cold start of the CLI: wall time of fresh `python3 ai_orchestrator.py ...` processes.

Every figure is the median of fresh processes of the interpreter running this script
(sys.executable), in round-robin order so that machine noise hits every command alike:

- `python3 -c pass`, the floor: what the interpreter costs before any of our code runs;
- `list`, `show code_reviewer`, `list --json` and `plan` (the host agent's first call: the
  `sessions_spawn` arguments for one code review, as SKILL.md runs it, which also writes the
  plan's journal) after one warm-up each (the warm-up fills the registry's validation cache and
  the bytecode cache);
- `list` on its first run with an EMPTY validation cache (a fresh PARALLEL_AGENTS_HOME per run),
  as on the first run after an install or upgrade: the shipped definitions are read and parsed,
  and taken as valid from the index shipped with them (definitions/shipped_index.py);
- `plan` on its first run with an empty validation cache (a fresh PARALLEL_AGENTS_HOME per run):
  only the definition it uses is read (the registry loads lazily);
- `list` with no bytecode cache for the skill's own modules (a copy of the skill's code in a
  temp folder, run with PYTHONDONTWRITEBYTECODE=1): every module of ours compiled from source
  on every run, as when the skill folder is read-only or Python is told not to write .pyc files
  (the standard library and dependencies keep their usual bytecode caches).

The bytecode cache of the other rows lives in a temp folder (PYTHONPYCACHEPREFIX), so the repo
is not touched.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENTRY = str(REPO / "ai_orchestrator.py")

GOAL_LIST_MS = 150.0
GOAL_FIRST_PLAN_MS = 200.0   # the first `plan` in a fresh user folder: one definition read
PLAN_TASK = "Review this module"


def _env(home: Path, pycache: Path | None, *, write_bytecode: bool = True) -> dict:
    env = dict(os.environ)
    env["PARALLEL_AGENTS_HOME"] = str(home)
    env["OPENCLAW_STATE_DIR"] = str(home.parent / "openclaw-state")
    env.pop("PARALLEL_AGENTS_DEBUG", None)
    for key in ("OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN"):
        env.pop(key, None)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _copy_skill(target: Path) -> Path:
    """The code the CLI runs, without any __pycache__ folders."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    target.mkdir(parents=True)
    shutil.copy2(REPO / "ai_orchestrator.py", target)
    shutil.copy2(REPO / "config.yaml", target)
    for folder in ("parallel_agents", "agents"):
        shutil.copytree(REPO / folder, target / folder, ignore=ignore)
    return target


def _time(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed * 1000


def commands(py: str = sys.executable) -> list[tuple]:
    """The timed commands: (key, command as shown, argv, kind). kind: "warm" (after a warm-up),
    "fresh_home" (a new PARALLEL_AGENTS_HOME each run), "no_pyc" (argv filled in by measure)."""
    cli = [py, ENTRY]
    plan = cli + ["plan", "--agent", "code_reviewer", "--task", PLAN_TASK,
                  "--input", str(REPO / "examples" / "review_input.yaml"), "--json"]
    return [
        ("floor", "python3 -c pass", [py, "-c", "pass"], "warm"),
        ("list", "python3 ai_orchestrator.py list", cli + ["list"], "warm"),
        ("show", "python3 ai_orchestrator.py show code_reviewer", cli + ["show", "code_reviewer"], "warm"),
        ("list_json", "python3 ai_orchestrator.py list --json", cli + ["list", "--json"], "warm"),
        ("plan", f"python3 ai_orchestrator.py plan --agent code_reviewer --task {PLAN_TASK!r} "
                 "--input examples/review_input.yaml --json", plan, "warm"),
        ("list_empty_cache", "python3 ai_orchestrator.py list (first run, empty validation cache)",
         cli + ["list"], "fresh_home"),
        ("plan_empty_cache", "python3 ai_orchestrator.py plan --agent code_reviewer ... (first run, "
                             "empty validation cache)", plan, "fresh_home"),
        ("list_no_pyc", "python3 ai_orchestrator.py list (no bytecode cache of our modules)",
         None, "no_pyc"),
    ]


def measure(runs: int = 15, fresh_runs: int = 5) -> list[dict]:
    """One row per command: median / min / max wall milliseconds and the cost above the floor."""
    py = sys.executable
    rows = commands(py)
    samples: dict[str, list[float]] = {key: [] for key, *_ in rows}
    with tempfile.TemporaryDirectory(prefix="pa-bench-cold-") as tmp:
        tmp = Path(tmp)
        copy = _copy_skill(tmp / "skill")
        no_pyc_argv = [py, str(copy / "ai_orchestrator.py"), "list"]
        warm_home, pycache = tmp / "warm" / "home", tmp / "pycache"
        warm_home.parent.mkdir(parents=True)
        warm_env = _env(warm_home, pycache)
        for key, _, argv, kind in rows:  # one warm-up each: fills the validation and .pyc caches
            if kind == "warm":
                _time(argv, warm_env)
        for i in range(runs):
            for key, _, argv, kind in rows:
                if kind == "warm":
                    samples[key].append(_time(argv, warm_env))
                elif i < fresh_runs:
                    fresh = tmp / f"{key}-{i}" / "home"
                    fresh.parent.mkdir(parents=True)
                    if kind == "fresh_home":
                        env = _env(fresh, pycache)
                    else:  # our modules compiled from source, nothing written
                        env = _env(warm_home, None, write_bytecode=False)
                        env.pop("PYTHONPYCACHEPREFIX", None)
                        argv = no_pyc_argv
                    samples[key].append(_time(argv, env))
    floor = statistics.median(samples["floor"])
    out = []
    for key, shown, _, kind in rows:
        values = samples[key]
        median = statistics.median(values)
        out.append({"key": key, "command": shown, "runs": len(values), "median_ms": median,
                    "min_ms": min(values), "max_ms": max(values),
                    "above_floor_ms": None if key == "floor" else median - floor,
                    "goal_ms": {"list": GOAL_LIST_MS, "plan_empty_cache": GOAL_FIRST_PLAN_MS}.get(key)})
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 15), indent=1))
