"""The OpenClaw Gateway as a tool caller: `POST /tools/invoke` over stdlib HTTP.

Request `{"tool", "args", "sessionKey"?}` with `Authorization: Bearer <token>`; a 200 answer is
`{"ok": true, "result": {"content": [...], "details": <the tool's JSON>}}`. Statuses map to
ToolError with a one-line fix (docs/gateway/tools-invoke-http-api.md, OpenClaw 2026.9.6):
400 tool input error, 401 bad token, 403 blocked by policy, 404 tool not allowed (sessions_spawn
is on the HTTP deny list until `gateway.tools.allow` lists it), 408/429/5xx and connection
problems are retryable. The token never appears in an error, a log line or the journal.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import random
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from .errors import EnvironmentProblem, ToolError
from .toolcaller import unwrap_result

log = logging.getLogger(__name__)

URL_ENV, TOKEN_ENV = "OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN"
SPAWN_ALLOW_FIX = ('add "sessions_spawn" to gateway.tools.allow in openclaw.json (OpenClaw\'s '
                   "security audit will then warn that spawning over HTTP is operator-level "
                   "access; keep the gateway on loopback)")


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class GatewayToolCaller:
    """Calls OpenClaw tools through a gateway's HTTP API."""

    #: Swarm collector runs spawned over HTTP are accepted but never start on OpenClaw 2026.9.6:
    #: their launch is tied to the HTTP request that spawned them, which has ended (seen on a live
    #: gateway, tests/integration/test_gateway_live.py). So "auto" collection uses plain runs +
    #: sessions_history here.
    collector_runs_start = False

    #: The gateway serves concurrent HTTP requests: the runtime sends up to this many spawns (and
    #: history reads) at once instead of one round trip after another.
    parallel_calls = 8

    def __init__(self, url: str, token: str | None, *, allow_insecure_http: bool = False,
                 timeout_s: float = 30.0, retries: int = 3, session_key: str | None = None):
        parsed = urllib.parse.urlsplit(url or "")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise EnvironmentProblem(f"gateway URL {url!r} is not an http(s) URL", field=URL_ENV,
                                     fix="e.g. http://127.0.0.1:18789")
        if parsed.scheme == "http" and not _is_loopback(parsed.hostname) and not allow_insecure_http:
            raise EnvironmentProblem(
                f"plain http:// to {parsed.hostname} would send the gateway token unencrypted",
                field=URL_ENV, fix="use https://, an SSH tunnel to loopback, or pass "
                                   "--allow-insecure-http (gateway.allow_insecure_http: true in config.yaml) on a "
                                   "trusted network")
        if not token:
            raise EnvironmentProblem("no gateway token", field=TOKEN_ENV,
                                     fix=f"set {TOKEN_ENV} to the gateway's gateway.auth.token")
        self.url = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, "/tools/invoke", "", ""))
        self.base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, "", "", ""))
        self._token = token
        self.timeout_s = timeout_s
        self.retries = retries
        self.session_key = session_key
        self.missing: set[str] = set()
        self._rng = random.Random()

    def __repr__(self) -> str:  # never show the token
        return f"GatewayToolCaller({self.base!r})"

    def redact(self, text: str) -> str:
        """`text` without the token. A token too short to be a real secret (under 8 characters)
        is only replaced where it stands alone, so words that contain it stay readable."""
        if not self._token:
            return text
        if len(self._token) >= 8:
            return text.replace(self._token, "[redacted]")
        return re.sub(rf"(?<![\w-]){re.escape(self._token)}(?![\w-])", "[redacted]", text)

    def has(self, tool: str) -> bool:
        """Unknown until asked: a tool is assumed present until the gateway says 404."""
        return tool not in self.missing

    def call(self, tool: str, args: dict) -> dict:
        body = {"tool": tool, "args": args}
        if self.session_key:
            body["sessionKey"] = self.session_key
        data = json.dumps(body).encode()
        timeout = self.timeout_s + _blocks_for(tool, args)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._post(tool, data, timeout)
            except ToolError as exc:
                if not exc.retryable:
                    raise
                if tool == "sessions_spawn" and not getattr(exc, "unreachable", False):
                    raise  # it may have been accepted: never send a spawn twice blindly
                if attempt >= self.retries:
                    exc.fatal = exc.fatal or getattr(exc, "unreachable", False)
                    raise
                delay = min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + self._rng.random() / 2)
                log.debug("retrying %s after %s: %s", tool, delay, exc.message)
                time.sleep(getattr(exc, "retry_after", None) or delay)

    def _post(self, tool: str, data: bytes, timeout: float) -> dict:
        request = urllib.request.Request(self.url, data=data, method="POST", headers={
            "Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise self._http_error(tool, exc) from None
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise ToolError(f"gateway did not answer within {timeout:g}s", tool=tool,
                                retryable=True, fix="check the gateway's load, or raise the timeout") from None
            error = ToolError(self.redact(f"gateway not reachable at {self.base}: {reason}"), tool=tool,
                              retryable=True, fix="start it (`openclaw gateway run`) or fix "
                                                  f"{URL_ENV}")
            error.unreachable = True
            raise error from None
        except ValueError:
            raise ToolError("gateway answered with something that is not JSON", tool=tool,
                            retryable=True, fix=f"check that {URL_ENV} points at an OpenClaw gateway") from None
        if not isinstance(payload, dict) or payload.get("ok") is not True:
            raise ToolError(self.redact(f"gateway error: {_message(payload)}"), tool=tool,
                            fix="see the gateway log")
        return unwrap_result(tool, payload.get("result"))

    def _http_error(self, tool: str, exc: urllib.error.HTTPError) -> ToolError:
        try:
            message = _message(json.loads(exc.read() or b"{}"))
        except ValueError:
            message = exc.reason or ""
        message = self.redact(str(message))
        code = exc.code
        if code == 404:
            self.missing.add(tool)
            fix = SPAWN_ALLOW_FIX if tool == "sessions_spawn" else \
                f'allow the {tool} tool for HTTP callers (tools.allow / gateway.tools.allow)'
            return ToolError(f"the gateway does not offer {tool} over HTTP (404)", tool=tool, fix=fix,
                             fatal=tool == "sessions_spawn")
        if code == 401:
            return ToolError("the gateway refused the token (401)", tool=tool, fatal=True,
                             fix=f"set {TOKEN_ENV} to the gateway's gateway.auth.token")
        if code == 403:
            return ToolError(f"blocked by gateway policy (403): {message}", tool=tool, fatal=True,
                             fix="check tools.allow and the operator role of this token")
        if code == 413:
            return ToolError("request too large for the gateway (413)", tool=tool,
                             fix="send less input data per task (the gateway accepts 2 MB per request)")
        if code == 400:
            return ToolError(f"tool input error (400): {message}", tool=tool,
                             fix="this is a bug in the request; please report it")
        if code in (408, 429) or code >= 500:
            error = ToolError(f"gateway busy or failing ({code}): {message}", tool=tool, retryable=True,
                              fix="it is retried; if it persists, check the gateway log")
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            error.retry_after = float(retry_after) if retry_after and retry_after.isdigit() else None
            return error
        return ToolError(f"unexpected gateway status {code}: {message}", tool=tool,
                         fix="see the gateway log")


def _blocks_for(tool: str, args: dict) -> float:
    """Seconds a waiting tool may legitimately hold the request open on the gateway (its
    timeoutSeconds, default 30): the HTTP read timeout comes on top of that."""
    if tool != "agents_wait" and not (tool == "subagents" and (args or {}).get("action") == "wait"):
        return 0.0
    wait = (args or {}).get("timeoutSeconds", 30)
    return float(wait) if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > 0 else 0.0


def _message(payload) -> str:
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)
        if err:
            return str(err)
    return str(payload)[:200]
