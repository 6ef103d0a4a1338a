"""What the user's own journals say about a run before it starts: the tokens each agent's attempts
used on each model, and how often an attempt on a tier completed, was re-asked or escalated.
estimator.py turns this into an expected cost.

    history = load_history(registry=registry)    # the most recent runs in the runs folder
    history.input_ratios[("code_reviewer", "kimi-coding/k2p5")]   # [1.02, 0.98, ...]
    history.visits[("code_reviewer", "balanced")]                 # Visits(visits, plain, ...)

Input tokens are kept as a *ratio* to the size of the task's first prompt (prompt_tokens below:
the prompt the engine builds, in bytes / 4), not as raw counts: a reviewer's input is as long
as the code it is given, so what carries over from one run to the next is how the model's count
relates to our prompt (its tokenizer, what the gateway adds around it, a re-ask's extra errors).
Output tokens are kept as counts. Only attempts that reported usage (> 0) give token samples;
every finished task gives outcome counts (host-mode plans too, which carry no token split).

Reading is bounded: the MAX_RUNS most recent journals and at most MAX_BYTES of them, and
MAX_SAMPLES token samples per agent and model (newest runs first); lines that are not records
are skipped as `runs` skips them (read_records, strict=False), and a journal that cannot be read
at all is left out.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

MAX_RUNS = 50            # most recent journals read
MAX_BYTES = 32 << 20     # and at most this much of them
MAX_SAMPLES = 400        # token samples kept per (agent, model), the most recent runs first
UNPAID = ("refused", "lost", "accepted", "pending")   # attempts that used no tokens


def first_prompt(definition, task, fmt: str, upstream: dict | None = None) -> str:
    """A task's first prompt (no re-ask) as the scheduler builds it. `upstream`: the outputs of
    the tasks it depends on, {task_id: output}; missing ones count as empty."""
    from parallel_agents.engine.tasks import task_prompt
    return task_prompt(definition, task, fmt,
                       {d: (upstream or {}).get(d, "") for d in task.depends_on})


def prompt_tokens(definition, task, fmt: str, upstream: dict | None = None) -> int:
    """Tokens of a task's first prompt, as bytes / 4 of the prompt build_prompt makes (a common
    rule of thumb for English text and code; history corrects it per model). `upstream`: as
    first_prompt's."""
    text = first_prompt(definition, task, fmt, upstream)
    return max(1, len(text.encode("utf-8", "surrogatepass")) // 4)


@dataclass
class Visits:
    """Of one agent on one tier: how many tasks reached the tier, the attempts they made there
    (plain ones and re-asks) and how many completed there."""

    visits: int = 0
    plain: int = 0
    reasks: int = 0
    completed: int = 0

    def add(self, other: "Visits") -> None:
        self.visits += other.visits
        self.plain += other.plain
        self.reasks += other.reasks
        self.completed += other.completed


@dataclass
class History:
    runs: int = 0
    input_ratios: dict = field(default_factory=dict)    # (agent, model) -> [actual / prompt tokens]
    outputs: dict = field(default_factory=dict)         # (agent, model) -> [output tokens]
    visits: dict = field(default_factory=dict)          # (agent, tier) -> Visits

    def tier_visits(self, tier: str) -> Visits:
        """Every agent's visits of a tier together."""
        total = Visits()
        for (_, name), v in self.visits.items():
            if name == tier:
                total.add(v)
        return total


def _journals(folder: Path, max_runs: int, max_bytes: int) -> list[Path]:
    try:
        paths = [p for p in folder.glob("*.jsonl") if p.is_file()]
    except OSError:
        return []
    dated = []
    for p in paths:
        try:
            stat = p.stat()
        except OSError:
            continue
        dated.append((stat.st_mtime, stat.st_size, p))
    chosen, used = [], 0
    for _, size, p in sorted(dated, reverse=True)[:max_runs]:
        if used + size > max_bytes:
            continue
        chosen.append(p)
        used += size
    return chosen


def load_history(folder: Path | None = None, *, registry=None, max_runs: int = MAX_RUNS,
                 max_bytes: int = MAX_BYTES) -> History:
    """The history in the runs folder (default: the user's). `registry` lets input tokens be
    related to the prompts of the tasks that used them; without it only outputs and outcomes
    are learnt."""
    from parallel_agents.engine.journal import read_records
    from parallel_agents.core.paths import runs_dir
    history = History()
    for path in _journals(folder or runs_dir(), max_runs, max_bytes):
        try:
            records = read_records(path, strict=False)
        except (OSError, ValueError):
            continue
        if _learn(history, records, registry):
            history.runs += 1
    return history


def _learn(history: History, records, registry) -> bool:
    """Add one journal's finished tasks; whether it had any."""
    start = next((r for r in records if r.get("type") == "run_started"), None)
    finished = {r["task_id"]: r["result"] for r in records if r.get("type") == "task_finished"}
    if not finished:
        return False
    tasks = {}
    for t in (start or {}).get("tasks") or []:
        tasks[t.get("task_id")] = t
    for task_id, result in finished.items():
        agent = result.get("agent_type") or (tasks.get(task_id) or {}).get("agent_type")
        if not isinstance(agent, str):
            continue
        attempts = [a for a in result.get("attempts") or []
                    if isinstance(a, dict) and a.get("status") not in UNPAID]
        _count_visits(history, agent, attempts, result.get("status") == "completed")
        base = None   # built once, only when a sample needs it (a prompt costs a build)
        for a in attempts:
            key = (agent, a.get("model") or "")
            tokens_in, tokens_out = _whole(a.get("input_tokens")), _whole(a.get("output_tokens"))
            outs = history.outputs.setdefault(key, [])
            if tokens_out > 0 and len(outs) < MAX_SAMPLES:
                outs.append(tokens_out)
            ratios = history.input_ratios.setdefault(key, [])
            if tokens_in > 0 and len(ratios) < MAX_SAMPLES:
                if base is None:
                    base = _first_prompt(registry, tasks.get(task_id), finished) or 0
                if base:
                    ratios.append(tokens_in / base)
    return True


def _whole(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _count_visits(history: History, agent: str, attempts: list, completed: bool) -> None:
    """Consecutive attempts on one tier are one visit of that tier."""
    runs: list[list] = []
    for a in attempts:
        if runs and runs[-1][0].get("tier") == a.get("tier"):
            runs[-1].append(a)
        else:
            runs.append([a])
    for i, visit in enumerate(runs):
        v = history.visits.setdefault((agent, visit[0].get("tier") or ""), Visits())
        v.visits += 1
        v.reasks += sum(1 for a in visit if a.get("reask"))
        v.plain += sum(1 for a in visit if not a.get("reask"))
        if completed and i == len(runs) - 1 and visit[-1].get("status") == "ok":
            v.completed += 1


def _first_prompt(registry, task: dict | None, finished: dict) -> int | None:
    """Tokens of a journaled task's first prompt (prompt_tokens), its upstream outputs as the run
    had them; None when it cannot be rebuilt (an agent no longer installed, a changed format)."""
    if registry is None or not isinstance(task, dict):
        return None
    from parallel_agents.core.errors import ParallelAgentsError
    from parallel_agents.engine.tasks import AgentTask
    try:
        t = AgentTask.from_dict(task)
        definition = registry.get(t.agent_type)
        fmt = t.output_format or definition.output_format
        upstream = {d: (finished.get(d) or {}).get("output") for d in t.depends_on}
        upstream = {d: ("" if v is None else v) for d, v in upstream.items()}
        return prompt_tokens(definition, t, fmt, upstream)
    except (ParallelAgentsError, TypeError, ValueError, KeyError, json.JSONDecodeError):
        return None
