"""A resumed run in the scheduler: its state rebuilt from what the journal says (per task, as
orchestrator.restore_state reads it) before the loop starts (a mixin of Scheduler).

Finished tasks keep their results; finished attempts count in usage, cost and the run's spend;
an accepted attempt still running is re-attached (collected, never spawned again); one the
gateway no longer knows is recorded `lost` and its task spawned again on the same tier; a task
whose dependency failed is skipped; each unfinished group resumes (groups.py).
"""
from __future__ import annotations

import time

from parallel_agents.engine import taskstate
from parallel_agents.engine.taskstate import LiveAttempt, TaskState
from parallel_agents.engine.tasks import AgentResult, AgentTask, Attempt


class ResumeSteps:
    """Uses the Scheduler's states, groups, in_flight, runtime, journal, event, spent,
    push_ready, skip_for_dependency and GroupSteps."""

    def restore(self, restored: dict) -> None:
        """Apply `restored` ({task_id: what the journal says of it}, empty for a new run) and queue
        the tasks that are ready."""
        for gid in list(self.groups):   # items as their group's expansion was journaled
            expanded = (restored.get(gid) or {}).get("expanded")
            if expanded is not None:
                self.add_items(self.states[gid], [AgentTask.from_dict(t) for t in expanded])
        for tid, st in self.states.items():
            prior = restored.get(tid)
            if prior and prior.get("result"):
                st.result = AgentResult.from_dict(prior["result"])
                st.done = True
        for tid, st in self.states.items():
            prior = restored.get(tid) or {}
            if st.done or tid in self.groups:   # groups: below
                continue
            if prior:   # a task the journal knows (a new run's tasks start as they are)
                self._restore_attempts(st, [Attempt(**a) for a in prior.get("attempts", [])])
                if prior.get("tier_index") is not None:
                    st.tier_index = prior["tier_index"]
                # where the task stood on its tier: a re-ask made (and its hint), transient failures
                st.reasked, st.reask_hint = prior.get("reasked", False), prior.get("reask_hint")
                st.transient_failures = prior.get("transient_failures", 0)
            st.waiting_on = {d for d in st.task.depends_on if not self.states[d].done}
            if any(self.states[d].done and not self.states[d].result.ok for d in st.task.depends_on):
                continue  # skipped below, once every restored result is in place
            if prior.get("lost"):
                self._record_lost(st, prior["lost"])
            if prior.get("live"):
                self._reattach(st, prior["live"])
            elif not st.waiting_on:
                self.event("queued", tid, st.definition.name)
                self.push_ready(st)
        for tid, st in self.states.items():  # a dependency that already failed before a crash
            if not st.done and any(self.states[d].done and not self.states[d].result.ok
                                   for d in st.task.depends_on):
                self.skip_for_dependency(st)
        self.restore_groups()

    def _restore_attempts(self, st: TaskState, attempts: list[Attempt]) -> None:
        """Finished attempts from before a crash: they count in the task's usage and cost, and
        in what the run has spent."""
        r = st.result
        r.attempts = attempts
        r.usage = {"input_tokens": sum(a.input_tokens for a in attempts),
                   "output_tokens": sum(a.output_tokens for a in attempts)}
        r.cost_usd = round(sum(a.cost_usd for a in attempts), 8)
        self.spent += r.cost_usd

    def _record_lost(self, st: TaskState, live: dict) -> None:
        """An attempt accepted before the crash or Ctrl-C that the gateway no longer knows: it
        ends `lost` (no failure, no cost, no re-ask used) and the task is spawned again on the
        same tier (as a re-ask again if this one was one)."""
        attempt = Attempt(**live["attempt"])
        attempt.status = "lost"
        attempt.error = "the gateway no longer knows this run (resume spawns it again on the same tier)"
        st.result.attempts.append(attempt)
        self.journal.write("attempt_finished", flush=False, task_id=st.task.task_id,
                           attempt=attempt.to_record(), tier_index=st.tier_index)
        self.event("retried", st.task.task_id, st.definition.name, attempt.number, attempt.tier,
                   attempt.model, attempt.run_id, message="its run is not on the gateway: "
                   "spawning it again on the same tier")

    def _reattach(self, st: TaskState, live: dict) -> None:
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
        st.live = LiveAttempt(attempt, attempt.run_id, now, now + taskstate.backstop(int(remaining)),
                              live["accepted_at"], bool(live.get("collect")))
        self.in_flight[attempt.run_id] = st
        self.event("spawned", st.task.task_id, st.definition.name, attempt.number,
                   attempt.tier, attempt.model, attempt.run_id, message="re-attached")
