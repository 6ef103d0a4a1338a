"""JSON over HTTP with a bearer secret: what OpenClaw's two doors for scripts have in common.

`BearerJsonCaller` is the base of `GatewayToolCaller` (`POST /tools/invoke` with the gateway
token, gateway.py) and `McpToolCaller` (`POST /mcp` with an attach grant token, mcp.py). It owns:
- the URL check: http(s) only, and plain http only to loopback unless explicitly allowed (a
  bearer secret must not cross a network in clear text);
- one POST of a JSON body with `Authorization: Bearer <secret>` and the read timeout (longer for
  tools that block on the server: `agents_wait`, `subagents wait`);
- the retry policy: a retryable ToolError is retried with jittered exponential back-off, except
  that `sessions_spawn` is never sent again blindly (it may have been accepted before the answer
  was lost) unless nothing was reachable at all; when the retries run out, unreachable is fatal;
- transport errors: a timeout and "not JSON" are retryable, connection refused is retryable and
  marked `unreachable`; HTTP statuses go to `_status_error`, whose default makes 408/429/5xx
  retryable (honouring Retry-After) and anything else a plain error. Subclasses map their own
  statuses first;
- the secret: never in repr, an error text or a log line (`redact`).
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
from typing import Any, Callable

from .errors import EnvironmentProblem, ToolError

log = logging.getLogger(__name__)

__all__ = ["BearerJsonCaller", "check_url", "is_loopback", "blocks_for", "error_message"]


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, field: str, what: str = "URL", secret: str = "bearer token",
              allow_insecure_http: bool = False, file=None,
              insecure_fix: str = "use https:// or an SSH tunnel to loopback") -> urllib.parse.SplitResult:
    """`url` split, or EnvironmentProblem naming `field` (and `file`): not http(s), or plain
    http to a host that is not loopback without `allow_insecure_http`."""
    parsed = urllib.parse.urlsplit(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise EnvironmentProblem(f"{what} {url!r} is not an http(s) URL", file=file, field=field,
                                 fix="e.g. http://127.0.0.1:18789")
    if parsed.scheme == "http" and not is_loopback(parsed.hostname) and not allow_insecure_http:
        raise EnvironmentProblem(f"plain http:// to {parsed.hostname} would send the {secret} "
                                 "unencrypted", file=file, field=field, fix=insecure_fix)
    return parsed


def blocks_for(tool: str, args: dict) -> float:
    """Seconds a waiting tool may legitimately hold the request open on the gateway (its
    timeoutSeconds, default 30): the HTTP read timeout comes on top of that."""
    if tool != "agents_wait" and not (tool == "subagents" and (args or {}).get("action") == "wait"):
        return 0.0
    wait = (args or {}).get("timeoutSeconds", 30)
    return float(wait) if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > 0 else 0.0


def error_message(payload) -> str:
    """The message of an error body: `{error: {message}}`, `{error: "text"}` or the body cut short."""
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)
        if err:
            return str(err)
    return str(payload)[:200]


class BearerJsonCaller:
    """POSTs JSON to one URL with a bearer secret; see the module docstring."""

    #: How errors name the other side ("gateway", "MCP endpoint").
    peer = "gateway"
    #: The fix for "nothing answers at this address".
    unreachable_fix = "start the gateway (`openclaw gateway run`)"
    #: The fix for "it answered, but not with JSON".
    not_json_fix = "check that the URL points at an OpenClaw gateway"
    #: {HTTP status: (message, fix, fatal)} for the statuses this door explains; message and fix
    #: may use {tool}, {url} and {message} (the answer's error text, redacted).
    status_errors: dict[int, tuple[str, str, bool]] = {}

    def __init__(self, url: str, secret: str, *, timeout_s: float = 30.0, retries: int = 3):
        self.url = url
        self._secret = secret
        self.timeout_s = timeout_s
        self.retries = retries
        self._rng = random.Random()

    def __repr__(self) -> str:  # never show the secret
        return f"{type(self).__name__}({self.url!r})"

    def redact(self, text: str) -> str:
        """`text` without the secret. A secret too short to be a real one (under 8 characters)
        is only replaced where it stands alone, so words that contain it stay readable."""
        if not self._secret:
            return text
        if len(self._secret) >= 8:
            return text.replace(self._secret, "[redacted]")
        return re.sub(rf"(?<![\w-]){re.escape(self._secret)}(?![\w-])", "[redacted]", text)

    def _exchange(self, tool: str, body: dict, timeout: float, read: Callable[[Any], Any],
                  headers: dict | None = None) -> Any:
        """POST `body`, hand the decoded JSON answer of a 2xx to `read` and return what it
        returns. ToolErrors raised by the transport or by `read` follow the retry policy."""
        data = json.dumps(body).encode()
        attempt = 0
        while True:
            attempt += 1
            try:
                return read(self._post(tool, data, timeout, headers or {}))
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

    def _post(self, tool: str, data: bytes, timeout: float, headers: dict) -> Any:
        request = urllib.request.Request(self.url, data=data, method="POST", headers={
            **headers, "Authorization": f"Bearer {self._secret}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = error_message(json.loads(exc.read() or b"{}"))
            except ValueError:
                message = exc.reason or ""
            raise self._status_error(tool, exc.code, self.redact(str(message)), exc.headers) from None
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise ToolError(f"{self.peer} did not answer within {timeout:g}s", tool=tool,
                                retryable=True, fix="check the gateway's load, or raise the timeout") from None
            error = ToolError(self.redact(f"{self.peer} not reachable at {self._where()}: {reason}"),
                              tool=tool, retryable=True, fix=self.unreachable_fix)
            error.unreachable = True
            raise error from None
        except ValueError:
            raise ToolError(f"{self.peer} answered with something that is not JSON", tool=tool,
                            retryable=True, fix=self.not_json_fix) from None

    def _where(self) -> str:
        return self.url

    def _status_error(self, tool: str, code: int, message: str, headers) -> ToolError:
        """The ToolError for an HTTP error status (`message` is already redacted)."""
        if code in self.status_errors:
            text, fix, fatal = self.status_errors[code]
            fields = {"tool": tool, "url": self.url, "message": message}
            return ToolError(text.format(**fields), tool=tool, fix=fix.format(**fields), fatal=fatal)
        if code in (408, 429) or code >= 500:
            error = ToolError(f"{self.peer} busy or failing ({code}): {message}", tool=tool, retryable=True,
                              fix="it is retried; if it persists, check the gateway log")
            retry_after = headers.get("Retry-After") if headers else None
            error.retry_after = float(retry_after) if retry_after and retry_after.isdigit() else None
            return error
        return ToolError(f"unexpected {self.peer} status {code}: {message}", tool=tool,
                         fix="see the gateway log")
