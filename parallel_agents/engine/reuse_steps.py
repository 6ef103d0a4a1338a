"""Reuse in the scheduler (run --reuse; the store and its keys are reuse.py): a task about to
make its first attempt is finished from an earlier run's completed result kept under its key,
when that result is still valid; every completed result is kept (a mixin of Scheduler)."""
from __future__ import annotations

from parallel_agents.core.errors import InputError
from parallel_agents.engine.reuse import first_attempt_key, still_valid
from parallel_agents.engine.taskstate import TaskState


class ReuseSteps:
    """Uses the Scheduler's reuse (a reuse.ReuseStore: keeps completed results; with .lookup,
    reuses them), reuse_keys, ladder, journal, prompt, gate and finish."""

    def reuse_key_of(self, st: TaskState, prompt: str | None = None) -> str:
        """The key of the task's first attempt: its prompt, format, definition and starting tier;
        computed once per task (`prompt`: the first attempt's, when the caller has built it)."""
        key = self.reuse_keys.get(st.task.task_id)
        if key is None:
            first = st.result.attempts[0].tier if st.result.attempts else None
            key = first_attempt_key(st.definition, prompt if prompt is not None else self.prompt(st),
                                    st.fmt, self.ladder, first, st.tier_index)
            self.reuse_keys[st.task.task_id] = key
        return key

    def reused(self, st: TaskState) -> bool:
        """With reuse on, finish a task about to make its first attempt with an earlier run's
        completed result, when one is kept under its key and still valid (current schema,
        quality gate). False: spawn it."""
        if self.reuse is None or not self.reuse.lookup or st.result.attempts:
            return False
        entry = self.reuse.get(self.reuse_key_of(st))
        if entry is None or not self._still_valid(st, entry["output"]):
            return False
        r = st.result
        r.reused, r.tier, r.model_used = True, entry.get("tier"), entry.get("model")
        self.journal.write("reused", flush=False, task_id=st.task.task_id,
                           from_run=entry.get("run_id"), from_task=entry.get("task_id"))
        self.finish(st, "completed", output=entry["output"],
                    note=f"reused from run {entry.get('run_id')} (task {entry.get('task_id')})")
        return True

    def _still_valid(self, st: TaskState, value) -> bool:
        return still_valid(value, st.definition, st.fmt) and self.gate(st, value) is None

    def keep_for_reuse(self, st: TaskState) -> None:
        """Keep a completed result under its task's key (nothing when the prompt cannot be
        rebuilt)."""
        r = st.result
        try:
            self.reuse.put(self.reuse_key_of(st), output=r.output, agent_type=st.definition.name,
                           output_format=st.fmt, tier=r.tier, model=r.model_used,
                           run_id=self.journal.run_id, task_id=st.task.task_id)
        except InputError:   # the prompt cannot be rebuilt (it was, to spawn): keep nothing
            pass
