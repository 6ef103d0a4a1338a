#!/usr/bin/env python3
"""Ladder economics: what the model ladder costs against always-strongest and always-cheapest,
and what share of a scripted workload each strategy gets right.

    python3 bench/ladder.py [--n 300] [--seed 7] [--shares 0.60,0.80,0.95] [--input-tokens 2000]
                            [--output-tokens 600] [--schema-share 0.5] [--json]

Workload: N code reviews (`code_reviewer`), each of a synthetic change of about
`--input-tokens` tokens (the whole first prompt, as the engine builds it, is ~that size) with
one planted bug whose location only the quality gate knows. Each tier of the shipped
config.yaml gets a fixed share of the tasks right (`--shares`, one per tier, cheapest first;
default fast 60 %, balanced 80 %, strongest 95 %): task i has a difficulty d_i in (0, 1) (its
rank by a seeded hash, spread evenly: exactly that share of the N tasks, no sampling noise), and
a tier gets it right iff d_i < its share. The shares are monotone, so a task a cheap tier solves
is one every stronger tier solves too.

How a tier is "wrong" is what the engine sees, nothing else: per (task, tier), from the same
seeded hash, either
- schema-invalid JSON (score as a string, `strengths` missing): the engine's validation rejects
  it, re-asks once on the same tier with the validation errors (the re-ask prompt is the real
  one, errors included, so it costs its real extra tokens), gets the same wrong reply, and
  escalates (`--schema-share` of the wrong replies, default half); or
- a schema-valid review that misses the planted bug: the run's quality gate (a grader holding
  the bug's location, passed as RealAIParallelOrchestrator(quality_gate=...)) rejects it, and the
  engine escalates at once (no re-ask: asking the same model again rarely raises quality).
Past the top of its ladder a task ends `failed`. Pass rate = completed / N.

Each strategy is one RealAIParallelOrchestrator run over OpenClawRuntime(FakeOpenClaw(...)):
every reply is scripted by a `SIM {...}` directive in the task text with `by_model` overrides
(FakeOpenClaw's own language), so spawning, collection, validation, re-asks, escalation and
cost accounting are the engine's own. Token usage is reported by the fake per attempt:
input = len(prompt) // 4 (FakeOpenClaw's own rule, applied to the real prompt of that attempt),
output = `--output-tokens` per reply. Cost = the engine's cost_usd (config.yaml prices, USD per
million tokens: the providers' public list prices of the example models).

Strategies (same tasks, same seed):
- ladder: the product as shipped: the shipped config's ladder, each task starting on its
  agent's own tier (`code_reviewer`: balanced, as 20 of the 25 shipped agents);
- always-strongest: every task on the strongest tier (nothing above it to escalate to);
- always-cheapest: a config with only the first tier (nothing to escalate to);
- ladder-from-fast: the whole ladder, every task starting on the first tier (what an agent
  with `tier: fast` gets); shown next to the goal with where its money goes.

Goal (issue 7): ladder cost <= 35 % of always-strongest at the same pass rate, i.e. the
ladder's final pass rate >= always-strongest's minus half a percentage point. `measure()` returns the figures; `main()` prints a table, or JSON.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (str(REPO), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from tables import report  # noqa: E402

AGENT = "code_reviewer"
DEFAULT_SHARES = (0.60, 0.80, 0.95)
GOAL_PCT_OF_STRONGEST = 35.0
SAME_PASS_TOLERANCE = 0.005  # half a percentage point: the tables round to whole percents
STRATEGIES = ("ladder", "always-strongest", "always-cheapest", "ladder-from-fast")
COLUMNS = ["strategy", "tiers", "pass rate", "cost USD", "USD/task", "% of strongest",
           "attempts/task", "re-asks", "escalations", "input tok/attempt"]


# -- the workload -------------------------------------------------------------------------------
def unit(seed: int, *parts) -> float:
    """A number in [0, 1) from a seeded sha256: the same inputs give the same number anywhere."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).hexdigest()
    return int(digest[:13], 16) / 16 ** 13


def difficulties(n: int, seed: int) -> list[float]:
    """Task i's difficulty in (0, 1): its rank by a seeded hash, spread evenly, so a tier with
    share s gets exactly round(s x N) tasks right (no sampling noise) and which ones is fixed
    by the seed. A tier gets task i right iff difficulty[i] < its share."""
    order = sorted(range(n), key=lambda i: unit(seed, "difficulty", i))
    rank = {task: r for r, task in enumerate(order)}
    return [(rank[i] + 0.5) / n for i in range(n)]


def _change(i: int, bug_line: int, chars: int) -> str:
    """A synthetic change to review, about `chars` characters long."""
    lines, n = [f"--- a/service/handler_{i}.py", f"+++ b/service/handler_{i}.py"], 0
    while sum(len(x) + 1 for x in lines) < chars:
        n += 1
        if n == bug_line:
            lines.append(f"+    total = sum(items[1:])  # line {n}")
        else:
            lines.append(f"+    value_{n} = compute(record_{n}, limit={n % 17})  # line {n}")
    return "\n".join(lines)


def _right(i: int, location: str) -> dict:
    return {"score": 4, "summary": f"Change {i} skips the first item when it sums the totals.",
            "findings": [{"severity": "major", "location": location,
                          "problem": "sum(items[1:]) drops the first item from the total.",
                          "fix": "Sum every item: sum(items)."}],
            "strengths": ["Small, focused change."]}


def _wrong_valid(i: int) -> dict:
    return {"score": 8, "summary": f"Change {i} looks fine apart from naming.",
            "findings": [{"severity": "minor", "location": f"service/handler_{i}.py:1",
                          "problem": "Variable names are terse.", "fix": "Use longer names."}],
            "strengths": ["Consistent style."]}


def _wrong_invalid(i: int) -> dict:
    return {"score": "8/10", "summary": f"Change {i} looks fine.", "findings": []}


def workload(n: int, *, seed: int, shares: tuple[float, ...], models: list[str],
             schema_share: float, input_tokens: int, definition) -> tuple[list, dict]:
    """(tasks, {task_id: the planted bug's location})."""
    from parallel_agents.prompts.build import build_prompt
    from parallel_agents.engine.tasks import AgentTask

    tasks, answers = [], {}
    difficulty = difficulties(n, seed)
    for i in range(n):
        d = difficulty[i]
        bug_line = 5 + int(unit(seed, "bug", i) * 40)
        location = f"service/handler_{i}.py:{bug_line}"
        by_model = {}
        for tier_index, (share, model) in enumerate(zip(shares, models)):
            if d >= share:  # this tier gets task i wrong
                schema = unit(seed, "kind", i, tier_index) < schema_share
                by_model[model] = {"reply": _wrong_invalid(i) if schema else _wrong_valid(i)}
        directive = "SIM " + json.dumps({"latency": 0.002, "reply": _right(i, location),
                                         "by_model": by_model}, separators=(",", ":"))
        description = f"Review change {i} for correctness bugs.\n{directive}"
        task_id = f"r{i:04d}"
        # pad the change so that the whole first prompt is ~input_tokens tokens (chars / 4)
        base = len(build_prompt(definition, description, {"diff": ""}))
        change = _change(i, bug_line, max(0, input_tokens * 4 - base))
        tasks.append(AgentTask(AGENT, description, {"diff": change}, task_id=task_id))
        answers[task_id] = location
    return tasks, answers


def grader(answers: dict):
    """The quality gate: a review passes when one of its findings is at the planted bug."""
    def gate(task, output):
        expected = answers.get(task.task_id)
        found = any(f.get("location") == expected for f in output.get("findings", []))
        return True if found else f"review misses the bug at {expected}"
    return gate


def usage_responder(output_tokens: int):
    """FakeOpenClaw's directive responder, with the usage of a real reply: input tokens by the
    fake's own chars/4 rule on the prompt actually sent, `output_tokens` per reply."""
    from parallel_agents.simulation.directives import directive_responder

    def respond(view):
        reply = directive_responder(view)
        reply.usage = {"input_tokens": len(view.task) // 4,
                       "output_tokens": output_tokens if not reply.fail else 0}
        return reply
    return respond


# -- one strategy -------------------------------------------------------------------------------
def _strategy(name: str, config_data: dict, agent_tier: str | None) -> tuple[dict, str]:
    """(config data, the tier every task starts on) for a strategy."""
    data = copy.deepcopy(config_data)
    tiers = [t["name"] for t in data["tiers"]]
    if name == "ladder":
        return data, agent_tier if agent_tier in tiers else tiers[0]
    if name == "ladder-from-fast":
        return data, tiers[0]
    if name == "always-strongest":
        return data, tiers[-1]
    if name == "always-cheapest":
        data["tiers"] = data["tiers"][:1]
        return data, tiers[0]
    raise ValueError(f"unknown strategy {name!r}")


def run_strategy(name: str, tasks: list, *, config_data: dict, registry, gate, output_tokens: int,
                 concurrent: int, seed: int, runs_folder: Path) -> dict:
    from dataclasses import replace

    from parallel_agents.core.config import Config
    from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
    from parallel_agents.orchestrator import RealAIParallelOrchestrator
    from parallel_agents.openclaw.runtime import OpenClawRuntime

    data, start = _strategy(name, config_data, registry.get(AGENT).tier)
    tiers = [t["name"] for t in data["tiers"]]
    fake = FakeOpenClaw(usage_responder(output_tokens), max_children=max(5, concurrent),
                        lane_max_concurrent=max(8, concurrent),
                        swarm_max_concurrent=max(8, concurrent),
                        max_children_per_group=max(50, concurrent))
    orch = RealAIParallelOrchestrator(max_concurrent=concurrent, runtime=OpenClawRuntime(fake),
                                      config=Config(data), registry=registry, quality_gate=gate,
                                      runs_folder=runs_folder, seed=seed)
    started = time.perf_counter()
    results = orch.run_parallel([replace(t, tier=start) for t in tasks])
    wall = time.perf_counter() - started
    attempts = [a for r in results for a in r.attempts]
    by_tier = {t: round(sum(a.cost_usd for a in attempts if a.tier == t), 6) for t in tiers}
    n = len(tasks)
    return {
        "strategy": name, "tiers": tiers[tiers.index(start):], "n": n,
        "completed": sum(1 for r in results if r.status == "completed"),
        "pass_rate": sum(1 for r in results if r.status == "completed") / n,
        "statuses": {s: sum(1 for r in results if r.status == s) for s in {r.status for r in results}},
        "cost_usd": round(sum(r.cost_usd for r in results), 6), "cost_by_tier": by_tier,
        "attempts": len(attempts), "reasks": sum(1 for a in attempts if a.reask),
        "escalations": sum(len({a.tier for a in r.attempts}) - 1 for r in results),
        "input_tokens": sum(a.input_tokens for a in attempts),
        "output_tokens": sum(a.output_tokens for a in attempts),
        "unpriced_models": orch.last_run.unpriced_models, "wall_s": round(wall, 3),
    }


# -- the benchmark ------------------------------------------------------------------------------
def measure(n: int = 300, *, seed: int = 7, shares: tuple[float, ...] | None = None,
            input_tokens: int = 2000, output_tokens: int = 600, schema_share: float = 0.5,
            concurrent: int = 50, strategies=STRATEGIES, config_path: Path | None = None) -> dict:
    """Run every strategy on the same workload; the figures as a dict (see the module docstring).

    config_path: a config.yaml whose keys override the shipped one's, as a user config does
    (tiers, prices); default: the shipped config.yaml alone, never the user's overrides."""
    from parallel_agents.core.config import load_config
    from parallel_agents.definitions.registry import Registry

    config = load_config(user=False) if config_path is None else load_config(user=config_path)
    models = [t.model for t in config.tiers]
    if None in models or len(set(models)) != len(models):
        raise ValueError("every tier needs its own model ref for the scripted workload; "
                         f"config has {models}")
    shares = tuple(shares or DEFAULT_SHARES)
    if len(shares) != len(models):
        raise ValueError(f"--shares needs one share per tier ({len(models)}: "
                         f"{', '.join(config.tier_names)}), got {len(shares)}")
    if any(not 0 <= s <= 1 for s in shares) or list(shares) != sorted(shares):
        raise ValueError(f"shares must be in [0, 1] and not fall from tier to tier: {shares}")
    registry = Registry.load(overlay=None)
    definition = registry.get(AGENT)
    tasks, answers = workload(n, seed=seed, shares=shares, models=models,
                              schema_share=schema_share, input_tokens=input_tokens,
                              definition=definition)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pa-bench-ladder-") as runs:
        for name in strategies:
            rows.append(run_strategy(name, tasks, config_data=config.data, registry=registry,
                                     gate=grader(answers), output_tokens=output_tokens,
                                     concurrent=concurrent, seed=seed, runs_folder=Path(runs)))
    strongest = next((r for r in rows if r["strategy"] == "always-strongest"), None)
    for r in rows:
        r["pct_of_strongest"] = (100 * r["cost_usd"] / strongest["cost_usd"]
                                 if strongest and strongest["cost_usd"] else None)
    starts: dict[str, int] = {}
    for d in registry:  # where the shipped agents start (their `tier` default)
        starts[d.tier or config.tier_names[0]] = starts.get(d.tier or config.tier_names[0], 0) + 1
    prices = {m: config.prices.get(m) for m in models}
    one = {tier: _attempt_usd(prices[m], input_tokens, output_tokens)
           for tier, m in zip(config.tier_names, models)}
    top = one[config.tier_names[-1]]
    return {"n": n, "seed": seed, "agent": AGENT, "shares": dict(zip(config.tier_names, shares)),
            "models": dict(zip(config.tier_names, models)), "prices": prices,
            "attempt_pct_of_strongest": {t: (100 * c / top if top else None) for t, c in one.items()},
            "agent_start_tiers": starts,
            "input_tokens": input_tokens, "output_tokens": output_tokens,
            "schema_share": schema_share, "concurrent": concurrent,
            "goal_pct": GOAL_PCT_OF_STRONGEST, "rows": rows}


def row(r: dict) -> list[str]:
    pct = "-" if r.get("pct_of_strongest") is None else f"{r['pct_of_strongest']:.1f}%"
    return [r["strategy"], " > ".join(r["tiers"]), f"{100 * r['pass_rate']:.1f}%",
            f"{r['cost_usd']:.4f}", f"{r['cost_usd'] / r['n']:.5f}", pct,
            f"{r['attempts'] / r['n']:.2f}", str(r["reasks"]), str(r["escalations"]),
            f"{r['input_tokens'] / max(1, r['attempts']):.0f}"]


def table(result: dict) -> list[list[str]]:
    return [COLUMNS] + [row(r) for r in result["rows"]]


def _attempt_usd(price: dict | None, input_tokens: int, output_tokens: int) -> float:
    """List price of one attempt of the workload's size on a model (0 if unpriced)."""
    if not price:
        return 0.0
    return (input_tokens * price["input"] + output_tokens * price["output"]) / 1e6


def goals(result: dict) -> list[str]:
    """One goal line per ladder (as shipped, and from the first tier): met, or missed with
    where its money goes."""
    rows = {r["strategy"]: r for r in result["rows"]}
    strongest = rows.get("always-strongest")
    if not strongest or not strongest["cost_usd"]:
        return []
    lines = []
    for name in ("ladder", "ladder-from-fast"):
        ladder = rows.get(name)
        if not ladder:
            continue
        pct = ladder["pct_of_strongest"]
        same = ladder["pass_rate"] >= strongest["pass_rate"] - SAME_PASS_TOLERANCE
        head = (f"{name} ({' > '.join(ladder['tiers'])}) cost at N={result['n']}: {pct:.1f}% of "
                f"always-strongest, pass rate {100 * ladder['pass_rate']:.1f}% vs "
                f"{100 * strongest['pass_rate']:.1f}%, {'the same' if same else 'LOWER'} "
                f"(goal <= {result['goal_pct']:.0f}% at the same pass rate): ")
        if pct <= result["goal_pct"] and same:
            lines.append(head + "met")
        elif not same:
            lines.append(head + "MISSED: its pass rate is below always-strongest's")
        else:
            lines.append(head + "MISSED: " + missed_reason(result, name))
    return lines


def missed_reason(result: dict, name: str = "ladder") -> str:
    """Where a ladder's cost goes, as % of always-strongest's, and why that cannot reach the goal."""
    rows = {r["strategy"]: r for r in result["rows"]}
    ladder, strongest = rows[name], rows["always-strongest"]
    tiers = ladder["tiers"]
    by_tier = ", ".join(f"{t} {100 * c / strongest['cost_usd']:.1f}%"
                        for t, c in ladder["cost_by_tier"].items() if t in tiers)
    first, top = tiers[0], tiers[-1]
    attempt = result["attempt_pct_of_strongest"]
    climb = 1 - result["shares"][tiers[-2]] if len(tiers) > 1 else 0
    text = (f"of always-strongest's cost, it spends {by_tier} (re-asks included). "
            f"Every task pays a {first} attempt, which at list prices costs "
            f"{attempt[first]:.0f}% of a {top} attempt, and the {100 * climb:.0f}% of tasks the "
            f"cheaper tiers get wrong pay a {top} attempt too: about "
            f"{attempt[first] + 100 * climb:.0f}% before any re-ask")
    cheaper = [t for t in tiers[1:-1] if attempt[t] < attempt[first]]
    if cheaper:
        text += (f"; at these prices {cheaper[0]} costs less per attempt than {first}, "
                 f"so a ladder from {cheaper[0]} is cheaper")
    return text


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="tasks (default 300)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--shares", type=_floats, default=None,
                   help="share of tasks each tier gets right, cheapest first (default 0.60,0.80,0.95)")
    p.add_argument("--input-tokens", type=int, default=2000, help="first prompt size, tokens")
    p.add_argument("--output-tokens", type=int, default=600, help="tokens per reply")
    p.add_argument("--schema-share", type=float, default=0.5,
                   help="share of wrong replies that are schema-invalid (the rest fail the gate)")
    p.add_argument("--concurrent", type=int, default=50)
    p.add_argument("--config", type=Path, default=None, help="a config.yaml over the shipped one (e.g. other tiers or prices); "
                        "default: the shipped config.yaml alone")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = p.parse_args(argv)
    try:
        result = measure(args.n, seed=args.seed, shares=args.shares, input_tokens=args.input_tokens,
                         output_tokens=args.output_tokens, schema_share=args.schema_share,
                         concurrent=args.concurrent, config_path=args.config)
    except ValueError as exc:
        p.error(str(exc))
    if args.json:
        print(json.dumps(result))
    else:
        print(report(table(result), goals(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
