"""One attempt of a task, from plan to outcome (the scheduler's steps; a mixin of Scheduler).

- plan: the prompt (with upstream outputs and a re-ask's hint) and the spawn request, its
  `spawn_intent` journaled before it is sent;
- spawned: the runtime's receipt (live, with our backstop deadline) or its refusal;
- close: duration, usage and cost into the task's result and the run's spend;
- outcome: the reply extracted and validated against the agent's output_schema (and the
  quality gate); then complete, re-ask once per tier, retry the same tier after a transient
  error (back-off), or escalate to the next tier (policy.py).
"""
from __future__ import annotations

import heapq
import re
import time

from parallel_agents.definitions.model import schema_registry
from parallel_agents.engine import policy, taskstate
from parallel_agents.engine.taskstate import LiveAttempt, TaskState
from parallel_agents.engine.tasks import Attempt, task_prompt
from parallel_agents.openclaw.collectors import collector_schema
from parallel_agents.openclaw.spawn import SpawnRefused, SpawnRequest, attempt_label
from parallel_agents.replies import extract, validate

TRANSIENT_RUN_ERRORS = re.compile(
    r"rate.?limit|429|overloaded|temporar|unavailable|503|502|504|ECONNRESET|ETIMEDOUT|"
    r"socket hang up|try again", re.I)


class AttemptSteps:
    """The steps of one attempt. Uses the Scheduler's states, journal, event, ladder, prices,
    retry, runtime, quality_gate, reuse and its queue (push_ready, delayed, finish)."""

    def plan_attempt(self, st: TaskState) -> tuple[Attempt, SpawnRequest]:
        """The next attempt of a task and its spawn request, journaled before it is sent."""
        tier = self.ladder.tier(st.tier_index)
        number = len(st.result.attempts) + 1
        attempt = Attempt(number=number, tier=tier.name, model=tier.model,
                          reask=st.reask_hint is not None)
        prompt = self.prompt(st, st.reask_hint)
        if number == 1 and self.reuse is not None:   # kept under it when it completes
            self.reuse_key_of(st, prompt)
        label = attempt_label(st.task.task_id, number, self.journal.run_id)
        request = SpawnRequest(task=prompt, label=label, task_name=_task_name(st.definition.name),
                               model=tier.model, run_timeout_seconds=st.timeout,
                               output_schema=collector_schema(st.definition.output_schema, st.fmt),
                               agent_id=st.definition.agent_id, sandbox=st.definition.sandbox)
        self.journal.write("spawn_intent", task_id=st.task.task_id, attempt=number, label=label,
                           tier=tier.name, model=tier.model)
        return attempt, request

    def prompt(self, st: TaskState, reask: str | None = None) -> str:
        """The task text of an attempt: the task, its input, its upstream outputs, the contract."""
        if reask is None and st.prompt is not None:
            return st.prompt
        return task_prompt(st.definition, st.task, st.fmt,
                           {d: self.states[d].result.output for d in st.task.depends_on},
                           reask=reask)

    def spawned(self, st: TaskState, attempt: Attempt, answer) -> bool:
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
                self.escalate(st, f"spawn refused: {answer}")
            return True
        now = self.clock()
        st.first_start = st.first_start or now
        attempt.status, attempt.run_id = "accepted", answer.run_id
        attempt.session_key = answer.session_key
        attempt.model = answer.resolved_model or attempt.model
        st.result.attempts.append(attempt)
        st.result.status = "running"
        collect = bool(getattr(answer, "collect", False))
        st.live = LiveAttempt(attempt, answer.run_id, now, now + taskstate.backstop(st.timeout),
                              time.time(), collect)
        self.in_flight[answer.run_id] = st
        self.journal.write("spawn_accepted", flush=False, task_id=st.task.task_id,
                           attempt=attempt.to_record(), tier_index=st.tier_index,
                           timeout=st.timeout, collect=collect)
        self.event("spawned", st.task.task_id, st.definition.name, attempt.number, attempt.tier,
                   attempt.model, answer.run_id)
        return True

    def close_attempt(self, st: TaskState, status: str, *, error: str | None = None,
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

    def attempt_done(self, st: TaskState, outcome) -> None:
        tid, name = st.task.task_id, st.definition.name
        if outcome.status == "ok":
            reply = extract.Reply(text=outcome.text, structured=outcome.structured,
                                  truncated=outcome.truncated, source="runtime")
            checked = validate.check_reply(
                reply, output_format=st.fmt, schema=st.definition.output_schema if st.fmt == "json" else None,
                registry=schema_registry, schema_checked=st.definition.schema_checked)
            rejection = None if not checked.ok else self.gate(st, checked.value)
            if checked.ok and rejection is None:
                self.close_attempt(st, "ok", usage=outcome.usage, model=outcome.model)
                st.live = None
                self.finish(st, "completed", output=checked.value)
                return
            problems = checked.problems if not checked.ok else [rejection]
            attempt = self.close_attempt(st, "invalid", error="; ".join(problems[:3]),
                                         usage=outcome.usage, model=outcome.model)
            st.live = None
            step = policy.next_step("invalid" if not checked.ok else "rejected",
                                    reasked_on_tier=st.reasked,
                                    reask_enabled=self.retry.reask_invalid,
                                    has_next_tier=self.ladder.has_next(st.tier_index))
            if step == policy.REASK:
                st.reasked, st.reask_hint = True, checked.retry_hint
                self.journal.write("reask_planned", flush=False, task_id=tid, hint=st.reask_hint)
                self.event("reasked", tid, name, attempt.number, attempt.tier, attempt.model,
                           message=attempt.error)
                self.push_ready(st)
            else:
                self.escalate(st, f"invalid output: {attempt.error}")
            return
        error = outcome.error or outcome.status
        self.close_attempt(st, outcome.status if outcome.status in ("timeout", "cancelled") else "error",
                           error=error, usage=outcome.usage, model=outcome.model)
        st.live = None
        if outcome.status == "timeout":
            self.event("timeout", tid, name, message=error)
            self.escalate(st, f"timed out after {st.timeout}s", final="timeout")
        elif outcome.status == "error" and TRANSIENT_RUN_ERRORS.search(error or ""):
            self._retry_same_tier(st, error)
        else:
            self.escalate(st, f"run {outcome.status}: {error}")

    def gate(self, st: TaskState, value) -> str | None:
        """None when the quality gate (if any) accepts the value, else why it rejects it."""
        if self.quality_gate is None:
            return None
        verdict = self.quality_gate(st.task, value)
        if verdict is True or verdict is None:
            return None
        return verdict if isinstance(verdict, str) else "rejected by the quality gate"

    def _retry_same_tier(self, st: TaskState, error: str) -> None:
        st.transient_failures += 1
        if st.transient_failures >= self.retry.transient_attempts:
            self.escalate(st, f"failed {st.transient_failures} times: {error}")
            return
        delay = self.retry.delay(st.transient_failures, self.rng)
        self.journal.write("retry_planned", flush=False, task_id=st.task.task_id,
                           transient_failures=st.transient_failures)
        self.event("retried", st.task.task_id, st.definition.name,
                   message=f"{error} (again in {delay:.1f}s)")
        heapq.heappush(self.delayed, (self.clock() + delay, st.order, st.task.task_id))

    def escalate(self, st: TaskState, reason: str, *, final: str = "failed") -> None:
        """The next tier (its re-ask and transient failures start over), or past the strongest
        tier the task ends `final`."""
        if self.ladder.has_next(st.tier_index):
            st.tier_index += 1
            st.transient_failures, st.reasked, st.reask_hint = 0, False, None
            tier = self.ladder.tier(st.tier_index)
            self.journal.write("escalated", flush=False, task_id=st.task.task_id,
                               tier_index=st.tier_index)
            self.event("escalated", st.task.task_id, st.definition.name, tier=tier.name,
                       model=tier.model, message=reason)
            self.push_ready(st)
        else:
            self.finish(st, final, error=reason)


def _task_name(agent_name: str) -> str:
    """OpenClaw's taskName must match [a-z][a-z0-9_-]{0,63}; agent names already do."""
    return agent_name[:64]
