"""A host-mode plan's state, rebuilt from its journal each time (`check` is a fresh process).

`plan` creates the journal under a new, short plan id ($PARALLEL_AGENTS_HOME/runs/PLAN_ID.jsonl)
and writes `run_started` with the tasks; every later command replays its records (spawn intents
and withdrawals, refusals, finished attempts and tasks, expanded groups, unusable models) into
one PlanTask per task. hostmode.HostPlan adds what `plan` and `check` do with that state.

`plan` and `check` hold the plan's lock (locks.py) while they read and write its journal, so
two checks at once record each reply once: the second waits, then sees the first's records.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from parallel_agents.core.config import Config
from parallel_agents.core.errors import InputError
from parallel_agents.definitions.registry import Registry
from parallel_agents.engine import policy
from parallel_agents.engine.journal import Journal, read_records
from parallel_agents.engine.ladder import Ladder
from parallel_agents.engine.locks import JournalLock
from parallel_agents.engine.taskcheck import prepare_tasks
from parallel_agents.engine.tasks import AgentTask
from parallel_agents.openclaw.spawn import run_tag

DEFAULT_WINDOW = 5           # OpenClaw's default agents.defaults.subagents.maxChildrenPerAgent


@dataclass
class PlanTask:
    """One task of a plan (a group's item too) and where it stands."""

    task: AgentTask
    definition: object
    fmt: str
    timeout: int
    tier_index: int
    index: int
    attempts: list = field(default_factory=list)   # dicts, as journaled
    open: dict | None = None                       # the spawn awaiting a reply
    reasked: bool = False
    reask_hint: str | None = None
    refusals: int = 0                              # transient refusals in a row
    result: dict | None = None                     # final result, once decided


def new_plan_journal(runs_folder) -> Journal:
    """A journal under a new, short plan id (6 hex digits: the id is in every check command the
    host writes), claimed with an exclusive create so two plans never share one."""
    for _ in range(1000):
        journal = Journal(os.urandom(3).hex(), runs_folder)
        journal.folder.mkdir(parents=True, exist_ok=True)
        try:
            journal.path.open("x").close()
        except FileExistsError:
            continue
        return journal
    raise RuntimeError("could not find a free plan id")  # pragma: no cover - 16 million ids


class PlanState:
    """A plan's tasks, spawns and results as its journal has them, and its lock."""

    def __init__(self, plan_id: str, tasks: list[AgentTask], registry: Registry, config: Config,
                 journal: Journal, *, collect: bool = False, prompts: str = "file",
                 window: int = DEFAULT_WINDOW, reuse: bool = False):
        self.plan_id = plan_id
        self.registry = registry
        self.config = config
        self.ladder = Ladder(config.tiers)
        self.journal = journal
        self.collect = collect
        self.prompts = prompts
        self.window = max(1, int(window))
        self.reuse = reuse                   # plan --reuse: finish tasks from kept results
        self.unusable: dict[str, str] = {}   # model ref -> why the gateway will not run it
        self.notes: list[str] = []           # said once, in the answer that learnt them
        self.order = [t.task_id for t in tasks]
        definitions = {t.task_id: registry.get(t.agent_type) for t in tasks}
        prepared = prepare_tasks(tasks, definitions, ladder=self.ladder,
                                 default_timeout=config.default_timeout_seconds,
                                 max_input_bytes=config.max_input_bytes,
                                 max_map_items=config.max_map_items)
        self.groups: dict[str, list[str] | None] = {   # group id -> its item ids, once expanded
            t.task_id: None for t in tasks if t.for_each is not None}
        self.tasks: dict[str, PlanTask] = {
            t.task_id: PlanTask(t, definitions[t.task_id], prepared[t.task_id].fmt,
                                prepared[t.task_id].timeout, prepared[t.task_id].tier_index, i)
            for i, t in enumerate(tasks)}
        self.labels: dict[str, PlanTask] = {}
        self.started_at: float | None = None
        self.lock: JournalLock | None = None     # held by plan/check until release()

    # -- journal ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, tasks: list[AgentTask], registry: Registry, config: Config, *,
               runs_folder=None, collect: bool = False, prompts: str = "file",
               window: int = DEFAULT_WINDOW, unusable: dict[str, str] | None = None,
               reuse: bool = False) -> "PlanState":
        plan = cls("unclaimed", tasks, registry, config, Journal("unclaimed", runs_folder),
                   collect=collect, prompts=prompts, window=window,
                   reuse=reuse)                                      # bad tasks raise here
        plan.journal = new_plan_journal(runs_folder)                  # nothing written before
        plan.plan_id = plan.journal.run_id
        plan.lock = JournalLock(plan.journal.path, kind="plan", command="plan").acquire()
        try:
            plan.journal.write("run_started", mode="host", collect=collect, prompts=prompts,
                               window=plan.window, reuse=reuse, tasks=[t.to_dict() for t in tasks])
            plan.started_at = time.time()
            for model, reason in (unusable or {}).items():
                plan.mark_unusable(model, reason)
        except BaseException:
            plan.release()
            raise
        return plan

    @classmethod
    def load(cls, plan_id: str, registry: Registry, config: Config, *, runs_folder=None,
             hold: bool = False, command: str = "check") -> "PlanState":
        """The plan as its journal has it. hold: take the plan's lock first and keep it until
        release() (or the end of a `with plan:` block): for a command that writes."""
        journal = Journal(plan_id, runs_folder)
        if not hold:
            return cls._load(plan_id, registry, config, journal)
        if not journal.path.exists():       # said by read_records; no lock file for no plan
            read_records(journal.path)
        lock = JournalLock(journal.path, kind="plan", command=command).acquire()
        try:
            plan = cls._load(plan_id, registry, config, journal)
        except BaseException:
            lock.release()
            raise
        plan.lock = lock
        return plan

    def release(self) -> None:
        """Close the journal and let the next command have the plan."""
        self.journal.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> "PlanState":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @classmethod
    def _load(cls, plan_id: str, registry: Registry, config: Config, journal: Journal) -> "PlanState":
        records = read_records(journal.path)
        start = next((r for r in records if r["type"] == "run_started"), None)
        if start is None or start.get("mode") != "host":
            raise InputError(f"{plan_id} is not a plan made by `plan`", field="--plan",
                             fix="use the plan_id that `plan` printed")
        plan = cls(plan_id, [AgentTask.from_dict(t) for t in start["tasks"]], registry, config,
                   journal, collect=start.get("collect", False), prompts=start.get("prompts", "inline"),
                   window=start.get("window", DEFAULT_WINDOW), reuse=start.get("reuse", False))
        plan.started_at = start.get("t")
        for r in records:
            if r["type"] == "model_unusable":
                plan.unusable[r["model"]] = r["reason"]
                continue
            if r["type"] == "group_expanded":   # the items, as the check that made them did
                if r["task_id"] in plan.groups and plan.groups[r["task_id"]] is None:
                    plan.add_items(plan.tasks[r["task_id"]],
                                   [AgentTask.from_dict(t) for t in r["items"]])
                continue
            state = plan.tasks.get(r.get("task_id"))
            if state is None:
                continue
            if r["type"] == "spawn_intent":
                state.open = {k: r.get(k) for k in ("attempt", "label", "tier", "model", "reask")}
                plan.labels[r["label"]] = state
            elif r["type"] == "spawn_withdrawn":
                state.open = None
            elif r["type"] == "spawn_refused":
                state.refusals = r.get("in_a_row", state.refusals + 1)
            elif r["type"] == "attempt_finished":
                state.attempts.append(r["attempt"])
                state.open = None
                state.refusals = 0
                state.reask_hint = r.get("reask_hint")
                state.tier_index = r["next_tier_index"]
                state.reasked = r["step"] == policy.REASK
            elif r["type"] == "task_finished":
                state.result = r["result"]
        return plan

    def mark_unusable(self, model: str, reason: str) -> None:
        """The gateway will not run `model`: spawns meant for it use the gateway's default."""
        if model in self.unusable:
            return
        self.unusable[model] = reason
        tiers = ", ".join(t.name for t in self.ladder.tiers if t.model == model)
        self.notes.append(f"tier {tiers}: model {model} is not usable on this gateway ({reason}); "
                          "its spawns use the gateway's default model (set the tier's model in "
                          "your config.yaml to one the gateway has)")
        self.journal.write("model_unusable", model=model, reason=reason)

    def add_items(self, g: PlanTask, items: list[AgentTask]) -> None:
        """A group's item tasks: its agent, format, timeout and tier; listed right after it."""
        for task in items:
            self.tasks[task.task_id] = PlanTask(task, g.definition, g.fmt, g.timeout,
                                                g.tier_index, len(self.tasks))
        at = self.order.index(g.task.task_id) + 1
        self.order[at:at] = [t.task_id for t in items]
        self.groups[g.task.task_id] = [t.task_id for t in items]

    def open_labels(self) -> list[str]:
        return [s.open["label"] for s in self.tasks.values() if s.open is not None]

    # -- a spawn's task --------------------------------------------------------------------------
    def find(self, label: str | None) -> PlanTask | None:
        """The task of a spawn this plan listed with this label; None for any other label (a
        child of another plan, or one the host spawned on its own)."""
        return self.labels.get(label.strip()) if label else None

    def match(self, label: str | None, task_id: str | None) -> PlanTask:
        if task_id:
            if task_id not in self.tasks:
                raise InputError(f"plan {self.plan_id} has no task {task_id!r}", field="--task",
                                 fix="use a task_id from the plan: " + ", ".join(self.order[:8]))
            return self.tasks[task_id]
        state = self.find(label)
        if state is not None:
            return state
        raise InputError(f"plan {self.plan_id} never listed a spawn labelled {label!r}",
                         field="--task", fix="pass --task TASK_ID with this reply, or check the "
                                             "plan id (each plan labels its spawns TASK#N@TAG, "
                                             f"TAG {run_tag(self.plan_id)} for this one)")

    # -- views ---------------------------------------------------------------------------------------
    def status(self, running: set[str] = frozenset()) -> list[dict]:
        rows = []
        for tid in self.order:
            s = self.tasks[tid]
            if s.result is not None:
                rows.append(s.result)
                continue
            if s.open is None:
                state = "waiting"
            else:
                state = "running" if s.open["label"] in running else "spawned"
            rows.append({"task_id": tid, "agent_type": s.definition.name, "status": state,
                         "output": None, "attempts": s.attempts,
                         "label": s.open["label"] if s.open else None,
                         "error": s.attempts[-1]["error"] if s.attempts else None,
                         "tier": self.ladder.tier(s.tier_index).name})
        return rows

    @property
    def done(self) -> bool:
        return all(s.result is not None for s in self.tasks.values())
