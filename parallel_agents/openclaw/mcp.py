"""An OpenClaw attach grant as a tool caller: MCP (JSON-RPC 2.0) over `POST <url>/mcp`.

`openclaw attach` (run with the gateway's environment; the local CLI authenticates with the
configured gateway token and calls the gateway method `attach.grant`, which needs
operator.admin) mints a grant bound to one session and writes an `.mcp.json`:
`{"mcpServers": {"openclaw": {"type": "http", "url": "http://127.0.0.1:<port>/mcp",
"alwaysLoad": true, "headers": {"Authorization": "Bearer ${OPENCLAW_MCP_TOKEN}"}}}}` (mode 0600,
in a fresh `$TMPDIR/openclaw-attach-XXXXXX/`). `--bin PROG` runs `PROG --strict-mcp-config
--mcp-config <path>` with OPENCLAW_MCP_TOKEN=<grant token> added to the CLI's environment,
returns PROG's exit code (128+n for signal n), then revokes the grant and deletes the folder;
`--print-config` prints `{sessionKey, expiresAt, env: {OPENCLAW_MCP_TOKEN}, configPath, launch}`
and leaves the grant live until its TTL (default 1 h, at most 12 h). `McpToolCaller.from_grant`
reads such a file. No `gateway.tools.allow` is needed: the HTTP deny list does not apply here.

Seen on a live gateway (OpenClaw 2026.9.6, tests/integration/test_mcp_live.py; source:
dist/mcp-http-*.mjs, mcp-http.handlers-*.mjs, mcp-grant-store-*.mjs, attach-cli-*.mjs):
- The endpoint is a loopback server of its own (not the gateway port), stateless JSON POSTs
  (Content-Type application/json, else 415 `{"error":"unsupported_media_type"}`; bad JSON: 400
  `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`).
- A wrong, revoked or expired grant token (and a missing one) all get the same answer: HTTP 401
  `{"error":"unauthorized"}`. They cannot be told apart; all three are fatal here.
- `initialize` -> `{protocolVersion: "2025-03-26" (or "2024-11-05" when asked), capabilities:
  {tools: {}}, serverInfo: {name: "openclaw", version: "0.1.0"}}`; `tools/list` -> 22 tools, each
  `{name, description, inputSchema}`; an unknown method: JSON-RPC error -32601 "Method not found:
  <m>"; arguments that are not an object: -32602 "Invalid params: tools/call arguments must be an
  object". -32603 "Internal error" (a failure outside the tool) and -32000 "... Retry ..." are
  retryable here.
- `tools/call` -> `{content: [{type: "text", text: <the tool's JSON, indented>}], isError}`. The
  text is what /tools/invoke returns as `details`. `isError` is OpenClaw's isToolResultError on
  that JSON: true for `status` error/forbidden/cancelled/..., an `error` key or `success: false`
  - so a refused spawn (`{status: "error", error: 'sessions_spawn model "m" is not usable: ...'}`),
  a successful cancel (`{status: "cancelled", ...}`) and agents_wait on unknown ids (`{..., errors,
  success: false}`) all come with isError true: they are results, returned as such.
- A *thrown* tool error is isError true with a plain text: an unknown tool "Tool not available:
  <name>"; an input error its message, e.g. `sessions_spawn does not support "timeoutSeconds".
  Use "runTimeoutSeconds" for a per-run timeout.` (not retryable, like /tools/invoke's 400).
- Collector runs (`collect: true` + `groupId`) spawned through a grant start, and agents_wait
  returns `{runId, status, result, structured?, sessionKey, label, usage: {inputTokens,
  outputTokens}}`; so `collector_runs_start = True` here (unlike GatewayToolCaller).
- Children belong to the grant's session: `subagents list` shows requesterSessionKey = the bound
  key (`agent:main:<key>`) and only that session's children.
- Defect: through a CLI-minted grant `sessions_history` answers `{status: "error", error: "Gateway
  client authority closed before dispatching sessions.resolve."}` and `sessions_list` throws
  "Gateway client authority closed before dispatching sessions.list." (the connection that
  minted the first grant has closed). Use collectors (agents_wait) through a grant.
- A call that lasts over 15 s gets "\\n" keep-alive bytes before its JSON (HTTP 200 is sent first).
  They fit the total deadline of an exchange (httpcall: timeout_s + blocks_for), which holds
  here as over /tools/invoke, with the 16 MB answer cap and no redirects (the grant token would
  go along: a 3xx is fatal).
"""
from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from parallel_agents.core.errors import EnvironmentProblem, ToolError
from parallel_agents.openclaw.httpcall import BearerJsonCaller, blocks_for, shorten
from parallel_agents.openclaw.urls import check_url

__all__ = ["McpToolCaller", "TOKEN_ENV", "PROTOCOL_VERSION"]

TOKEN_ENV = "OPENCLAW_MCP_TOKEN"
PROTOCOL_VERSION = "2025-03-26"
GRANT_FIX = ("mint a new grant with `openclaw attach --print-config --session <key> [--ttl ms]` "
             "(TTL default 1 h, at most 12 h) or run under `openclaw attach --bin <program>`, "
             "which revokes the grant when the program exits")
BUG_FIX = "this is a bug in the request; please report it"
HISTORY_DEFECT = "Gateway client authority closed before dispatching"
_RETRYABLE_RPC = (-32603, -32000)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class McpToolCaller(BearerJsonCaller):
    """Calls OpenClaw tools through an attach grant's MCP endpoint (see the module docstring)."""

    #: How runs reach OpenClaw through this caller (journaled: a run resumes through the same door).
    door = "attach"
    #: Collectors spawned through a grant run (seen live); agents_wait returns their results.
    collector_runs_start = True
    #: The MCP loopback server serves concurrent POSTs.
    parallel_calls = 8

    peer = "MCP endpoint"
    secret_name = "grant token"
    redirect_fix = "use the `url` of the grant's .mcp.json as it is"
    unreachable_fix = ("is the gateway running? The endpoint's port changes when the gateway "
                       "restarts: " + GRANT_FIX)
    not_json_fix = "check that the URL is the `url` of the grant's .mcp.json"
    status_errors = {
        401: ("the MCP endpoint refused the grant token (401): the attach grant is wrong, expired or "
              "revoked", GRANT_FIX, True),
        403: ("the MCP endpoint refused the request (403): {message}",
              "call it from this machine, without an Origin header", True),
        404: ("no MCP endpoint at {url} (404)", "use the `url` of the grant's .mcp.json (it ends in /mcp)",
              True),
        413: ("request too large for the MCP endpoint (413)",
              "send less input data per task (it accepts 1 MB per request)", False),
        400: ("the MCP endpoint rejected the request (400): {message}", BUG_FIX, False),
        415: ("the MCP endpoint rejected the request (415): {message}", BUG_FIX, False),
    }

    def __init__(self, url: str, token: str | None, *, timeout_s: float = 30.0, retries: int = 3,
                 headers: Mapping[str, str] | None = None, source: str | None = None):
        check_url(url, field="url", what="MCP URL", secret="grant token", file=source)
        if not token:
            raise EnvironmentProblem("no grant token", field=TOKEN_ENV, file=source, fix=GRANT_FIX)
        super().__init__(url, token, timeout_s=timeout_s, retries=retries)
        self.headers = dict(headers or {})
        self.missing: set[str] = set()
        self._tools: frozenset[str] | None = None
        self._ids = itertools.count(1)

    @classmethod
    def from_grant(cls, config_path, environ: Mapping[str, str] | None = None, **options) -> "McpToolCaller":
        """A caller for the first server of type "http" in an `.mcp.json` (e.g. the `configPath`
        of `openclaw attach --print-config`), `${VAR}` in its headers taken from `environ`
        (default os.environ; pass the printed `env` merged in)."""
        path = Path(config_path)
        environ = os.environ if environ is None else environ
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise EnvironmentProblem(f"cannot read the grant config: {exc.strerror or exc}", file=path,
                                     fix=GRANT_FIX) from None
        except ValueError as exc:
            raise EnvironmentProblem(f"not JSON: {exc}", file=path, fix=GRANT_FIX) from None
        servers = config.get("mcpServers") if isinstance(config, dict) else None
        if not isinstance(servers, dict):
            raise EnvironmentProblem("no mcpServers object", file=path, field="mcpServers", fix=GRANT_FIX)
        name, server = next(((n, s) for n, s in servers.items()
                             if isinstance(s, dict) and s.get("type") == "http"), (None, None))
        if server is None:
            raise EnvironmentProblem('no server of type "http"', file=path, field="mcpServers",
                                     fix=GRANT_FIX)
        where = f"mcpServers.{name}"
        url = server.get("url")
        if not isinstance(url, str):
            raise EnvironmentProblem("no url", file=path, field=f"{where}.url", fix=GRANT_FIX)
        headers = server.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise EnvironmentProblem("headers must map names to text", file=path, field=f"{where}.headers",
                                     fix=GRANT_FIX)
        resolved = {k: _substitute(v, environ, path, f"{where}.headers.{k}") for k, v in headers.items()}
        auth = next((v for k, v in resolved.items() if k.lower() == "authorization"), "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise EnvironmentProblem("no Bearer token in the Authorization header", file=path,
                                     field=f"{where}.headers.Authorization", fix=GRANT_FIX)
        extra = {k: v for k, v in resolved.items() if k.lower() != "authorization"}
        check_url(url, field=f"{where}.url", what="MCP URL", secret="grant token", file=path)
        return cls(url, auth[7:].strip(), headers=extra, source=str(path), **options)

    # -- ToolCaller -------------------------------------------------------------------------
    def has(self, tool: str) -> bool:
        """Whether the grant offers `tool`: one `tools/list`, cached. Raises the (fatal)
        ToolError when the grant is refused."""
        if self._tools is None:
            self._tools = frozenset(t.get("name") for t in self.list_tools() if isinstance(t, dict))
        return tool in self._tools and tool not in self.missing

    def call(self, tool: str, args: dict) -> dict:
        params = {"name": tool, "arguments": args or {}}
        return self._rpc(tool, "tools/call", params, self.timeout_s + blocks_for(tool, args),
                         lambda result: self._tool_result(tool, result))

    def initialize(self) -> dict:
        """The server's `initialize` result (protocolVersion, capabilities, serverInfo)."""
        params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                  "clientInfo": {"name": "parallel-agents", "version": "1"}}
        return self._rpc("initialize", "initialize", params, self.timeout_s, _object)

    def list_tools(self) -> list[dict]:
        """`tools/list`: every tool the grant offers, `{name, description, inputSchema}`."""
        result = self._rpc("tools/list", "tools/list", {}, self.timeout_s, _object)
        tools = result.get("tools")
        if not isinstance(tools, list):
            raise ToolError("tools/list answered without a tools list", tool="tools/list")
        return tools

    # -- JSON-RPC ---------------------------------------------------------------------------
    def _rpc(self, tool: str, method: str, params: dict, timeout: float, read) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        return self._exchange(tool, body, timeout, lambda answer: read(self._rpc_result(tool, answer)),
                              self.headers)

    def _rpc_result(self, tool: str, answer) -> Any:
        if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
            raise ToolError(f"{self.peer} answered with something that is not JSON-RPC", tool=tool,
                            fix=self.not_json_fix)
        error = answer.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            retryable = code in _RETRYABLE_RPC
            fix = "it is retried; if it persists, see the gateway log" if retryable else BUG_FIX
            raise ToolError(self.said(f"JSON-RPC error {code}: {error.get('message')}"), tool=tool,
                            retryable=retryable, fix=fix)
        return answer.get("result")

    def _tool_result(self, tool: str, result) -> dict:
        if not isinstance(result, dict):
            raise ToolError("tools/call answered without a result object", tool=tool, fix=self.not_json_fix)
        content = result.get("content")
        if not isinstance(content, list):
            raise ToolError("tools/call answered without content", tool=tool, fix=self.not_json_fix)
        try:
            return self._unwrap(tool, {"content": content})
        except ToolError:
            if result.get("isError") is not True:
                raise
        text = next((b.get("text") for b in content if isinstance(b, dict)
                     and isinstance(b.get("text"), str)), "")
        raise self._thrown(tool, self.redact(text))

    def _thrown(self, tool: str, text: str) -> ToolError:
        """The ToolError for a tool that threw (isError with a plain text, already redacted)."""
        said = shorten(text)
        if text.startswith("Tool not available"):
            self.missing.add(tool)
            return ToolError(f"the grant does not offer {tool}: {said}", tool=tool,
                             fatal=tool == "sessions_spawn",
                             fix="check the tool name against tools/list (McpToolCaller.list_tools)")
        if text == "Tool call authorization expired":
            return ToolError(f"the grant was refused mid-call: {said}", tool=tool, fatal=True, fix=GRANT_FIX)
        if text.startswith(HISTORY_DEFECT):
            return ToolError(f"{tool} does not work through an attach grant: {said}", tool=tool,
                             fix="an OpenClaw 2026.9.6 defect: collect results with agents_wait "
                                 "(collect: true) instead")
        return ToolError(f"tool input error: {said}", tool=tool, fix=BUG_FIX)


def _object(result) -> dict:
    if not isinstance(result, dict):
        raise ToolError("the MCP endpoint answered without a result object", tool="mcp")
    return result


def _substitute(value: str, environ: Mapping[str, str], path: Path, field: str) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        if not environ.get(name):
            raise EnvironmentProblem(f"${{{name}}} is not set", file=path, field=field,
                                     fix=f"run with the grant's environment ({name} is in the `env` "
                                         "that `openclaw attach --print-config` printed)")
        return environ[name]
    return _VAR.sub(one, value)
