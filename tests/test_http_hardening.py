"""Issue 14, the HTTP door (parallel_agents/openclaw/httpcall.py, shared by GatewayToolCaller and
McpToolCaller) against peers that misbehave, each a small loopback server in a thread
(bad_input_http.serve):

- secrets: a redirect is never followed (urllib would send the bearer token to the Location:
  another host, or https -> http); a `user:password@` in the URL is refused without being shown;
  text from the other side is redacted before it is cut short, so no token prefix survives;
- bounds: Retry-After is obeyed up to 30 s, an exchange has a total deadline (a body sent a byte
  at a time times out), an answer over 16 MB is refused without being read whole.
Each error is a typed ToolError / EnvironmentProblem with a fix; through the CLI, one line and
exit 3 (the CLI cases are in tests/bad_input_http.py).
"""
from __future__ import annotations

import json
import time
import urllib.request
from email.message import Message

import pytest

from parallel_agents.openclaw import httpcall
from parallel_agents.core.errors import EnvironmentProblem, ToolError
from parallel_agents.openclaw.gateway import GatewayToolCaller
from parallel_agents.openclaw.mcp import McpToolCaller

from bad_input_http import redirect_to, serve

SECRET = "tok-SECRET-4242"
OK_ANSWER = {"ok": True, "result": {"content": [], "details": {"status": "ok", "action": "list"}}}
LIST = ("subagents", {"action": "list"})


@pytest.fixture
def servers():
    started = []

    def start(respond):
        started.append(serve(respond))
        return started[-1]
    yield start
    for server in started:
        server.stop()


def answer(code: int, body, headers: dict | None = None):
    """A responder that sends `body` (JSON unless bytes) with `code`."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()

    def respond(handler):
        handler.send_response(code)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    return respond


def no_secret(error: Exception, secret: str = SECRET) -> bool:
    text = str(error) + json.dumps(error.to_dict())
    return secret not in text and secret[:6] not in text and secret[-6:] not in text


# -- redirects ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_not_followed_and_the_token_stays_home(servers, code):
    elsewhere = servers(answer(200, OK_ANSWER))
    gateway = servers(redirect_to(elsewhere.url + "/tools/invoke?t=secret-in-query", code))
    caller = GatewayToolCaller(gateway.url, SECRET, retries=3)

    with pytest.raises(ToolError) as info:
        caller.call(*LIST)

    error = info.value
    assert elsewhere.seen == []                       # nothing, let alone the token, went there
    assert len(gateway.seen) == 1                     # fatal: not retried either
    assert error.fatal and not error.retryable
    assert f"redirect ({code}) to {elsewhere.origin};" in error.message
    assert "secret-in-query" not in str(error) and "/tools/invoke" not in error.message
    assert "OPENCLAW_GATEWAY_URL (or --gateway)" in error.fix
    assert no_secret(error)


def test_the_mcp_caller_does_not_follow_a_redirect_either(servers):
    elsewhere = servers(answer(200, {"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}))
    endpoint = servers(redirect_to(elsewhere.url + "/mcp", 307))

    with pytest.raises(ToolError) as info:
        McpToolCaller(endpoint.url + "/mcp", SECRET).list_tools()

    assert elsewhere.seen == [] and info.value.fatal
    assert f"redirect (307) to {elsewhere.origin}" in info.value.message
    assert "grant token is not sent there" in info.value.message
    assert ".mcp.json" in info.value.fix and no_secret(info.value)


def test_an_https_to_http_redirect_is_refused_by_the_handler():
    """urllib's own handler turns a 302 from https://gw into a request to http://gw that carries
    the Authorization header in clear text; ours makes no follow-up request at all."""
    request = urllib.request.Request("https://gw.example/tools/invoke", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {SECRET}"})
    headers = Message()
    headers["Location"] = "http://gw.example/tools/invoke"
    stock = urllib.request.HTTPRedirectHandler().redirect_request(
        request, None, 302, "Found", headers, "http://gw.example/tools/invoke")
    assert stock.full_url.startswith("http://") and stock.get_header("Authorization") == f"Bearer {SECRET}"

    ours = httpcall._NoRedirects()
    assert ours.redirect_request(request, None, 302, "Found", headers, stock.full_url) is None
    opener = httpcall._opener(httpcall._Deadline(1))
    assert any(isinstance(handler, httpcall._NoRedirects) for handler in opener.handlers)

    error = GatewayToolCaller("https://gw.example", SECRET)._redirect_error(
        "subagents", 302, "http://user:pw@gw.example:80/x?token=" + SECRET)
    assert "redirect (302) to http://gw.example:80;" in error.message
    assert "pw" not in error.message and no_secret(error)


# -- user:password in the URL ------------------------------------------------------------------

@pytest.mark.parametrize("url,shown", [
    ("http://alice:pw-hunter2@127.0.0.1:18789", "http://alice:***@127.0.0.1:18789"),
    ("https://alice:pw-hun@ter2@gateway.example/", "https://alice:***@gateway.example/"),
    ("https://alice@gateway.example", "https://alice@gateway.example"),
])
def test_a_url_with_userinfo_is_refused_without_showing_the_password(url, shown):
    with pytest.raises(EnvironmentProblem) as info:
        GatewayToolCaller(url, SECRET)
    problem = info.value.problems[0]
    assert problem.field == "OPENCLAW_GATEWAY_URL" and "user:password@" in problem.fix
    assert repr(shown) in problem.message and "user name or password" in problem.message
    assert "hunter2" not in str(info.value) and "ter2" not in str(info.value)


@pytest.mark.parametrize("url", ["ftp://alice:pw-hunter2@127.0.0.1/", "alice:pw-hunter2@127.0.0.1:18789"])
def test_a_url_that_is_not_http_does_not_show_its_password_either(url):
    with pytest.raises(EnvironmentProblem, match="not an http") as info:
        GatewayToolCaller(url, SECRET)
    assert "hunter2" not in str(info.value) and "alice:***@" in str(info.value)


def test_a_grant_config_with_userinfo_in_its_url_is_refused(tmp_path):
    path = tmp_path / ".mcp.json"
    path.write_text(json.dumps({"mcpServers": {"openclaw": {
        "type": "http", "url": "http://me:pw-hunter2@127.0.0.1:4000/mcp",
        "headers": {"Authorization": f"Bearer {SECRET}"}}}}))
    with pytest.raises(EnvironmentProblem) as info:
        McpToolCaller.from_grant(path)
    problem = info.value.problems[0]
    assert problem.field == "mcpServers.openclaw.url" and problem.file == str(path)
    assert "hunter2" not in str(info.value) and no_secret(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:port", "http://[::1",
                                 "http://127.0.0.1 :18789", "http://127.0.0.1:18789/a\nb"])
def test_a_url_urllib_could_not_send_is_refused_up_front(url):
    with pytest.raises(EnvironmentProblem, match="not an http"):
        McpToolCaller(url, SECRET)


def test_the_cli_refuses_userinfo_and_never_prints_the_password(run_cli, pa_home):
    env = {"OPENCLAW_GATEWAY_URL": "http://alice:pw-hunter2@127.0.0.1:18789",
           "OPENCLAW_GATEWAY_TOKEN": SECRET}
    for extra in ((), ("--json",)):
        code, out, err = run_cli("run", "--agent", "code_reviewer", "--task", "x", *extra, env=env)
        assert code == 3 and "user name or password" in err and len(err.strip().splitlines()) == 1
        assert "hunter2" not in out + err and SECRET not in out + err
    code, out, err = run_cli("doctor", "--json", env=env)
    assert "user name or password" in out and "hunter2" not in out + err


# -- redaction before truncation ------------------------------------------------------------------

def test_a_long_error_body_is_redacted_before_it_is_cut(servers):
    """The old code cut the body at 200 characters, then redacted: a token that straddles the
    cut left its prefix ("tok-SECRET-") in the message."""
    body = ["x" * 190 + SECRET + "y" * 200]
    caller = GatewayToolCaller(servers(answer(500, body)).url, SECRET, retries=1)
    with pytest.raises(ToolError) as info:
        caller.call(*LIST)
    assert "busy or failing (500)" in info.value.message and "[redacted]" in info.value.message
    assert no_secret(info.value)

    refused = GatewayToolCaller(servers(answer(200, {"ok": False, "detail": body[0]})).url, SECRET)
    with pytest.raises(ToolError) as info:
        refused.call(*LIST)
    assert info.value.message.startswith("gateway error: ") and no_secret(info.value)


def test_a_result_that_is_not_json_is_quoted_redacted(servers):
    text = "y" * 100 + SECRET + " and more"
    for payload in ({"ok": True, "result": {"content": [{"type": "text", "text": text}]}},):
        with pytest.raises(ToolError, match="not JSON") as info:
            GatewayToolCaller(servers(answer(200, payload)).url, SECRET).call(*LIST)
        assert no_secret(info.value)
    mcp = {"jsonrpc": "2.0", "id": 1,
           "result": {"content": [{"type": "text", "text": text}], "isError": False}}
    with pytest.raises(ToolError, match="not JSON") as info:
        McpToolCaller(servers(answer(200, mcp)).url + "/mcp", SECRET).call(*LIST)
    assert no_secret(info.value)


def test_text_from_the_other_side_is_one_short_line(servers):
    message = "first line\nsecond line " + "z" * 5000 + SECRET
    caller = GatewayToolCaller(servers(answer(403, {"error": {"message": message}})).url, SECRET)
    with pytest.raises(ToolError) as info:
        caller.call(*LIST)
    assert "\n" not in str(info.value) and len(info.value.message) < 400
    assert "first line second line" in info.value.message and no_secret(info.value)

    rpc = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": message}}
    with pytest.raises(ToolError) as info:
        McpToolCaller(servers(answer(200, rpc)).url + "/mcp", SECRET).call(*LIST)
    assert "\n" not in str(info.value) and len(info.value.message) < 400 and no_secret(info.value)


# -- nothing waits forever ---------------------------------------------------------------------

def test_retry_after_is_capped(servers, monkeypatch):
    answers = iter([answer(503, {"error": "later"}, {"Retry-After": "86400"}), answer(200, OK_ANSWER)])
    caller = GatewayToolCaller(servers(lambda handler: next(answers)(handler)).url, SECRET)
    slept = []
    monkeypatch.setattr(httpcall.time, "sleep", slept.append)

    assert caller.call(*LIST) == OK_ANSWER["result"]["details"]
    assert slept == [30.0]                    # not 86400: one day
    assert httpcall.RETRY_AFTER_CAP_S == 30.0


@pytest.mark.parametrize("value,expected", [("5", 5.0), ("86400", 30.0), ("²", None), ("-1", None),
                                            ("Wed, 21 Oct 2015 07:28:00 GMT", None), (None, None)])
def test_retry_after_values(value, expected):
    headers = Message()
    if value is not None:
        headers["Retry-After"] = value
    assert httpcall._retry_after(headers) == expected


def _slowly(*parts: bytes, every: float = 0.1):
    """A responder that sends `parts`, each a byte at a time (every second part: at once)."""
    def respond(handler):
        for i, part in enumerate(parts):
            for piece in ([part] if i % 2 else [bytes([b]) for b in part]):
                handler.wfile.write(piece)
                handler.wfile.flush()
                time.sleep(every)
    return respond


@pytest.mark.parametrize("at", ["body", "head"])
def test_an_answer_sent_a_byte_at_a_time_meets_the_deadline(servers, at):
    body = json.dumps(OK_ANSWER).encode().ljust(60)            # 6 s at 0.1 s a byte
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body) \
        + b"X-Pad: " + b"p" * 40 + b"\r\n\r\n"
    respond = _slowly(b"", head, body) if at == "body" else _slowly(head, body)
    caller = GatewayToolCaller(servers(respond).url, SECRET, timeout_s=1.0, retries=1)
    started = time.monotonic()

    with pytest.raises(ToolError) as info:
        caller.call(*LIST)

    assert time.monotonic() - started < 3
    assert "did not answer within 1s" in info.value.message and info.value.retryable


def test_mcp_keep_alive_bytes_within_the_deadline_are_fine(servers):
    """The MCP endpoint sends "\\n" while a long call runs; a wait may last timeout_s +
    timeoutSeconds in all, keep-alives included."""
    result = {"content": [{"type": "text", "text": json.dumps({"completed": [], "pending": []})}]}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode()
    head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
    caller = McpToolCaller(servers(_slowly(b"", head, b"\n" * 4, body, every=0.3)).url + "/mcp",
                           SECRET, timeout_s=0.5, retries=1)
    started = time.monotonic()
    assert caller.call("agents_wait", {"ids": ["r"], "timeoutSeconds": 3}) == {"completed": [], "pending": []}
    assert 1.0 < time.monotonic() - started < 3.5

    with pytest.raises(ToolError, match="did not answer within 0.5s"):
        caller.call("subagents", {"action": "list"})           # no wait: the same bytes are too slow


def _hang_up(after: bytes):
    def respond(handler):
        handler.wfile.write(after)
        handler.wfile.flush()
        handler.connection.shutdown(2)
    return respond


@pytest.mark.parametrize("sent", [b"", b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\": tr"])
def test_an_answer_that_breaks_off_is_not_taken_for_unreachable(servers, sent):
    """The request arrived, so a spawn may have been accepted: it is not sent again (the old
    code took a hang-up for "not reachable" and sent the spawn three times)."""
    gateway = servers(_hang_up(sent))
    with pytest.raises(ToolError) as info:
        GatewayToolCaller(gateway.url, SECRET, retries=3).call("sessions_spawn", {"task": "x"})
    assert "broke off its answer" in info.value.message and info.value.retryable
    assert not getattr(info.value, "unreachable", False) and len(gateway.seen) == 1
    with pytest.raises(ToolError, match="broke off"):
        GatewayToolCaller(gateway.url, SECRET, retries=2).call(*LIST)
    assert len(gateway.seen) == 3                                 # anything else is retried


# -- nothing reads without bound ----------------------------------------------------------------

def _huge(with_length: bool):
    data = json.dumps({"ok": True, "result": {"details": {"pad": "x" * (17 * 2**20)}}}).encode()

    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if with_length:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    return respond


@pytest.mark.parametrize("with_length", [True, False])
def test_an_answer_over_16_mb_is_refused(servers, with_length):
    caller = GatewayToolCaller(servers(_huge(with_length)).url, SECRET)
    with pytest.raises(ToolError) as info:
        caller.call(*LIST)
    assert info.value.fatal and "more than 16 MB" in info.value.message
    assert "OPENCLAW_GATEWAY_URL" in info.value.fix


def test_the_cap_counts_what_was_read_not_what_was_announced(servers):
    caller = GatewayToolCaller(servers(answer(200, OK_ANSWER)).url, SECRET)
    caller.max_body_bytes = len(json.dumps(OK_ANSWER))
    assert caller.call(*LIST) == OK_ANSWER["result"]["details"]       # exactly at the cap: fine
    caller.max_body_bytes -= 1
    with pytest.raises(ToolError, match="more than"):
        caller.call(*LIST)


def test_a_huge_error_body_is_not_read_whole(servers):
    body = json.dumps({"error": {"message": "x" * (2 * 2**20)}}).encode()
    caller = GatewayToolCaller(servers(answer(403, body)).url, SECRET)
    with pytest.raises(ToolError) as info:
        caller.call(*LIST)
    assert info.value.message == "blocked by gateway policy (403): Forbidden" and info.value.fatal
