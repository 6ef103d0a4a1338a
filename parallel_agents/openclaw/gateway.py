"""The OpenClaw Gateway as a tool caller: `POST /tools/invoke` over stdlib HTTP.

Request `{"tool", "args", "sessionKey"?}` with `Authorization: Bearer <token>`; a 200 answer is
`{"ok": true, "result": {"content": [...], "details": <the tool's JSON>}}`. Statuses map to
ToolError with a one-line fix (docs/gateway/tools-invoke-http-api.md, OpenClaw 2026.9.6):
400 tool input error, 401 bad token, 403 blocked by policy, 404 tool not allowed (sessions_spawn
is on the HTTP deny list until `gateway.tools.allow` lists it), 408/429/5xx and connection
problems are retryable; a redirect is fatal and not followed (the token would go along). The
token never appears in an error, a log line or the journal; neither does a `user:password@` in
the URL, which is refused. Transport, its bounds (total deadline, 16 MB answers, Retry-After
capped at 30 s), retry policy and redaction are httpcall.BearerJsonCaller's (shared with
mcp.McpToolCaller, the attach-grant door).
"""
from __future__ import annotations

import urllib.parse

from parallel_agents.core.errors import EnvironmentProblem, ToolError
from parallel_agents.openclaw.httpcall import BearerJsonCaller, blocks_for, error_message
from parallel_agents.openclaw.urls import check_url

URL_ENV, TOKEN_ENV = "OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN"
SPAWN_ALLOW_FIX = ('add "sessions_spawn" to gateway.tools.allow in openclaw.json (OpenClaw\'s '
                   "security audit will then warn that spawning over HTTP is operator-level "
                   "access; keep the gateway on loopback)")


class GatewayToolCaller(BearerJsonCaller):
    """Calls OpenClaw tools through a gateway's HTTP API."""

    #: How runs reach OpenClaw through this caller (journaled: a run resumes through the same door).
    door = "gateway"
    #: Swarm collector runs spawned over HTTP are accepted but never start on OpenClaw 2026.9.6:
    #: their launch is tied to the HTTP request that spawned them, which has ended (seen on a live
    #: gateway, tests/integration/test_gateway_live.py). So "auto" collection uses plain runs +
    #: sessions_history here.
    collector_runs_start = False

    #: The gateway serves concurrent HTTP requests: the runtime sends up to this many spawns (and
    #: history reads) at once instead of one round trip after another.
    parallel_calls = 8

    peer = "gateway"
    secret_name = "gateway token"
    redirect_fix = f"point {URL_ENV} (or --gateway) at the gateway itself"
    unreachable_fix = f"start it (`openclaw gateway run`) or fix {URL_ENV}"
    not_json_fix = f"check that {URL_ENV} points at an OpenClaw gateway"
    status_errors = {
        401: ("the gateway refused the token (401)", f"set {TOKEN_ENV} to the gateway's gateway.auth.token",
              True),
        403: ("blocked by gateway policy (403): {message}",
              "check tools.allow and the operator role of this token", True),
        413: ("request too large for the gateway (413)",
              "send less input data per task (the gateway accepts 2 MB per request)", False),
        400: ("tool input error (400): {message}", "this is a bug in the request; please report it", False),
    }

    def __init__(self, url: str, token: str | None, *, allow_insecure_http: bool = False,
                 timeout_s: float = 30.0, retries: int = 3, session_key: str | None = None):
        parsed = check_url(url, field=URL_ENV, what="gateway URL", secret="gateway token",
                           allow_insecure_http=allow_insecure_http,
                           insecure_fix="use https://, an SSH tunnel to loopback, or pass "
                                        "--allow-insecure-http (gateway.allow_insecure_http: true in "
                                        "config.yaml) on a trusted network")
        if not token:
            raise EnvironmentProblem("no gateway token", field=TOKEN_ENV,
                                     fix=f"set {TOKEN_ENV} to the gateway's gateway.auth.token")
        self.base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, "", "", ""))
        super().__init__(self.base + "/tools/invoke", token, timeout_s=timeout_s, retries=retries)
        self.session_key = session_key
        self.missing: set[str] = set()

    def __repr__(self) -> str:  # never show the token
        return f"GatewayToolCaller({self.base!r})"

    def _where(self) -> str:
        return self.base

    def has(self, tool: str) -> bool:
        """Unknown until asked: a tool is assumed present until the gateway says 404."""
        return tool not in self.missing

    def call(self, tool: str, args: dict) -> dict:
        body = {"tool": tool, "args": args}
        if self.session_key:
            body["sessionKey"] = self.session_key
        return self._exchange(tool, body, self.timeout_s + blocks_for(tool, args),
                              lambda payload: self._read(tool, payload))

    def _read(self, tool: str, payload) -> dict:
        if not isinstance(payload, dict) or payload.get("ok") is not True:
            raise ToolError(f"gateway error: {error_message(payload, self.redact)}", tool=tool,
                            fix="see the gateway log")
        return self._unwrap(tool, payload.get("result"))

    def _status_error(self, tool: str, code: int, message: str, headers) -> ToolError:
        if code == 404:
            self.missing.add(tool)
            fix = SPAWN_ALLOW_FIX if tool == "sessions_spawn" else \
                f'allow the {tool} tool for HTTP callers (tools.allow / gateway.tools.allow)'
            return ToolError(f"the gateway does not offer {tool} over HTTP (404)", tool=tool, fix=fix,
                             fatal=tool == "sessions_spawn")
        return super()._status_error(tool, code, message, headers)
