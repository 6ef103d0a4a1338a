"""Bad-input cases for the HTTP door (issue 14): a gateway URL with a user:password in it, or one
that is not sendable, and gateways that misbehave: one that redirects elsewhere (the token must
not follow), one that announces an answer over 16 MB.

Also `serve`, the tiny loopback HTTP server tests/test_http_hardening.py builds its misbehaving
peers with. The two peers the cases below need start when this module is imported (the corpus
harness imports every tests/bad_input_*.py): a thread each, no process, nothing to clean up.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from bad_input_case import Case

RUN = ("run", "--agent", "code_reviewer", "--task", "x")


@dataclass
class Server:
    """A loopback HTTP server in a daemon thread; `seen` holds (method, path, headers) of every
    request it got."""

    httpd: ThreadingHTTPServer
    seen: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def origin(self) -> str:
        return self.url

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(respond: Callable[[BaseHTTPRequestHandler], None]) -> Server:
    """A Server whose every request (POST or GET) is answered by `respond(handler)`; the request
    body has been read by then (`handler.body`). A client that hangs up mid-answer is ignored."""
    server: Server

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            server.seen.append((self.command, self.path, dict(self.headers)))
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                respond(self)
            except OSError:  # the client gave up (deadline, size cap): that is the point
                pass

        do_POST = do_GET = _any

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server = Server(httpd)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return server


def redirect_to(location: str, code: int = 302) -> Callable[[BaseHTTPRequestHandler], None]:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(code)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return respond


def _announce_huge(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(17 * 2**20))
    handler.end_headers()
    handler.wfile.write(b'{"ok": true, ')   # and no more: the length alone must be refused


# the redirect points at a second server, which must never be asked anything
_ELSEWHERE = serve(lambda handler: handler.send_error(500))
_REDIRECTING = serve(redirect_to(_ELSEWHERE.url + "/tools/invoke?token=in-the-query"))
_HUGE = serve(_announce_huge)

CASES = {
    "gateway: user:password in the URL": Case(
        RUN, 3, ("OPENCLAW_GATEWAY_URL", "'http://alice:***@127.0.0.1:18789'", "user name or password",
                 "remove the 'user:password@' part"),
        env={"OPENCLAW_GATEWAY_URL": "http://alice:hunter2-pass@127.0.0.1:18789",
             "OPENCLAW_GATEWAY_TOKEN": "some-token"}, json=True),
    "--gateway: user:password in the URL": Case(
        RUN + ("--gateway", "https://bob:pw-in-url@gateway.example"), 3,
        ("OPENCLAW_GATEWAY_URL", "https://bob:***@gateway.example", "remove the 'user:password@' part"),
        env={"OPENCLAW_GATEWAY_URL": "", "OPENCLAW_GATEWAY_TOKEN": "some-token"}),
    "gateway: URL with a port out of range": Case(
        RUN, 3, ("OPENCLAW_GATEWAY_URL", "'http://127.0.0.1:99999' is not an http(s) URL"),
        env={"OPENCLAW_GATEWAY_URL": "http://127.0.0.1:99999", "OPENCLAW_GATEWAY_TOKEN": "some-token"}),
    "gateway: URL with a space in the host": Case(
        RUN, 3, ("OPENCLAW_GATEWAY_URL", "is not an http(s) URL"),
        env={"OPENCLAW_GATEWAY_URL": "http://127.0.0.1 :18789", "OPENCLAW_GATEWAY_TOKEN": "some-token"}),
    "gateway: redirects to another origin": Case(
        RUN, 3, ("sessions_spawn", "redirect (302) to " + _ELSEWHERE.origin + ";",
                 "OPENCLAW_GATEWAY_URL (or --gateway) at the gateway itself", "resume"),
        env={"OPENCLAW_GATEWAY_URL": _REDIRECTING.url, "OPENCLAW_GATEWAY_TOKEN": "some-token"},
        json=True, journal=True),
    "gateway: answer over 16 MB": Case(
        RUN, 3, ("sessions_spawn", "the gateway answered with more than 16 MB", "OPENCLAW_GATEWAY_URL",
                 "resume"),
        env={"OPENCLAW_GATEWAY_URL": _HUGE.url, "OPENCLAW_GATEWAY_TOKEN": "some-token"}, journal=True),
}
