"""Naming tasks on the command line: `--agent NAME --task TEXT [--input FILE]` or `--tasks FILE`
(run, plan, and --attach's checks before OpenClaw starts), and errors about those tasks located
in what the user wrote: the task file's line and key, or the option."""
from __future__ import annotations

import contextlib
from pathlib import Path

from parallel_agents.core.errors import InputError
from parallel_agents.cli.options import read_input_file


def add_task_options(p):
    """--agent NAME --task TEXT [--input FILE] | --tasks FILE (shared by run and plan); returns
    the exclusive group so a command can add more ways to name its tasks."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--agent", help="agent type for a single task (with --task)")
    what.add_argument("--tasks", type=Path, metavar="FILE", help="YAML/JSON file of tasks")
    p.add_argument("--task", help="task description (with --agent)")
    p.add_argument("--input", metavar="FILE", help="YAML/JSON input data (with --agent)")
    return what


def tasks_from_args(args):
    """The tasks named by add_task_options' arguments."""
    if args.agent:
        return [single_task(args)]
    if args.task or args.input:
        raise InputError("--task/--input go with --agent, not --tasks", field="--tasks",
                         fix="put task text and input in the task file")
    from parallel_agents.engine.taskfile import load_tasks
    return load_tasks(args.tasks)


def single_task(args):
    """The task of `--agent NAME --task TEXT [--input FILE]`, with the agent's own timeout."""
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.engine.tasks import AgentTask
    if not args.task:
        raise InputError("--agent needs --task", field="--task", fix='add --task "what to do"')
    input_data = read_input_file(args.input) if args.input else {}
    definition = load_registry().get(args.agent)  # UnknownAgentError: located_task_errors names --agent
    return AgentTask(definition.name, args.task, input_data,
                     timeout_seconds=definition.timeout_seconds or 120)


@contextlib.contextmanager
def located_task_errors(args):
    """Errors about the tasks named by add_task_options' arguments point at what the user wrote:
    the task file, line and key (`tasks.yaml:7: tasks[1].depends_on: ...`), or the option
    (--agent, --task, --input FILE). Yields a list for the tasks, to find them by position.
    However many tasks and problems, the file's lines come from one pass over it (the one
    taskfile.load_tasks made, when the file is unchanged)."""
    tasks: list = []
    try:
        yield tasks
    except InputError as exc:
        from parallel_agents.core.errors import CostLimitExceeded   # about the whole run, not one task
        if any(not p.file for p in exc.problems) and not isinstance(exc, CostLimitExceeded):
            found: dict = {}  # filled on first use: task positions and the file's lines
            exc.problems = [p if p.file else _locate(p, exc, args, tasks, found)
                            for p in exc.problems]
        raise


_OPTIONS = {"agent_type": "--agent", "task_description": "--task", "input_data": "--input"}


def _locate(problem, exc, args, tasks, found: dict):
    from parallel_agents.core.errors import Problem, UnknownAgentError
    if args.agent:
        option = _OPTIONS.get(problem.field)
        if option is None:
            return problem
        file = args.input if option == "--input" else None
        return Problem(problem.message, file, None, option, problem.fix)
    if "positions" not in found:  # of a repeated id, the later task
        found["positions"] = {t.task_id: i for i, t in enumerate(tasks)}
    tid = getattr(exc, "task_id", None)
    index = found["positions"].get(tid) if isinstance(tid, str) else None
    if index is None and isinstance(exc, UnknownAgentError):
        index = next((i for i, t in enumerate(tasks) if t.agent_type == exc.name), None)
    shown = str(args.tasks)
    if index is None:
        return Problem(problem.message, shown, None, problem.field, problem.fix)
    if "lines" not in found:
        from parallel_agents.engine.taskfile import task_lines
        found["lines"] = task_lines(args.tasks)
    line, key = _task_key_line(found["lines"], index, problem.field)
    return Problem(problem.message, shown, line, f"tasks[{index}]" + (f".{key}" if key else ""),
                   problem.fix)


def _task_key_line(lines, index: int, field: str | None):
    """(line, key as written) of task `index`'s field, from a task file's TaskLines
    (taskfile.ALIASES: the user may have written `agent` or `agent_type`); the key is None when
    the task does not set it."""
    from parallel_agents.engine.taskfile import ALIASES
    fields = [field, "input_from"] if field == "depends_on" else [field]  # input_from adds deps
    keys = lines.keys(index)
    key = next((k for f in fields for k in keys if ALIASES.get(k, k) == f), None)
    return lines.line(index, key), key
