"""Host-agent mode: the host agent makes the `sessions_spawn` calls itself; we prepare and check.

Stock OpenClaw gives Python no `tools` module and keeps `sessions_spawn` off its HTTP API, but
the host agent can call the tool directly. So:

1. `plan` turns tasks into the exact `sessions_spawn` argument objects (prompt from the agent's
   YAML, `label` = TASK_ID#N, `taskName`, `model` for the tier, `runTimeoutSeconds`) and saves
   the plan in a journal under $PARALLEL_AGENTS_HOME/runs/PLAN_ID.jsonl.
2. The host agent spawns them all in one turn and waits with `sessions_yield`; each child's
   reply comes back as an announce completion event whose `task:` line is the label.
3. `check` reads those replies (announce blocks, raw text, or `sessions_history` JSON), validates
   each against its agent's schema, records it, and answers with the results so far plus the
   next spawns to make: a re-ask with the validation errors, the next tier, or tasks whose
   dependencies just completed. Repeat until it says done.

Token usage is not in announce events' data, so host-mode costs are not computed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import outputs, policy
from .config import Config
from .definitions import schema_registry
from .errors import InputError
from .journal import Journal, new_run_id, read_records
from .ladder import Ladder
from .prompts import build_prompt
from .registry import Registry
from .taskcheck import prepare_tasks
from .tasks import AgentTask

INSTRUCTIONS = (
    "Call sessions_spawn once for each entry of `spawn`, with exactly its `args`, all in this "
    "turn. Then wait with sessions_yield (do not poll). When the completion events arrive, pass "
    "them to: python3 {script} check --plan {plan_id} (stdin, or files), and repeat with the "
    "spawns it returns until it reports done.")


@dataclass
class _Task:
    task: AgentTask
    definition: object
    fmt: str
    timeout: int
    tier_index: int
    attempts: list = field(default_factory=list)   # dicts, as journaled
    open: dict | None = None                       # the spawn_intent awaiting a reply
    reasked: bool = False
    reask_hint: str | None = None
    result: dict | None = None                     # final result, once decided


class HostPlan:
    """A plan's state, rebuilt from its journal each time (`check` is a fresh process)."""

    def __init__(self, plan_id: str, tasks: list[AgentTask], registry: Registry, config: Config,
                 journal: Journal, *, collect: bool = False):
        self.plan_id = plan_id
        self.registry = registry
        self.config = config
        self.ladder = Ladder(config.tiers)
        self.journal = journal
        self.collect = collect
        self.order = [t.task_id for t in tasks]
        definitions = {t.task_id: registry.get(t.agent_type) for t in tasks}
        prepared = prepare_tasks(tasks, definitions, ladder=self.ladder,
                                 default_timeout=config.default_timeout_seconds,
                                 max_input_bytes=config.max_input_bytes)
        self.tasks: dict[str, _Task] = {
            t.task_id: _Task(t, definitions[t.task_id], prepared[t.task_id].fmt,
                             prepared[t.task_id].timeout, prepared[t.task_id].tier_index)
            for t in tasks}

    # -- journal ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, tasks: list[AgentTask], registry: Registry, config: Config, *,
               runs_folder=None, collect: bool = False) -> "HostPlan":
        plan_id = new_run_id()
        plan = cls(plan_id, tasks, registry, config, Journal(plan_id, runs_folder), collect=collect)
        plan.journal.write("run_started", mode="host", collect=collect,
                           tasks=[t.to_dict() for t in tasks])
        return plan

    @classmethod
    def load(cls, plan_id: str, registry: Registry, config: Config, *, runs_folder=None) -> "HostPlan":
        journal = Journal(plan_id, runs_folder)
        records = read_records(journal.path)
        start = next((r for r in records if r["type"] == "run_started"), None)
        if start is None or start.get("mode") != "host":
            raise InputError(f"{plan_id} is not a plan made by `plan`", field="--plan",
                             fix="use the plan_id that `plan` printed")
        plan = cls(plan_id, [AgentTask.from_dict(t) for t in start["tasks"]], registry, config,
                   journal, collect=start.get("collect", False))
        for r in records:
            state = plan.tasks.get(r.get("task_id"))
            if state is None:
                continue
            if r["type"] == "spawn_intent":
                state.open = r
            elif r["type"] == "attempt_finished":
                state.attempts.append(r["attempt"])
                state.open = None
                state.reask_hint = r.get("reask_hint")
                state.tier_index = r["next_tier_index"]
                state.reasked = r["step"] == policy.REASK
            elif r["type"] == "task_finished":
                state.result = r["result"]
        return plan

    # -- spawning ----------------------------------------------------------------------------------
    def _spawn_args(self, s: _Task) -> dict:
        tier = self.ladder.tier(s.tier_index)
        number = len(s.attempts) + 1
        input_data, context = s.task.inputs(
            {d: self.tasks[d].result["output"] for d in s.task.depends_on})
        prompt = build_prompt(s.definition, s.task.task_description, input_data,
                              output_format=s.fmt, context=context, reask=s.reask_hint)
        args = {"task": prompt, "label": f"{s.task.task_id}#{number}",
                "taskName": s.definition.name[:64], "runTimeoutSeconds": s.timeout}
        if tier.model:
            args["model"] = tier.model
        if self.collect and s.fmt == "json":
            args.update(collect=True, outputSchema=s.definition.output_schema,
                        groupId=f"pa-{self.plan_id}")
        self.journal.write("spawn_intent", task_id=s.task.task_id, attempt=number,
                           label=args["label"], tier=tier.name, model=tier.model,
                           reask=s.reask_hint is not None)
        s.open = {"attempt": number, "label": args["label"], "tier": tier.name, "model": tier.model,
                  "reask": s.reask_hint is not None}
        return {"task_id": s.task.task_id, "agent_type": s.definition.name, "tier": tier.name,
                "tool": "sessions_spawn", "args": args}

    def next_spawns(self) -> list[dict]:
        """Spawns for every task that is ready and has nothing open; skips what cannot run."""
        spawns = []
        for tid in self.order:
            s = self.tasks[tid]
            if s.result is not None or s.open is not None:
                continue
            deps = [self.tasks[d] for d in s.task.depends_on]
            failed = [d for d in deps if d.result is not None and d.result["status"] != "completed"]
            if failed:
                self._finish(s, "skipped", error=f"dependency {failed[0].task.task_id} "
                                                 f"{failed[0].result['status']}")
                continue
            if all(d.result is not None for d in deps):
                spawns.append(self._spawn_args(s))
        return spawns

    # -- checking ------------------------------------------------------------------------------
    def match(self, label: str | None, task_id: str | None) -> _Task:
        if task_id:
            if task_id not in self.tasks:
                raise InputError(f"plan {self.plan_id} has no task {task_id!r}", field="--task",
                                 fix="use a task_id from the plan: " + ", ".join(self.order[:8]))
            return self.tasks[task_id]
        if label and "#" in label:
            tid = label.rsplit("#", 1)[0]
            if tid in self.tasks:
                return self.tasks[tid]
        raise InputError(f"cannot tell which task the reply labelled {label!r} belongs to",
                         field="--task", fix="pass --task TASK_ID with this reply")

    def record(self, s: _Task, reply: outputs.Reply, *, label: str | None = None) -> str:
        """Check one reply for task `s`; returns what happened (policy step or 'ignored')."""
        if s.result is not None:
            return "ignored: task already final"
        if s.open is None:
            return "ignored: no spawn of this task is waiting for a reply"
        if label and label != s.open["label"]:
            return f"ignored: reply to {label}, but {s.open['label']} is the open attempt"
        checked = outputs.check_reply(reply, output_format=s.fmt,
                                      schema=s.definition.output_schema if s.fmt == "json" else None,
                                      registry=schema_registry())
        if checked.ok:
            outcome = "valid"
        elif reply.status == "timeout":
            outcome = "timeout"
        elif reply.status not in (None, "ok"):
            outcome = "failed"
        else:
            outcome = "invalid"
        step = policy.next_step(outcome, reasked_on_tier=s.reasked,
                                reask_enabled=self.config.retry["reask_invalid"],
                                has_next_tier=self.ladder.has_next(s.tier_index))
        attempt = {"number": s.open["attempt"], "tier": s.open["tier"], "model": s.open["model"],
                   "status": {"valid": "ok", "invalid": "invalid"}.get(outcome, outcome),
                   "session_key": reply.session_key, "reask": bool(s.open.get("reask")),
                   "error": None if checked.ok else "; ".join(checked.problems[:3])}
        s.attempts.append(attempt)
        s.open = None
        s.reask_hint = checked.retry_hint if step == policy.REASK else None
        s.reasked = step == policy.REASK
        if step == policy.ESCALATE:
            s.tier_index += 1
        self.journal.write("attempt_finished", task_id=s.task.task_id, attempt=attempt, step=step,
                           next_tier_index=s.tier_index, reask_hint=s.reask_hint)
        if step == policy.COMPLETE:
            self._finish(s, "completed", output=checked.value, session_key=reply.session_key)
        elif step == policy.GIVE_UP:
            self._finish(s, "timeout" if outcome == "timeout" else "failed",
                         error=attempt["error"] or f"run {outcome}")
        return step

    def _finish(self, s: _Task, status: str, *, output=None, error=None, session_key=None) -> None:
        last = s.attempts[-1] if s.attempts else {}
        s.result = {"task_id": s.task.task_id, "agent_type": s.definition.name, "status": status,
                    "output": output, "error": error, "session_key": session_key,
                    "attempts": s.attempts, "model_used": last.get("model"), "tier": last.get("tier")}
        self.journal.write("task_finished", task_id=s.task.task_id, result=s.result)

    # -- views ---------------------------------------------------------------------------------------
    def status(self) -> list[dict]:
        rows = []
        for tid in self.order:
            s = self.tasks[tid]
            if s.result is not None:
                rows.append(s.result)
                continue
            state = "spawned" if s.open else "waiting"
            rows.append({"task_id": tid, "agent_type": s.definition.name, "status": state,
                         "output": None, "attempts": s.attempts,
                         "error": s.attempts[-1]["error"] if s.attempts else None,
                         "tier": self.ladder.tier(s.tier_index).name})
        return rows

    @property
    def done(self) -> bool:
        return all(s.result is not None for s in self.tasks.values())


def read_replies(text: str, *, task_id: str | None):
    """(label, Reply) pairs from what the host agent passed to `check`: completion events are
    matched by their label; a raw reply or sessions_history JSON needs --task."""
    if "[Internal task completion event]" in text or "A background task completed." in text:
        events = outputs.parse_announce(text)
        if task_id and len(events) > 1:
            raise InputError("--task names one task, but the input holds several completion events",
                             field="--task", fix="drop --task: events are matched by their label")
        return [(e.task, outputs.reply_from_event(e)) for e in events]
    if not task_id:
        raise InputError("this reply does not say which task it belongs to", field="--task",
                         fix="pass --task TASK_ID, or pass the whole completion event")
    return [(None, outputs.extract_reply(text))]
