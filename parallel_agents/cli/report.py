"""A run on the command line: the orchestrator with its live progress, and what the run returned,
for people (the results table and the run's summary line; refinement tables) or as --json."""
from __future__ import annotations

import json
import sys

from parallel_agents.cli.options import orchestrator
from parallel_agents.cli.progress import Progress
from parallel_agents.cli.render import table, to_json


def orchestrator_with_progress(args, total: int):
    """(orchestrator, progress) for a run of `total` tasks; the progress is quiet with --json."""
    progress = Progress(total, quiet=bool(args.json))
    return orchestrator(args, progress), progress


def report(orch, progress, args, out) -> int:
    """The orchestrator's last run: its results and summary (or --json); the exit code."""
    progress.close()
    run = orch.last_run
    if args.json:
        out(to_json(run.to_dict()))
    else:
        out(results_table(run.results))
        counts = ", ".join(f"{n} {k}" for k, n in sorted(run.counts.items()))
        calls = sum(run.runtime_calls.values())
        reused = sum(1 for r in run.results if r.reused)
        out(f"\nrun {run.run_id}: {counts}" + (f" ({reused} reused)" if reused else "")
            + f"; ${run.cost_usd:.4f}; {run.wall_seconds:.1f}s; {calls} runtime calls")
        if run.unpriced_models:
            out("no price in config for: " + ", ".join(run.unpriced_models))
    for note in run.runtime_notes:  # what the runtime lacks: on stderr, even with --json
        print(f"note: {note}", file=sys.stderr)
    return 0 if all(r.ok for r in run.results) else 1


def results_table(results) -> str:
    rows = []
    for r in results:
        tokens = r.usage["input_tokens"] + r.usage["output_tokens"]
        rows.append({"task": r.task_id, "status": r.status, "tier": r.tier or "-",
                     "attempts": len(r.attempts), "tokens": tokens, "cost": f"${r.cost_usd:.4f}",
                     "time": f"{r.execution_time:.1f}s",
                     "note": r.error or ("[reused] " if r.reused else "") + _preview(r.output)})
    return table(rows, ["task", "status", "tier", "attempts", "tokens", "cost", "time", "note"])


def _preview(output) -> str:
    if output is None:
        return ""
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return " ".join(text.split())[:80]


def refinement_table(results) -> str:
    """One row per agent refined: its rounds, the scores round by round, the best and why it stopped."""
    return table([{"agent": r.name, "rounds": r.rounds, "scores": _scores(r.history),
                   "best": "-" if r.score is None else f"{r.score:.1f}", "target": f"{r.target:g}",
                   "stopped": r.reason} for r in results],
                 ["agent", "rounds", "scores", "best", "target", "stopped"])


def _scores(history) -> str:
    """`6.8 -> 8.7`; an invalid version shows as `7.9 invalid`, a failed round as `failed`."""
    def one(h):
        if h.get("score") is None:
            return "failed"
        return f"{h['score']:.1f}" + ("" if h.get("valid", True) else " invalid")
    return " -> ".join(one(h) for h in history) or "-"
