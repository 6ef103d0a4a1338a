"""Dependency graphs of tasks: cycles are rejected before anything spawns."""
from __future__ import annotations

from .errors import InputError


def reject_cycles(graph: dict[str, list[str]]) -> None:
    """Raise InputError naming a cycle in {task_id: [dependency ids]}, if there is one."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = path[path.index(node):] + [node]
            raise InputError("the tasks depend on each other in a cycle: " + " -> ".join(cycle),
                             field="depends_on",
                             fix="remove one dependency of the cycle")
        state[node] = 1
        for dep in graph.get(node, []):
            visit(dep, path + [node])
        state[node] = 2

    for node in graph:
        visit(node, [])
