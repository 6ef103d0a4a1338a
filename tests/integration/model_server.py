"""A scripted OpenAI-compatible model server for the live-gateway tests.

    python3 tests/integration/model_server.py --port-file F --log F [--port 0]

A real OpenClaw gateway talks to it as a custom provider (`api: "openai-completions"`):
`POST /v1/chat/completions` (streaming SSE and plain JSON) and `GET /v1/models`. What a model
"says" is scripted by the same `SIM {json}` directive the FakeOpenClaw contract double reads
(parallel_agents.simulation.directives): the server finds it in the user messages of the request, so
a test puts it into the task text and the gateway carries it to the model. (OpenClaw sends the
task as a user message wrapped in "[Subagent Context] ... [Subagent Task]" and appends a user
message of internal context after it: the directive is looked up in every user message, latest
first.)

    latency      seconds to sleep before answering (default 0.01)
    reply        the final text; an object/array is sent as JSON (default "OK")
    replies      a list: attempt n answers replies[min(n, len(replies)) - 1] (instead of `reply`;
                 attempts are counted per `key`, so give a re-asked task, whose text differs,
                 the same key)
    fail         the model call fails: HTTP 400 invalid_request_error with this text. OpenClaw does
                 not retry a 400: the run ends "failed" within ~2 s. (Its error is OpenClaw's own
                 summary - "LLM request failed: provider rejected the request schema or tool
                 payload." - not this text; the transcript says "⚠️ LLM request failed (request
                 format rejected, HTTP 400).")
    fail_status  HTTP status for `fail` (default 400). 401 and 404 also fail the run at once;
                 500/503/429, and 200 with an SSE error event, are retried by OpenClaw with
                 back-off until runTimeoutSeconds, so the run ends "timeout", not "failed"
    hang         true: never answer; hold the request until the client goes away (the gateway
                 aborts it at runTimeoutSeconds; it may re-send a hung request once before that)
    spawn_error  ignored here: spawn refusals happen in the gateway, before any model call
    fail_first   N: fail/hang apply only to attempts 1..N (alone: fail N times)
    by_model     {"<model id or ref>": {same keys}} overrides for that model (the request's
                 `model` is the provider's model id, e.g. "fast" for "scripted/fast")
    key          optional attempt-counting key; default: a hash of the task as spawned (the text
                 between OpenClaw's "[Subagent Task]" header and its "Begin." footer)
    tag          any text, logged with each request: tests find their requests by it

An *attempt* is a run's first model request (no assistant turn yet in `messages`), counted per
key: a run's follow-up requests (after a tool call) do not count, so `fail_first` counts runs, as
the fake counts spawns of one label - except that OpenClaw's own re-sends of a failed or hung
request (5xx/429, in-stream errors, timeouts) are first requests too, and count.

Pointer tasks: a child task with no SIM directive that names an absolute path ending in `.md`
("Read /abs/prompts/t1-1.md and follow it exactly ...") is answered first with a `read` tool call
for that path (kind "read_prompt"); on the follow-up request the directive is looked up in the
read's tool result and answered as above. Such a run's attempt is counted on that follow-up
request (the first one that can see the directive and its key), not on the read step. (The read
step's log record takes its tag and sim from the file, which the server peeks at for that alone.)
When the prompt asks for the answer in a file ("... to the file /abs/x.answer with your write
tool ..."), the child writes it with the `write` tool (kind "write_answer") and then replies DONE.

The host: a conversation whose user message carries `HOST {json}` is played by host_player.py
(the host agent doing what the skill's SKILL.md says: read it, exec plan, spawn, yield, check,
finish); see its docstring. Its requests are logged with kind "host" and its tag.

Collector runs (Swarm `collect:true` with `outputSchema`) offer the child a `structured_output`
tool (parameters exactly {"result": <value>}: dist/subagent-registry-*.mjs
createStructuredOutputTool): the server then answers with a tool call
`structured_output({"result": <reply, parsed when it is JSON text>})`, and on the follow-up
request (with the tool result) with a short final text. Not exercised through the gateway: on
OpenClaw 2026.9.6 collector runs spawned over HTTP never start (see test_gateway_live.py).

Every request is appended to --log as one JSON line: {t, model, stream, first_line, tools,
attempt, kind, tag, sim, player, action, emitted_bytes} (`first_line`: of the task; `kind`:
reply | tool_call | after_tool | fail | hang | no_directive | read_prompt | write_answer | host; `sim`: the
directive's JSON text, cut at 500 chars; `player`: "host", "child" or null; `action`: what the
answer does - the host's read_skill | exec | spawn | yield | write | final | wait, a child's
read_prompt | write_answer | reply | structured_output | fail | hang; `emitted_bytes`: UTF-8 bytes the model
emitted, i.e. each tool call's arguments JSON plus the text), for tests to assert on; the host's
records also carry its `calls` ([tool, arguments cut at 600 chars]) and final `text`. Without a
directive the answer is "OK". `--dump DIR` also writes every request body to DIR (debugging).
`GET /health` -> {"ok": true}; `GET /debug/requests` -> the same records.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import select
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from parallel_agents.simulation.directives import DIRECTIVE_RE, model_override, parse_directive  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import host_player  # noqa: E402

MODELS = ("fast", "balanced", "strongest")
MAX_HANG_S = 900.0  # a hung request is released after this long even if the client stays


message_text = host_player.text_of   # the text of a chat message (string or text parts)


def latest_user_text(messages: list) -> str:
    """The latest user message that is not OpenClaw's internal context."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user" and \
                not host_player.is_internal(message):
            return message_text(message)
    return ""


def task_text(messages: list) -> str:
    """The text of the latest user message that carries a SIM directive, else the latest user
    message. (OpenClaw appends a user message of internal context after the task message: that
    one counts only when it carries the directive.)"""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            text = message_text(message)
            if DIRECTIVE_RE.search(text):
                return text
    return latest_user_text(messages)


_TASK_HEADER_RE = re.compile(r"\[Subagent Task\][ \t]*\n")
_TASK_FOOTER = "\n\nBegin. Execute the assigned task"
_STAMP_RE = re.compile(r"^\[[^\]\n]{0,60}\] ")  # "[Tue 2026-11-24 16:03 UTC] "
_RUNTIME_RE = re.compile(r"^Runtime: .*$", re.MULTILINE)  # per-run session ids, host, model


def task_body(text: str) -> str:
    """The task as the spawner wrote it: the text after OpenClaw's "[Subagent Task]" header, up to
    its "Begin. Execute the assigned task" footer. OpenClaw varies the rest per run and per
    re-send (time stamp, "Runtime:" line with session ids, "[Queued user message ...]" prefix and a
    "Continue the current task ..." note on a retry)."""
    header = None
    for header in _TASK_HEADER_RE.finditer(text or ""):
        pass
    if header is None:
        return _RUNTIME_RE.sub("", _STAMP_RE.sub("", (text or "").strip())).strip()
    body = text[header.end():]
    footer = body.find(_TASK_FOOTER)
    return (body[:footer] if footer >= 0 else _RUNTIME_RE.sub("", body)).strip()


def attempt_key(text: str) -> str:
    return hashlib.sha256(task_body(text).encode()).hexdigest()[:16]


def first_line(text: str) -> str:
    """The first non-blank line of the task: after OpenClaw's "[Subagent Task]" header if any."""
    text = text or ""
    for line in task_body(text).splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def tool_names(body: dict) -> list[str]:
    names = []
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return names


def structured_tool(body: dict) -> dict | None:
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name") == "structured_output":
            return fn
    return None


def called_tool(messages: list, name: str) -> bool:
    """Whether an assistant turn in `messages` already called tool `name`."""
    for message in messages or []:
        if isinstance(message, dict) and message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict) and (call.get("function") or {}).get("name") == name:
                    return True
    return False


class Script:
    """The directive state shared by all request threads: attempt counters and the log."""

    def __init__(self, log_path: Path | None):
        self.log_path = log_path
        self.lock = threading.Lock()
        self.attempts: Counter = Counter()
        self.records: list[dict] = []
        self.dump_dir: Path | None = None
        self.dumped = 0

    def count_attempt(self, key: str, first: bool) -> int:
        with self.lock:
            if first:
                self.attempts[key] += 1
            return max(1, self.attempts[key])

    def log(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False)
        with self.lock:
            self.records.append(record)
            if self.log_path is not None:
                with open(self.log_path, "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")


_POINTER_RE = re.compile(r"(?<![\w./-])(/[^\s'\"`<>()\[\]]+\.md)(?![\w/])")
_CHILD_ACTIONS = {"reply": "reply", "no_directive": "reply", "after_tool": "reply",
                  "tool_call": "structured_output", "fail": "fail", "hang": "hang",
                  "read_prompt": "read_prompt", "write_answer": "write_answer"}


def prompt_pointer(text: str) -> str | None:
    """The prompt file of a pointer task: an absolute *.md path named in a sub-agent task that has
    no SIM directive of its own."""
    if not _TASK_HEADER_RE.search(text or "") or DIRECTIVE_RE.search(text or ""):
        return None
    match = _POINTER_RE.search(task_body(text))
    return match.group(1) if match else None


def _reads(message: dict, path: str | None) -> list[str]:
    """Ids of the `read {"path": path}` calls of an assistant message."""
    ids = []
    for call in message.get("tool_calls") or []:
        fn = (call or {}).get("function") or {}
        if path and fn.get("name") == "read":
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                continue
            if isinstance(args, dict) and args.get("path") == path:
                ids.append(str(call.get("id")))
    return ids


def prompt_read(messages: list, path: str | None) -> str | None:
    """The tool result text of the child's read of its prompt file; None before that read."""
    ids = [i for m in messages or [] if isinstance(m, dict) and m.get("role") == "assistant"
           for i in _reads(m, path)]
    if not ids:
        return None
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "tool" and \
                str(message.get("tool_call_id")) in ids:
            return message_text(message)
    return ""


def _peek(path: str) -> dict:
    """The directive in a prompt file, for the log of the read step only (tag, sim)."""
    try:
        with open(path, encoding="utf-8") as fh:
            match = DIRECTIVE_RE.search(fh.read(1 << 20))
        return {"tag": json.loads(match.group(1)).get("tag"), "sim": match.group(1)[:500]} if match else {}
    except (OSError, ValueError, AttributeError):
        return {}


def plan(body: dict, script: Script) -> dict:
    """What to do with one chat-completions request: {kind, player, action, calls, text,
    emitted_bytes, latency, attempt, tag, sim, error?, status?}; `calls` = [(tool, arguments
    JSON text)]. The host is played by host_player; children by their SIM directive."""
    move = host_player.play(body)
    if move is not None:
        calls = [(name, json.dumps(args, ensure_ascii=False)) for name, args in move.calls]
        return {"kind": "host", "player": "host", "action": move.action, "calls": calls,
                "text": move.text, "emitted_bytes": host_player.emitted_bytes(calls, move.text),
                "latency": 0.0, "attempt": None, "tag": move.tag, "sim": None}
    messages = body.get("messages") or []
    user = task_text(messages)
    out = _child(body, script, messages, user)
    out.setdefault("calls", [])
    out.setdefault("text", None)
    out["player"] = "child" if _TASK_HEADER_RE.search(user) or out.get("sim") else None
    out["action"] = _CHILD_ACTIONS[out["kind"]]
    out["emitted_bytes"] = 0 if out["kind"] in ("fail", "hang") else \
        host_player.emitted_bytes(out["calls"], out["text"])
    return out


def _child(body: dict, script: Script, messages: list, user: str) -> dict:
    model = str(body.get("model") or "")
    source, pointer = user, prompt_pointer(user)
    if pointer:
        read = prompt_read(messages, pointer)
        if read is None and "read" in tool_names(body):
            return {"kind": "read_prompt", "calls": [("read", json.dumps({"path": pointer}))],
                    "latency": 0.0, "attempt": None, **_peek(pointer)}
        source = read or ""
    assistants = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    # a run's first request: nothing said yet, or (pointer task) only the read of its prompt
    first = all(_reads(m, pointer) and len(_reads(m, pointer)) == len(m.get("tool_calls") or [])
                and not message_text(m).strip() for m in assistants)
    match = DIRECTIVE_RE.search(source)
    sim = match.group(1)[:500] if match else None
    try:
        spec = parse_directive(source)
    except ValueError as exc:
        return {"kind": "fail", "error": f"SIM directive is not valid JSON: {exc}", "latency": 0.0,
                "attempt": 0, "sim": sim}
    if spec is None:
        return {"kind": "no_directive", "text": "OK", "latency": 0.0, "attempt": 0}
    spec = {**spec, **model_override(spec.get("by_model"), model)}
    key = str(spec.get("key") or attempt_key(user))
    attempt = script.count_attempt(key, first)
    reply = spec.get("reply", "OK")
    replies = spec.get("replies")
    if isinstance(replies, list) and replies:
        reply = replies[min(attempt, len(replies)) - 1]
    latency = float(spec.get("latency", 0.01))
    fail, hang = spec.get("fail"), bool(spec.get("hang"))
    fail_first = spec.get("fail_first")
    if fail_first is not None:
        if not (fail or hang or spec.get("spawn_error")):
            fail = "simulated failure"
        if attempt > int(fail_first):
            fail, hang = None, False
    out = {"latency": latency if first else 0.0, "attempt": attempt, "tag": spec.get("tag"), "sim": sim}
    if hang:
        return {**out, "kind": "hang"}
    if fail:
        return {**out, "kind": "fail", "error": str(fail), "status": int(spec.get("fail_status", 400))}
    tool = structured_tool(body)
    if tool is not None and not called_tool(messages, "structured_output"):
        value = reply
        if not isinstance(value, (dict, list)):
            try:
                value = json.loads(value)
            except (TypeError, ValueError):
                pass
        args = {"result": value}  # OpenClaw's tool takes exactly {"result": <the value>}
        return {**out, "kind": "tool_call", "calls": [("structured_output", json.dumps(args))]}
    if tool is not None:
        return {**out, "kind": "after_tool", "latency": 0.0, "text": "Submitted the structured result."}
    text = reply if isinstance(reply, str) else json.dumps(reply)
    answer = _ANSWER_FILE_RE.search(source)
    if answer and "write" in tool_names(body):     # host mode's prompt files: deliver as asked
        if not _wrote(messages, answer.group(1)):
            return {**out, "kind": "write_answer",
                    "calls": [("write", json.dumps({"path": answer.group(1), "content": text}))]}
        return {**out, "kind": "reply", "latency": 0.0, "text": "DONE"}
    return {**out, "kind": "reply", "text": text}


_ANSWER_FILE_RE = re.compile(r"to the file (/\S+) with your write tool")


def _wrote(messages: list, path: str) -> bool:
    """Whether an assistant turn already called `write` for `path`."""
    for message in messages or []:
        for call in (message.get("tool_calls") or []) if isinstance(message, dict) else []:
            fn = (call or {}).get("function") or {}
            if fn.get("name") == "write":
                try:
                    if json.loads(fn.get("arguments") or "{}").get("path") == path:
                        return True
                except (ValueError, AttributeError):
                    continue
    return False


def make_handler(script: Script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _json(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                now = int(time.time())
                return self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": now, "owned_by": "scripted"} for m in MODELS]})
            if self.path == "/health":
                return self._json(200, {"ok": True})
            if self.path == "/debug/requests":
                with script.lock:
                    records = list(script.records)
                return self._json(200, {"requests": records})
            self._json(404, {"error": {"message": "not found", "type": "not_found"}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                return self._json(404, {"error": {"message": "not found", "type": "not_found"}})
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
            if script.dump_dir is not None:
                with script.lock:
                    script.dumped += 1
                    (script.dump_dir / f"request-{script.dumped:04d}.json").write_bytes(raw)
            action = plan(body, script)
            script.log({"t": round(time.time(), 3), "model": body.get("model"),
                        "stream": bool(body.get("stream")),
                        "first_line": first_line(task_text(body.get("messages") or [])),
                        "tools": tool_names(body), "attempt": action.get("attempt"),
                        "kind": action["kind"], "tag": action.get("tag"), "sim": action.get("sim"),
                        "player": action.get("player"), "action": action.get("action"),
                        "emitted_bytes": action.get("emitted_bytes"),
                        **({"calls": [[n, a[:600]] for n, a in action.get("calls") or []],
                            "text": (action.get("text") or "")[:4000]}
                           if action.get("player") == "host" else {})})
            if action["kind"] == "hang":
                return self._hang()
            if action.get("latency"):
                if self._sleep_or_gone(action["latency"]):
                    return
            if action["kind"] == "fail":
                return self._fail(body, action)
            self._answer(body, action)

        # -- waiting ------------------------------------------------------------------------
        def _client_gone(self, timeout: float) -> bool:
            """Wait up to `timeout` for the client to close the connection."""
            try:
                readable, _, _ = select.select([self.connection], [], [], timeout)
                if not readable:
                    return False
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except (OSError, ValueError):
                return True

        def _sleep_or_gone(self, seconds: float) -> bool:
            end = time.monotonic() + seconds
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                if self._client_gone(min(left, 0.5)):
                    self.close_connection = True
                    return True

        def _hang(self) -> None:
            self._sleep_or_gone(MAX_HANG_S)
            self.close_connection = True

        def _fail(self, body: dict, action: dict) -> None:
            status = action.get("status", 400)
            if status == 200 and body.get("stream"):  # an error event inside a 200 stream
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                payload = {"error": {"message": action["error"], "type": "server_error", "code": "scripted_failure"}}
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()
                return
            kind = "invalid_request_error" if status < 500 else "server_error"
            self._json(status, {"error": {"message": action["error"], "type": kind, "code": "scripted_failure"}})

        # -- answering ----------------------------------------------------------------------
        def _answer(self, body: dict, action: dict) -> None:
            model = body.get("model") or "scripted"
            cid = f"chatcmpl-{uuid.uuid4().hex[:20]}"
            created = int(time.time())
            prompt_tokens = sum(len(message_text(m)) for m in body.get("messages") or []
                                if isinstance(m, dict)) // 4
            calls = [{"id": f"call_{uuid.uuid4().hex[:16]}", "type": "function",
                      "function": {"name": name, "arguments": arguments}}
                     for name, arguments in action.get("calls") or []]
            text = action.get("text")
            finish = "tool_calls" if calls else "stop"
            completion_tokens = int(action.get("emitted_bytes") or 0) // 4 + 1
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                     "total_tokens": prompt_tokens + completion_tokens}
            if not body.get("stream"):
                message = {"role": "assistant", "content": text}
                if calls:
                    message["tool_calls"] = calls
                return self._json(200, {"id": cid, "object": "chat.completion", "created": created,
                                        "model": model, "choices": [{"index": 0, "message": message,
                                                                     "finish_reason": finish}],
                                        "usage": usage})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}

            def chunk(delta: dict, finish_reason=None, **extra) -> None:
                payload = {**base, "choices": [{"index": 0, "delta": delta,
                                                "finish_reason": finish_reason}], **extra}
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")

            try:
                chunk({"role": "assistant", "content": ""})
                for i in range(0, len(text or ""), 400):
                    chunk({"content": text[i:i + 400]})
                if calls:
                    chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(calls)]})
                chunk({}, finish)
                if (body.get("stream_options") or {}).get("include_usage"):
                    self.wfile.write(b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode()
                                     + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", default=None, help="append one JSON line per request here")
    parser.add_argument("--dump", default=None, help="folder: write every request body there (debugging)")
    args = parser.parse_args()
    script = Script(Path(args.log) if args.log else None)
    if args.dump:
        script.dump_dir = Path(args.dump)
        script.dump_dir.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(script))
    server.daemon_threads = True
    tmp = Path(args.port_file + ".tmp")
    tmp.write_text(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
