"""A fake OpenClaw gateway: FakeOpenClaw (the contract double) behind `POST /tools/invoke`,
with bearer auth and the HTTP deny list, in a process of its own so that it outlives a client
that is killed (crash-resume tests) and is reached over real HTTP (gateway caller tests).

    python3 tests/fake_gateway.py --token T --port-file F [--deny sessions_spawn] [--lane 8]

Like a real OpenClaw 2026.9.6 gateway reached over HTTP, it accepts collector runs
(`collect:true`) but never starts them: they stay queued (FakeOpenClaw collector_runs_start=False;
tests/integration/test_contract.py compares that with the live gateway).

Least privilege (FakeOpenClaw's agents / allow_agents / sandboxed_agents): `--configured-agents
main,reviewer` (agents.list), `--allow-agents reviewer` (the requester's subagents.allowAgents;
"*" for any), `--sandboxed-agents boxed`; `--agents-list` offers the agents_list tool over
/tools/invoke (as tools.alsoAllow: ["agents_list"] does; a stock gateway does not).

Writes the chosen port to --port-file when ready. `GET /health` -> {"ok": true}.
`GET /debug/runs` -> every run the fake accepted (label, model, status): for assertions only.

Attach grants (OpenClaw's MCP door, parallel_agents/openclaw/mcp.py has the live facts), as seen on a live
OpenClaw 2026.9.6 gateway (tests/integration/test_mcp_live.py runs the same checks on both):
- `POST /debug/grant {sessionKey?, ttlMs?}` (gateway token required, as attach.grant needs
  operator.admin) -> attach.grant's answer `{sessionKey, token, expiresAtMs, mcpConfig, env:
  {OPENCLAW_MCP_TOKEN}}` plus `url`. The key is normalised like OpenClaw's ("main" or none ->
  "agent:main:main", "k" -> "agent:main:k"); the TTL defaults to 1 h and is capped at 12 h.
  `POST /debug/revoke {token}` -> `{revoked}`. tests/fake_openclaw_cli.py (`openclaw attach`)
  uses both. `GET /debug/grant-runs` -> `{sessions: {key: runs}}`.
- `POST /mcp` with `Authorization: Bearer <grant token>`: stateless JSON-RPC 2.0 (initialize,
  tools/list with the live gateway's 22 tool names, tools/call -> `{content: [{type: "text",
  text: <the tool's JSON, indented>}], isError}`). A wrong, revoked or expired token: 401
  `{"error": "unauthorized"}`; not application/json: 415; bad JSON: 400 -32700; unknown method
  -32601; arguments not an object -32602; an unknown tool or a thrown error: isError with the
  plain text; isError is OpenClaw's isToolResultError of the JSON (refusals too).
- The tools are FakeOpenClaw's, one instance per bound session (children belong to the session
  the grant is bound to), whose collectors *start* (as through a live grant; /tools/invoke keeps
  them queued). Not shared with /tools/invoke: a grant bound to agent:main:main does not see the
  runs spawned over /tools/invoke (the live gateway's would).
- The live defect is reproduced: sessions_history answers `{status: "error", error: "Gateway
  client authority closed before dispatching sessions.resolve."}` and sessions_list throws
  "... sessions.list.". The other tools that FakeOpenClaw does not play are listed but throw.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parallel_agents.simulation.fake_openclaw import AGENTS_LIST, ALL_TOOLS, FakeOpenClaw  # noqa: E402
from parallel_agents.openclaw.toolcaller import ToolError  # noqa: E402


# -- attach grants and the MCP door -------------------------------------------------------------
GRANT_TOOLS = ("dashboard", "theme", "get_goal", "create_goal", "update_goal", "skill_workshop",
               "progress_card", "ask_user", "secrets", "sessions_list", "sessions_history",
               "sessions_search", "sessions_send", "sessions_spawn", "agents_wait", "sessions_yield",
               "subagents", "session_status", "web_search", "web_fetch", "memory_search", "memory_get")
PROTOCOLS = ("2025-03-26", "2024-11-05")
DEFAULT_TTL_MS, MAX_TTL_MS = 3_600_000, 43_200_000
DEFECT = "Gateway client authority closed before dispatching {}."
# isToolResultError (dist/tool-result-error-*.mjs): these statuses make a result an error
ERROR_STATUSES = {"error", "failed", "failure", "timeout", "timed_out", "blocked", "denied", "forbidden",
                  "unavailable", "approval-unavailable", "disabled", "aborted", "cancelled", "canceled",
                  "killed", "invalid"}


def bound_session_key(raw) -> str:
    """attach.grant's session key: "main" (or none) is the main session; a bare key gets the
    main agent's prefix."""
    key = raw.strip() if isinstance(raw, str) and raw.strip() else "main"
    key = "agent:main:main" if key == "main" else key
    return key if key.startswith("agent:") else f"agent:main:{key}"


def is_tool_result_error(details) -> bool:
    """OpenClaw's isToolResultError: the `isError` a tools/call answer carries."""
    if not isinstance(details, dict):
        return False
    status = details.get("status")
    status = status.strip().lower() if isinstance(status, str) else None
    ok, success = details.get("ok"), details.get("success")
    if ok is False or success is False:
        return True
    if status in ERROR_STATUSES and not (ok is True or success is True):
        return True
    if details.get("timedOut") is True or details.get("error") not in (None, False, 0, ""):
        return True
    code = details.get("exitCode")
    numeric = isinstance(code, (int, float)) and not isinstance(code, bool)
    return status != "completed" and numeric and code != 0


class Grants:
    """Attach grants (token -> bound session, expiry) and one FakeOpenClaw per bound session."""

    def __init__(self, make_fake):
        self._make_fake = make_fake
        self._lock = threading.Lock()
        self._grants: dict[str, tuple[str, int]] = {}
        self._fakes: dict[str, FakeOpenClaw] = {}

    def mint(self, session_key, ttl_ms) -> tuple[str, str, int]:
        ttl = ttl_ms if isinstance(ttl_ms, (int, float)) and not isinstance(ttl_ms, bool) and ttl_ms > 0 \
            else DEFAULT_TTL_MS
        key, token = bound_session_key(session_key), secrets.token_hex(32)
        expires = int(time.time() * 1000 + min(ttl, MAX_TTL_MS))
        with self._lock:
            self._grants[token] = (key, expires)
        return key, token, expires

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._grants.pop(token, None) is not None

    def session(self, token: str) -> str | None:
        """The session a live grant is bound to; None for unknown, revoked and expired tokens."""
        with self._lock:
            key, expires = self._grants.get(token, (None, 0))
            if key is not None and time.time() * 1000 >= expires:
                del self._grants[token]
                return None
            return key

    def fake(self, session_key: str) -> FakeOpenClaw:
        with self._lock:
            if session_key not in self._fakes:
                fake = self._fakes[session_key] = self._make_fake()
                fake.requester_session_key = session_key
            return self._fakes[session_key]

    def live(self) -> list[str]:
        """The bound session of every grant not revoked and not expired (no tokens)."""
        now = time.time() * 1000
        with self._lock:
            return sorted(key for key, expires in self._grants.values() if now < expires)

    def runs(self) -> dict:
        with self._lock:
            fakes = dict(self._fakes)
        return {key: fake.runs() for key, fake in fakes.items()}

    def owner(self, run_id: str) -> str | None:
        """The session whose grant spawned collector `run_id`."""
        return next((key for key, runs in self.runs().items()
                     if any(r["run_id"] == run_id and r["collect"] for r in runs)), None)


def rpc_error(id_, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def mcp_answer(grants: Grants, session: str, message) -> dict | None:
    """The answer to one JSON-RPC message (None for a notification), as dist/mcp-http.handlers
    gives it."""
    id_ = message.get("id") if isinstance(message, dict) else None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" \
            or not isinstance(message.get("method"), str):
        return rpc_error(id_ if isinstance(id_, (str, int)) else None, -32600, "Invalid Request")
    method, params = message["method"], message.get("params")
    params = params if isinstance(params, dict) else {}
    if "id" not in message:
        return None
    if method == "initialize":
        asked = params.get("protocolVersion")
        return {"jsonrpc": "2.0", "id": id_, "result": {
            "protocolVersion": asked if asked in PROTOCOLS else PROTOCOLS[0],
            "capabilities": {"tools": {}}, "serverInfo": {"name": "openclaw", "version": "0.1.0"}}}
    if method.startswith("notifications/"):
        return None
    if method == "tools/list":
        return {"jsonrpc": "2.0", "id": id_, "result": {"tools": [
            {"name": name, "description": f"{name} (fake gateway)", "inputSchema": {"type": "object"}}
            for name in GRANT_TOOLS]}}
    if method != "tools/call":
        return rpc_error(id_, -32601, f"Method not found: {method}")
    args = params.get("arguments", {})
    if not isinstance(args, dict):
        return rpc_error(id_, -32602, "Invalid params: tools/call arguments must be an object")
    name = params.get("name").strip() if isinstance(params.get("name"), str) else ""
    return {"jsonrpc": "2.0", "id": id_, "result": tools_call(grants, session, name, args)}


def thrown(text: str) -> dict:
    """A tools/call result for a tool that threw: its message as plain text."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


def tools_call(grants: Grants, session: str, name: str, args: dict) -> dict:
    fake = grants.fake(session)
    if name not in GRANT_TOOLS:
        return thrown(f"Tool not available: {name or 'unknown'}")
    if name == "sessions_list":
        return thrown(DEFECT.format("sessions.list"))
    if name == "sessions_history":
        details = {"status": "error", "error": DEFECT.format("sessions.resolve")}
    elif not fake.has(name):
        return thrown(f"{name} is not played by the fake gateway")
    else:
        try:
            details = fake.call(name, args)
        except ToolError as exc:
            return thrown(exc.message)
        for error in details.get("errors") or () if name == "agents_wait" else ():
            if error.get("error") == "not_found" and grants.owner(error.get("runId")) not in (None, session):
                error["error"] = "not_owner"  # another session's collector (one FakeOpenClaw each)
    return {"content": [{"type": "text", "text": json.dumps(details, indent=2, ensure_ascii=False)}],
            "isError": is_tool_result_error(details)}


def make_handler(fake: FakeOpenClaw, token: str, deny: set[str], grants: Grants):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/health":
                self._send(200, {"ok": True, "status": "live"})
            elif self.path == "/debug/runs":
                self._send(200, {"runs": fake.runs(), "calls": dict(fake.calls)})
            elif self.path == "/debug/grant-runs":
                self._send(200, {"sessions": grants.runs()})
            elif self.path == "/debug/grants":
                self._send(200, {"live": grants.live()})
            else:
                self._send(404, {"ok": False, "error": {"type": "not_found", "message": "Not Found"}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == "/mcp":
                return self._mcp(raw)
            if self.path in ("/debug/grant", "/debug/revoke"):
                return self._grant(raw)
            if self.path != "/tools/invoke":
                return self._send(404, {"ok": False, "error": {"type": "not_found", "message": "Not Found"}})
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._send(401, {"ok": False, "error": {"type": "unauthorized",
                                                               "message": "Unauthorized"}})
            try:
                body = json.loads(raw)
            except ValueError:
                return self._send(400, {"ok": False, "error": {"type": "invalid_request",
                                                               "message": "invalid JSON"}})
            tool = body.get("name") or body.get("tool")
            if tool in deny or not fake.has(tool):
                return self._send(404, {"ok": False, "error": {
                    "type": "not_found", "message": f"Tool not available: {tool}"}})
            try:
                details = fake.call(tool, body.get("args") or {})
            except ToolError as exc:
                return self._send(400, {"ok": False, "error": {"type": "tool_error",
                                                               "message": exc.message}})
            self._send(200, {"ok": True, "result": {
                "content": [{"type": "text", "text": json.dumps(details)}], "details": details}})

        def _grant(self, raw: bytes):
            """attach.grant / attach.revoke, which need the gateway's own token."""
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._send(401, {"error": "unauthorized"})
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self._send(400, {"error": "invalid JSON"})
            if self.path == "/debug/revoke":
                if not isinstance(body.get("token"), str) or not body["token"].strip():
                    return self._send(400, {"error": "token is required"})
                return self._send(200, {"revoked": grants.revoke(body["token"].strip())})
            key, grant_token, expires = grants.mint(body.get("sessionKey"), body.get("ttlMs"))
            url = f"http://127.0.0.1:{self.server.server_address[1]}/mcp"
            self._send(200, {"sessionKey": key, "token": grant_token, "expiresAtMs": expires, "url": url,
                             "mcpConfig": {"mcpServers": {"openclaw": {
                                 "type": "http", "url": url, "alwaysLoad": True,
                                 "headers": {"Authorization": "Bearer ${OPENCLAW_MCP_TOKEN}"}}}},
                             "env": {"OPENCLAW_MCP_TOKEN": grant_token}})

        def _mcp(self, raw: bytes):
            auth = self.headers.get("Authorization") or ""
            session = grants.session(auth[7:]) if auth.startswith("Bearer ") else None
            if session is None:
                return self._send(401, {"error": "unauthorized"})
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self._send(415, {"error": "unsupported_media_type"})
            try:
                parsed = json.loads(raw)
            except ValueError:
                return self._send(400, rpc_error(None, -32700, "Parse error"))
            if parsed == []:
                return self._send(200, rpc_error(None, -32600, "Invalid Request"))
            messages = parsed if isinstance(parsed, list) else [parsed]
            answers = [a for a in (mcp_answer(grants, session, m) for m in messages) if a is not None]
            if not answers:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self._send(200, answers if isinstance(parsed, list) else answers[0])

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--deny", action="append", default=[])
    parser.add_argument("--lane", type=int, default=8)
    parser.add_argument("--max-children", type=int, default=5)
    parser.add_argument("--models", default="", help="comma-separated allowed model refs")
    parser.add_argument("--agents", action="store_true",
                        help="children play the registry's agents (simulated replies from each "
                             "agent's schema, as in `demo`) instead of SIM directives")
    parser.add_argument("--configured-agents", help="comma-separated agents.list ids")
    parser.add_argument("--allow-agents", help="comma-separated subagents.allowAgents (* = any)")
    parser.add_argument("--sandboxed-agents", default="", help="comma-separated sandboxed agent ids")
    parser.add_argument("--agents-list", action="store_true", help="offer agents_list over HTTP")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m] or None
    split = lambda text: None if text is None else [x for x in text.split(",") if x]  # noqa: E731
    privileges = {"agents": split(args.configured_agents), "allow_agents": split(args.allow_agents),
                  "sandboxed_agents": split(args.sandboxed_agents),
                  "tools": ALL_TOOLS + ((AGENTS_LIST,) if args.agents_list else ())}
    responder = None
    if args.agents:
        from parallel_agents.definitions.registry import load_registry
        from parallel_agents.simulation.simulated import AgentPlayer
        responder = AgentPlayer(load_registry(), latency=(0.01, 0.05))

    def make_fake(collector_runs_start: bool) -> FakeOpenClaw:
        options = {"responder": responder} if responder is not None else {}
        return FakeOpenClaw(lane_max_concurrent=args.lane, max_children=args.max_children, models=models,
                            collector_runs_start=collector_runs_start, **privileges, **options)

    fake = make_fake(False)  # over /tools/invoke collectors stay queued, as on a live gateway
    grants = Grants(lambda: make_fake(True))  # through a grant they run
    server = ThreadingHTTPServer(("127.0.0.1", args.port),
                                 make_handler(fake, args.token, set(args.deny), grants))
    server.daemon_threads = True
    tmp = Path(args.port_file + ".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(args.port_file)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
