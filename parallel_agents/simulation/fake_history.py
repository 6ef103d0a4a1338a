"""FakeOpenClaw's sessions_history: a child's transcript (and its pending task input) as
OpenClaw shows it, with OpenClaw's caps and truncation quirks.

Contract facts mirrored here (OpenClaw 2026.9.6, node_modules/openclaw/dist):
- sessions_history (openclaw-tools-*.mjs createSessionsHistoryTool): `{sessionKey, messages,
  truncated, droppedMessages, contentTruncated, contentRedacted, bytes, pendingInputs:{items,
  total}}`. The task message is a pending input (`{id, state: queued|cancelled, acceptedAt,
  message:{role:"user", content}}`, its text capped at ~1/8 of 4096 bytes) until the run takes
  it (here: when it starts); then it is the first message, `{role:"user", content: "[Subagent
  Context] You are running as a subagent (depth 1/5). ...\n\n[Subagent Task]\n\n<task>\n\n
  Begin. Execute the assigned task to completion.", timestamp, idempotencyKey:"<runId>:user",
  __openclaw}` (content a plain string). The reply: `{role:"assistant", content:[{type:"text",
  text}], api, provider, model, stopReason:"stop", timestamp, responseId, __openclaw}`; a failed
  run's reply has stopReason "error", no errorMessage and the text "⚠️ LLM request failed
  (request format rejected, HTTP 400)." with idempotencyKey "<runId>:terminal-error" instead of
  responseId (what the gateway records when the model answers HTTP 400). Text blocks over 4000
  chars become `text[:4000] + "\\n…(truncated)…"`; messages are capped at 81920 JSON bytes
  (oldest dropped; a lone oversize message becomes `[sessions_history omitted: message too
  large]`). Stripping `usage`/`details`/`cost` also sets contentTruncated, so it is true for
  nearly every assistant reply - we mirror that quirk. Unknown key: `{status:"error", error:
  "No session found: K"}`.
"""
from __future__ import annotations

import json
import time
import uuid

from parallel_agents.openclaw.toolcaller import ToolError
from parallel_agents.simulation.fake_runs import Run

__all__ = ["HistoryTool", "HISTORY_TEXT_MAX_CHARS", "HISTORY_MAX_BYTES", "TRUNCATION_MARKER",
           "OMITTED_PLACEHOLDER", "SUBAGENT_TASK_MESSAGE", "FAILED_REPLY_TEXT"]

HISTORY_TEXT_MAX_CHARS = 4000
HISTORY_MAX_BYTES = 81920
TRUNCATION_MARKER = "\n…(truncated)…"
OMITTED_PLACEHOLDER = "[sessions_history omitted: message too large]"
# The child's task message (sessions-spawn-tool-*.mjs buildSubagentTaskMessage; depth 1 of the
# default maxSpawnDepth 5): a plain string, as sessions_history shows it.
SUBAGENT_TASK_MESSAGE = ("[Subagent Context] You are running as a subagent (depth 1/5). Complete the "
                         "current [Subagent Task]; inherited conversation is background context, not "
                         "your assignment.\n\n[Subagent Task]\n\n{task}\n\nBegin. Execute the "
                         "assigned task to completion.")
# A failed run's last assistant message: what the live gateway records when the model answers
# HTTP 400 (the scripted model server's `fail`). The scripted error text itself shows in the task
# row's `error` and the collector item's `error` instead.
FAILED_REPLY_TEXT = "⚠️ LLM request failed (request format rejected, HTTP 400)."
PENDING_INPUTS_MAX_BYTES = 4096


class HistoryTool:
    """sessions_history, mixed into FakeOpenClaw (over its RunBoard). FakeOpenClaw.call calls
    `answer_sessions_history` under the board's lock."""

    def answer_sessions_history(self, a: dict) -> dict:
        key = a.get("sessionKey")
        if not isinstance(key, str) or not key.strip():
            raise ToolError("sessionKey required", tool="sessions_history")
        key = key.strip()
        self.advance(time.monotonic())
        run = self.by_session.get(key)
        if run is None:
            return {"status": "error", "error": f"No session found: {key}"}
        raw = self._raw_messages(run)
        limit = a.get("limit")
        if isinstance(limit, int) and limit > 0:
            raw = raw[-limit:]
        pending, content_truncated = self._pending_inputs(run)
        pending_bytes = _json_bytes(pending)
        budget = HISTORY_MAX_BYTES - pending_bytes
        messages = []
        for message in raw:
            message, truncated = _sanitize(message)
            content_truncated |= truncated
            messages.append(message)
        items, dropped = list(messages), False
        while _json_bytes(items) > budget and len(items) > 1:
            items.pop(0)
            dropped = True
        hard_capped = False
        if _json_bytes(items) > budget:
            meta = items[-1].get("__openclaw", {})
            items = [{"role": "assistant", "content": OMITTED_PLACEHOLDER, "__openclaw": dict(meta)}]
            hard_capped = True
        return {"sessionKey": key, "messages": items,
                "truncated": dropped or content_truncated or hard_capped,
                "droppedMessages": dropped or hard_capped, "contentTruncated": content_truncated,
                "contentRedacted": False, "bytes": _json_bytes(items) + pending_bytes,
                "pendingInputs": pending}

    def _task_message(self, run: Run) -> str:
        return SUBAGENT_TASK_MESSAGE.format(task=run.task.strip())

    def _raw_messages(self, run: Run) -> list[dict]:
        """The child's transcript: the task message once the run has started, then its reply."""
        if run.start_at is None:
            return []  # the task message is still a pending input (or, parked, nowhere)
        user_key = f"{run.run_id}:user"
        messages = [{"role": "user", "content": self._task_message(run), "timestamp": self.wall_ms(run.created_at),
                     "idempotencyKey": user_key,
                     "__openclaw": {"senderIsOwner": False, "id": run.msg_ids[0], "idempotencyKey": user_key,
                                    "seq": 1}}]
        if run.status not in ("done", "failed"):
            return messages
        provider, _, model = run.model.partition("/") if "/" in run.model else ("", "", run.model)
        usage = self.usage(run) or {"inputTokens": 0, "outputTokens": 0}
        reply = {"role": "assistant", "content": [], "api": "openai-completions",
                 "provider": provider or "fake", "model": model,
                 "usage": {"input": usage["inputTokens"], "output": usage["outputTokens"],
                           "totalTokens": usage["inputTokens"] + usage["outputTokens"]},
                 "stopReason": "stop", "timestamp": self.wall_ms(run.ended_at)}
        meta = {"runId": run.run_id, "id": run.msg_ids[1]}
        if run.status == "done":
            reply["content"] = [{"type": "text", "text": run.reply.text}]
            reply["responseId"] = f"chatcmpl-{uuid.uuid5(uuid.NAMESPACE_OID, run.run_id).hex[:20]}"
        else:  # no errorMessage: the failure is the reply's text
            reply["content"] = [{"type": "text", "text": FAILED_REPLY_TEXT}]
            reply["stopReason"] = "error"
            reply["idempotencyKey"] = meta["idempotencyKey"] = f"{run.run_id}:terminal-error"
        reply["__openclaw"] = {**meta, "seq": 2}
        return messages + [reply]

    def _pending_inputs(self, run: Run) -> tuple[dict, bool]:
        """(pendingInputs, truncated): the task message until the run starts and consumes it
        (state "queued"; "cancelled" when cancelled first). A parked collector never got one."""
        if run.start_at is not None or (run.collect and not self.collector_runs_start):
            return {"items": [], "total": 0}, False
        state = "queued" if run.status == "queued" else "cancelled"
        item = {"id": run.msg_ids[0], "state": state, "acceptedAt": self.wall_ms(run.created_at)}
        # boundPendingInputs: each message gets a share of 4096 bytes, its text 1/8 of that
        budget = PENDING_INPUTS_MAX_BYTES - _json_bytes({"items": [item], "total": 1}) - 12
        text, truncated = _truncate_text(self._task_message(run), max(1, budget // 8))
        message = {"role": "user", "content": text}
        if _json_bytes(message) > budget:
            message, truncated = {"role": "user", "content": "[Input omitted; request limit: 1]"}, True
        return {"items": [{**item, "message": message}], "total": 1}, truncated


def _json_bytes(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _truncate_text(text: str, max_chars: int = HISTORY_TEXT_MAX_CHARS) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + TRUNCATION_MARKER, True


def _sanitize(message: dict) -> tuple[dict, bool]:
    """sessions_history's sanitizeHistoryMessage: strip details/usage/cost, cap text blocks."""
    entry, truncated = dict(message), False
    for key in ("details", "usage", "cost"):
        if key in entry:
            del entry[key]
            truncated = True  # OpenClaw counts stripped metadata as truncation
    content = entry.get("content")
    if isinstance(content, str):
        entry["content"], cut = _truncate_text(content)
        truncated |= cut
    elif isinstance(content, list):
        blocks = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                block = dict(block)
                block["text"], cut = _truncate_text(block["text"])
                truncated |= cut
            blocks.append(block)
        entry["content"] = blocks
    return entry, truncated
