"""Host-agent mode: the host agent makes the `sessions_spawn` calls itself; we prepare and check.

Stock OpenClaw gives Python no `tools` module and keeps `sessions_spawn` off its HTTP API, but
the host agent can call the tool directly. So:

1. `plan` turns tasks into `sessions_spawn` argument objects and saves the plan in a journal
   under $PARALLEL_AGENTS_HOME/runs/PLAN_ID.jsonl. Each spawn is short: its `task` points the
   child at a prompt file beside the journal (`prompts: file`, the default), so the host does not
   write out a 2-10 KB prompt per task as its own (expensive) output; where children cannot read
   host files (`tools.fs.workspaceOnly`, sandboxed agents) the prompt goes inline. The `label`
   (`TASK#N@TAG`, TAG: 6 hex digits of the plan id's hash, spawn.attempt_label) is the child's
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
The plan's state and its journal are planstate.py's; the spawns, their prompt and answer files,
spawns.py's; what plan and check do with them, HostPlan's below.

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

from pathlib import Path
from typing import TYPE_CHECKING

from parallel_agents.core.errors import InputError
from parallel_agents.definitions.model import schema_registry
from parallel_agents.engine import mapping, policy
from parallel_agents.host import spawns
from parallel_agents.host.planstate import PlanState, PlanTask
from parallel_agents.openclaw.spawn import attempt_label, classify_refusal, privilege_fix
from parallel_agents.engine.tasks import task_prompt

if TYPE_CHECKING:   # imported where used: `plan` (without --reuse) needs neither
    from parallel_agents.engine.reuse import ReuseStore
    from parallel_agents.replies import extract

MAX_TRANSIENT_REFUSALS = 3   # a spawn refused for a passing reason this often in a row fails


class HostPlan(PlanState):
    """A plan: its state (planstate.PlanState) and what `plan` and `check` do with it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._store: ReuseStore | None = None   # opened on first use (_reuse_store)
        self._store_opened = False
        self._missed: set[str] = set()       # looked up in this process, not found

    def release(self) -> None:
        """Close the reuse store's segment, the journal, and let the next command have the plan."""
        if self._store is not None:
            self._store.close()
        super().release()

    # -- spawning ----------------------------------------------------------------------------------
    def prompt_folder(self) -> Path:
        """runs/<plan id>/: short, as its path is in every spawn the host writes."""
        return self.journal.folder / self.plan_id

    def _prompt(self, s: PlanTask, reask: str | None = None) -> str:
        """The prompt of an attempt of task `s`, as the scheduler builds it (tasks.task_prompt)."""
        return task_prompt(s.definition, s.task, s.fmt,
                           {d: self.tasks[d].result["output"] for d in s.task.depends_on},
                           reask=reask)

    def _spawn_args(self, s: PlanTask) -> dict:
        tier = self.ladder.tier(s.tier_index)
        number = len(s.attempts) + 1
        label = attempt_label(s.task.task_id, number, self.plan_id)
        prompt = self._prompt(s, s.reask_hint)
        model = tier.model if tier.model and tier.model not in self.unusable else None
        args = spawns.spawn_args(self._task_text(s, number, prompt), label, s.timeout, model,
                                 s.definition, s.fmt, collect=self.collect, plan_id=self.plan_id)
        s.open = {"attempt": number, "label": label, "tier": tier.name, "model": model,
                  "reask": s.reask_hint is not None}
        self.journal.write("spawn_intent", task_id=s.task.task_id, **s.open)
        self.labels[label] = s
        return spawns.spawn_entry(s, args, new=True)

    def _task_text(self, s: PlanTask, number: int, prompt: str) -> str:
        if self.prompts != "file" or s.definition.spawn_privileges():
            return prompt   # another agent's tools/sandbox may not read (or write) host files
        return spawns.write_prompt(self.prompt_folder(), s.index, number, prompt)

    def _answer_in_file(self, s: PlanTask, reply: extract.Reply) -> extract.Reply:
        """The answer the child wrote to its answer file, when it finished well and wrote one."""
        if self.prompts != "file":
            return reply
        return spawns.answer_in_file(
            spawns.answer_file(self.prompt_folder(), s.index, s.open["attempt"]), reply)

    def _relist(self, s: PlanTask) -> dict:
        """The spawn of the open attempt again, exactly as first listed (same label)."""
        if s.open.get("model") and s.open["model"] in self.unusable:   # learnt since: re-issue
            self._close_open(s)
            return self._spawn_args(s)
        args = spawns.spawn_args(self._existing_task_text(s), s.open["label"], s.timeout,
                                 s.open.get("model"), s.definition, s.fmt, collect=self.collect,
                                 plan_id=self.plan_id)
        return spawns.spawn_entry(s, args, new=False)

    def _existing_task_text(self, s: PlanTask) -> str:
        """The task text of the open attempt as first listed (its prompt file is kept as is: the
        child may have read it and written its answer already)."""
        number = s.open["attempt"]
        path = spawns.prompt_file(self.prompt_folder(), s.index, number)
        if self.prompts == "file" and path.is_file():
            return spawns.pointer(path)
        prompt = self._prompt(s, s.reask_hint if s.open.get("reask") else None)
        return self._task_text(s, number, prompt)

    def _close_open(self, s: PlanTask) -> None:
        """Drop an open spawn that never ran (refused for its model), without a ladder step."""
        self.journal.write("spawn_withdrawn", task_id=s.task.task_id, label=s.open["label"])
        s.open = None

    def next_spawns(self, *, owed: set[str] = frozenset()) -> list[dict]:
        """Every spawn the host owes: open spawns whose label is in `owed` (listed before, never
        seen on the gateway), then new spawns for ready tasks, within the window."""
        listed = [self._relist(self.tasks[tid]) for tid in self.order
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
                    listed.append(self._spawn_args(s))
                    room -= 1
        return listed

    # -- reuse (reuse.py) --------------------------------------------------------------------------
    def _reuse_store(self) -> ReuseStore | None:
        """The store completed results are kept in and, with --reuse, taken from (None: neither)."""
        if not self._store_opened:
            from parallel_agents.engine.reuse import ReuseStore
            self._store_opened = True
            settings = self.config.reuse
            if self.reuse or settings["store"]:
                self._store = ReuseStore.from_config(settings, lookup=self.reuse)
        return self._store

    def _reuse_key(self, s: PlanTask) -> str:
        """The key of the task's first attempt (the scheduler's): definition, prompt as built
        with no re-ask, format, starting tier. Raises InputError as building the prompt does."""
        from parallel_agents.engine.reuse import first_attempt_key
        prompt = self._prompt(s)
        first = s.attempts[0]["tier"] if s.attempts else None
        return first_attempt_key(s.definition, prompt, s.fmt, self.ladder, first, s.tier_index)

    def _reused(self, s: PlanTask) -> bool:
        """With --reuse, finish a task about to make its first attempt from a kept result that
        still fits its agent's schema. False: spawn it."""
        if (not self.reuse or s.attempts or s.open is not None or s.task.for_each is not None
                or s.task.task_id in self._missed):
            return False
        from parallel_agents.engine.reuse import still_valid
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

    def _keep(self, s: PlanTask) -> None:
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
                self.add_items(g, made)
                if not made:
                    self._finish(g, "completed", output=[])

    # -- checking ------------------------------------------------------------------------------
    def record(self, s: PlanTask, reply: extract.Reply, *, label: str | None = None,
               tokens: int | None = None) -> str:
        """Check one reply for task `s`; returns what happened (policy step or 'ignored: …')."""
        if s.result is not None:
            return "ignored: task already final"
        if s.open is None:
            return "ignored: no spawn of this task is waiting for a reply"
        if label and label.strip() != s.open["label"]:
            return f"ignored: reply to {label}, but {s.open['label']} is the open attempt"
        from parallel_agents.replies import validate
        reply = self._answer_in_file(s, reply)
        checked = validate.check_reply(reply, output_format=s.fmt,
                                      schema=s.definition.output_schema if s.fmt == "json" else None,
                                      registry=schema_registry,
                                      schema_checked=s.definition.schema_checked)
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

    def _attempt_done(self, s: PlanTask, outcome: str, error: str | None, *, retry_hint=None,
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

    def _finish(self, s: PlanTask, status: str, *, output=None, error=None, session_key=None,
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
