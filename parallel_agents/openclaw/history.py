"""A child's reply in a `sessions_history` answer: the one reader of OpenClaw's transcript shape.

The runtime's history collection (plainruns.py), `replies.extract` (so `check`, host mode and
hostread.py) all read a transcript through `read_history`, so a shape seen live is taught once.

Contract facts relied on (OpenClaw 2026.9.6, node_modules/openclaw; "code" = dist/*.mjs):
- sessions_history {sessionKey, limit?} -> {sessionKey, messages, truncated, droppedMessages,
  contentTruncated, contentRedacted, bytes, pendingInputs, ...}; a refusal is an ordinary
  result {status: "error" | "forbidden", error} (an unknown key: "No session found: K"). A host
  may hand it over wrapped (Tool Search's {tool, result}, a Gateway envelope, {content,
  details}): unwrapped first (toolresults.py).
- messages: {role: user | assistant | toolResult | ..., content: str | [{type: "text", text},
  {type: "toolCall", ...}, {type: "thinking", ...}], text?, stopReason?, errorMessage?,
  provider?, model?, __openclaw?}. The reply is the last assistant message; its text blocks
  (type text, input_text or output_text; or a string content; or a `text` field, which wins)
  are joined with "\\n" as OpenClaw does, blank ones skipped.
- Text blocks over 4000 chars end with "\\n…(truncated)…" (sanitizeHistoryMessage; chat.history
  caps at 8000 chars with the ASCII "\\n...(truncated)..."); a message over the 80 KB cap becomes
  "[sessions_history omitted: message too large]"; a block dropped by a display cap is null.
  `contentTruncated` is NOT a usable signal: the tool also sets it whenever it strips
  `usage`/`details`/`cost`, i.e. on virtually every assistant reply, or cuts any other message
  (a long task prompt). Truncation is read from the reply itself: the marker, the placeholder, a
  null block, `__openclaw.truncated`, or stopReason "length" (the model hit its output limit).
- History carries no usage (it is stripped), so history-path usage is 0.
- A live gateway records a failed model call as the reply's *text* with stopReason "error" and
  no errorMessage, e.g. "⚠️ LLM request failed (request format rejected, HTTP 400).": an
  error, never an answer.
"""
from __future__ import annotations

from dataclasses import dataclass

from parallel_agents.openclaw.toolresults import unwrap_tool_result

__all__ = ["HistoryReply", "read_history", "model_of", "TRUNCATION_MARKER", "HISTORY_MARKERS",
           "OMITTED_PLACEHOLDER"]

TRUNCATION_MARKER = "\n…(truncated)…"
# sessions_history's marker, then chat.history's ASCII variant
HISTORY_MARKERS = (TRUNCATION_MARKER, "\n...(truncated)...")
OMITTED_PLACEHOLDER = "[sessions_history omitted: message too large]"
TEXT_BLOCK_TYPES = ("text", "input_text", "output_text")

NO_ASSISTANT = "history holds no assistant message"


@dataclass(frozen=True)
class HistoryReply:
    """What a sessions_history answer shows of the child's reply (its last assistant message).

    `found`: there is an assistant message. `text`: its text (None when blank or omitted).
    `truncated`: OpenClaw or the model's output limit cut it (never parse it as whole);
    `omitted`: the 80 KB placeholder stands in for it. `stop`: its stopReason;
    `error_message`: its errorMessage (when a non-blank string); `model`: "provider/model".
    `user_after`: a user message follows it (the run has not answered that one yet).
    `refused`/`refusal`: the tool answered {status: error|forbidden, error} instead.
    `notes`: what a reader should know (flags that are not proof of a cut, redactions).
    """

    found: bool = False
    text: str | None = None
    truncated: bool = False
    omitted: bool = False
    stop: str | None = None
    error_message: str | None = None
    model: str | None = None
    user_after: bool = False
    refused: bool = False
    refusal: str | None = None
    notes: tuple[str, ...] = ()
    session_key: str | None = None


def read_history(history) -> HistoryReply:
    """The child's reply in a sessions_history answer (see the module docstring). Anything that
    is not one (None, a failed call) reads as no reply."""
    if not isinstance(history, dict) or not history:
        return HistoryReply()
    history = unwrap_tool_result(history)
    session_key = history.get("sessionKey")
    if history.get("status") in ("error", "forbidden"):
        return HistoryReply(refused=True, refusal=history.get("error"), session_key=session_key)
    messages = history.get("messages")
    messages = messages if isinstance(messages, list) else []
    index = next((i for i in range(len(messages) - 1, -1, -1)
                  if isinstance(messages[i], dict) and messages[i].get("role") == "assistant"),
                 None)
    if index is None:
        return HistoryReply(session_key=session_key, notes=(NO_ASSISTANT,))
    notes: list[str] = []
    user_after = any(isinstance(m, dict) and m.get("role") == "user" for m in messages[index + 1:])
    if user_after:
        notes.append("a user message follows the last assistant message (run unfinished?)")
    message = messages[index]
    chunks, cut = text_blocks(message)
    if history.get("contentTruncated") and not cut:
        notes.append("contentTruncated is set but the reply shows no cut (other rows/metadata)")
    if history.get("contentRedacted"):
        notes.append("sessions_history redacted credential-like text (contentRedacted)")
    text = "\n".join(c for c in chunks if c.strip()) or None
    omitted = text is not None and text.strip() == OMITTED_PLACEHOLDER
    if omitted:
        text, cut = None, True
    stop = message.get("stopReason")
    stop = stop if isinstance(stop, str) else None
    if stop == "length":                    # the model hit its output-token limit mid-reply
        cut = True
        notes.append("the model stopped at its output token limit (stopReason length)")
    error = message.get("errorMessage")
    return HistoryReply(found=True, text=text, truncated=cut, omitted=omitted, stop=stop,
                        error_message=error if isinstance(error, str) and error.strip() else None,
                        model=model_of(message), user_after=user_after, notes=tuple(notes),
                        session_key=session_key)


def text_blocks(message: dict) -> tuple[list[str], bool]:
    """(the text chunks of one transcript message, whether a cut shows in them)."""
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
            elif isinstance(block, dict) and block.get("type") in TEXT_BLOCK_TYPES \
                    and isinstance(block.get("text"), str):
                chunks.append(block["text"])
    meta = message.get("__openclaw")
    if isinstance(meta, dict) and meta.get("truncated") is True:
        cut = True
    cut = cut or any(c.rstrip(" ").endswith(HISTORY_MARKERS) or c.strip() == OMITTED_PLACEHOLDER
                     for c in chunks)
    return chunks, cut


def model_of(message: dict) -> str | None:
    """"provider/model" of a transcript message (the model alone when it names its provider)."""
    model, provider = message.get("model"), message.get("provider")
    if not isinstance(model, str) or not model:
        return None
    return f"{provider}/{model}" if isinstance(provider, str) and provider and \
        not model.startswith(provider + "/") else model
