"""Dependency graphs of tasks: cycles are rejected before anything spawns.

Iterative throughout (an explicit stack, never Python recursion): a graph is as large as the
task list a user gives, and a chain of a few thousand tasks must not hit the recursion limit."""
from __future__ import annotations

from parallel_agents.core.errors import InputError

_END = object()


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in {task_id: [dependency ids]} as [a, b, ..., a], or None. Depth-first in the
    graph's order (the first cycle found is the one a recursive walk would report)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in graph:
        if state.get(start):
            continue
        state[start] = 1
        path, pending = [start], [iter(graph.get(start) or ())]
        while pending:
            dep = next(pending[-1], _END)
            if dep is _END:
                state[path.pop()] = 2
                pending.pop()
                continue
            seen = state.get(dep)
            if seen == 2:
                continue
            if seen == 1:
                return path[path.index(dep):] + [dep]
            state[dep] = 1
            path.append(dep)
            pending.append(iter(graph.get(dep) or ()))
    return None


def reject_cycles(graph: dict[str, list[str]]) -> None:
    """Raise InputError naming a cycle in {task_id: [dependency ids]}, if there is one."""
    cycle = find_cycle(graph)
    if cycle:
        shown = cycle if len(cycle) <= 12 else cycle[:5] + [f"... ({len(cycle) - 9} more)"] + cycle[-4:]
        raise InputError("the tasks depend on each other in a cycle: " + " -> ".join(shown),
                         field="depends_on", fix="remove one dependency of the cycle")
