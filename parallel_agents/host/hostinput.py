"""What a host agent passes to `check`, turned into (label, Reply) pairs.

Accepted: anything OpenClaw delivers about children (deliveries.py: the settled-batch message,
steering-queue items, announce events in any wrapper, several pasted together) - matched to
spawns by their label; a child's raw reply, or `sessions_history` JSON (with or without Tool
Search's `{tool, result}` wrapper), with `--task TASK_ID`. Text that carries a delivery marker
but yields no result, and JSON that is none of the shapes above, are errors naming what was
expected: they are never validated as a child's reply.
"""
from __future__ import annotations

import json

from parallel_agents.openclaw import toolresults
from parallel_agents.replies import extract
from parallel_agents.openclaw.deliveries import SETTLE_HEAD, SETTLED_MARKER, has_delivery_marker, parse_deliveries
from parallel_agents.core.errors import InputError

EXPECTED = ("the message OpenClaw delivered when the children settled (or a completion event), "
            "or with --task TASK_ID a child's reply or sessions_history JSON")


def read_replies(text: str, *, task_id: str | None) -> list[tuple[str | None, extract.Reply]]:
    value = _json(text)
    if isinstance(value, dict) and _is_tool_result(value):     # JSON can quote any marker
        if not task_id:
            raise InputError("a tool result does not say which task it belongs to",
                             field="--task", fix="pass --task TASK_ID with it")
        return [(None, extract.extract_reply(value))]
    if has_delivery_marker(text):
        events = parse_deliveries(text)
        if not events and SETTLE_HEAD in text and SETTLED_MARKER not in text:
            return []       # "each child result was announced individually": news, no results
        if not events:
            raise InputError("the input looks like an OpenClaw completion message, but no child "
                             "result could be read from it", field="input",
                             fix="pass the whole message, unedited; or run check without input "
                                 "to read the replies from the gateway")
        if task_id and len(events) > 1:
            raise InputError("--task names one task, but the input holds several child results",
                             field="--task", fix="drop --task: results are matched by their label")
        return [(e.task, extract.reply_from_event(e)) for e in events]
    if isinstance(value, dict) and not task_id:
        keys = ", ".join(sorted(map(str, value))[:8])
        raise InputError(f"unrecognised JSON object (keys: {keys})", field="input",
                         fix=f"pass {EXPECTED}")
    if not task_id:
        raise InputError("this input does not say which task it belongs to", field="--task",
                         fix="pass --task TASK_ID with a raw reply or sessions_history JSON, or pass "
                             "the whole completion message")
    return [(None, extract.extract_reply(text))]


def refusal_in(text: str) -> str | None:
    """The error of a refused sessions_spawn receipt (as the host received it), else None."""
    value = _json(text)
    if not isinstance(value, dict):
        return None
    inner = toolresults.unwrap_tool_result(value)
    if inner.get("status") in ("error", "forbidden") and isinstance(inner.get("error"), str):
        return inner["error"]
    return None


def _json(text: str):
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def _is_tool_result(value: dict) -> bool:
    return toolresults.tool_result_kind(value) is not None
