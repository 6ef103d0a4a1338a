"""McpToolCaller: OpenClaw tools through an attach grant's MCP endpoint, against the fake
gateway's /mcp (tests/fake_gateway.py) and the fake `openclaw attach` (tests/fake_openclaw_cli.py).
No Node needed. The same shapes are checked on a live gateway in
tests/integration/test_mcp_live.py (whose shared checks also run on the fake).

A grant is minted, revoked and left to expire through the fake's debug endpoints or its CLI;
collectors spawned through it run (unlike over /tools/invoke) and agents_wait returns their
usage. Errors say what to fix; the grant token never shows up: not in repr, errors or fixes."""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from parallel_agents.core.errors import EnvironmentProblem, ToolError
from parallel_agents.openclaw.mcp import McpToolCaller
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.engine.tasks import AgentTask

from gateway_process import install_fake_cli, model_rows, write_attach_probe
from support import free_port
from test_engine import WRITER, sim, valid_output  # noqa: E402

GATEWAY_TOKEN = "gw-token-0123456789"
SCHEMA = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}


@pytest.fixture
def gateway(start_fake_gateway):
    return start_fake_gateway(GATEWAY_TOKEN)


@pytest.fixture
def grant(gateway):
    return gateway.grant("mcp-test", 600_000)


@pytest.fixture
def caller(grant):
    return McpToolCaller(grant["url"], grant["token"])


def openclaw(env: dict, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openclaw", *args], env={**os.environ, **env, **extra_env}, text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def print_config(env: dict, *args: str) -> dict:
    proc = openclaw(env, "attach", "--print-config", *args)
    assert proc.returncode == 0, proc.stderr
    return json.JSONDecoder().raw_decode(proc.stdout)[0]


# -- calls ------------------------------------------------------------------------------------

def test_collectors_spawned_through_a_grant_run_and_agents_wait_returns_usage(caller, gateway, grant):
    plain = caller.call("sessions_spawn", {"task": sim(reply="hello"), "label": "p#1", "collect": True,
                                           "groupId": "g1"})
    shaped = caller.call("sessions_spawn", {"task": sim(reply={"a": 1}), "label": "s#1", "collect": True,
                                            "groupId": "g1", "outputSchema": SCHEMA})
    done: dict = {}
    while len(done) < 2:
        waited = caller.call("agents_wait", {"ids": [plain["runId"], shaped["runId"]], "timeoutSeconds": 5})
        done.update((item["runId"], item) for item in waited["completed"])

    assert (done[plain["runId"]]["status"], done[plain["runId"]]["result"]) == ("done", "hello")
    assert done[shaped["runId"]]["structured"] == {"a": 1}
    assert all(set(item["usage"]) == {"inputTokens", "outputTokens"} for item in done.values())
    # the runs belong to the grant's session; /tools/invoke's runs are another fake's
    assert [r["label"] for r in gateway.grant_runs()[grant["sessionKey"]]] == ["p#1", "s#1"]
    assert gateway.runs() == []


def test_has_asks_tools_list_once(caller, monkeypatch):
    asked = []
    real = caller.list_tools
    monkeypatch.setattr(caller, "list_tools", lambda: asked.append(1) or real())
    assert caller.has("sessions_spawn") and caller.has("agents_wait") and caller.has("sessions_yield")
    assert not caller.has("no_such_tool")
    assert len(asked) == 1


def test_the_runtime_collects_through_collectors(caller):
    runtime = OpenClawRuntime(caller)
    assert caller.collector_runs_start is True and caller.parallel_calls == 8
    assert runtime.collection_mode == "collector" and runtime.spawn_concurrency == 8


def test_an_orchestrator_runs_through_a_grant(caller, fast_config, tmp_path, warm_cache):
    runtime = OpenClawRuntime(caller)
    orch = RealAIParallelOrchestrator(4, runtime=runtime, config=fast_config,
                                      runs_folder=tmp_path / "runs", seed=1)
    tasks = [AgentTask(WRITER, sim(reply=valid_output(WRITER, seed=i)), task_id=f"m{i}") for i in range(3)]

    results = orch.run_parallel(tasks)

    assert [r.output for r in results] == [valid_output(WRITER, seed=i) for i in range(3)]
    assert orch.last_run.runtime_calls["agents_wait"] >= 1
    assert orch.last_run.runtime_calls.get("sessions_history", 0) == 0


def test_a_refusal_is_a_result_even_with_is_error(caller):
    # OpenClaw marks {status: "error"} results isError; they are still the tool's answer
    refused = caller.call("sessions_spawn", {"task": "x", "label": "r", "collect": True})
    assert refused["status"] == "error" and "requesting run id" in refused["error"]
    assert caller.call("agents_wait", {"ids": ["nope"], "timeoutSeconds": 0})["success"] is False


def test_the_history_defect_is_reproduced_and_explained(caller):
    history = caller.call("sessions_history", {"sessionKey": "agent:main:subagent:x"})
    assert history == {"status": "error",
                       "error": "Gateway client authority closed before dispatching sessions.resolve."}
    with pytest.raises(ToolError) as info:
        caller.call("sessions_list", {})
    assert "sessions.list" in info.value.message and "agents_wait" in info.value.fix


# -- errors -----------------------------------------------------------------------------------

def test_an_unknown_tool_is_a_plain_error_and_has_says_no(caller):
    with pytest.raises(ToolError) as info:
        caller.call("no_such_tool", {})
    assert info.value.message == "the grant does not offer no_such_tool: Tool not available: no_such_tool"
    assert not info.value.fatal and not info.value.retryable
    assert not caller.has("no_such_tool")


def test_a_thrown_input_error_is_not_retryable(caller):
    with pytest.raises(ToolError) as info:
        caller.call("sessions_spawn", {"task": "x", "timeoutSeconds": 5})
    assert info.value.message.startswith("tool input error: ") and "runTimeoutSeconds" in info.value.message
    assert not info.value.retryable and not info.value.fatal


def test_a_revoked_grant_is_fatal_and_says_to_mint_a_new_one(caller, gateway, grant):
    assert caller.call("subagents", {"action": "list"})["status"] == "ok"
    assert gateway.revoke(grant["token"]) is True
    with pytest.raises(ToolError) as info:
        caller.call("subagents", {"action": "list"})
    assert info.value.fatal and "401" in info.value.message and "revoked" in info.value.message
    assert "openclaw attach" in info.value.fix
    with pytest.raises(ToolError):   # has() cannot answer for a refused grant either
        caller.has("sessions_spawn")


def test_an_expired_grant_is_fatal(gateway):
    grant = gateway.grant("short", 300)
    caller = McpToolCaller(grant["url"], grant["token"])
    assert caller.call("subagents", {"action": "list"})["requesterSessionKey"] == "agent:main:short"
    time.sleep(0.4)
    with pytest.raises(ToolError) as info:
        caller.call("subagents", {"action": "list"})
    assert info.value.fatal and "expired" in info.value.message


def test_a_wrong_token_and_the_gateway_token_are_refused(grant):
    for token in ("tok-WRONG-0000", GATEWAY_TOKEN):
        with pytest.raises(ToolError) as info:
            McpToolCaller(grant["url"], token).call("subagents", {"action": "list"})
        assert info.value.fatal and token not in str(info.value)


def test_nothing_listening_is_fatal_after_the_retries():
    caller = McpToolCaller(f"http://127.0.0.1:{free_port()}/mcp", "tok-0123456789", retries=2)
    with pytest.raises(ToolError) as info:
        caller.call("subagents", {"action": "list"})
    assert info.value.fatal and info.value.unreachable and "not reachable" in info.value.message
    assert "openclaw attach" in info.value.fix


def test_a_wrong_path_is_fatal(gateway, grant):
    with pytest.raises(ToolError) as info:
        McpToolCaller(gateway.url + "/tools/mcp", grant["token"]).call("subagents", {"action": "list"})
    assert info.value.fatal and "404" in info.value.message and "/mcp" in info.value.fix


def test_the_token_is_not_in_repr_or_errors(grant):
    secret = grant["token"]
    caller = McpToolCaller(grant["url"], secret)
    assert secret not in repr(caller) and secret not in str(caller)
    errors = []
    for bad in (McpToolCaller(f"http://127.0.0.1:{free_port()}/mcp", secret, retries=1), caller):
        with pytest.raises(ToolError) as info:
            bad.call("no_such_tool", {})
        errors.append(info.value)
    for error in errors:
        assert secret not in str(error) and secret not in error.fix
        assert secret not in json.dumps(error.to_dict())


def test_a_json_rpc_error_is_a_plain_error(caller):
    with pytest.raises(ToolError) as info:
        caller.call("sessions_spawn", "not an object")
    assert info.value.message == "JSON-RPC error -32602: Invalid params: tools/call arguments must be an object"
    assert not info.value.retryable and not info.value.fatal


@pytest.fixture
def scripted_endpoint():
    """(url, answers, requests): an endpoint that answers each POST with the next (status, body)
    of `answers` (the last one repeats) and records the JSON-RPC requests it got."""
    answers, requests = [], []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            status, body = answers.pop(0) if len(answers) > 1 else answers[0]
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp", answers, requests
    server.shutdown()
    server.server_close()


INTERNAL = (200, {"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "Internal error"}})
LISTED = (200, {"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": '{"status": "ok"}'}],
                                                       "isError": False}})


def test_an_internal_error_is_retried_but_a_spawn_is_never_sent_twice(scripted_endpoint):
    url, answers, requests = scripted_endpoint
    caller = McpToolCaller(url, "tok-0123456789")
    answers[:] = [INTERNAL, (503, {"error": "busy"}), LISTED]
    assert caller.call("subagents", {"action": "list"}) == {"status": "ok"}
    assert len(requests) == 3 and requests[0]["method"] == "tools/call"

    answers[:] = [INTERNAL, LISTED]
    with pytest.raises(ToolError) as info:      # it may have been accepted: the runtime adopts it by label
        caller.call("sessions_spawn", {"task": "x", "label": "once"})
    assert info.value.retryable and not info.value.fatal
    assert [r["params"]["name"] for r in requests[3:]] == ["sessions_spawn"]


@pytest.mark.parametrize("url", ["http://example.com/mcp", "ftp://127.0.0.1/mcp"])
def test_a_url_that_would_leak_the_token_is_refused(url):
    with pytest.raises(EnvironmentProblem) as info:
        McpToolCaller(url, "tok-0123456789")
    assert "tok-0123456789" not in str(info.value)


# -- reading a grant's .mcp.json --------------------------------------------------------------

def write_mcp_json(folder: Path, config) -> Path:
    path = folder / ".mcp.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config), encoding="utf-8")
    return path


SERVER = {"type": "http", "url": "http://127.0.0.1:1/mcp", "headers": {"Authorization": "Bearer ${OPENCLAW_MCP_TOKEN}"}}


def test_from_grant_takes_the_first_http_server_and_fills_in_the_token(tmp_path):
    path = write_mcp_json(tmp_path, {"mcpServers": {"other": {"type": "stdio", "command": "x"},
                                                    "openclaw": {**SERVER, "headers": {
                                                        **SERVER["headers"], "X-Extra": "${EXTRA}"}}}})
    caller = McpToolCaller.from_grant(path, {"OPENCLAW_MCP_TOKEN": "tok-0123456789", "EXTRA": "e"})
    assert caller.url == "http://127.0.0.1:1/mcp" and caller.headers == {"X-Extra": "e"}
    assert caller.redact("Bearer tok-0123456789") == "Bearer [redacted]"


@pytest.mark.parametrize("config, environ, field, words", [
    ("{nope", {}, None, "not JSON"),
    ({"servers": {}}, {}, "mcpServers", "no mcpServers object"),
    ({"mcpServers": {"x": {"type": "stdio"}}}, {}, "mcpServers", 'no server of type "http"'),
    ({"mcpServers": {"oc": {"type": "http"}}}, {}, "mcpServers.oc.url", "no url"),
    ({"mcpServers": {"oc": SERVER}}, {}, "mcpServers.oc.headers.Authorization", "${OPENCLAW_MCP_TOKEN} is not set"),
    ({"mcpServers": {"oc": {**SERVER, "headers": {}}}}, {}, "mcpServers.oc.headers.Authorization", "no Bearer"),
    ({"mcpServers": {"oc": {**SERVER, "url": "http://10.0.0.1/mcp"}}}, {"OPENCLAW_MCP_TOKEN": "t" * 10},
     "mcpServers.oc.url", "unencrypted"),
])
def test_from_grant_errors_name_the_file_and_the_field(tmp_path, config, environ, field, words):
    path = write_mcp_json(tmp_path, config)
    with pytest.raises(EnvironmentProblem) as info:
        McpToolCaller.from_grant(path, environ)
    problem = info.value.problems[0]
    assert problem.file == str(path) and problem.field == field and words in problem.message
    assert problem.fix


def test_from_grant_on_a_missing_file(tmp_path):
    with pytest.raises(EnvironmentProblem) as info:
        McpToolCaller.from_grant(tmp_path / "gone.json", {})
    assert "gone.json" in str(info.value) and "openclaw attach" in str(info.value)


# -- the fake `openclaw attach` ---------------------------------------------------------------

def test_print_config_leaves_the_grant_live(gateway, tmp_path):
    env = install_fake_cli(tmp_path, gateway)
    printed = print_config(env, "--session", "held", "--ttl", "600000")
    config = Path(printed["configPath"])
    assert config.is_file() and printed["launch"][-1] == str(config)
    caller = McpToolCaller.from_grant(config, {**env, **printed["env"]})
    assert caller.call("subagents", {"action": "list"})["requesterSessionKey"] == "agent:main:held"
    assert gateway.revoke(printed["env"]["OPENCLAW_MCP_TOKEN"]) is True   # it was still live
    config.unlink()
    config.parent.rmdir()


def test_attach_bin_runs_the_program_with_the_grant_then_revokes_it(gateway, tmp_path):
    env = install_fake_cli(tmp_path, gateway)
    probe, report = write_attach_probe(tmp_path), tmp_path / "report.json"
    proc = openclaw(env, "attach", "--session", "worker", "--bin", str(probe),
                    ATTACH_PROBE_REPORT=str(report), ATTACH_PROBE_EXIT="5")
    got = json.loads(report.read_text())

    assert proc.returncode == 5 and proc.stdout.endswith("…\nprobe ran\n") and proc.stderr == ""
    assert got["argv"][:2] == ["--strict-mcp-config", "--mcp-config"]
    assert got["requester"] == "agent:main:worker" and got["openclaw_cli"] == "1"
    assert not Path(got["argv"][2]).exists()
    assert gateway.revoke(got["token"]) is False            # the CLI revoked it already


def test_attach_warns_when_the_revoke_fails(gateway, tmp_path):
    env = install_fake_cli(tmp_path, gateway)
    probe, report = write_attach_probe(tmp_path), tmp_path / "report.json"
    proc = openclaw(env, "attach", "--bin", str(probe), ATTACH_PROBE_REPORT=str(report),
                    ATTACH_PROBE_KILL=str(gateway.proc.pid), ATTACH_PROBE_EXIT="0")
    assert proc.returncode == 0
    assert proc.stderr.startswith("Warning: failed to revoke attach grant; it remains live until ")
    assert "Gateway not reachable at" in proc.stderr


def test_attach_when_the_gateway_is_down(tmp_path):
    env = install_fake_cli(tmp_path)
    proc = openclaw(env, "attach", "--print-config", FAKE_OPENCLAW_GATEWAY_URL=f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("[openclaw] The CLI command failed.\n[openclaw] Reason: Gateway not reachable")


def test_models_list_prints_the_catalog(tmp_path):
    env = install_fake_cli(tmp_path, models=model_rows(["scripted/fast"]))
    proc = openclaw(env, "models", "list", "--all", "--json")
    assert proc.returncode == 0
    assert [row["key"] for row in json.loads(proc.stdout)["models"]] == ["scripted/fast"]
