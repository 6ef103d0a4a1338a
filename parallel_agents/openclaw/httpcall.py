"""JSON over HTTP with a bearer secret: what OpenClaw's two doors for scripts have in common.

`BearerJsonCaller` is the base of `GatewayToolCaller` (`POST /tools/invoke` with the gateway
token, gateway.py) and `McpToolCaller` (`POST /mcp` with an attach grant token, mcp.py), both
posting only to URLs urls.check_url let through. It owns:
- one POST of a JSON body with `Authorization: Bearer <secret>` and the read timeout (longer for
  tools that block on the server: `agents_wait`, `subagents wait`);
- bounds on that exchange (a peer that misbehaves must not hold or flood a run):
  * a total deadline, the same seconds as the read timeout (timeout_s + blocks_for): the socket
    timeout bounds each read, not the answer, and a body sent a byte at a time would never
    time out. The MCP endpoint's keep-alive "\\n" every 15 s fits inside it;
  * at most `max_body_bytes` (16 MB) of answer: OpenClaw caps its own tool results far below
    that, so more is not an answer worth reading whole (and again on every retry);
  * no redirects: urllib would resend the Authorization header to wherever `Location` points
    (another host, or plain http). A 3xx is a fatal error naming only the target's origin;
- the retry policy: a retryable ToolError is retried with jittered exponential back-off, except
  that `sessions_spawn` is never sent again blindly (it may have been accepted before the answer
  was lost) unless nothing was reachable at all; when the retries run out, unreachable is fatal;
- transport errors: a timeout and "not JSON" are retryable, connection refused is retryable and
  marked `unreachable`; HTTP statuses go to `_status_error`, whose default makes 408/429/5xx
  retryable (honouring Retry-After up to RETRY_AFTER_CAP_S, 30 s: a "come back tomorrow" must
  not park the run) and anything else a plain error. Subclasses map their own statuses first;
- the secret: never in repr, an error text or a log line (`redact`). Text from the other side is
  redacted *before* it is cut short (a cut could split the secret, leaving a prefix that
  redaction no longer finds) and folded onto one line (`said`).
"""
from __future__ import annotations

import http.client
import json
import logging
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

from parallel_agents.core.errors import ToolError
from parallel_agents.openclaw.toolcaller import unwrap_result
from parallel_agents.openclaw.urls import origin

log = logging.getLogger(__name__)

__all__ = ["BearerJsonCaller", "blocks_for", "error_message", "shorten", "RETRY_AFTER_CAP_S",
           "MAX_BODY_BYTES"]

#: The longest wait a Retry-After header is obeyed for; past it the normal back-off applies.
RETRY_AFTER_CAP_S = 30.0
#: The largest answer read (OpenClaw's tool results are capped far below this).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Of an error answer only the message is wanted: read this much of it at most.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: The most characters of text from the other side put into one error line.
MAX_SAID = 300


def shorten(text: str, limit: int = MAX_SAID) -> str:
    """`text` on one line and at most `limit` characters. Redact before calling this."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def blocks_for(tool: str, args: dict) -> float:
    """Seconds a waiting tool may legitimately hold the request open on the gateway (its
    timeoutSeconds, default 30): the HTTP read timeout and total deadline come on top of that."""
    if tool != "agents_wait" and not (tool == "subagents" and (args or {}).get("action") == "wait"):
        return 0.0
    wait = (args or {}).get("timeoutSeconds", 30)
    return float(wait) if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > 0 else 0.0


def error_message(payload, redact: Callable[[str], str] = str) -> str:
    """The message of an error body: `{error: {message}}`, `{error: "text"}` or the body; redacted
    with `redact` first, then made one short line (in that order: see the module docstring)."""
    text = payload
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            text = err.get("message") or err.get("type") or err
        elif err:
            text = err
    return shorten(redact(str(text)))


class _Deadline:
    """The total time one exchange may take: when it is up, the connection is shut down (the
    reading thread then sees end-of-file and `_post` reports the timeout). A timer, because the
    socket timeout only bounds each read and urllib reads the status line and headers itself."""

    def __init__(self, seconds: float):
        self.seconds, self.expired = seconds, False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        """Called with the socket of a connection once connected (connecting has its own
        timeout). The socket, not the connection: the connection lets go of it after the
        headers of a `Connection: close` answer, while the body is still being read from it."""
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        try:  # socket.socket's own shutdown: an SSLSocket's would also drop its SSL state
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _Watched:
    """An HTTP(S) handler whose connections report to a _Deadline once connected."""

    def __init__(self, deadline: _Deadline, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def do_open(self, http_class, req, **http_conn_args):
        def connection(host, **kwargs):
            made = http_class(host, **kwargs)
            connect = made.connect

            def connect_and_watch():
                connect()
                self.deadline.watch(made.sock)
            made.connect = connect_and_watch
            return made
        return super().do_open(connection, req, **http_conn_args)


class _WatchedHTTP(_Watched, urllib.request.HTTPHandler):
    pass


if hasattr(urllib.request, "HTTPSHandler"):  # Python built without ssl: https fails anyway
    class _WatchedHTTPS(_Watched, urllib.request.HTTPSHandler):
        pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follows no redirect (urllib would send the Authorization header along): the 3xx stays an
    HTTPError, which `_post` turns into a fatal error naming the target's origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    handlers: list = [_NoRedirects, _WatchedHTTP(deadline)]
    if hasattr(urllib.request, "HTTPSHandler"):
        handlers.append(_WatchedHTTPS(deadline))
    return urllib.request.build_opener(*handlers)


def _read_capped(response, limit: int) -> bytes | None:
    """At most `limit` bytes of `response`'s body; None if it is longer (read no further).
    IncompleteRead if it ends before its Content-Length (http.client's read(n) says nothing)."""
    length = (response.headers.get("Content-Length") or "").strip() if response.headers else ""
    announced = int(length) if length.isascii() and length.isdigit() else None
    if announced is not None and announced > limit:
        return None
    chunks, size = [], 0
    while True:
        chunk = response.read(min(65536, limit + 1 - size))
        if not chunk:
            if announced is not None and size < announced:
                raise http.client.IncompleteRead(b"".join(chunks), announced - size)
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


class BearerJsonCaller:
    """POSTs JSON to one URL with a bearer secret; see the module docstring."""

    #: How errors name the other side ("gateway", "MCP endpoint") and the secret.
    peer = "gateway"
    secret_name = "bearer token"
    #: The fix for "nothing answers at this address".
    unreachable_fix = "start the gateway (`openclaw gateway run`)"
    #: The fix for "it answered, but not with JSON" (also for an answer too large to be one).
    not_json_fix = "check that the URL points at an OpenClaw gateway"
    #: The fix for "it answered with a redirect".
    redirect_fix = "point the URL at the gateway itself"
    #: {HTTP status: (message, fix, fatal)} for the statuses this door explains; message and fix
    #: may use {tool}, {url} and {message} (the answer's error text, redacted).
    status_errors: dict[int, tuple[str, str, bool]] = {}
    #: The largest answer read; more is a fatal error (see the module docstring).
    max_body_bytes = MAX_BODY_BYTES

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

    def said(self, text) -> str:
        """Text from the other side as it may go into an error: redacted, then one short line."""
        return shorten(self.redact(str(text)))

    def _unwrap(self, tool: str, raw) -> dict:
        """toolcaller.unwrap_result; when it fails, its error (which quotes the start of a result
        that is not JSON, cut short) is built again from a redacted copy of `raw`."""
        try:
            return unwrap_result(tool, raw)
        except ToolError:
            return unwrap_result(tool, self._redacted(raw))

    def _redacted(self, value):
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self._redacted(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redacted(v) for v in value]
        return value

    def _exchange(self, tool: str, body: dict, timeout: float, read: Callable[[Any], Any],
                  headers: dict | None = None) -> Any:
        """POST `body`, hand the decoded JSON answer of a 2xx to `read` and return what it
        returns. ToolErrors raised by the transport or by `read` follow the retry policy.
        `timeout` bounds each read and the whole exchange."""
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
        deadline = _Deadline(timeout)
        try:
            with deadline:
                code, reason, answer_headers, body = self._round_trip(request, timeout, deadline)
        except (OSError, http.client.HTTPException) as exc:
            raise self._transport_error(tool, exc, timeout, deadline.expired) from None
        if deadline.expired:  # the answer was cut off when the time was up
            raise self._timeout_error(tool, timeout)
        if 300 <= code < 400:
            raise self._redirect_error(tool, code, answer_headers.get("Location"))
        if code >= 400:
            try:  # a body longer than an error message needs (None) was not read
                message = self.said(reason or "") if body is None else \
                    error_message(json.loads(body or b"{}"), self.redact)
            except ValueError:
                message = self.said(reason or "")
            raise self._status_error(tool, code, message, answer_headers)
        if body is None:
            raise ToolError(f"the {self.peer} answered with more than {_size(self.max_body_bytes)} "
                            f"(OpenClaw's answers are far smaller)", tool=tool, fatal=True,
                            fix=self.not_json_fix)
        try:
            return json.loads(body or b"{}")
        except ValueError:
            raise ToolError(f"{self.peer} answered with something that is not JSON", tool=tool,
                            retryable=True, fix=self.not_json_fix) from None

    def _round_trip(self, request, timeout: float, deadline: _Deadline) -> tuple[int, str, Any, bytes | None]:
        """(status, reason, headers, body) of one POST, redirects not followed; the body is None when
        longer than allowed (max_body_bytes, or MAX_ERROR_BODY_BYTES for an error status)."""
        try:
            response = _opener(deadline).open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            body: bytes | None = b""
            if exc.fp is not None:
                with exc:
                    try:  # the status says what happened; a body that breaks off only loses detail
                        body = _read_capped(exc, MAX_ERROR_BODY_BYTES)
                    except (OSError, http.client.HTTPException):
                        pass
            return exc.code, str(exc.reason), exc.headers, body
        with response:
            return response.status, response.reason, response.headers, \
                _read_capped(response, self.max_body_bytes)

    def _transport_error(self, tool: str, exc: BaseException, timeout: float, expired: bool) -> ToolError:
        """A timeout; else, for a URLError (urllib's wrapper of what fails while connecting and
        sending: refused, no such host) "not reachable", the only failure after which even a
        spawn may be sent again; else the answer broke off, and the request may have been done."""
        reason = getattr(exc, "reason", exc)
        if expired or isinstance(reason, (socket.timeout, TimeoutError)):
            return self._timeout_error(tool, timeout)
        if not isinstance(exc, urllib.error.URLError):
            return ToolError(f"the {self.peer} broke off its answer: {self.said(exc or type(exc).__name__)}",
                             tool=tool, retryable=True,
                             fix="it is retried; if it persists, check the gateway log")
        error = ToolError(self.redact(f"{self.peer} not reachable at {self._where()}: ")
                          + self.said(reason or type(reason).__name__),
                          tool=tool, retryable=True, fix=self.unreachable_fix)
        error.unreachable = True
        return error

    def _timeout_error(self, tool: str, timeout: float) -> ToolError:
        return ToolError(f"{self.peer} did not answer within {timeout:g}s", tool=tool,
                         retryable=True, fix="check the gateway's load, or raise the timeout")

    def _redirect_error(self, tool: str, code: int, location: str | None) -> ToolError:
        target = origin(urllib.parse.urljoin(self.url, location)) if location else "nowhere (no Location)"
        return ToolError(f"the {self.peer} answered with a redirect ({code}) to {target}; it is not "
                         f"followed, so the {self.secret_name} is not sent there", tool=tool, fatal=True,
                         fix=self.redirect_fix)

    def _where(self) -> str:
        return self.url

    def _status_error(self, tool: str, code: int, message: str, headers) -> ToolError:
        """The ToolError for an HTTP error status (`message` is already redacted and short)."""
        if code in self.status_errors:
            text, fix, fatal = self.status_errors[code]
            fields = {"tool": tool, "url": self.url, "message": message}
            return ToolError(text.format(**fields), tool=tool, fix=fix.format(**fields), fatal=fatal)
        if code in (408, 429) or code >= 500:
            error = ToolError(f"{self.peer} busy or failing ({code}): {message}", tool=tool, retryable=True,
                              fix="it is retried; if it persists, check the gateway log")
            error.retry_after = _retry_after(headers)
            return error
        return ToolError(f"unexpected {self.peer} status {code}: {message}", tool=tool,
                         fix="see the gateway log")


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n} bytes"


def _retry_after(headers) -> float | None:
    """Retry-After in seconds (the date form is ignored), at most RETRY_AFTER_CAP_S."""
    value = (headers.get("Retry-After") or "").strip() if headers else ""
    if not re.fullmatch(r"[0-9]{1,10}", value):
        return None
    return min(float(value), RETRY_AFTER_CAP_S)
