"""Groups (for_each) in the scheduler: a group task is never spawned; once its dependencies
completed it expands into one item task per list item (mapping.py), journaled before any item
spawns, and completes with its items' outputs in order when they are all final (a mixin of
Scheduler)."""
from __future__ import annotations

from parallel_agents.engine import mapping
from parallel_agents.engine.taskstate import TaskState
from parallel_agents.engine.tasks import AgentResult, AgentTask


class GroupSteps:
    """Uses the Scheduler's states, groups ({group id: its item ids, once expanded}),
    dependents, journal, event, push_ready and finish."""

    def restore_groups(self) -> None:
        """After a resume: each unfinished group waits on its items (finishing now if they all
        are), or on its dependencies, or expands now that they completed."""
        for gid, items in list(self.groups.items()):
            st = self.states[gid]
            if st.done:
                continue
            if items is not None:
                st.waiting_on = {i for i in items if not self.states[i].done}
                if not st.waiting_on:
                    self.finish_group(st)
                continue
            st.waiting_on = {d for d in st.task.depends_on if not self.states[d].done}
            if not st.waiting_on:
                self.expand(st)

    def expand(self, st: TaskState) -> None:
        """A group whose dependencies completed: its items, journaled (before any of them
        spawns, so resume rebuilds the same ones) and queued; or the group fails, saying why
        there is no list (not a list, past the cap, ...)."""
        gid = st.task.task_id
        try:
            items = mapping.expand(st.task, {d: self.states[d].result.output
                                             for d in st.task.depends_on},
                                   cap=self.max_map_items, max_input_bytes=self.max_input_bytes)
        except mapping.MapError as exc:
            self.finish(st, "failed", error=str(exc))
            return
        self.journal.write("group_expanded", task_id=gid, items=[t.to_record() for t in items])
        self.event("expanded", gid, st.definition.name, message=f"{len(items)} items")
        self.add_items(st, items)
        if not items:
            self.finish(st, "completed", output=[])
            return
        for tid in self.groups[gid]:
            self.event("queued", tid, st.definition.name)
            self.push_ready(self.states[tid])

    def add_items(self, group: TaskState, items: list[AgentTask]) -> None:
        """States for a group's item tasks: the group's agent, format, timeout and tier; their
        order between the group's and the next task's, so results list them after the group."""
        gid, count = group.task.task_id, len(items)
        for index, task in enumerate(items):
            result = AgentResult(task_id=task.task_id, agent_type=group.definition.name)
            self.states[task.task_id] = TaskState(task, group.definition, result,
                                                  group.order + (index + 1) / (count + 1),
                                                  group.tier_index, group.fmt, group.timeout)
            self.dependents.setdefault(task.task_id, []).append(gid)
        self.groups[gid] = [t.task_id for t in items]
        group.waiting_on = set(self.groups[gid])

    def finish_group(self, st: TaskState) -> None:
        """Every item is final: the group completes with their outputs in order, or fails
        naming the first item that did not complete."""
        status, output, error = mapping.group_outcome(
            st.task.task_id, [self.states[i].result for i in self.groups[st.task.task_id]])
        self.finish(st, status, output=output, error=error)
