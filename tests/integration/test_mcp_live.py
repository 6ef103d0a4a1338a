"""Attach grants - OpenClaw's MCP door - on a live gateway and on the fake: one list of checks.

Every check in CHECKS runs twice: on the "live" door (a real OpenClaw gateway with NO
gateway.tools in its config, so sessions_spawn is denied over /tools/invoke; grants minted by the
real `openclaw attach`, run with the gateway's environment) and on the "fake" door
(tests/fake_gateway.py's /mcp, grants minted by tests/fake_openclaw_cli.py, no Node needed). The
checks assert exact shapes and texts, so wherever the fake differs from the live gateway one of
them fails. What they pin down (parallel_agents/openclaw/mcp.py's docstring keeps the same facts):
- `attach --print-config`: its JSON, its trailer line, the `.mcp.json` it leaves (mode 0600);
- initialize / tools/list (22 tools) / tools/call shapes; isError on refusals (results) and on
  thrown errors (plain texts); JSON-RPC errors; 401 for a wrong, expired or revoked grant - the
  three cannot be told apart;
- collectors spawned through a grant run and agents_wait returns result, structured, usage;
- children belong to the session the grant is bound to;
- `attach --bin PROG`: PROG's arguments and environment, its exit code, the grant rejected (401)
  once PROG has exited, the temp folder gone; a PROG that cannot start; a bad --ttl;
- the defect: sessions_history / sessions_list fail through a CLI-minted grant.
The revoke-failure warning is checked on the fake only (tests/test_mcp.py): on the live gateway
it needs the gateway killed while PROG runs.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from parallel_agents.openclaw.mcp import McpToolCaller
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.toolcaller import ToolError

import openclaw_gateway as og

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import gateway_process as gp  # noqa: E402
from fake_gateway import GRANT_TOOLS  # noqa: E402

pytestmark = pytest.mark.gateway

FAKE_GATEWAY_TOKEN = "fake-gateway-token-0123456789"
NONCE = secrets.token_hex(3)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SCHEMA = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
DEFECT = "Gateway client authority closed before dispatching {}."


def sim(**directive) -> str:
    return "SIM " + json.dumps(directive, separators=(",", ":"))


def iso_ms(text: str) -> float:
    """Seconds since the epoch of a JavaScript toISOString() text."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


def raw(url: str, token: str | None, body, *, content_type: str = "application/json") -> tuple[int, object]:
    """(HTTP status, JSON answer) of one POST to the MCP endpoint; `body` bytes are sent as is."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def rpc(method: str, params=None, id_=1) -> dict:
    return {"jsonrpc": "2.0", "id": id_, "method": method, **({} if params is None else {"params": params})}


def tool_call(grant: dict, name: str, arguments) -> dict:
    """The `result` of a raw tools/call, with `json` = its text parsed (None when not JSON)."""
    status, answer = raw(grant["url"], grant["token"], rpc("tools/call", {"name": name, "arguments": arguments}))
    assert status == 200 and set(answer) == {"jsonrpc", "id", "result"}, answer
    result = answer["result"]
    assert set(result) == {"content", "isError"} and len(result["content"]) == 1
    try:
        parsed = json.loads(result["content"][0]["text"])
    except ValueError:
        parsed = None
    return {**result, "json": parsed}


# -- the two doors ------------------------------------------------------------------------------
@dataclass
class Door:
    """One gateway and its `openclaw` CLI (real or fake)."""

    name: str
    run: Callable[..., subprocess.CompletedProcess]  # run(*args, env=extra) -> `openclaw args`
    folder: Path
    gateway_token: str
    grants: dict = field(default_factory=dict)
    made: list = field(default_factory=list)  # config folders left by --print-config

    def print_config(self, key: str, ttl_ms: int = 600_000) -> dict:
        """`openclaw attach --print-config --session <key> --ttl <ms>`: its JSON, plus `trailer`
        (what follows the JSON), `url` and `token`."""
        proc = self.run("attach", "--print-config", "--session", key, "--ttl", str(ttl_ms))
        assert proc.returncode == 0, proc.stderr
        printed, end = json.JSONDecoder().raw_decode(proc.stdout)
        self.made.append(Path(printed["configPath"]).parent)
        server = json.loads(Path(printed["configPath"]).read_text())["mcpServers"]["openclaw"]
        return {**printed, "trailer": proc.stdout[end:], "url": server["url"],
                "token": printed["env"]["OPENCLAW_MCP_TOKEN"], "stderr": proc.stderr}

    def grant(self, name: str) -> dict:
        """A 10-minute grant bound to session `mcp-<door>-<name>-<nonce>`, minted once."""
        if name not in self.grants:
            self.grants[name] = self.print_config(f"mcp-{self.name}-{name}-{NONCE}")
        return self.grants[name]

    def caller(self, grant: dict, **options) -> McpToolCaller:
        return McpToolCaller.from_grant(grant["configPath"], {**os.environ, **grant["env"]}, **options)


def _runner(cli: list[str], env: dict, cwd: Path):
    def run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args], cwd=cwd, env={**env, **(env_extra or {})}, text=True,
                              capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    return run


def _warm_up(door: Door) -> None:
    """One collector through a grant, until it has run: a fresh live gateway may refuse the first
    spawns ("agent unavailable during gateway startup") and pays for loading the agent runtime."""
    caller = door.caller(door.grant("warm"), timeout_s=60)
    deadline = time.monotonic() + 120
    while True:
        receipt = caller.call("sessions_spawn", {"task": "Warm up.\n" + sim(reply="warm"), "label": "warm-up",
                                                 "model": og.SCRIPTED_MODELS[0], "runTimeoutSeconds": 60,
                                                 "collect": True, "groupId": f"warm-{NONCE}"})
        if receipt.get("status") == "accepted":
            break
        assert "unavailable" in str(receipt.get("error")) and time.monotonic() < deadline, receipt
        time.sleep(0.5)
    while time.monotonic() < deadline:
        if caller.call("agents_wait", {"ids": [receipt["runId"]], "timeoutSeconds": 30})["completed"]:
            return
    raise AssertionError("the warm-up collector did not finish")


@pytest.fixture(scope="module", params=["fake", "live"])
def door(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"mcp-{request.param}")
    if request.param == "fake":
        gateway = gp.start(folder, FAKE_GATEWAY_TOKEN, "--models", ",".join(og.SCRIPTED_MODELS))
        request.addfinalizer(gateway.stop)
        env = {**os.environ, **gp.install_fake_cli(folder, gateway)}
        made = Door("fake", _runner(["openclaw"], env, folder), folder, FAKE_GATEWAY_TOKEN)
    else:
        gateway = request.getfixturevalue("gateway_factory")(allow_spawn=False)
        assert "tools" not in gateway.config["gateway"]  # no gateway.tools.allow: nothing over HTTP
        made = Door("live", _runner(gateway.cli, gateway.env, gateway.folder), folder, gateway.token)
    request.addfinalizer(lambda: [shutil.rmtree(p, ignore_errors=True) for p in made.made])
    _warm_up(made)
    return made


# -- the checks ---------------------------------------------------------------------------------
def check_print_config(door: Door) -> None:
    key = f"mcp-{door.name}-print-{NONCE}"
    started = time.time()
    grant = door.print_config(key, ttl_ms=600_000)
    assert set(grant) - {"trailer", "url", "token", "stderr"} == {"sessionKey", "expiresAt", "env", "configPath", "launch"}
    assert grant["sessionKey"] == f"agent:main:{key}"
    assert set(grant["env"]) == {"OPENCLAW_MCP_TOKEN"} and re.fullmatch(r"[0-9a-f]{64}", grant["token"])
    assert ISO.match(grant["expiresAt"]) and started + 500 < iso_ms(grant["expiresAt"]) < time.time() + 601
    assert grant["launch"] == ["claude", "--strict-mcp-config", "--mcp-config", grant["configPath"]]
    assert grant["trailer"] == (f"\nGrant is live until {grant['expiresAt']} and auto-expires; it is not revoked "
                                f"here. Launch with the env above, then delete {grant['configPath']} when done.\n")
    assert grant["stderr"] == ""
    path = Path(grant["configPath"])
    assert path.name == ".mcp.json" and path.parent.name.startswith("openclaw-attach-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert not text.endswith("\n") and text == json.dumps(json.loads(text), indent=2)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/mcp", grant["url"])
    assert json.loads(text) == {"mcpServers": {"openclaw": {
        "type": "http", "url": grant["url"], "alwaysLoad": True,
        "headers": {"Authorization": "Bearer ${OPENCLAW_MCP_TOKEN}"}}}}
    # the grant stays live after the CLI has exited
    assert door.caller(grant).call("subagents", {"action": "list"})["requesterSessionKey"] == grant["sessionKey"]


def check_initialize(door: Door) -> None:
    grant = door.grant("a")
    server = {"capabilities": {"tools": {}}, "serverInfo": {"name": "openclaw", "version": "0.1.0"}}
    for asked, agreed in (("2025-03-26", "2025-03-26"), ("2024-11-05", "2024-11-05"), ("1999-01-01", "2025-03-26")):
        status, answer = raw(grant["url"], grant["token"], rpc("initialize", {"protocolVersion": asked}, id_=asked))
        assert (status, answer) == (200, {"jsonrpc": "2.0", "id": asked, "result": {"protocolVersion": agreed, **server}})
    assert door.caller(grant).initialize() == {"protocolVersion": "2025-03-26", **server}


def check_tools_list(door: Door) -> None:
    tools = door.caller(door.grant("a")).list_tools()
    assert [t["name"] for t in tools] == list(GRANT_TOOLS)
    assert all(set(t) == {"name", "description", "inputSchema"} for t in tools)
    caller = door.caller(door.grant("a"))
    assert caller.has("sessions_spawn") and caller.has("agents_wait") and not caller.has("no_such_tool")


def check_tools_call_shape(door: Door) -> None:
    grant = door.grant("a")
    result = tool_call(grant, "subagents", {"action": "list"})
    assert result["isError"] is False and result["content"][0]["type"] == "text"
    assert result["content"][0]["text"] == json.dumps(result["json"], indent=2, ensure_ascii=False)
    assert result["json"]["requesterSessionKey"] == result["json"]["callerSessionKey"] == grant["sessionKey"]


def _wait_all(caller: McpToolCaller, run_ids: list[str], timeout_s: float = 90) -> dict:
    done: dict = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < len(run_ids) and time.monotonic() < deadline:
        waited = caller.call("agents_wait", {"ids": [i for i in run_ids if i not in done], "timeoutSeconds": 30})
        done.update((item["runId"], item) for item in waited["completed"])
    assert len(done) == len(run_ids), done
    return done


def check_collectors_run(door: Door) -> None:
    caller = door.caller(door.grant("a"), timeout_s=60)
    group = f"collect-{door.name}-{NONCE}"
    plain = caller.call("sessions_spawn", {"task": "Collect.\n" + sim(reply=f"collected {NONCE}"), "label": "plain",
                                           "model": "scripted/fast", "runTimeoutSeconds": 60, "collect": True,
                                           "groupId": group, "expectsCompletionMessage": False})
    shaped = caller.call("sessions_spawn", {"task": "Shape.\n" + sim(reply={"a": 1}), "label": "shaped",
                                            "model": "scripted/fast", "runTimeoutSeconds": 60, "collect": True,
                                            "groupId": group, "outputSchema": SCHEMA})
    for receipt in (plain, shaped):
        assert receipt["status"] == "accepted" and receipt["sessionKey"] == receipt["childSessionKey"]
        assert receipt["childSessionKey"].startswith("agent:main:subagent:")
    done = _wait_all(caller, [plain["runId"], shaped["runId"]])
    first, second = done[plain["runId"]], done[shaped["runId"]]
    assert set(first) == {"runId", "status", "result", "sessionKey", "label", "usage"}
    assert set(second) == {"runId", "status", "result", "structured", "sessionKey", "label", "usage"}
    assert (first["status"], first["result"], first["label"]) == ("done", f"collected {NONCE}", "plain")
    assert (second["status"], second["structured"]) == ("done", {"a": 1})
    for item in (first, second):
        assert set(item["usage"]) == {"inputTokens", "outputTokens"}
        assert all(isinstance(n, int) and n >= 0 for n in item["usage"].values())
        assert item["usage"]["inputTokens"] > 0
    assert OpenClawRuntime(caller).collection_mode == "collector"


def check_children_belong_to_the_bound_session(door: Door) -> None:
    mine, other = door.caller(door.grant("a")), door.caller(door.grant("b"))
    label = f"owned-{door.name}-{NONCE}"
    receipt = mine.call("sessions_spawn", {"task": "Owned.\n" + sim(reply="mine"), "label": label,
                                           "model": "scripted/fast", "runTimeoutSeconds": 60,
                                           "collect": True, "groupId": f"own-{NONCE}"})
    _wait_all(mine, [receipt["runId"]])
    seen = mine.call("subagents", {"action": "list"})
    assert seen["requesterSessionKey"] == door.grant("a")["sessionKey"]
    assert label in [t.get("label") for t in seen["tasks"]]
    assert receipt["runId"] in [v["runId"] for v in seen["recent"] + seen["active"]]
    unseen = other.call("subagents", {"action": "list"})
    assert unseen["requesterSessionKey"] == door.grant("b")["sessionKey"]
    assert label not in [t.get("label") for t in unseen["tasks"]]
    assert other.call("agents_wait", {"ids": [receipt["runId"]], "timeoutSeconds": 0})["errors"] == \
        [{"runId": receipt["runId"], "error": "not_owner"}]


def check_refusals_are_results(door: Door) -> None:
    grant = door.grant("a")
    refused = tool_call(grant, "sessions_spawn", {"task": "x", "label": "bad-model", "model": "nope/none"})
    expected = {"status": "error", "error": 'sessions_spawn model "nope/none" is not usable: model not allowed: nope/none'}
    assert refused["isError"] is True and refused["json"] == expected
    assert door.caller(grant).call("sessions_spawn", {"task": "x", "label": "bad-model", "model": "nope/none"}) == expected
    unknown = tool_call(grant, "agents_wait", {"ids": ["no-such-run"], "timeoutSeconds": 0})
    assert unknown["isError"] is True and unknown["json"] == {
        "completed": [], "pending": [], "errors": [{"runId": "no-such-run", "error": "not_found"}], "success": False}


def check_unknown_tool(door: Door) -> None:
    grant = door.grant("a")
    result = tool_call(grant, "no_such_tool", {})
    assert result["isError"] is True and result["content"][0]["text"] == "Tool not available: no_such_tool"
    caller = door.caller(grant)
    with pytest.raises(ToolError) as info:
        caller.call("no_such_tool", {})
    assert not info.value.retryable and not info.value.fatal and "Tool not available" in info.value.message
    assert not caller.has("no_such_tool")


def check_input_error(door: Door) -> None:
    grant = door.grant("a")
    text = 'sessions_spawn does not support "timeoutSeconds". Use "runTimeoutSeconds" for a per-run timeout.'
    result = tool_call(grant, "sessions_spawn", {"task": "x", "timeoutSeconds": 5})
    assert result["isError"] is True and result["content"][0]["text"] == text and result["json"] is None
    with pytest.raises(ToolError) as info:
        door.caller(grant).call("sessions_spawn", {"task": "x", "timeoutSeconds": 5})
    assert info.value.message == f"tool input error: {text}"
    assert not info.value.retryable and not info.value.fatal


def check_jsonrpc_errors(door: Door) -> None:
    grant = door.grant("a")
    url, token = grant["url"], grant["token"]
    assert raw(url, token, rpc("bogus/method", {})) == (200, {"jsonrpc": "2.0", "id": 1, "error": {
        "code": -32601, "message": "Method not found: bogus/method"}})
    assert raw(url, token, rpc("tools/call", {"name": "subagents", "arguments": "x"})) == (200, {
        "jsonrpc": "2.0", "id": 1, "error": {"code": -32602,
                                             "message": "Invalid params: tools/call arguments must be an object"}})
    assert raw(url, token, b"{not json") == (400, {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32700, "message": "Parse error"}})
    assert raw(url, token, rpc("tools/list", {}), content_type="text/plain") == (415, {"error": "unsupported_media_type"})


def check_wrong_tokens(door: Door) -> None:
    url = door.grant("a")["url"]
    for token in ("wrong-token-0123456789", None, door.gateway_token):
        assert raw(url, token, rpc("tools/list", {})) == (401, {"error": "unauthorized"})
    with pytest.raises(ToolError) as info:
        McpToolCaller(url, "wrong-token-0123456789").call("subagents", {"action": "list"})
    assert info.value.fatal and "401" in info.value.message and "openclaw attach" in info.value.fix
    assert "wrong-token-0123456789" not in str(info.value)


def check_expired_grant(door: Door) -> None:
    grant = door.print_config(f"mcp-{door.name}-expiring-{NONCE}", ttl_ms=3000)
    expires = iso_ms(grant["expiresAt"])
    if time.time() < expires - 1:  # the live CLI may take most of the 3 s to print it
        assert raw(grant["url"], grant["token"], rpc("tools/list", {}))[0] == 200
    time.sleep(max(0.0, expires - time.time()) + 0.5)
    assert raw(grant["url"], grant["token"], rpc("tools/list", {})) == (401, {"error": "unauthorized"})
    with pytest.raises(ToolError) as info:
        door.caller(grant).call("subagents", {"action": "list"})
    assert info.value.fatal and "expired" in info.value.message


def check_bin_runs_the_program_and_revokes_after(door: Door) -> None:
    probe, report = gp.write_attach_probe(door.folder), door.folder / "probe-report.json"
    key = f"mcp-{door.name}-bin-{NONCE}"
    proc = door.run("attach", "--session", key, "--ttl", "600000", "--bin", str(probe),
                    env_extra={"ATTACH_PROBE_REPORT": str(report), "ATTACH_PROBE_EXIT": "7"})
    assert proc.returncode == 7, proc.stderr
    got = json.loads(report.read_text())
    match = re.fullmatch(r"Attaching Claude Code to session (\S+) \(grant expires (\S+)\)…\nprobe ran\n", proc.stdout)
    assert match and match.group(1) == f"agent:main:{key}" and ISO.match(match.group(2)), proc.stdout
    assert proc.stderr == ""
    config_path = got["argv"][2]
    assert got["argv"] == ["--strict-mcp-config", "--mcp-config", config_path]
    assert Path(config_path).name == ".mcp.json" and not Path(config_path).parent.exists()  # deleted after
    assert re.fullmatch(r"[0-9a-f]{64}", got["token"]) and got["openclaw_cli"] == "1"
    assert got["requester"] == f"agent:main:{key}"  # the grant worked while the program ran
    url = got["config"]["mcpServers"]["openclaw"]["url"]
    assert raw(url, got["token"], rpc("tools/list", {})) == (401, {"error": "unauthorized"})  # revoked
    with pytest.raises(ToolError) as info:
        McpToolCaller(url, got["token"]).call("subagents", {"action": "list"})
    assert info.value.fatal and "revoked" in info.value.message and got["token"] not in str(info.value)


def check_bin_that_cannot_start(door: Door) -> None:
    missing = str(door.folder / "no-such-program")
    proc = door.run("attach", "--session", f"mcp-{door.name}-missing-{NONCE}", "--bin", missing)
    assert proc.returncode == 1
    assert proc.stdout.startswith("Attaching Claude Code to session ")
    assert proc.stderr == f"Failed to launch '{missing}': Error: spawn {missing} ENOENT\n"


def check_bad_ttl(door: Door) -> None:
    for ttl in ("0", "soon"):
        proc = door.run("attach", "--print-config", "--ttl", ttl)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == f'--ttl must be a positive integer of milliseconds. Got: "{ttl}"\n'


def check_history_defect(door: Door) -> None:
    grant = door.grant("a")
    caller = door.caller(grant)
    receipt = caller.call("sessions_spawn", {"task": "History.\n" + sim(reply="hi"), "label": "hist",
                                             "model": "scripted/fast", "runTimeoutSeconds": 60,
                                             "collect": True, "groupId": f"hist-{NONCE}"})
    _wait_all(caller, [receipt["runId"]])
    history = tool_call(grant, "sessions_history", {"sessionKey": receipt["childSessionKey"]})
    assert history["isError"] is True
    assert history["json"] == {"status": "error", "error": DEFECT.format("sessions.resolve")}
    listed = tool_call(grant, "sessions_list", {})
    assert listed["isError"] is True and listed["content"][0]["text"] == DEFECT.format("sessions.list")
    with pytest.raises(ToolError) as info:
        caller.call("sessions_list", {})
    assert not info.value.retryable and "agents_wait" in info.value.fix


CHECKS = [check_print_config, check_initialize, check_tools_list, check_tools_call_shape, check_collectors_run,
          check_children_belong_to_the_bound_session, check_refusals_are_results, check_unknown_tool,
          check_input_error, check_jsonrpc_errors, check_wrong_tokens, check_expired_grant,
          check_bin_runs_the_program_and_revokes_after, check_bin_that_cannot_start, check_bad_ttl,
          check_history_defect]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__[len("check_"):] for c in CHECKS])
def test_grant_door(door, check):
    check(door)
