"""A child's reply found in what OpenClaw hands back: `extract_reply(payload) -> Reply`.

A pure function (no I/O, no printing) over raw text, a `sessions_history` result (read by
openclaw/history.py, the one reader of that shape), an announce completion block (parsed by
openclaw/announce.py), or an `agents_wait` completed item - each maybe wrapped in a Gateway,
Tool Search or tool-result envelope (openclaw/toolresults.py). What it finds is checked by
validate.py (check_reply); JSON in it is parsed by repair.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from parallel_agents.core.errors import InputError
from parallel_agents.openclaw.announce import EVENT_MARKER, AnnounceEvent, looks_like_announce, parse_announce
from parallel_agents.openclaw.history import read_history
from parallel_agents.openclaw.toolresults import tool_kind, unwrap_tool_result

__all__ = ["Reply", "extract_reply", "reply_from_event", "REPLY_KINDS"]

REPLY_KINDS = ("text", "sessions_history", "announce", "agents_wait")

# --- OpenClaw 2026.9.6 facts (dist/*.mjs; docs: tools/subagents/announce.md,
#     concepts/session-tool.md, tools/swarm.md)
# Sentinels a child answers with instead of a deliverable ("a missing deliverable", announce.md).
_SILENT_TOKENS = ("NO_REPLY", "ANNOUNCE_SKIP")
# Assistant message stopReason values that mean the run did not end with an answer.
_STOP_STATUS = {"error": "failed", "aborted": "killed", "cancelled": "killed", "cancel": "killed",
                "timeout": "timeout"}
_AGENTS_WAIT_STATUS = {"done": "ok", "failed": "failed", "killed": "killed", "timeout": "timeout"}

_ANNOUNCE_NOTE = ("announce text is OpenClaw's prompt-safe copy (control/format characters "
                  "stripped, < > escaped); sessions_history has the exact reply")


@dataclass(frozen=True)
class Reply:
    """A child's answer as found in one payload.

    `text` is None when there is no answer text (tool calls only, empty, "(no output)", NO_REPLY).
    `structured` is the collector's `structured` value (agents_wait), else None.
    `truncated` is True when OpenClaw cut the answer (never parse it as whole).
    `source` is one of REPLY_KINDS. `status` is the runtime's verdict when the payload carries one
    ("ok", "failed", "timeout", "killed", "unknown"), else None; `error` its failure text.
    """

    text: str | None
    structured: object | None = None
    truncated: bool = False
    source: str = "text"
    status: str | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()
    label: str | None = None
    session_key: str | None = None
    run_id: str | None = None


_REPLY_FIELDS = frozenset(Reply.__dataclass_fields__)


# ------------------------------------------------------------------------------------- extract
def extract_reply(payload, *, kind: str | None = None) -> Reply:
    """Find the child's answer in `payload`.

    Accepted (auto-detected unless `kind` names one of REPLY_KINDS):
    - raw text (str/bytes): the reply itself;
    - announce text containing `[Internal task completion event]` (one event; see parse_announce);
    - a `sessions_history` result (dict or JSON string): the last assistant message is the answer;
    - an `agents_wait` completed item, or a whole `agents_wait` result with exactly one item;
    - any of these wrapped as a Gateway `/tools/invoke` response or a tool result
      `{content, details}`.
    A Reply (or a dict of Reply fields with "text" or "structured") is taken as already
    extracted. Unrecognised or ambiguous payloads raise InputError.
    """
    if isinstance(payload, Reply):
        return payload
    if kind is not None and kind not in REPLY_KINDS:
        raise InputError(f"unknown reply kind {kind!r}", field="kind",
                         fix=f"use one of {', '.join(REPLY_KINDS)}")
    if isinstance(payload, (bytes, bytearray)):
        payload = bytes(payload).decode("utf-8", errors="replace")
    if isinstance(payload, str):
        if kind == "text":
            return _from_text(payload)
        if kind == "announce" or (kind is None and looks_like_announce(payload)):
            return _from_announce(payload)
        if kind is None and not payload.lstrip("\ufeff \t\r\n").startswith("{"):
            return _from_text(payload)
        try:
            decoded = json.loads(payload)
        except ValueError:
            if kind is None:
                return _from_text(payload)
            raise InputError(f"a {kind} payload must be JSON", field="payload") from None
        if kind is None and not (isinstance(decoded, dict) and tool_kind(unwrap_tool_result(decoded))):
            return _from_text(payload)          # the child's own JSON reply
        payload = decoded
    if isinstance(payload, list):
        payload = {"messages": payload}
    if not isinstance(payload, dict):
        raise InputError(f"cannot read a reply from a {type(payload).__name__}", field="payload",
                         fix="pass the reply text, a sessions_history result, an announce block "
                             "or an agents_wait completed item")
    if payload and payload.keys() <= _REPLY_FIELDS and ({"text", "structured"} & payload.keys()):
        return Reply(**{"source": "text", **payload})   # an already-extracted reply, as a dict
    payload = unwrap_tool_result(payload)
    found = tool_kind(payload)
    family = {"agents_wait_result": "agents_wait", "message": "sessions_history"}.get(found, found)
    if kind not in (None, "text") and family not in (kind, "tool_error"):
        raise InputError(f"payload is not a {kind} result (looks like {found or 'something else'})",
                         field="payload")
    if found == "sessions_history":
        return _from_history(payload)
    if found == "agents_wait_result":
        items = payload.get("completed") or []
        if len(items) != 1 or not isinstance(items[0], dict):
            raise InputError(f"agents_wait result has {len(items)} completed items; expected one",
                             field="completed", fix="check each completed item on its own")
        return _from_agents_wait(items[0])
    if found == "agents_wait":
        return _from_agents_wait(payload)
    if found == "message":
        return _from_history({"messages": [payload]})
    if found == "tool_error":
        return Reply(None, source=kind or "text", status="failed", error=str(payload.get("error")))
    raise InputError("unrecognised reply payload (keys: " + ", ".join(sorted(map(str, payload)))
                     + ")", field="payload",
                     fix="pass the reply text, a sessions_history result, an announce block or "
                         "an agents_wait completed item")



def _answer_or_none(text: str | None) -> str | None:
    if text is None or not text.strip() or text.strip() in _SILENT_TOKENS:
        return None
    return text


def _from_text(text: str) -> Reply:
    return Reply(_answer_or_none(text), source="text")


def _from_history(d: dict) -> Reply:
    """A sessions_history result (see openclaw/history.py): the last assistant message is the
    answer. Its stopReason names a run that did not end with one (error, aborted, ...): the
    failure is its errorMessage, else its text (a live gateway puts a failed model call there:
    "⚠️ LLM request failed ..."). `contentTruncated` alone is only a note."""
    r = read_history(d)
    if r.refused:
        return Reply(None, source="sessions_history", status="failed", error=str(r.refusal),
                     session_key=r.session_key)
    if not r.found:
        return Reply(None, source="sessions_history", session_key=r.session_key, notes=r.notes)
    status = _STOP_STATUS.get(r.stop) if r.stop is not None else None
    error = None
    if status:
        error = r.error_message or (r.text or "").strip() or f"stopReason {r.stop}"
    return Reply(_answer_or_none(r.text), source="sessions_history", truncated=r.truncated,
                 status=status, error=error, session_key=r.session_key, notes=r.notes)


def _from_agents_wait(item: dict) -> Reply:
    """agents_wait completed item: `{runId, status: "done"|"failed"|"killed"|"timeout",
    result: string, structured?, error?, schemaError?, sessionKey, label?, usage?}`."""
    raw_status = item.get("status")
    status = _AGENTS_WAIT_STATUS.get(raw_status, "unknown")
    notes = []
    if isinstance(item.get("schemaError"), str) and item["schemaError"].strip():
        notes.append(f"collector schemaError: {item['schemaError'].strip()}")
    error = item.get("error") if isinstance(item.get("error"), str) and item["error"].strip() \
        else None
    if status != "ok" and error is None:
        error = item.get("schemaError") or f"status {raw_status!r}"
    result = item.get("result")
    return Reply(_answer_or_none(result if isinstance(result, str) else None),
                 structured=item.get("structured"), source="agents_wait", status=status,
                 error=error, notes=tuple(notes), label=item.get("label"),
                 session_key=item.get("sessionKey"), run_id=item.get("runId"))


# ------------------------------------------------------------------------------------ announce
def _from_announce(text: str) -> Reply:
    events = parse_announce(text)
    if not events:
        raise InputError("no task completion event found in the announce text", field="payload",
                         fix=f"pass the block that starts with {EVENT_MARKER}")
    if len(events) > 1:
        raise InputError(f"announce text holds {len(events)} completion events; expected one",
                         field="payload", fix="split it with parse_announce() and check each")
    return reply_from_event(events[0])


def reply_from_event(e: "AnnounceEvent") -> Reply:
    """The Reply carried by one parsed completion event (see parse_announce)."""
    return Reply(_answer_or_none(e.result), source="announce", status=e.status, error=e.error,
                 notes=(_ANNOUNCE_NOTE,) if e.escaped else (), label=e.task,
                 session_key=e.session_key)

