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
import time
from dataclasses import dataclass

from parallel_agents.core.errors import InputError, RunAborted, ToolError
from parallel_agents.definitions.model import AgentDefinition
from parallel_agents.engine import mapping
from parallel_agents.engine.attempt import AttemptSteps
from parallel_agents.engine.costs import PriceTable
from parallel_agents.engine.events import Emitter, Event
from parallel_agents.engine.groups import GroupSteps
from parallel_agents.engine.journal import Journal
from parallel_agents.engine.ladder import Ladder
from parallel_agents.engine.resumed import ResumeSteps
from parallel_agents.engine.reuse_steps import ReuseSteps
from parallel_agents.engine.taskcheck import prepare_tasks
from parallel_agents.engine.taskstate import TaskState
from parallel_agents.engine.tasks import AgentResult, AgentTask
from parallel_agents.openclaw.spawn import SpawnRefused

MAX_IDLE_REFUSALS = 20


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


class Scheduler(AttemptSteps, GroupSteps, ResumeSteps, ReuseSteps):
    """The loop and its window, dependencies and final states. One attempt's steps are
    attempt.py's, for_each groups groups.py's, a resumed run's state resumed.py's, --reuse's
    reuse_steps.py's."""

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
        self.reuse_keys: dict[str, str] = {}
        self.clock = clock
        self.sleep = sleep
        self.rng = random.Random(seed)
        self.spent = 0.0
        self.peak_in_flight = 0
        self.states: dict[str, TaskState] = {}
        self.ready: list = []
        self.delayed: list = []
        self.in_flight: dict[str, TaskState] = {}
        self.dependents: dict[str, list[str]] = {}
        self._releasing: list | None = None   # the work list of _release_dependents
        self._window = max_concurrent
        self._spawn_width = getattr(runtime, "spawn_concurrency", 1) if hasattr(runtime, "spawn_many") else 1

    # -- preparation: everything that can be wrong is found before anything spawns ------------
    def prepare(self, tasks: list[AgentTask], definitions: dict[str, AgentDefinition], *,
                max_map_items: int = mapping.DEFAULT_MAX_ITEMS) -> None:
        """Check every task and make its state. A group (for_each) gets a state too, but is never
        spawned: it expands into its items when ready (groups.py, mapping.py)."""
        prepared = prepare_tasks(tasks, definitions, ladder=self.ladder,
                                 default_timeout=self.default_timeout,
                                 max_input_bytes=self.max_input_bytes, max_map_items=max_map_items)
        self.max_map_items = max_map_items
        self.groups: dict[str, list[str] | None] = {   # group id -> its item ids, once expanded
            t.task_id: None for t in tasks if t.for_each is not None}
        for order, task in enumerate(tasks):
            d, p = definitions[task.task_id], prepared[task.task_id]
            result = AgentResult(task_id=task.task_id, agent_type=d.name)
            self.states[task.task_id] = TaskState(task, d, result, order, p.tier_index, p.fmt,
                                                  p.timeout, waiting_on=set(task.depends_on),
                                                  prompt=p.prompt)
            for dep in task.depends_on:
                self.dependents.setdefault(dep, []).append(task.task_id)

    # -- the loop -------------------------------------------------------------------------------
    def run(self, tasks: list[AgentTask], *, restored: dict | None = None) -> list[AgentResult]:
        self.restore(restored or {})
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
        for st in self.states.values():  # only reachable through a dependency never released
            if not st.done:
                self.finish(st, "skipped", error="never became ready (internal: dependency state)")
        # in the order of the tasks given; a group's items follow it (their order is in between)
        return [st.result for st in sorted(self.states.values(), key=lambda s: s.order)]

    def _loop(self) -> None:
        self._window = self.max_concurrent
        while self.ready or self.delayed or self.in_flight:
            self._promote_delayed()
            self._start_ready()
            if not self.in_flight:
                if self.delayed and not self.ready:
                    self.sleep(max(0.0, self.delayed[0][0] - self.clock()))
                continue
            self._wait()
            self._enforce_deadlines()

    def event(self, *args, **kwargs) -> None:
        """Emit Event(*args, **kwargs): made only when it reaches someone (Emitter.wanted)."""
        if getattr(self.emit, "wanted", True):
            self.emit(Event(*args, **kwargs))

    def push_ready(self, st: TaskState) -> None:
        heapq.heappush(self.ready, (-st.task.priority, st.order, st.task.task_id))

    def _promote_delayed(self) -> None:
        now = self.clock()
        while self.delayed and self.delayed[0][0] <= now:
            _, _, tid = heapq.heappop(self.delayed)
            self.push_ready(self.states[tid])

    def _start_ready(self) -> None:
        """Start ready tasks while the window has room, as many at once as the runtime sends
        (`spawn_many`). A back-pressure refusal shrinks the window to what is in flight; each
        completion grows it by one again (see _wait)."""
        while self.ready and len(self.in_flight) < self._window:
            if self.budget_usd is not None and self.spent >= self.budget_usd:
                self._skip_all_for_budget()
                return
            room = min(self._window - len(self.in_flight), self._spawn_width, len(self.ready))
            batch = [self.states[heapq.heappop(self.ready)[2]] for _ in range(room)]
            batch = [st for st in batch if not self.reused(st)]   # --reuse: no spawn for a hit
            if not batch:
                continue
            pressed = self._spawn_batch(batch)
            self.peak_in_flight = max(self.peak_in_flight, len(self.in_flight))
            if pressed:
                self._back_off(pressed)
                return

    def _spawn_batch(self, batch: list[TaskState]) -> list[TaskState]:
        """Spawn one attempt of each task; return the tasks refused for back-pressure."""
        planned = [self.plan_attempt(st) for st in batch]
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
                if self.spawned(st, attempt, answer):
                    st.refusals = 0  # MAX_IDLE_REFUSALS counts refusals in a row
                else:
                    pressed.append(st)
            elif fatal is None:  # every accepted sibling is journaled before this propagates
                fatal = answer
        if fatal is not None:
            raise fatal
        return pressed

    def _back_off(self, pressed: list[TaskState]) -> None:
        """The runtime refused new children: wait for ours to finish, or back off when none of
        ours is running (other sessions' children fill the limit)."""
        self._window = max(1, len(self.in_flight))
        for st in pressed:
            self.event("backpressure", st.task.task_id, st.definition.name,
                       message=f"runtime refused: window now {self._window}")
            if self.in_flight:
                self.push_ready(st)
                continue
            st.refusals += 1
            if st.refusals > MAX_IDLE_REFUSALS:
                self.finish(st, "failed", error="the runtime kept refusing new children "
                            "while none of this run's were active (max children limit)")
            else:
                heapq.heappush(self.delayed, (self.clock() + self.retry.delay(
                    min(st.refusals, 6), self.rng), st.order, st.task.task_id))

    def _wait(self) -> None:
        now = self.clock()
        horizon = min(live.deadline for live in (s.live for s in self.in_flight.values()))
        if self.delayed:
            horizon = min(horizon, self.delayed[0][0])
        timeout = max(0.0, min(horizon - now, 60.0))
        started = self.clock()
        self.journal.flush()  # everything so far is on disk while we wait
        outcomes = self.runtime.wait(list(self.in_flight), timeout)
        if not outcomes and timeout > 0.05 and self.clock() - started < 0.01:
            self.sleep(min(timeout, 0.05))  # a runtime that returns at once must not spin us
        for outcome in outcomes:
            st = self.in_flight.pop(outcome.run_id, None)
            if st is not None:
                self.attempt_done(st, outcome)
                self._window = min(self.max_concurrent, self._window + 1)
                if self._spawn_width == 1:
                    self._start_ready()  # refill the freed slot now, not after the whole batch
        # a runtime that spawns several at once refills every freed slot together (in _loop)

    def _enforce_deadlines(self) -> None:
        now = self.clock()
        for run_id, st in list(self.in_flight.items()):
            if st.live.deadline <= now:
                del self.in_flight[run_id]
                cancelled = self.runtime.cancel(run_id)
                self.close_attempt(st, "timeout", error=f"no result within {st.timeout}s"
                                   + ("" if cancelled else " (runtime could not cancel it)"))
                self.event("cancelled", st.task.task_id, st.definition.name,
                           st.live.attempt.number, run_id=run_id, message="deadline passed")
                st.live = None
                self.escalate(st, f"timed out after {st.timeout}s", final="timeout")

    # -- final states ---------------------------------------------------------------------------
    def finish(self, st: TaskState, status: str, *, output=None, error: str | None = None,
               note: str = "") -> None:
        """The task's final status: journaled, kept for reuse, announced, and its dependents
        released."""
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
            self.keep_for_reuse(st)
        kind = {"completed": "completed", "timeout": "timeout", "skipped": "skipped"}.get(status, "failed")
        self.event(kind, st.task.task_id, st.definition.name, len(r.attempts), r.tier,
                   r.model_used, message=error or note)
        if self.on_result:
            self.on_result(r)
        self._release_dependents(st)

    def _release_dependents(self, st: TaskState) -> None:
        """Queue the dependents `st` was the last wait of, or skip them when it did not complete -
        and theirs in turn, from a work list: a chain of thousands of tasks must not recurse."""
        if self._releasing is not None:     # inside the loop below: just add to its work list
            self._releasing.append(st)
            return
        self._releasing = [st]
        try:
            while self._releasing:
                done = self._releasing.pop()
                for tid in self.dependents.get(done.task.task_id, []):
                    dep = self.states[tid]
                    if dep.done:
                        continue
                    if self.groups.get(tid) is not None:  # an item of this group: all must end
                        dep.waiting_on.discard(done.task.task_id)
                        if not dep.waiting_on:
                            self.finish_group(dep)        # its finish appends it
                        continue
                    if not done.result.ok:
                        self.skip_for_dependency(dep)     # its finish appends it
                        continue
                    dep.waiting_on.discard(done.task.task_id)
                    if not dep.waiting_on and tid in self.groups:
                        self.expand(dep)                  # queues its items (or finishes it)
                    elif not dep.waiting_on:
                        self.event("queued", tid, dep.definition.name)
                        self.push_ready(dep)
        finally:
            self._releasing = None

    def skip_for_dependency(self, st: TaskState) -> None:
        failed = [d for d in st.task.depends_on
                  if self.states[d].done and not self.states[d].result.ok]
        self.finish(st, "skipped", error=f"dependency {failed[0]} {self.states[failed[0]].result.status}")

    def _skip_all_for_budget(self) -> None:
        """Nothing new starts once the budget is spent; attempts in flight finish."""
        reason = f"budget: the run's budget of ${self.budget_usd:.4f} is spent"
        self.ready.clear()
        self.delayed.clear()
        for st in sorted(self.states.values(), key=lambda s: s.order):
            if not st.done and st.live is None:
                self.finish(st, "skipped", error=reason)

    def _interrupted(self) -> RunInterrupted:
        """Ctrl-C: the attempts in flight stay running on the gateway (the user stopped this
        process, not the work). Journal them, with everything before, for `resume`."""
        live = [{"task_id": st.task.task_id, "attempt": st.live.attempt.to_record(),
                 "tier_index": st.tier_index, "timeout": st.timeout,
                 "accepted_at": round(st.live.accepted_at, 3), "collect": st.live.collect}
                for st in self.in_flight.values() if st.live is not None]
        try:
            self.journal.write("interrupted", live=live)
        except Exception:  # a full disk must not hide the interrupt; the journal has the rest
            pass
        return RunInterrupted(self.journal.run_id, len(live))

