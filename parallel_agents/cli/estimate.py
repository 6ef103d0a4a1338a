"""`--estimate` and `--max-cost USD` for the commands that spend (run, plan, refine and the
team/goal workflows): the estimate as a table or `--json` ({"estimate": ...}), and the gate that
refuses to start past the limit (exit 2, the estimate in the one-line error). The numbers come
from estimate.py."""
from __future__ import annotations

import sys

from parallel_agents.cli.render import table, to_json

PER_TASK_ROWS = 20   # more tasks than this: one row per agent


def add_options(p) -> None:
    p.add_argument("--estimate", action="store_true",
                   help="spawn nothing: print the expected tokens and cost (low/high range), per "
                        "task, per tier and in total, learnt from your earlier runs")
    p.add_argument("--max-cost", type=_max_cost, metavar="USD",
                   help="refuse to start (exit 2) when the expected cost is over this; "
                        "budget_usd/--budget still stops a run that overspends")


def _max_cost(text: str) -> float:
    import argparse
    from parallel_agents.cli.options import usd
    try:
        return usd(text)
    except argparse.ArgumentTypeError as exc:
        if "more than 0" in str(exc):
            raise argparse.ArgumentTypeError("must be more than 0 USD, e.g. 2.50 (leave it out "
                                             "for no limit)") from None
        raise


def wanted(args) -> bool:
    return bool(getattr(args, "estimate", False) or getattr(args, "max_cost", None) is not None)


def preflight(args, out, make_estimate, *, announce: bool = True):
    """Before a command spends: (done, estimate). With --estimate, print the estimate (done:
    the command has nothing more to do); with --max-cost, refuse past it (CostLimitExceeded),
    else say the estimate on stderr (`announce`) and go on. `make_estimate()` -> Estimate, called only when
    one is asked for (estimate None otherwise)."""
    if not wanted(args):
        return False, None
    from parallel_agents.engine.estimate import check_max_cost
    estimate = make_estimate()
    check_max_cost(estimate, getattr(args, "max_cost", None), field="--max-cost")
    if args.estimate:
        show(estimate, args, out)
        return True, estimate
    if announce and not getattr(args, "json", False):
        print(f"estimate: {estimate.summary()}, within --max-cost ${args.max_cost:.4f}",
              file=sys.stderr, flush=True)
    return False, estimate


def show(estimate, args, out) -> None:
    if getattr(args, "json", False):
        out(to_json({"estimate": estimate.to_dict()}))
        return
    out(render(estimate))


def _usd_range(r) -> str:
    return f"${r.low:.4f}-${r.high:.4f}"


def render(estimate) -> str:
    """Per task (per agent past PER_TASK_ROWS tasks), per tier, the total, and what it is
    based on."""
    lines = []
    if len(estimate.tasks) <= PER_TASK_ROWS:
        rows = [{"task": t.task_id, "agent": t.agent_type, "tier": t.tier,
                 "tokens in": round(t.input_tokens.expected),
                 "tokens out": round(t.output_tokens.expected), "attempts": f"{t.attempts:.2f}",
                 "expected": f"${t.usd.expected:.4f}", "range": _usd_range(t.usd),
                 "chance": f"{t.probability:.0%}", "from": _source(t)}
                for t in estimate.tasks]
        chance = ["chance"] if any(t.probability < 1 for t in estimate.tasks) else []
        lines.append(table(rows, ["task", "agent", "tier", "tokens in", "tokens out", "attempts",
                                  "expected", "range", *chance, "from"]))
    else:
        lines.append(table(_per_agent(estimate), ["agent", "tasks", "tokens in", "tokens out",
                                                  "expected", "range"]))
    tiers = [{"tier": name, "attempts": f"{c.attempts:.2f}",
              "tokens": round(c.input_tokens.expected + c.output_tokens.expected),
              "expected": f"${c.usd.expected:.4f}", "range": _usd_range(c.usd)}
             for name, c in estimate.per_tier.items() if c.usd.high or c.attempts]
    lines += ["", table(tiers, ["tier", "attempts", "tokens", "expected", "range"])]
    t = estimate.total_usd
    reused = f" ({estimate.reused} reused, at $0)" if estimate.reused else ""
    lines.append(f"\ntotal: expected ${t.expected:.4f} (range ${t.low:.4f}-${t.high:.4f}) for "
                 f"{estimate.task_count} task(s){reused}; nothing was spawned")
    lines.append(f"learnt from {estimate.history_runs} earlier run(s) in your journals"
                 if estimate.history_runs else
                 "no earlier runs in your journals: from the prompt sizes and output schemas")
    if estimate.unpriced_models:
        lines.append("no price in config for (counted as $0): " + ", ".join(estimate.unpriced_models))
    lines += [f"note: {n}" for n in estimate.notes]
    return "\n".join(lines)


def _source(t) -> str:
    if t.group:
        return "group of ?" if t.items is None else f"group of {t.items}"
    return "reused" if t.reused else t.source


def _per_agent(estimate) -> list[dict]:
    from parallel_agents.engine.estimate import ZERO
    groups: dict[str, dict] = {}
    for t in estimate.tasks:
        if t.group and t.items is not None:   # its items are rows of their own
            continue
        g = groups.setdefault(t.agent_type, {"n": 0, "in": 0.0, "out": 0.0, "usd": ZERO})
        g["n"] += 0 if t.group else 1   # an unknown group: its high only
        g["in"] += t.input_tokens.expected
        g["out"] += t.output_tokens.expected
        g["usd"] += t.usd
    return [{"agent": name, "tasks": g["n"], "tokens in": round(g["in"]),
             "tokens out": round(g["out"]), "expected": f"${g['usd'].expected:.4f}",
             "range": _usd_range(g["usd"])} for name, g in groups.items()]
