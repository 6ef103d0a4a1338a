"""An OpenClaw tool result wherever it was found (a host pasting what a tool returned, a payload
handed to `check`): the envelopes it may come in, and which tool's answer it is.

Envelopes, outermost first (OpenClaw 2026.9.6):
- the Gateway's `POST /tools/invoke` answer `{ok: true, result}`;
- Tool Search's `{tool, result}`: what a host that called a deferred tool through `tool_call`
  receives;
- a tool result `{content: [{type: "text", text: JSON}], details}` (jsonResult): the tool's own
  JSON is `details`, else the first text block that holds a JSON object.
The callers that talk to OpenClaw unwrap their answers themselves (toolcaller.unwrap_result).
"""
from __future__ import annotations

import json

__all__ = ["unwrap_tool_result", "tool_result_kind", "tool_kind"]


def unwrap_tool_result(d: dict) -> dict:
    """The tool's own JSON inside whatever envelope carried it (see the module docstring); `d`
    itself when it is in none."""
    if d.get("ok") is True and isinstance(d.get("result"), dict):
        d = d["result"]
    elif isinstance(d.get("tool"), dict) and isinstance(d.get("result"), dict) and len(d) == 2:
        d = d["result"]
    if "content" in d and "details" in d and "role" not in d:
        if isinstance(d["details"], dict):
            return d["details"]
        for block in d["content"] if isinstance(d["content"], list) else []:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                try:
                    inner = json.loads(block["text"])
                except ValueError:
                    continue
                if isinstance(inner, dict):
                    return inner
    return d


def tool_result_kind(d: dict) -> str | None:
    """Which OpenClaw tool result `d` is (after unwrapping), or None when it is none of them."""
    return tool_kind(unwrap_tool_result(d))


def tool_kind(d: dict) -> str | None:
    """The kind of an unwrapped result: "sessions_history", "agents_wait_result" (a whole
    agents_wait answer), "agents_wait" (one of its completed items), "message" (one transcript
    message), "tool_error" (a refusal `{status: error|forbidden, error}`), else None."""
    if isinstance(d.get("messages"), list) and (
            {"sessionKey", "truncated", "contentTruncated", "droppedMessages", "bytes"} & d.keys()):
        return "sessions_history"
    if isinstance(d.get("completed"), list) and "pending" in d:
        return "agents_wait_result"
    if "runId" in d and ("result" in d or "structured" in d) and "status" in d:
        return "agents_wait"
    if d.get("role") in ("assistant", "user", "system", "toolResult", "tool") \
            and isinstance(d.get("content"), (str, list)):
        return "message"
    if d.get("status") in ("error", "forbidden") and isinstance(d.get("error"), str) \
            and len(d) == 2:
        return "tool_error"
    return None
