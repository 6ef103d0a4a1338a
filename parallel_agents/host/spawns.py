"""What the host is told to spawn: the `sessions_spawn` argument objects of a plan's attempts, and
the prompt and answer files beside its journal (`prompts: file`).

Each spawn is short: its `task` points the child at a prompt file (runs/<plan id>/N-M.md, task N,
attempt M), so the host does not write out a 2-10 KB prompt per task as its own (expensive)
output. The child writes its answer to N-M.answer and replies DONE. Where children cannot read
host files (`prompts: inline`; a definition's `agent_id` / `sandbox`: another tool policy or a
sandbox) the prompt goes inline and the child answers in its reply.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # imported where used: `plan` reads no replies
    from parallel_agents.replies import extract

_POINTER = "Follow {path}."      # every byte here is the host's output (bench/host_cost.py)
_LONG_POINTER = " It is long: read it to the end."
# sessions_history (how check reads a child) cuts text blocks at 4000 characters, so the answer
# travels in a file; a child that cannot write files still answers in its reply.
_DELIVER = ("\n## Delivering your answer\nWrite your final answer - exactly the reply the Output "
            "section describes, nothing else - to the file {path} with your write tool, then reply "
            "with the single word DONE. (If you cannot write files, reply with the answer itself.)\n")
_READ_LIMIT = 45_000         # OpenClaw's read tool returns at most 50 KB per call


def prompt_file(folder: Path, index: int, number: int) -> Path:
    """The prompt file of attempt `number` of the plan's task at `index` (from 0)."""
    return folder / f"{index + 1}-{number}.md"


def answer_file(folder: Path, index: int, number: int) -> Path:
    """The file the child of that attempt writes its answer to."""
    return folder / f"{index + 1}-{number}.answer"


def pointer(path: Path) -> str:
    """A spawn's task text pointing at its prompt file."""
    long = path.stat().st_size > _READ_LIMIT
    return _POINTER.format(path=path) + (_LONG_POINTER if long else "")


def write_prompt(folder: Path, index: int, number: int, prompt: str) -> str:
    """Write the attempt's prompt file, with how to deliver the answer; returns the pointer."""
    folder.mkdir(parents=True, exist_ok=True)
    path = prompt_file(folder, index, number)
    answer = answer_file(folder, index, number)
    answer.unlink(missing_ok=True)            # a file left by an earlier spawn is not its answer
    tmp = path.with_suffix(".tmp")
    tmp.write_text(prompt + _DELIVER.format(path=answer), encoding="utf-8")
    tmp.replace(path)
    return pointer(path)


def answer_in_file(path: Path, reply: extract.Reply) -> extract.Reply:
    """The answer the child wrote to `path`, when it finished well and wrote one; else `reply`."""
    from parallel_agents.replies import extract
    if reply.status not in (None, "ok"):
        return reply
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return reply
    if not text.strip():
        return reply
    return extract.Reply(text, source="answer file", session_key=reply.session_key,
                         label=reply.label)


def spawn_args(text: str, label: str, timeout: int, model: str | None, definition, fmt: str, *,
               collect: bool, plan_id: str) -> dict:
    """The `sessions_spawn` arguments of one attempt (`model`: None for the gateway's default)."""
    args = {"task": text, "label": label, "runTimeoutSeconds": timeout}
    if model:
        args["model"] = model
    args.update(definition.spawn_privileges())   # agentId, sandbox: only when set
    if collect and fmt == "json":
        args.update(collect=True, outputSchema=definition.output_schema, groupId=f"pa-{plan_id}")
    return args


def spawn_entry(s, args: dict, *, new: bool) -> dict:
    """A spawn the host owes, as `plan`/`check` list it (s: the planstate.PlanTask, open)."""
    return {"task_id": s.task.task_id, "agent_type": s.definition.name, "tier": s.open["tier"],
            "new": new, "tool": "sessions_spawn", "args": args}
