"""What a run will cost before it starts: per task and in total, expected tokens and USD with a
low/high range, per tier, re-asks and escalation included. Nothing is spawned. This module is
the estimate itself (Range, TierCost, TaskEstimate, Estimate: totals, `to_dict`, `summary`) and
the `--max-cost` gate; estimator.py prices the tasks (how low, expected and high are reached).

    est = orch.estimate(tasks)                   # Estimate
    est.total_usd                                # Range(low, expected, high)
    est.to_dict()["total_usd"]                   # {"low": ..., "expected": ..., "high": ...}
    check_max_cost(est, 2.50)                    # errors.CostLimitExceeded when expected > 2.50

A map group whose number of items is known only during the run (`items: null`, estimator.py)
is named in `unknown_groups`: its items are in no total, and the summary and the `--max-cost`
refusal say so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from parallel_agents.core.errors import CostLimitExceeded, InputError


@dataclass(frozen=True)
class Range:
    low: float
    expected: float
    high: float

    def __add__(self, other: "Range") -> "Range":
        return Range(self.low + other.low, self.expected + other.expected, self.high + other.high)

    def scaled(self, k: float) -> "Range":
        return Range(self.low * k, self.expected * k, self.high * k)

    def to_dict(self, digits: int = 6) -> dict:
        r = (lambda x: int(round(x))) if digits == 0 else (lambda x: round(x, digits))
        return {"low": r(self.low), "expected": r(self.expected), "high": r(self.high)}


ZERO = Range(0.0, 0.0, 0.0)


@dataclass
class TierCost:
    usd: Range = ZERO
    input_tokens: Range = ZERO
    output_tokens: Range = ZERO
    attempts: float = 0.0      # expected

    def add(self, other: "TierCost") -> None:
        self.usd += other.usd
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.attempts += other.attempts

    def to_dict(self) -> dict:
        return {"usd": self.usd.to_dict(), "input_tokens": round(self.input_tokens.expected),
                "output_tokens": round(self.output_tokens.expected),
                "attempts": round(self.attempts, 2)}


@dataclass
class TaskEstimate:
    task_id: str
    agent_type: str
    tier: str
    source: str                      # "history" | "prompt" | "reuse" | "group"
    per_tier: dict                   # tier name -> TierCost
    output_tokens_one: Range         # one reply: what a dependent gets as input
    probability: float = 1.0
    reused: bool = False             # a kept result would be taken: cost 0
    group: bool = False              # a for_each group: never spawned itself
    items: int | None = None         # a group's items; None: known only during the run

    def _sum(self, name: str) -> Range:
        total = ZERO
        for c in self.per_tier.values():
            total += getattr(c, name)
        return total

    @property
    def usd(self) -> Range:
        return self._sum("usd")

    @property
    def input_tokens(self) -> Range:
        return self._sum("input_tokens")

    @property
    def output_tokens(self) -> Range:
        return self._sum("output_tokens")

    @property
    def attempts(self) -> float:
        return sum(c.attempts for c in self.per_tier.values())

    def to_dict(self) -> dict:
        out = {"task_id": self.task_id, "agent_type": self.agent_type, "tier": self.tier,
               "input_tokens": round(self.input_tokens.expected),
               "output_tokens": round(self.output_tokens.expected),
               "attempts": round(self.attempts, 2), "usd": self.usd.to_dict(),
               "source": self.source}
        if self.probability < 1:
            out["probability"] = round(self.probability, 3)
        if self.reused:
            out["reused"] = True
        if self.group:
            out["group"], out["items"] = True, self.items
        return out


@dataclass
class Estimate:
    tasks: list = field(default_factory=list)            # TaskEstimate
    unpriced_models: list = field(default_factory=list)
    history_runs: int = 0
    tiers: list = field(default_factory=list)            # tier names, cheapest first
    notes: list = field(default_factory=list)            # what the estimate leaves out

    @property
    def per_tier(self) -> dict:
        out = {name: TierCost() for name in self.tiers}
        for t in self.tasks:
            for name, cost in t.per_tier.items():
                out.setdefault(name, TierCost()).add(cost)
        return out

    @property
    def total_usd(self) -> Range:
        total = ZERO
        for t in self.tasks:
            total += t.usd
        return total

    @property
    def task_count(self) -> int:
        """Tasks the run would finish (a group's items; not the group itself)."""
        return sum(1 for t in self.tasks if not t.group)

    @property
    def reused(self) -> int:
        return sum(1 for t in self.tasks if t.reused)

    @property
    def unknown_groups(self) -> list:
        """Groups whose number of items is known only during the run."""
        return [t.task_id for t in self.tasks if t.group and t.items is None]

    def _left_out(self) -> str:
        groups = self.unknown_groups
        return (f"; not included: the items of group(s) {', '.join(groups)} (their number is "
                "known only during the run)" if groups else "")

    @property
    def total_tokens(self) -> dict:
        tokens_in, tokens_out = ZERO, ZERO
        for t in self.tasks:
            tokens_in += t.input_tokens
            tokens_out += t.output_tokens
        return {"input": tokens_in, "output": tokens_out}

    def merged(self, other: "Estimate") -> "Estimate":
        """Both estimates as one (the stages of a workflow)."""
        tiers = self.tiers + [t for t in other.tiers if t not in self.tiers]
        return Estimate(self.tasks + other.tasks,
                        sorted(set(self.unpriced_models) | set(other.unpriced_models)),
                        max(self.history_runs, other.history_runs), tiers,
                        self.notes + [n for n in other.notes if n not in self.notes])

    def summary(self) -> str:
        """`expected $0.0123 (range $0.0080-$0.0400) for 3 task(s)`"""
        t = self.total_usd
        return (f"expected ${t.expected:.4f} (range ${t.low:.4f}-${t.high:.4f}) for "
                f"{self.task_count} task(s)" + (f", {self.reused} reused" if self.reused else "")
                + self._left_out())

    def to_dict(self) -> dict:
        tokens = self.total_tokens
        return {"tasks": [t.to_dict() for t in self.tasks],
                "per_tier": {name: c.to_dict() for name, c in self.per_tier.items()},
                "total_usd": self.total_usd.to_dict(),
                "total_tokens": {"input": tokens["input"].to_dict(0),
                                 "output": tokens["output"].to_dict(0)},
                "unpriced_models": self.unpriced_models, "history_runs": self.history_runs,
                "reused": self.reused, "unknown_groups": self.unknown_groups,
                "notes": self.notes}


def check_max_usd(value, field: str = "max_cost_usd") -> float | None:
    """A limit as given (None: no limit); a typed error for one that is not a positive amount."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise InputError(f"{field} {value!r} is not a positive amount of USD", field=field,
                         fix="pass more than 0 USD, e.g. 2.50, or None for no limit")
    return float(value)


def check_max_cost(estimate: Estimate, max_usd: float | None, *, field: str = "max_cost_usd") -> None:
    """CostLimitExceeded when the expected cost is over `max_usd` (None: no limit)."""
    if max_usd is None or estimate.total_usd.expected <= max_usd:
        return
    t = estimate.total_usd
    raise CostLimitExceeded(
        f"expected cost ${t.expected:.4f} (range ${t.low:.4f}-${t.high:.4f}) of "
        f"{estimate.task_count} task(s) is over the limit of ${max_usd:.4f}{estimate._left_out()}"
        "; nothing was started",
        estimate=estimate, max_usd=max_usd, field=field,
        fix="raise the limit, run fewer tasks or start them on a cheaper tier (--estimate shows "
            "the cost per task)")
