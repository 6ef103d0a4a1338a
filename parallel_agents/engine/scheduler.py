"""The scheduler: runs every task to a final, explained status.

- A bounded window: never more than `max_concurrent` attempts in flight. A max-children refusal
  is back-pressure: the task goes back to the front of the queue and the window shrinks to what
  is in flight, then grows by one per completion.
- Each attempt has a deadline (the task's timeout, passed as runTimeoutSeconds; a backstop of our
  own cancels attempts the runtime never reports).
- An answer is extracted, repaired only where that cannot change its meaning, and validated
  against the agent's output_schema. Invalid -> one re-ask with the errors -> the next tier.
  Run failure, timeout, a refused model -> the next tier. Transient errors -> the same tier after
  an exponential, jittered back-off. One live attempt per task, ever.
- The journal gets a line before and after every spawn, so `resume` re-attaches accepted runs.
  Ctrl-C (KeyboardInterrupt) leaves the runs in flight running and journals them in an
  `interrupted` record; `resume` collects them, and spawns again on the same tier (as no failure)
  the ones the gateway no longer knows.
- Dependencies: a task starts when all its dependencies completed, with their outputs as fenced
  data; a failed dependency makes it `skipped`.
"""
from __future__ import annotations

import heapq
import random
import re
import time
from dataclasses import dataclass, field

from parallel_agents.engine import mapping
from parallel_agents.replies import outputs
from parallel_agents.engine import policy
from parallel_agents.engine.costs import PriceTable
from parallel_agents.definitions.model import AgentDefinition, schema_registry
from parallel_agents.core.errors import InputError, RunAborted, ToolError
from parallel_agents.engine.events import Emitter, Event
from parallel_agents.engine.journal import Journal
from parallel_agents.engine.ladder import Ladder
from parallel_agents.prompts.build import build_prompt
from parallel_agents.engine.reuse import first_attempt_key, reuse_key, still_valid
from parallel_agents.openclaw.runtime import SpawnRefused, SpawnRequest, attempt_label, collector_schema
from parallel_agents.engine.taskcheck import prepare_tasks
from parallel_agents.engine.tasks import AgentResult, AgentTask, Attempt

MAX_IDLE_REFUSALS = 20
TRANSIENT_RUN_ERRORS = re.compile(
    r"rate.?limit|429|overloaded|temporar|unavailable|503|502|504|ECONNRESET|ETIMEDOUT|"
    r"socket hang up|try again", re.I)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run: its attempts in flight go on on the gateway, and `resume` collects
    them (str() names the command). A KeyboardInterrupt, so whatever caught one still does."""

    def __init__(self, run_id: str, live: int):
        self.run_id, self.live = run_id, live
        super().__init__(f"run {run_id} interrupted with {live} attempt(s) still running on the "
                         f"gateway; finish it with `python3 ai_orchestrator.py resume {run_id}`")


@dataclass
class RetryPolicy:
    transient_attempts: int = 3
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    reask_invalid: bool = True

    def delay(self, failures: int, rng: random.Random) -> float:
        base = min(self.backoff_max_seconds, self.backoff_seconds * (2 ** max(0, failures - 1)))
        return base * (0.5 + rng.random() / 2)  # "equal jitter": never zero, never in lock-step


@dataclass
class _Live:
    attempt: Attempt
    run_id: str
    started: float      # monotonic
    deadline: float     # monotonic backstop
    accepted_at: float = 0.0   # wall clock, for the journal
    collect: bool = False      # a collector run (agents_wait reads it)


@dataclass
class _State:
    task: AgentTask
    definition: AgentDefinition
    result: AgentResult
    order: int
    tier_index: int
    fmt: str
    timeout: int
    transient_failures: int = 0
    reasked: bool = False
    reask_hint: str | None = None
    first_start: float | None = None
    live: _Live | None = None
    waiting_on: set = field(default_factory=set)
    done: bool = False
    refusals: int = 0


class Scheduler:
    def __init__(self, runtime, *, ladder: Ladder, prices: PriceTable, max_concurrent: int,
                 journal: Journal, emit: Emitter, retry: RetryPolicy, default_timeout: int = 120,
                 budget_usd: float | None = None, quality_gate=None, max_input_bytes: int = 200_000,
                 on_result=None, clock=time.monotonic, sleep=time.sleep, seed: int | None = None,
                 reuse=None):
        if max_concurrent < 1:
            raise InputError("max_concurrent must be at least 1", field="max_concurrent",
                             fix="pass a positive number")
        self.runtime = runtime
        self.ladder = ladder
        self.prices = prices
        self.max_concurrent = max_concurrent
        self.journal = journal
        self.emit = emit
        self.retry = retry
        self.default_timeout = default_timeout
        self.budget_usd = budget_usd
        self.quality_gate = quality_gate
        self.max_input_bytes = max_input_bytes
        self.on_result = on_result
        self.reuse = reuse   # a reuse.ReuseStore: keeps completed results; with .lookup, reuses them
        self._reuse_keys: dict[str, str] = {}
        self.clock = clock
        self.sleep = sleep
        self.rng = random.Random(seed)
        self.spent = 0.0
        self.peak_in_flight = 0
        self._states: dict[str, _State] = {}
        self._ready: list = []
        self._delayed: list = []
        self._in_flight: dict[str, _State] = {}
        self._dependents: dict[str, list[str]] = {}
        self._releasing: list | None = None   # the work list of _release_dependents
        self._window = max_concurrent
        self._spawn_width = getattr(runtime, "spawn_concurrency", 1) if hasattr(runtime, "spawn_many") else 1

    # -- preparation: everything that can be wrong is found before anything spawns ------------
    def prepare(self, tasks: list[AgentTask], definitions: dict[str, AgentDefinition], *,
                max_map_items: int = mapping.DEFAULT_MAX_ITEMS) -> None:
        """Check every task and make its state. A group (for_each) gets a state too, but is never
        spawned: it expands into its items when ready (_expand; see mapping.py)."""
        prepared = prepare_tasks(tasks, definitions, ladder=self.ladder,
                                 default_timeout=self.default_timeout,
                                 max_input_bytes=self.max_input_bytes, max_map_items=max_map_items)
        self.max_map_items = max_map_items
        self._groups: dict[str, list[str] | None] = {   # group id -> its item ids, once expanded
            t.task_id: None for t in tasks if t.for_each is not None}
        for order, task in enumerate(tasks):
            d, p = definitions[task.task_id], prepared[task.task_id]
            result = AgentResult(task_id=task.task_id, agent_type=d.name)
            self._states[task.task_id] = _State(task, d, result, order, p.tier_index, p.fmt,
                                                p.timeout, waiting_on=set(task.depends_on))
            for dep in task.depends_on:
                self._dependents.setdefault(dep, []).append(task.task_id)

    # -- the loop -------------------------------------------------------------------------------
    def run(self, tasks: list[AgentTask], *, restored: dict | None = None) -> list[AgentResult]:
        restored = restored or {}
        for gid in list(self._groups):   # items as their group's expansion was journaled
            expanded = (restored.get(gid) or {}).get("expanded")
            if expanded is not None:
                self._add_items(self._states[gid], [AgentTask.from_dict(t) for t in expanded])
        for tid, st in self._states.items():
            prior = restored.get(tid)
            if prior and prior.get("result"):
                self._restore_finished(st, prior["result"])
        for tid, st in self._states.items():
            prior = restored.get(tid) or {}
            if st.done or tid in self._groups:   # groups: below
                continue
            self._restore_attempts(st, [Attempt(**a) for a in prior.get("attempts", [])])
            if prior.get("tier_index") is not None:
                st.tier_index = prior["tier_index"]
            # where the task stood on its tier: a re-ask made (and its hint), transient failures
            st.reasked, st.reask_hint = prior.get("reasked", False), prior.get("reask_hint")
            st.transient_failures = prior.get("transient_failures", 0)
            st.waiting_on = {d for d in st.task.depends_on if not self._states[d].done}
            if any(self._states[d].done and not self._states[d].result.ok for d in st.task.depends_on):
                continue  # skipped below, once every restored result is in place
            if prior.get("lost"):
                self._record_lost(st, prior["lost"])
            if prior.get("live"):
                self._reattach(st, prior["live"])
            elif not st.waiting_on:
                self.emit(Event("queued", tid, st.definition.name))
                self._push_ready(st)
        for tid, st in self._states.items():  # a dependency that already failed before a crash
            if not st.done and any(self._states[d].done and not self._states[d].result.ok
                                   for d in st.task.depends_on):
                self._skip_for_dependency(st)
        self._restore_groups()
        try:
            self._loop()
        except KeyboardInterrupt as exc:
            if isinstance(exc, RunInterrupted):
                raise
            raise self._interrupted() from None
        except ToolError as exc:
            if not exc.fatal:
                raise
            self.journal.write("run_aborted", error=str(exc))
            raise RunAborted(
                f"run {self.journal.run_id} stopped: {exc.message}",
                field=exc.tool, fix=f"{exc.fix}; then finish it with "
                f"`python3 ai_orchestrator.py resume {self.journal.run_id}`") from None
        for st in self._states.values():  # only reachable through a dependency never released
            if not st.done:
                self._finish(st, "skipped", error="never became ready (internal: dependency state)")
        # in the order of the tasks given; a group's items follow it (their order is in between)
        return [st.result for st in sorted(self._states.values(), key=lambda s: s.order)]

    # -- groups (for_each, mapping.py) -----------------------------------------------------------
    def _restore_groups(self) -> None:
        """After a resume: each unfinished group waits on its items (finishing now if they all
        are), or on its dependencies, or expands now that they completed."""
        for gid, items in list(self._groups.items()):
            st = self._states[gid]
            if st.done:
                continue
            if items is not None:
                st.waiting_on = {i for i in items if not self._states[i].done}
                if not st.waiting_on:
                    self._finish_group(st)
                continue
            st.waiting_on = {d for d in st.task.depends_on if not self._states[d].done}
            if not st.waiting_on:
                self._expand(st)

    def _expand(self, st: _State) -> None:
        """A group whose dependencies completed: its items, journaled (before any of them
        spawns, so resume rebuilds the same ones) and queued; or the group fails, saying why
        there is no list (not a list, past the cap, ...)."""
        gid = st.task.task_id
        try:
            items = mapping.expand(st.task, {d: self._states[d].result.output
                                             for d in st.task.depends_on},
                                   cap=self.max_map_items, max_input_bytes=self.max_input_bytes)
        except mapping.MapError as exc:
            self._finish(st, "failed", error=str(exc))
            return
        self.journal.write("group_expanded", task_id=gid, items=[t.to_dict() for t in items])
        self.emit(Event("expanded", gid, st.definition.name, message=f"{len(items)} items"))
        self._add_items(st, items)
        if not items:
            self._finish(st, "completed", output=[])
            return
        for tid in self._groups[gid]:
            self.emit(Event("queued", tid, st.definition.name))
            self._push_ready(self._states[tid])

    def _add_items(self, group: _State, items: list[AgentTask]) -> None:
        """States for a group's item tasks: the group's agent, format, timeout and tier; their
        order between the group's and the next task's, so results list them after the group."""
        gid, count = group.task.task_id, len(items)
        for index, task in enumerate(items):
            result = AgentResult(task_id=task.task_id, agent_type=group.definition.name)
            self._states[task.task_id] = _State(task, group.definition, result,
                                                group.order + (index + 1) / (count + 1),
                                                group.tier_index, group.fmt, group.timeout)
            self._dependents.setdefault(task.task_id, []).append(gid)
        self._groups[gid] = [t.task_id for t in items]
        group.waiting_on = set(self._groups[gid])

    def _finish_group(self, st: _State) -> None:
        """Every item is final: the group completes with their outputs in order, or fails
        naming the first item that did not complete."""
        status, output, error = mapping.group_outcome(
            st.task.task_id, [self._states[i].result for i in self._groups[st.task.task_id]])
        self._finish(st, status, output=output, error=error)

    def _loop(self) -> None:
        self._window = self.max_concurrent
        while self._ready or self._delayed or self._in_flight:
            self._promote_delayed()
            self._start_ready()
            if not self._in_flight:
                if self._delayed and not self._ready:
                    self.sleep(max(0.0, self._delayed[0][0] - self.clock()))
                continue
            self._wait()
            self._enforce_deadlines()

    def _push_ready(self, st: _State) -> None:
        heapq.heappush(self._ready, (-st.task.priority, st.order, st.task.task_id))

    def _promote_delayed(self) -> None:
        now = self.clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, tid = heapq.heappop(self._delayed)
            self._push_ready(self._states[tid])

    def _start_ready(self) -> None:
        """Start ready tasks while the window has room, as many at once as the runtime sends
        (`spawn_many`). A back-pressure refusal shrinks the window to what is in flight; each
        completion grows it by one again (see _wait)."""
        while self._ready and len(self._in_flight) < self._window:
            if self.budget_usd is not None and self.spent >= self.budget_usd:
                self._skip_all_for_budget()
                return
            room = min(self._window - len(self._in_flight), self._spawn_width, len(self._ready))
            batch = [self._states[heapq.heappop(self._ready)[2]] for _ in range(room)]
            batch = [st for st in batch if not self._reused(st)]   # --reuse: no spawn for a hit
            if not batch:
                continue
            pressed = self._spawn_batch(batch)
            self.peak_in_flight = max(self.peak_in_flight, len(self._in_flight))
            if pressed:
                self._back_off(pressed)
                return

    def _spawn_batch(self, batch: list[_State]) -> list[_State]:
        """Spawn one attempt of each task; return the tasks refused for back-pressure."""
        planned = [self._plan_attempt(st) for st in batch]
        if len(planned) == 1:
            try:
                answers = [self.runtime.spawn(planned[0][1])]
            except SpawnRefused as refusal:
                answers = [refusal]
        else:
            answers = self.runtime.spawn_many([request for _, request in planned])
        pressed, fatal = [], None
        for st, (attempt, _), answer in zip(batch, planned, answers):
            if isinstance(answer, SpawnRefused) or not isinstance(answer, BaseException):
                if self._spawned(st, attempt, answer):
                    st.refusals = 0  # MAX_IDLE_REFUSALS counts refusals in a row
                else:
                    pressed.append(st)
            elif fatal is None:  # every accepted sibling is journaled before this propagates
                fatal = answer
        if fatal is not None:
            raise fatal
        return pressed

    def _back_off(self, pressed: list[_State]) -> None:
        """The runtime refused new children: wait for ours to finish, or back off when none of
        ours is running (other sessions' children fill the limit)."""
        self._window = max(1, len(self._in_flight))
        for st in pressed:
            self.emit(Event("backpressure", st.task.task_id, st.definition.name,
                            message=f"runtime refused: window now {self._window}"))
            if self._in_flight:
                self._push_ready(st)
                continue
            st.refusals += 1
            if st.refusals > MAX_IDLE_REFUSALS:
                self._finish(st, "failed", error="the runtime kept refusing new children "
                             "while none of this run's were active (max children limit)")
            else:
                heapq.heappush(self._delayed, (self.clock() + self.retry.delay(
                    min(st.refusals, 6), self.rng), st.order, st.task.task_id))

    def _wait(self) -> None:
        now = self.clock()
        horizon = min(live.deadline for live in (s.live for s in self._in_flight.values()))
        if self._delayed:
            horizon = min(horizon, self._delayed[0][0])
        timeout = max(0.0, min(horizon - now, 60.0))
        started = self.clock()
        self.journal.flush()  # everything so far is on disk while we wait
        outcomes = self.runtime.wait(list(self._in_flight), timeout)
        if not outcomes and timeout > 0.05 and self.clock() - started < 0.01:
            self.sleep(min(timeout, 0.05))  # a runtime that returns at once must not spin us
        for outcome in outcomes:
            st = self._in_flight.pop(outcome.run_id, None)
            if st is not None:
                self._attempt_done(st, outcome)
                self._window = min(self.max_concurrent, self._window + 1)
                if self._spawn_width == 1:
                    self._start_ready()  # refill the freed slot now, not after the whole batch
        # a runtime that spawns several at once refills every freed slot together (in _loop)

    def _enforce_deadlines(self) -> None:
        now = self.clock()
        for run_id, st in list(self._in_flight.items()):
            if st.live.deadline <= now:
                del self._in_flight[run_id]
                cancelled = self.runtime.cancel(run_id)
                self._close_attempt(st, "timeout", error=f"no result within {st.timeout}s"
                                    + ("" if cancelled else " (runtime could not cancel it)"))
                self.emit(Event("cancelled", st.task.task_id, st.definition.name,
                                st.live.attempt.number, run_id=run_id, message="deadline passed"))
                st.live = None
                self._escalate(st, f"timed out after {st.timeout}s", final="timeout")

    # -- one attempt ------------------------------------------------------------------------------
    def _plan_attempt(self, st: _State) -> tuple[Attempt, SpawnRequest]:
        """The next attempt of a task and its spawn request, journaled before it is sent."""
        tier = self.ladder.tier(st.tier_index)
        number = len(st.result.attempts) + 1
        attempt = Attempt(number=number, tier=tier.name, model=tier.model,
                          reask=st.reask_hint is not None)
        prompt = self._prompt(st, st.reask_hint)
        if number == 1 and self.reuse is not None and st.task.task_id not in self._reuse_keys:
            self._reuse_keys[st.task.task_id] = reuse_key(st.definition, prompt, st.fmt, tier)
        label = attempt_label(st.task.task_id, number, self.journal.run_id)
        request = SpawnRequest(task=prompt, label=label, task_name=_task_name(st.definition.name),
                               model=tier.model, run_timeout_seconds=st.timeout,
                               output_schema=collector_schema(st.definition.output_schema, st.fmt),
                               agent_id=st.definition.agent_id, sandbox=st.definition.sandbox)
        self.journal.write("spawn_intent", task_id=st.task.task_id, attempt=number, label=label,
                           tier=tier.name, model=tier.model)
        return attempt, request

    def _prompt(self, st: _State, reask: str | None = None) -> str:
        """The task text of an attempt: the task, its input, its upstream outputs, the contract."""
        input_data, context = st.task.inputs(
            {d: self._states[d].result.output for d in st.task.depends_on})
        return build_prompt(st.definition, st.task.task_description, input_data,
                            output_format=st.fmt, context=context, reask=reask)

    # -- reuse (reuse.py) -------------------------------------------------------------------------
    def _reuse_key(self, st: _State) -> str:
        """The key of the task's first attempt: its prompt, format, definition and starting tier."""
        key = self._reuse_keys.get(st.task.task_id)
        if key is None:
            first = st.result.attempts[0].tier if st.result.attempts else None
            key = first_attempt_key(st.definition, self._prompt(st), st.fmt, self.ladder, first,
                                    st.tier_index)
            self._reuse_keys[st.task.task_id] = key
        return key

    def _reused(self, st: _State) -> bool:
        """With reuse on, finish a task about to make its first attempt with an earlier run's
        completed result, when one is kept under its key and still valid (current schema,
        quality gate). False: spawn it."""
        if self.reuse is None or not self.reuse.lookup or st.result.attempts:
            return False
        entry = self.reuse.get(self._reuse_key(st))
        if entry is None or not self._still_valid(st, entry["output"]):
            return False
        r = st.result
        r.reused, r.tier, r.model_used = True, entry.get("tier"), entry.get("model")
        self.journal.write("reused", flush=False, task_id=st.task.task_id,
                           from_run=entry.get("run_id"), from_task=entry.get("task_id"))
        self._finish(st, "completed", output=entry["output"],
                     note=f"reused from run {entry.get('run_id')} (task {entry.get('task_id')})")
        return True

    def _still_valid(self, st: _State, value) -> bool:
        return still_valid(value, st.definition, st.fmt) and self._gate(st, value) is None

    def _keep_for_reuse(self, st: _State) -> None:
        r = st.result
        try:
            self.reuse.put(self._reuse_key(st), output=r.output, agent_type=st.definition.name,
                           output_format=st.fmt, tier=r.tier, model=r.model_used,
                           run_id=self.journal.run_id, task_id=st.task.task_id)
        except InputError:   # the prompt cannot be rebuilt (it was, to spawn): keep nothing
            pass

    def _spawned(self, st: _State, attempt: Attempt, answer) -> bool:
        """Record the runtime's answer to a spawn (a Receipt or a SpawnRefused). False when it
        was a back-pressure refusal: the task has not started and goes back to the queue."""
        if isinstance(answer, SpawnRefused):
            self.journal.write("spawn_refused", task_id=st.task.task_id, attempt=attempt.number,
                               kind=answer.kind, error=str(answer))
            if answer.kind == "backpressure":
                return False
            attempt.status, attempt.error = "refused", str(answer)
            st.result.attempts.append(attempt)
            self.journal.write("attempt_finished", task_id=st.task.task_id,
                               attempt=attempt.to_record(), tier_index=st.tier_index)
            if answer.kind == "transient":
                self._retry_same_tier(st, str(answer))
            else:
                self._escalate(st, f"spawn refused: {answer}")
            return True
        now = self.clock()
        st.first_start = st.first_start or now
        attempt.status, attempt.run_id = "accepted", answer.run_id
        attempt.session_key = answer.session_key
        attempt.model = answer.resolved_model or attempt.model
        st.result.attempts.append(attempt)
        st.result.status = "running"
        st.live = _Live(attempt, answer.run_id, now, now + _backstop(st.timeout), time.time(),
                        bool(getattr(answer, "collect", False)))
        self._in_flight[answer.run_id] = st
        self.journal.write("spawn_accepted", flush=False, task_id=st.task.task_id,
                           attempt=attempt.to_record(), tier_index=st.tier_index,
                           timeout=st.timeout, collect=bool(getattr(answer, "collect", False)))
        self.emit(Event("spawned", st.task.task_id, st.definition.name, attempt.number, attempt.tier,
                        attempt.model, answer.run_id))
        return True

    def _close_attempt(self, st: _State, status: str, *, error: str | None = None,
                       usage: dict | None = None, model: str | None = None) -> Attempt:
        attempt = st.live.attempt
        attempt.status, attempt.error = status, error
        attempt.duration = round(self.clock() - st.live.started, 3)
        if model:
            attempt.model = model
        usage = usage or {}
        attempt.input_tokens = int(usage.get("input_tokens") or 0)
        attempt.output_tokens = int(usage.get("output_tokens") or 0)
        attempt.cost_usd = self.prices.cost(attempt.model, attempt.input_tokens, attempt.output_tokens)
        self.spent += attempt.cost_usd
        r = st.result
        r.usage = {"input_tokens": r.usage["input_tokens"] + attempt.input_tokens,
                   "output_tokens": r.usage["output_tokens"] + attempt.output_tokens}
        r.cost_usd = round(r.cost_usd + attempt.cost_usd, 8)
        r.session_key = attempt.session_key
        self.journal.write("attempt_finished", flush=False, task_id=st.task.task_id,
                           attempt=attempt.to_record(),
                           tier_index=st.tier_index)
        return attempt

    def _attempt_done(self, st: _State, outcome) -> None:
        tid, name = st.task.task_id, st.definition.name
        if outcome.status == "ok":
            reply = outputs.Reply(text=outcome.text, structured=outcome.structured,
                                  truncated=outcome.truncated, source="runtime")
            checked = outputs.check_reply(
                reply, output_format=st.fmt, schema=st.definition.output_schema if st.fmt == "json" else None,
                registry=schema_registry())
            rejection = None if not checked.ok else self._gate(st, checked.value)
            if checked.ok and rejection is None:
                self._close_attempt(st, "ok", usage=outcome.usage, model=outcome.model)
                st.live = None
                self._finish(st, "completed", output=checked.value)
                return
            problems = checked.problems if not checked.ok else [rejection]
            attempt = self._close_attempt(st, "invalid", error="; ".join(problems[:3]),
                                          usage=outcome.usage, model=outcome.model)
            st.live = None
            step = policy.next_step("invalid" if not checked.ok else "rejected",
                                    reasked_on_tier=st.reasked,
                                    reask_enabled=self.retry.reask_invalid,
                                    has_next_tier=self.ladder.has_next(st.tier_index))
            if step == policy.REASK:
                st.reasked, st.reask_hint = True, checked.retry_hint
                self.journal.write("reask_planned", flush=False, task_id=tid, hint=st.reask_hint)
                self.emit(Event("reasked", tid, name, attempt.number, attempt.tier, attempt.model,
                                message=attempt.error))
                self._push_ready(st)
            else:
                self._escalate(st, f"invalid output: {attempt.error}")
            return
        error = outcome.error or outcome.status
        self._close_attempt(st, outcome.status if outcome.status in ("timeout", "cancelled") else "error",
                            error=error, usage=outcome.usage, model=outcome.model)
        st.live = None
        if outcome.status == "timeout":
            self.emit(Event("timeout", tid, name, message=error))
            self._escalate(st, f"timed out after {st.timeout}s", final="timeout")
        elif outcome.status == "error" and TRANSIENT_RUN_ERRORS.search(error or ""):
            self._retry_same_tier(st, error)
        else:
            self._escalate(st, f"run {outcome.status}: {error}")

    def _gate(self, st: _State, value) -> str | None:
        if self.quality_gate is None:
            return None
        verdict = self.quality_gate(st.task, value)
        if verdict is True or verdict is None:
            return None
        return verdict if isinstance(verdict, str) else "rejected by the quality gate"

    def _retry_same_tier(self, st: _State, error: str) -> None:
        st.transient_failures += 1
        if st.transient_failures >= self.retry.transient_attempts:
            self._escalate(st, f"failed {st.transient_failures} times: {error}")
            return
        delay = self.retry.delay(st.transient_failures, self.rng)
        self.journal.write("retry_planned", flush=False, task_id=st.task.task_id,
                           transient_failures=st.transient_failures)
        self.emit(Event("retried", st.task.task_id, st.definition.name,
                        message=f"{error} (again in {delay:.1f}s)"))
        heapq.heappush(self._delayed, (self.clock() + delay, st.order, st.task.task_id))

    def _escalate(self, st: _State, reason: str, *, final: str = "failed") -> None:
        if self.ladder.has_next(st.tier_index):
            st.tier_index += 1
            st.transient_failures, st.reasked, st.reask_hint = 0, False, None
            tier = self.ladder.tier(st.tier_index)
            self.journal.write("escalated", flush=False, task_id=st.task.task_id,
                               tier_index=st.tier_index)
            self.emit(Event("escalated", st.task.task_id, st.definition.name, tier=tier.name,
                            model=tier.model, message=reason))
            self._push_ready(st)
        else:
            self._finish(st, final, error=reason)

    # -- final states ---------------------------------------------------------------------------
    def _finish(self, st: _State, status: str, *, output=None, error: str | None = None,
                note: str = "") -> None:
        r = st.result
        r.status, r.output, r.error = status, output, error
        last = next((a for a in reversed(r.attempts) if a.status not in ("refused", "lost")), None)
        if last:
            r.model_used, r.tier = last.model, last.tier
        r.execution_time = round(sum(a.duration for a in r.attempts), 3)
        st.done = True
        self.journal.write("task_finished", flush=False, task_id=st.task.task_id, result=r.to_record())
        if (status == "completed" and self.reuse is not None and self.reuse.keep and not r.reused
                and st.task.for_each is None):   # a group's list is its items' work, not a reply
            self._keep_for_reuse(st)
        kind = {"completed": "completed", "timeout": "timeout", "skipped": "skipped"}.get(status, "failed")
        self.emit(Event(kind, st.task.task_id, st.definition.name, len(r.attempts), r.tier,
                        r.model_used, message=error or note))
        if self.on_result:
            self.on_result(r)
        self._release_dependents(st)

    def _release_dependents(self, st: _State) -> None:
        """Queue the dependents `st` was the last wait of, or skip them when it did not complete -
        and theirs in turn, from a work list: a chain of thousands of tasks must not recurse."""
        if self._releasing is not None:     # inside the loop below: just add to its work list
            self._releasing.append(st)
            return
        self._releasing = [st]
        try:
            while self._releasing:
                done = self._releasing.pop()
                for tid in self._dependents.get(done.task.task_id, []):
                    dep = self._states[tid]
                    if dep.done:
                        continue
                    if self._groups.get(tid) is not None:  # an item of this group: all must end
                        dep.waiting_on.discard(done.task.task_id)
                        if not dep.waiting_on:
                            self._finish_group(dep)        # its _finish appends it
                        continue
                    if not done.result.ok:
                        self._skip_for_dependency(dep)     # its _finish appends it
                        continue
                    dep.waiting_on.discard(done.task.task_id)
                    if not dep.waiting_on and tid in self._groups:
                        self._expand(dep)                  # queues its items (or finishes it)
                    elif not dep.waiting_on:
                        self.emit(Event("queued", tid, dep.definition.name))
                        self._push_ready(dep)
        finally:
            self._releasing = None

    def _skip_for_dependency(self, st: _State) -> None:
        failed = [d for d in st.task.depends_on
                  if self._states[d].done and not self._states[d].result.ok]
        self._finish(st, "skipped", error=f"dependency {failed[0]} {self._states[failed[0]].result.status}")

    def _skip_all_for_budget(self) -> None:
        """Nothing new starts once the budget is spent; attempts in flight finish."""
        reason = f"budget: the run's budget of ${self.budget_usd:.4f} is spent"
        self._ready.clear()
        self._delayed.clear()
        for st in sorted(self._states.values(), key=lambda s: s.order):
            if not st.done and st.live is None:
                self._finish(st, "skipped", error=reason)

    # -- resume -----------------------------------------------------------------------------------
    def _restore_finished(self, st: _State, result: dict) -> None:
        st.result = AgentResult.from_dict(result)
        st.done = True

    def _restore_attempts(self, st: _State, attempts: list[Attempt]) -> None:
        """Finished attempts from before a crash: they count in the task's usage and cost, and
        in what the run has spent."""
        r = st.result
        r.attempts = attempts
        r.usage = {"input_tokens": sum(a.input_tokens for a in attempts),
                   "output_tokens": sum(a.output_tokens for a in attempts)}
        r.cost_usd = round(sum(a.cost_usd for a in attempts), 8)
        self.spent += r.cost_usd

    def _interrupted(self) -> RunInterrupted:
        """Ctrl-C: the attempts in flight stay running on the gateway (the user stopped this
        process, not the work). Journal them, with everything before, for `resume`."""
        live = [{"task_id": st.task.task_id, "attempt": st.live.attempt.to_record(),
                 "tier_index": st.tier_index, "timeout": st.timeout,
                 "accepted_at": round(st.live.accepted_at, 3), "collect": st.live.collect}
                for st in self._in_flight.values() if st.live is not None]
        try:
            self.journal.write("interrupted", live=live)
        except Exception:  # a full disk must not hide the interrupt; the journal has the rest
            pass
        return RunInterrupted(self.journal.run_id, len(live))

    def _record_lost(self, st: _State, live: dict) -> None:
        """An attempt accepted before the crash or Ctrl-C that the gateway no longer knows: it
        ends `lost` (no failure, no cost, no re-ask used) and the task is spawned again on the
        same tier (as a re-ask again if this one was one)."""
        attempt = Attempt(**live["attempt"])
        attempt.status = "lost"
        attempt.error = "the gateway no longer knows this run (resume spawns it again on the same tier)"
        st.result.attempts.append(attempt)
        self.journal.write("attempt_finished", flush=False, task_id=st.task.task_id,
                           attempt=attempt.to_record(), tier_index=st.tier_index)
        self.emit(Event("retried", st.task.task_id, st.definition.name, attempt.number, attempt.tier,
                        attempt.model, attempt.run_id, message="its run is not on the gateway: "
                        "spawning it again on the same tier"))

    def _reattach(self, st: _State, live: dict) -> None:
        attempt = Attempt(**live["attempt"])
        if hasattr(self.runtime, "adopt"):   # a collector stays one (agents_wait, with usage)
            self.runtime.adopt(attempt.run_id, collect=bool(live.get("collect")),
                               session_key=attempt.session_key, run_timeout_s=live["timeout"],
                               accepted_at=live.get("accepted_at"))
        st.result.attempts.append(attempt)
        st.result.status = "running"
        remaining = max(1.0, live["timeout"] - (time.time() - live["accepted_at"]))
        now = self.clock()
        st.first_start = now
        st.live = _Live(attempt, attempt.run_id, now, now + _backstop(int(remaining)),
                        live["accepted_at"], bool(live.get("collect")))
        self._in_flight[attempt.run_id] = st
        self.emit(Event("spawned", st.task.task_id, st.definition.name, attempt.number,
                        attempt.tier, attempt.model, attempt.run_id, message="re-attached"))


def _backstop(timeout: int) -> float:
    """Our own deadline for an attempt: the runtime enforces runTimeoutSeconds from the moment
    the run starts, but a run may queue on the gateway's lane first; allow for that."""
    return timeout * 2 + 30


def _task_name(agent_name: str) -> str:
    """OpenClaw's taskName must match [a-z][a-z0-9_-]{0,63}; agent names already do."""
    return agent_name[:64]
