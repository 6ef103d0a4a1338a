"""Host-agent mode: the host agent makes the `sessions_spawn` calls itself; we prepare and check.

Stock OpenClaw gives Python no `tools` module and keeps `sessions_spawn` off its HTTP API, but
the host agent can call the tool directly. So:

1. `plan` turns tasks into `sessions_spawn` argument objects and saves the plan in a journal
   under $PARALLEL_AGENTS_HOME/runs/PLAN_ID.jsonl. Each spawn is short: its `task` points the
   child at a prompt file beside the journal (`prompts: file`, the default), so the host does not
   write out a 2-10 KB prompt per task as its own (expensive) output; where children cannot read
   host files (`tools.fs.workspaceOnly`, sandboxed agents) the prompt goes inline. The `label`
   (`TASK#N@TAG`, TAG: 6 hex digits of the plan id's hash, runtime.attempt_label) is the child's
   title in everything OpenClaw shows the host: no `taskName`, as OpenClaw titles a child
   `taskName || label || task`. The tag keeps plans apart: two plans with a task `api` label
   their spawns differently, and a child whose label a plan never listed is not that plan's.
   A definition's `agent_id` / `sandbox` go into its spawns as `agentId` / `sandbox` (absent
   when unset); such a child runs under another tool policy or in a sandbox, where host files
   may be out of reach, so its prompt goes inline and it answers in its reply.
2. The host spawns them in one turn and waits with `sessions_yield`; OpenClaw wakes it with one
   message once every child has settled.
3. `check` learns each child's outcome - by reading the local gateway itself (hostread.py: no
   input to paste, nothing for the host to copy), or from what the host passes (the settled-batch
   message, announce events, sessions_history JSON; deliveries.py) - validates each reply against
   its agent's schema, and answers with the results so far and every spawn still owed: a re-ask
   with the validation errors, the next tier, tasks whose dependencies just completed, and spawns
   listed before that the gateway has not seen. `check` is idempotent: a reply already recorded,
   a reply to an attempt that is not open, or a child of another plan, is ignored. It is all or
   nothing: every input is read and understood before anything is recorded.

`plan` and `check` hold the plan's lock (locks.py) while they read and write its journal, so
two checks at once record each reply once: the second waits, then sees the first's records.

A refused spawn is reported with `check --refused LABEL --error TEXT`: a model the gateway does
not know moves every spawn of that model to the gateway's default model (said once); back-pressure
keeps the spawn owed; any other refusal is a failed attempt and moves the task up the ladder.
At most `window` spawns are open at once (OpenClaw refuses children past maxChildrenPerAgent).

A group (for_each, mapping.py) is never spawned: once its dependencies are final, the answer
that learns it (plan for a static list with no dependencies, else the check that records its
source's valid reply) expands it into its items - journaled as `group_expanded`, so a later
check rebuilds the same items and never expands again - and lists the items' spawns with the
rest. When every item is final the group is too (the list of their outputs, or failed), and
its dependents are released with that list.

Reuse (reuse.py), as in `run`: every task `check` records completed is kept in the reuse store
(config `reuse.store`; never a group's own list), under the key of its first attempt. A plan made
with `--reuse` (its journal says so, for every later check) finishes a task about to make its
first attempt from a still-valid kept result instead of listing its spawn - at plan time, or
when a check releases it - journaled as `reused` and a completed result with `reused: true`.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from parallel_agents.engine import mapping
from parallel_agents.replies import outputs
from parallel_agents.engine import policy
from parallel_agents.core.config import Config
from parallel_agents.definitions.model import schema_registry
from parallel_agents.core.errors import InputError
from parallel_agents.engine.journal import Journal, read_records
from parallel_agents.engine.ladder import Ladder
from parallel_agents.engine.locks import JournalLock
from parallel_agents.prompts.build import build_prompt
from parallel_agents.definitions.registry import Registry
from parallel_agents.engine.reuse import ReuseStore, first_attempt_key, still_valid
from parallel_agents.openclaw.runtime import attempt_label, classify_refusal, privilege_fix, run_tag
from parallel_agents.engine.taskcheck import prepare_tasks
from parallel_agents.engine.tasks import AgentTask

DEFAULT_WINDOW = 5           # OpenClaw's default agents.defaults.subagents.maxChildrenPerAgent
MAX_TRANSIENT_REFUSALS = 3   # a spawn refused for a passing reason this often in a row fails
_POINTER = "Follow {path}."      # every byte here is the host's output (bench/host_cost.py)
_LONG_POINTER = " It is long: read it to the end."
# sessions_history (how check reads a child) cuts text blocks at 4000 characters, so the answer
# travels in a file; a child that cannot write files still answers in its reply.
_DELIVER = ("\n## Delivering your answer\nWrite your final answer - exactly the reply the Output "
            "section describes, nothing else - to the file {path} with your write tool, then reply "
            "with the single word DONE. (If you cannot write files, reply with the answer itself.)\n")
_READ_LIMIT = 45_000         # OpenClaw's read tool returns at most 50 KB per call


@dataclass
class _Task:
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


def _new_plan_journal(runs_folder) -> Journal:
    """A journal under a new, short plan id (6 hex digits: the id is in every check command the
    host writes), claimed with an exclusive create so two plans never share one."""
    for _ in range(1000):
        journal = Journal(secrets.token_hex(3), runs_folder)
        journal.folder.mkdir(parents=True, exist_ok=True)
        try:
            journal.path.open("x").close()
        except FileExistsError:
            continue
        return journal
    raise RuntimeError("could not find a free plan id")  # pragma: no cover - 16 million ids


class HostPlan:
    """A plan's state, rebuilt from its journal each time (`check` is a fresh process)."""

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
        self._store: ReuseStore | None = None   # opened on first use (_reuse_store)
        self._store_opened = False
        self._missed: set[str] = set()       # looked up in this process, not found
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
        self.tasks: dict[str, _Task] = {
            t.task_id: _Task(t, definitions[t.task_id], prepared[t.task_id].fmt,
                             prepared[t.task_id].timeout, prepared[t.task_id].tier_index, i)
            for i, t in enumerate(tasks)}
        self._by_label: dict[str, _Task] = {}
        self.started_at: float | None = None
        self.lock: JournalLock | None = None     # held by plan/check until release()

    # -- journal ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, tasks: list[AgentTask], registry: Registry, config: Config, *,
               runs_folder=None, collect: bool = False, prompts: str = "file",
               window: int = DEFAULT_WINDOW, unusable: dict[str, str] | None = None,
               reuse: bool = False) -> "HostPlan":
        plan = cls("unclaimed", tasks, registry, config, Journal("unclaimed", runs_folder),
                   collect=collect, prompts=prompts, window=window,
                   reuse=reuse)                                      # bad tasks raise here
        plan.journal = _new_plan_journal(runs_folder)                  # nothing written before
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
             hold: bool = False, command: str = "check") -> "HostPlan":
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
        """Close the journal (and the reuse store's segment) and let the next command have the plan."""
        if self._store is not None:
            self._store.close()
        self.journal.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> "HostPlan":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @classmethod
    def _load(cls, plan_id: str, registry: Registry, config: Config, journal: Journal) -> "HostPlan":
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
                    plan._add_items(plan.tasks[r["task_id"]],
                                    [AgentTask.from_dict(t) for t in r["items"]])
                continue
            state = plan.tasks.get(r.get("task_id"))
            if state is None:
                continue
            if r["type"] == "spawn_intent":
                state.open = {k: r.get(k) for k in ("attempt", "label", "tier", "model", "reask")}
                plan._by_label[r["label"]] = state
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

    # -- spawning ----------------------------------------------------------------------------------
    def prompt_folder(self) -> Path:
        """runs/<plan id>/: short, as its path is in every spawn the host writes."""
        return self.journal.folder / self.plan_id

    def _spawn_args(self, s: _Task) -> dict:
        tier = self.ladder.tier(s.tier_index)
        number = len(s.attempts) + 1
        label = attempt_label(s.task.task_id, number, self.plan_id)
        input_data, context = s.task.inputs(
            {d: self.tasks[d].result["output"] for d in s.task.depends_on})
        prompt = build_prompt(s.definition, s.task.task_description, input_data,
                              output_format=s.fmt, context=context, reask=s.reask_hint)
        model = tier.model if tier.model and tier.model not in self.unusable else None
        args = {"task": self._task_text(s, number, prompt), "label": label,
                "runTimeoutSeconds": s.timeout}
        if model:
            args["model"] = model
        args.update(s.definition.spawn_privileges())   # agentId, sandbox: only when set
        if self.collect and s.fmt == "json":
            args.update(collect=True, outputSchema=s.definition.output_schema,
                        groupId=f"pa-{self.plan_id}")
        s.open = {"attempt": number, "label": label, "tier": tier.name, "model": model,
                  "reask": s.reask_hint is not None}
        self.journal.write("spawn_intent", task_id=s.task.task_id, **s.open)
        self._by_label[label] = s
        return self._entry(s, args, new=True)

    def _task_text(self, s: _Task, number: int, prompt: str) -> str:
        if self.prompts != "file" or s.definition.spawn_privileges():
            return prompt   # another agent's tools/sandbox may not read (or write) host files
        folder = self.prompt_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{s.index + 1}-{number}.md"
        answer = self._answer_path(s, number)
        answer.unlink(missing_ok=True)            # a file left by an earlier spawn is not its answer
        tmp = path.with_suffix(".tmp")
        tmp.write_text(prompt + _DELIVER.format(path=answer), encoding="utf-8")
        tmp.replace(path)
        long = path.stat().st_size > _READ_LIMIT
        return _POINTER.format(path=path) + (_LONG_POINTER if long else "")

    def _answer_path(self, s: _Task, number: int) -> Path:
        return self.prompt_folder() / f"{s.index + 1}-{number}.answer"

    def _answer_in_file(self, s: _Task, reply: outputs.Reply) -> outputs.Reply:
        """The answer the child wrote to its answer file, when it finished well and wrote one."""
        if self.prompts != "file" or reply.status not in (None, "ok"):
            return reply
        try:
            text = self._answer_path(s, s.open["attempt"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return reply
        if not text.strip():
            return reply
        return outputs.Reply(text, source="answer file", session_key=reply.session_key,
                             label=reply.label)

    def _entry(self, s: _Task, args: dict, *, new: bool) -> dict:
        return {"task_id": s.task.task_id, "agent_type": s.definition.name, "tier": s.open["tier"],
                "new": new, "tool": "sessions_spawn", "args": args}

    def _relist(self, s: _Task) -> dict:
        """The spawn of the open attempt again, exactly as first listed (same label)."""
        if s.open.get("model") and s.open["model"] in self.unusable:   # learnt since: re-issue
            self._close_open(s)
            return self._spawn_args(s)
        args = {"task": self._existing_task_text(s), "label": s.open["label"],
                "runTimeoutSeconds": s.timeout}
        if s.open.get("model"):
            args["model"] = s.open["model"]
        args.update(s.definition.spawn_privileges())
        if self.collect and s.fmt == "json":
            args.update(collect=True, outputSchema=s.definition.output_schema,
                        groupId=f"pa-{self.plan_id}")
        return self._entry(s, args, new=False)

    def _existing_task_text(self, s: _Task) -> str:
        """The task text of the open attempt as first listed (its prompt file is kept as is: the
        child may have read it and written its answer already)."""
        number = s.open["attempt"]
        path = self.prompt_folder() / f"{s.index + 1}-{number}.md"
        if self.prompts == "file" and path.is_file():
            long = path.stat().st_size > _READ_LIMIT
            return _POINTER.format(path=path) + (_LONG_POINTER if long else "")
        input_data, context = s.task.inputs(
            {d: self.tasks[d].result["output"] for d in s.task.depends_on})
        prompt = build_prompt(s.definition, s.task.task_description, input_data,
                              output_format=s.fmt, context=context,
                              reask=s.reask_hint if s.open.get("reask") else None)
        return self._task_text(s, number, prompt)

    def _close_open(self, s: _Task) -> None:
        """Drop an open spawn that never ran (refused for its model), without a ladder step."""
        self.journal.write("spawn_withdrawn", task_id=s.task.task_id, label=s.open["label"])
        s.open = None

    def next_spawns(self, *, owed: set[str] = frozenset()) -> list[dict]:
        """Every spawn the host owes: open spawns whose label is in `owed` (listed before, never
        seen on the gateway), then new spawns for ready tasks, within the window."""
        spawns = [self._relist(self.tasks[tid]) for tid in self.order
                  if self.tasks[tid].open is not None and self.tasks[tid].open["label"] in owed
                  and self.tasks[tid].result is None]
        again = True
        while again:   # a reused task may release others (and finish or expand a group)
            again = False
            self._settle_groups()
            room = self.window - sum(1 for s in self.tasks.values() if s.open is not None)
            for tid in self.order:
                s = self.tasks[tid]
                if s.result is not None or s.open is not None or tid in self.groups:
                    continue
                deps = [self.tasks[d] for d in s.task.depends_on]
                failed = [d for d in deps if d.result is not None and d.result["status"] != "completed"]
                if failed:
                    self._finish(s, "skipped", error=f"dependency {failed[0].task.task_id} "
                                                     f"{failed[0].result['status']}")
                    continue
                if not all(d.result is not None for d in deps):
                    continue
                if self._reused(s):
                    again = True
                elif room > 0:
                    spawns.append(self._spawn_args(s))
                    room -= 1
        return spawns

    # -- reuse (reuse.py) --------------------------------------------------------------------------
    def _reuse_store(self) -> ReuseStore | None:
        """The store completed results are kept in and, with --reuse, taken from (None: neither)."""
        if not self._store_opened:
            self._store_opened = True
            settings = self.config.reuse
            if self.reuse or settings["store"]:
                self._store = ReuseStore.from_config(settings, lookup=self.reuse)
        return self._store

    def _reuse_key(self, s: _Task) -> str:
        """The key of the task's first attempt (the scheduler's): definition, prompt as built
        with no re-ask, format, starting tier. Raises InputError as building the prompt does."""
        input_data, context = s.task.inputs(
            {d: self.tasks[d].result["output"] for d in s.task.depends_on})
        prompt = build_prompt(s.definition, s.task.task_description, input_data,
                              output_format=s.fmt, context=context)
        first = s.attempts[0]["tier"] if s.attempts else None
        return first_attempt_key(s.definition, prompt, s.fmt, self.ladder, first, s.tier_index)

    def _reused(self, s: _Task) -> bool:
        """With --reuse, finish a task about to make its first attempt from a kept result that
        still fits its agent's schema. False: spawn it."""
        if (not self.reuse or s.attempts or s.open is not None or s.task.for_each is not None
                or s.task.task_id in self._missed):
            return False
        store = self._reuse_store()
        try:
            entry = store.get(self._reuse_key(s))
        except InputError:   # said by the spawn that follows
            entry = None
        if entry is None or not still_valid(entry["output"], s.definition, s.fmt):
            self._missed.add(s.task.task_id)
            return False
        self.journal.write("reused", task_id=s.task.task_id, from_run=entry.get("run_id"),
                           from_task=entry.get("task_id"))
        self._finish(s, "completed", output=entry["output"], reused=entry)
        return True

    def _keep(self, s: _Task) -> None:
        """Keep a result `check` recorded completed, for a later --reuse (config reuse.store)."""
        store = self._reuse_store()
        if store is None or not store.keep:
            return
        try:
            key = self._reuse_key(s)
        except InputError:   # the prompt cannot be rebuilt (it was, to spawn): keep nothing
            return
        store.put(key, output=s.result["output"], agent_type=s.definition.name,
                  output_format=s.fmt, tier=s.result["tier"], model=s.result["model_used"],
                  run_id=self.plan_id, task_id=s.task.task_id)

    # -- groups (for_each) -------------------------------------------------------------------------
    def _settle_groups(self) -> None:
        """Expand each group whose dependencies completed, finish each whose items are all
        final, skip each whose dependency did not complete; again until nothing changes (a
        group may take its list from another group)."""
        changed = True
        while changed:
            changed = False
            for gid, items in list(self.groups.items()):
                g = self.tasks[gid]
                if g.result is not None:
                    continue
                if items is not None:
                    if all(self.tasks[i].result is not None for i in items):
                        status, output, error = mapping.group_outcome(
                            gid, [self.tasks[i].result for i in items])
                        self._finish(g, status, output=output, error=error)
                        changed = True
                    continue
                deps = [self.tasks[d] for d in g.task.depends_on]
                if any(d.result is None for d in deps):
                    continue
                changed = True
                failed = [d for d in deps if d.result["status"] != "completed"]
                if failed:
                    self._finish(g, "skipped", error=f"dependency {failed[0].task.task_id} "
                                                     f"{failed[0].result['status']}")
                    continue
                try:
                    made = mapping.expand(g.task, {d.task.task_id: d.result["output"] for d in deps},
                                          cap=self.config.max_map_items,
                                          max_input_bytes=self.config.max_input_bytes)
                except mapping.MapError as exc:
                    self._finish(g, "failed", error=str(exc))
                    continue
                self.journal.write("group_expanded", task_id=gid, items=[t.to_dict() for t in made])
                self._add_items(g, made)
                if not made:
                    self._finish(g, "completed", output=[])

    def _add_items(self, g: _Task, items: list[AgentTask]) -> None:
        """A group's item tasks: its agent, format, timeout and tier; listed right after it."""
        for task in items:
            self.tasks[task.task_id] = _Task(task, g.definition, g.fmt, g.timeout, g.tier_index,
                                             len(self.tasks))
        at = self.order.index(g.task.task_id) + 1
        self.order[at:at] = [t.task_id for t in items]
        self.groups[g.task.task_id] = [t.task_id for t in items]

    def open_labels(self) -> list[str]:
        return [s.open["label"] for s in self.tasks.values() if s.open is not None]

    # -- checking ------------------------------------------------------------------------------
    def find(self, label: str | None) -> _Task | None:
        """The task of a spawn this plan listed with this label; None for any other label (a
        child of another plan, or one the host spawned on its own)."""
        return self._by_label.get(label.strip()) if label else None

    def match(self, label: str | None, task_id: str | None) -> _Task:
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

    def record(self, s: _Task, reply: outputs.Reply, *, label: str | None = None,
               tokens: int | None = None) -> str:
        """Check one reply for task `s`; returns what happened (policy step or 'ignored: …')."""
        if s.result is not None:
            return "ignored: task already final"
        if s.open is None:
            return "ignored: no spawn of this task is waiting for a reply"
        if label and label.strip() != s.open["label"]:
            return f"ignored: reply to {label}, but {s.open['label']} is the open attempt"
        reply = self._answer_in_file(s, reply)
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
        error = None if checked.ok else "; ".join(checked.problems[:3])
        return self._attempt_done(s, outcome, error, retry_hint=checked.retry_hint,
                                  session_key=reply.session_key, output=checked.value,
                                  tokens=tokens)

    def refuse(self, label: str, error: str) -> str:
        """The host reports that OpenClaw refused the spawn labelled `label` with `error`."""
        s = self.match(label, None)
        if s.result is not None or s.open is None or s.open["label"] != label.strip():
            return "ignored: that spawn is not open"
        model = s.open.get("model")
        if model and "is not usable" in error.lower():
            self.mark_unusable(model, error.rsplit(": ", 1)[-1].strip() or "not usable")
            self._close_open(s)
            return "model unusable: spawn it again on the gateway's default model"
        kind = classify_refusal("error", error)
        if kind == "backpressure" or (kind == "transient" and s.refusals + 1 < MAX_TRANSIENT_REFUSALS):
            s.refusals += 1
            self.journal.write("spawn_refused", task_id=s.task.task_id, label=label, error=error,
                               kind=kind, in_a_row=s.refusals)
            return f"refused ({kind}): spawn it again when check lists it"
        fix = privilege_fix(s.definition.agent_id, s.definition.sandbox, error)
        return self._attempt_done(s, "failed", f"spawn refused: {error}" + (f" ({fix})" if fix else ""),
                                  status="refused")

    def _attempt_done(self, s: _Task, outcome: str, error: str | None, *, retry_hint=None,
                      session_key=None, output=None, status: str | None = None,
                      tokens: int | None = None) -> str:
        step = policy.next_step(outcome, reasked_on_tier=s.reasked,
                                reask_enabled=self.config.retry["reask_invalid"],
                                has_next_tier=self.ladder.has_next(s.tier_index))
        attempt = {"number": s.open["attempt"], "label": s.open["label"], "tier": s.open["tier"],
                   "model": s.open["model"],
                   "status": status or {"valid": "ok", "invalid": "invalid"}.get(outcome, outcome),
                   "session_key": session_key, "reask": bool(s.open.get("reask")), "error": error}
        if tokens is not None:
            attempt["total_tokens"] = tokens
        s.attempts.append(attempt)
        s.open = None
        s.refusals = 0
        s.reask_hint = retry_hint if step == policy.REASK else None
        s.reasked = step == policy.REASK
        if step == policy.ESCALATE:
            s.tier_index += 1
        self.journal.write("attempt_finished", task_id=s.task.task_id, attempt=attempt, step=step,
                           next_tier_index=s.tier_index, reask_hint=s.reask_hint)
        if step == policy.COMPLETE:
            self._finish(s, "completed", output=output, session_key=session_key)
        elif step == policy.GIVE_UP:
            self._finish(s, "timeout" if outcome == "timeout" else "failed",
                         error=error or f"run {outcome}")
        return step

    def _finish(self, s: _Task, status: str, *, output=None, error=None, session_key=None,
                reused: dict | None = None) -> None:
        """reused: the reuse store's entry the task was finished from."""
        last = s.attempts[-1] if s.attempts else {}
        if reused is not None:
            last = {"model": reused.get("model"), "tier": reused.get("tier")}
        s.result = {"task_id": s.task.task_id, "agent_type": s.definition.name, "status": status,
                    "output": output, "error": error, "session_key": session_key,
                    "attempts": s.attempts, "model_used": last.get("model"), "tier": last.get("tier")}
        if reused is not None:
            s.result["reused"] = True
        self.journal.write("task_finished", task_id=s.task.task_id, result=s.result)
        if status == "completed" and reused is None and s.task.for_each is None:
            self._keep(s)   # a group's list is its items' work, not a reply

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

