"""A child's reply: find it in what OpenClaw hands back, parse it, validate it, say what is wrong.

Four steps, each a pure function (no I/O, no printing):

- `extract_reply(payload)` finds the child's answer in raw text, a `sessions_history` result, an
  announce completion block (parsed by announce.py), or an `agents_wait` completed item (shapes:
  see the `_from_*` helpers).
- `parse_json_reply(text)` (jsonrepair.py) parses JSON through a short, named repair ladder that
  never changes meaning, and refuses what it would have to guess.
- `validate_output(value, schema)` validates against a Draft 2020-12 schema and returns short,
  sorted `path: message` lines.
- `check_reply(payload, output_format=..., schema=...)` runs the whole ladder and returns a
  `Checked` verdict with a deterministic `retry_hint` to append to a re-ask prompt.

A reply is only `ok` when the runtime said the run finished (`status` ok, or no status given), the
text was not truncated, and the value parses and validates. Anything else is not ok, with a reason.
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field

import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from parallel_agents.openclaw.announce import EVENT_MARKER, AnnounceEvent, looks_like_announce, parse_announce
from parallel_agents.core.errors import DefinitionError, InputError
from parallel_agents.replies.repair import (REPAIR_BOM, REPAIR_FENCE, REPAIR_PROSE, REPAIR_TRAILING_COMMAS,
                         TRUNCATED_JSON, ParseResult, parse_json_reply, strip_code_fence)

__all__ = [
    "Reply", "AnnounceEvent", "ParseResult", "Checked",
    "extract_reply", "parse_announce", "parse_json_reply", "validate_output", "check_reply",
    "retry_hint", "strip_code_fence",
    "OUTPUT_FORMATS", "REPLY_KINDS", "MAX_PROBLEMS",
    "REPAIR_BOM", "REPAIR_FENCE", "REPAIR_PROSE", "REPAIR_TRAILING_COMMAS",
    "TRUNCATED", "TRUNCATED_JSON",
]

OUTPUT_FORMATS = ("json", "markdown", "code", "text")
REPLY_KINDS = ("text", "sessions_history", "announce", "agents_wait")
MAX_PROBLEMS = 20          # validation lines kept before "(+N more)"
_MAX_LINE = 300            # one problem line is cut here (instances can be huge)

# Names of the repairs parse_json_reply may apply (and the code-fence note of check_reply).

TRUNCATED = "reply was truncated"

# --- OpenClaw 2026.9.6 facts (dist/*.mjs; docs: tools/subagents/announce.md,
#     concepts/session-tool.md, tools/swarm.md)
# Sentinels a child answers with instead of a deliverable ("a missing deliverable", announce.md).
_SILENT_TOKENS = ("NO_REPLY", "ANNOUNCE_SKIP")
# sessions_history: text blocks over 4000 chars get this suffix (sessions-history-tool.ts) ...
# ... and chat.history caps them at 8000 chars with the ASCII variant.
_HISTORY_MARKERS = ("\n…(truncated)…", "\n...(truncated)...")
_HISTORY_OMITTED = "[sessions_history omitted: message too large]"
_TEXT_BLOCK_TYPES = ("text", "input_text", "output_text")
# Announce completion event (src/agents/internal-events.ts, formatTaskCompletionEvent).
# Assistant message stopReason values that mean the run did not end with an answer.
_STOP_STATUS = {"error": "failed", "aborted": "killed", "cancelled": "killed", "cancel": "killed",
                "timeout": "timeout"}
_AGENTS_WAIT_STATUS = {"done": "ok", "failed": "failed", "killed": "killed", "timeout": "timeout"}

_ANNOUNCE_NOTE = ("announce text is OpenClaw's prompt-safe copy (control/format characters "
                  "stripped, < > escaped); sessions_history has the exact reply")


# ----------------------------------------------------------------------------------- data shapes
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


@dataclass(frozen=True)
class Checked:
    """The verdict on one reply. `ok` means: finished, complete, parsed and valid."""

    ok: bool
    value: object
    text: str | None
    problems: list[str]
    repairs: list[str]
    truncated: bool
    retry_hint: str | None
    notes: list[str] = field(default_factory=list)
    source: str = "text"

    def to_dict(self) -> dict:
        return asdict(self)


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
        if kind is None and not (isinstance(decoded, dict) and _tool_kind(_unwrap(decoded))):
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
    payload = _unwrap(payload)
    found = _tool_kind(payload)
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


def _unwrap(d: dict) -> dict:
    """Peel a Gateway `{ok, result}` envelope, Tool Search's `{tool, result}` (what a host that
    called a deferred tool through `tool_call` receives) and a tool result `{content, details}`."""
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


def unwrap_tool_result(d: dict) -> dict:
    """The tool's own JSON inside whatever envelope carried it (see _unwrap)."""
    return _unwrap(d)


def tool_result_kind(d: dict) -> str | None:
    """Which OpenClaw tool result `d` is (after unwrapping), or None when it is none of them."""
    return _tool_kind(_unwrap(d))


def _tool_kind(d: dict) -> str | None:
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


def _answer_or_none(text: str | None) -> str | None:
    if text is None or not text.strip() or text.strip() in _SILENT_TOKENS:
        return None
    return text


def _from_text(text: str) -> Reply:
    return Reply(_answer_or_none(text), source="text")


def _from_history(d: dict) -> Reply:
    """sessions_history result: `{sessionKey, messages:[{role, content: str | [{type:"text",
    text}, {type:"toolCall"…}, {type:"thinking"…}]}], truncated, droppedMessages,
    contentTruncated, contentRedacted, bytes, …}`.

    The last assistant message is the answer; its text blocks are joined with "\\n" (as OpenClaw
    does). Truncation is judged on that message: a block ending in the history cap marker, the
    "message too large" placeholder or a dropped (null) block. The top-level `contentTruncated`
    flag alone is not proof: sessions_history also sets it when it strips usage/cost/details
    metadata or cuts any other message (e.g. a long task prompt), i.e. on nearly every history.
    """
    messages = d.get("messages") or []
    notes: list[str] = []
    index = next((i for i in range(len(messages) - 1, -1, -1)
                  if isinstance(messages[i], dict) and messages[i].get("role") == "assistant"),
                 None)
    if index is None:
        return Reply(None, source="sessions_history", session_key=d.get("sessionKey"),
                     notes=("history holds no assistant message",))
    if any(isinstance(m, dict) and m.get("role") == "user" for m in messages[index + 1:]):
        notes.append("a user message follows the last assistant message (run unfinished?)")
    message = messages[index]
    chunks, cut = _message_text_blocks(message)
    if d.get("contentTruncated") and not cut:
        notes.append("contentTruncated is set but the reply shows no cut (other rows/metadata)")
    if d.get("contentRedacted"):
        notes.append("sessions_history redacted credential-like text (contentRedacted)")
    text = "\n".join(c for c in chunks if c.strip()) or None
    if text is not None and text.strip() == _HISTORY_OMITTED:
        text, cut = None, True
    stop = message.get("stopReason")
    status = _STOP_STATUS.get(stop) if isinstance(stop, str) else None
    error = None
    if status:  # a live gateway puts a failed model call in the text ("⚠️ LLM request failed ...")
        error = message.get("errorMessage") if isinstance(message.get("errorMessage"), str) \
            and message["errorMessage"].strip() else (text or "").strip() or f"stopReason {stop}"
    if stop == "length":                    # the model hit its output-token limit mid-reply
        cut = True
        notes.append("the model stopped at its output token limit (stopReason length)")
    return Reply(_answer_or_none(text), source="sessions_history", truncated=cut, status=status,
                 error=error, session_key=d.get("sessionKey"), notes=tuple(notes))


def _message_text_blocks(message: dict) -> tuple[list[str], bool]:
    content = message.get("content")
    chunks: list[str] = []
    cut = False
    if isinstance(message.get("text"), str):
        chunks.append(message["text"])
    elif isinstance(content, str):
        chunks.append(content)
    elif isinstance(content, list):
        for block in content:
            if block is None:                       # a text block dropped by the display cap
                cut = True
            elif isinstance(block, dict) and block.get("type") in _TEXT_BLOCK_TYPES \
                    and isinstance(block.get("text"), str):
                chunks.append(block["text"])
    meta = message.get("__openclaw")
    if isinstance(meta, dict) and meta.get("truncated") is True:
        cut = True
    cut = cut or any(c.rstrip(" ").endswith(_HISTORY_MARKERS) or c.strip() == _HISTORY_OMITTED
                     for c in chunks)
    return chunks, cut


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


def _pointer(path) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/".join(parts) if parts else "(root)"


def _path_key(path) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def _cut(line: str) -> str:
    return line if len(line) <= _MAX_LINE else line[:_MAX_LINE - 1] + "…"


# Compiled validators of schemas that passed check_schema, so a fan-out of N replies to one
# agent checks its schema once instead of N times (check_schema is ~90% of a validation).
# Keyed by the identity of the schema and registry objects; each entry keeps both alive (so an
# id is never reused while cached) and a deep copy of the schema, compared on every hit, so a
# schema mutated in place is checked and compiled again. Bounded: cleared when full.
_VALIDATORS: dict[tuple[int, int], tuple] = {}
_VALIDATORS_MAX = 256
_EMPTY_REGISTRY = referencing.Registry()


def _validator_for(schema: dict, registry) -> Draft202012Validator:
    key = (id(schema), id(registry))
    hit = _VALIDATORS.get(key)
    if hit is not None and hit[0] is schema and hit[1] is registry and hit[2] == schema:
        return hit[3]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise DefinitionError(f"output_schema is not a valid JSON Schema: {e.message}",
                              field="output_schema" + ("/" + _pointer(e.path) if e.path else ""),
                              fix="correct the agent's output_schema") from None
    validator = Draft202012Validator(schema, registry=registry if registry is not None
                                     else _EMPTY_REGISTRY)
    if len(_VALIDATORS) >= _VALIDATORS_MAX:
        _VALIDATORS.clear()
    _VALIDATORS[key] = (schema, registry, copy.deepcopy(schema), validator)
    return validator


def validate_output(value, schema: dict, *, registry: referencing.Registry | None = None
                    ) -> list[str]:
    """Validate `value` against a Draft 2020-12 `schema`; return sorted `path: message` lines.

    `$ref`s resolve inside the schema and through `registry` (a referencing.Registry); nothing is
    fetched from the network. At most MAX_PROBLEMS lines, then "(+N more)". `format` is not
    asserted (its result would depend on optional packages). A broken schema or an unresolvable
    `$ref` raises DefinitionError: re-asking the child cannot fix it.
    """
    validator = _validator_for(schema, registry)
    try:
        errors = list(validator.iter_errors(value))
    except RecursionError:
        return ["(root): value is nested too deeply to validate"]
    except referencing.exceptions.Unresolvable as e:
        raise DefinitionError(f"output_schema has a $ref that cannot be resolved: {e}",
                              field="output_schema",
                              fix="add the referenced schema to the registry") from None
    errors.sort(key=lambda e: (_path_key(e.absolute_path), e.message,
                               _path_key(e.absolute_schema_path)))
    lines = list(dict.fromkeys(_cut(f"{_pointer(e.absolute_path)}: {e.message}")
                               for e in errors))
    if len(lines) > MAX_PROBLEMS:
        lines = lines[:MAX_PROBLEMS] + [f"(+{len(lines) - MAX_PROBLEMS} more)"]
    return lines


# -------------------------------------------------------------------------------------- check
_ASK = {
    "json": "Reply again with only the JSON object.",
    "code": "Reply again with only the code.",
    "markdown": "Reply again with your complete answer in Markdown.",
    "text": "Reply again with your complete answer.",
}


def retry_hint(problems: list[str], output_format: str, *, truncated: bool = False) -> str:
    """The deterministic re-ask text for a reply that was not ok."""
    ask = _ASK.get(output_format, _ASK["text"])
    if truncated:
        ask = ask.replace("Reply again with", "Reply again, more briefly, with")
    return "\n".join(["Your previous reply was not valid:", *(f"- {p}" for p in problems), ask])


def check_reply(payload, *, output_format: str, schema: dict | None = None,
                registry: referencing.Registry | None = None) -> Checked:
    """Run the whole ladder on one reply: extract, refuse unfinished/truncated, parse, validate.

    json: a collector's `structured` value is validated directly; otherwise the text goes through
    parse_json_reply, then validate_output when a schema is given (without one, the value must be
    a JSON object). markdown/text: ok when the text is non-empty. code: as text, after stripping
    one surrounding ``` fence (named in `repairs`). `payload` is anything extract_reply accepts.
    `value` is None unless `ok`: an invalid reply's parsed value is never handed on.
    """
    if output_format not in OUTPUT_FORMATS:
        raise InputError(f"unknown output_format {output_format!r}", field="output_format",
                         fix=f"use one of {', '.join(OUTPUT_FORMATS)}")
    reply = extract_reply(payload)
    problems: list[str] = []
    repairs: list[str] = []
    value = None
    if reply.status not in (None, "ok"):
        problems.append(f"child run did not finish (status: {reply.status}"
                        + (f": {_cut(reply.error)})" if reply.error else ")"))
    elif reply.truncated:
        problems.append(TRUNCATED)
    elif output_format == "json":
        value, problems, repairs = _check_json(reply, schema, registry)
    elif reply.text is None and not isinstance(reply.structured, str):
        problems.append("reply was empty")
    else:   # a collector's structured string (outputSchema {"type": "string"}) is the whole text
        value = reply.structured if isinstance(reply.structured, str) else reply.text
        if value.startswith("\ufeff"):
            value = value[1:]
            repairs.append(REPAIR_BOM)
        if output_format == "code":
            inner = strip_code_fence(value)
            if inner is not None:
                value = inner
                repairs.append(REPAIR_FENCE)
        if not value.strip():
            problems.append("reply was empty")
    ok = not problems
    return Checked(
        ok=ok, value=value if ok else None, text=reply.text, problems=problems, repairs=repairs,
        truncated=reply.truncated,
        retry_hint=None if ok else retry_hint(problems, output_format, truncated=reply.truncated),
        notes=list(reply.notes), source=reply.source)


def _check_json(reply: Reply, schema, registry) -> tuple[object, list[str], list[str]]:
    if reply.structured is not None:
        value, repairs = reply.structured, []
    elif reply.text is None:
        return None, ["reply was empty"], []
    else:
        parsed = parse_json_reply(reply.text)
        if parsed.error:
            return None, [parsed.error], parsed.repairs
        value, repairs = parsed.value, parsed.repairs
    if schema is not None:
        return value, validate_output(value, schema, registry=registry), repairs
    if not isinstance(value, dict):
        return value, [f"(root): expected a JSON object, got {type(value).__name__}"], repairs
    return value, [], repairs
