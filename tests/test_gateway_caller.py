"""GatewayToolCaller: OpenClaw tools over `POST /tools/invoke`, against tests/fake_gateway.py (a
FakeOpenClaw behind a real HTTP server in its own process). Errors say what to fix; the token
never shows up anywhere: errors, repr, CLI output, journals."""
from __future__ import annotations

import json
import time

import pytest

from parallel_agents.core.errors import EnvironmentProblem, InputError, ToolError
from parallel_agents.openclaw.gateway import GatewayToolCaller
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.runtimes import gateway_caller
from parallel_agents.engine.tasks import AgentTask

from support import free_port  # noqa: E402
from test_engine import WRITER, attempt_of, sim, valid_output  # noqa: E402

SECRET = "tok-SECRET-4242"


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


@pytest.fixture
def gateway(start_fake_gateway):
    return start_fake_gateway(SECRET)


# -- calls ------------------------------------------------------------------------------------

def test_a_call_returns_the_tools_json_unwrapped_from_details(gateway):
    caller = GatewayToolCaller(gateway.url, SECRET)

    listed = caller.call("subagents", {"action": "list"})
    assert listed["status"] == "ok" and listed["action"] == "list"   # details, not {content, details}
    assert "content" not in listed

    receipt = caller.call("sessions_spawn", {"task": sim(latency=0.01, reply="hi"), "label": "x#1",
                                             "collect": True, "groupId": "g1"})
    assert receipt["status"] == "accepted" and receipt["runId"]
    # like a real gateway over HTTP, the fake accepts a collector run but never starts it
    waited = caller.call("agents_wait", {"ids": [receipt["runId"]], "timeoutSeconds": 0})
    assert waited == {"completed": [], "pending": [receipt["runId"]]}
    assert [(r["label"], r["status"]) for r in gateway.runs()] == [("x#1", "queued")]


def test_a_thrown_tool_input_error_is_a_non_retryable_tool_error(gateway):
    caller = GatewayToolCaller(gateway.url, SECRET)
    with pytest.raises(ToolError) as info:
        caller.call("sessions_spawn", {"task": "x", "timeoutSeconds": 5})
    assert "400" in info.value.message and "runTimeoutSeconds" in info.value.message
    assert not info.value.retryable and not info.value.fatal


def test_a_wait_longer_than_the_http_timeout_is_not_cut_short(gateway):
    # agents_wait / subagents wait block on the gateway for up to their timeoutSeconds (the
    # runtime asks for up to 60 s); the HTTP read must outlast that, not give up at timeout_s
    caller = GatewayToolCaller(gateway.url, SECRET, timeout_s=0.3)
    receipt = caller.call("sessions_spawn", {"task": sim(hang=True), "label": "slow#1",
                                             "collect": True, "groupId": "g1"})
    started = time.monotonic()

    waited = caller.call("agents_wait", {"ids": [receipt["runId"]], "timeoutSeconds": 0.8})

    assert waited["pending"] == [receipt["runId"]] and waited["completed"] == []
    assert 0.7 < time.monotonic() - started < 5


def test_an_orchestrator_runs_over_http(gateway, fast_config, tmp_path):
    runtime = OpenClawRuntime(GatewayToolCaller(gateway.url, SECRET))
    orch = RealAIParallelOrchestrator(4, runtime=runtime, config=fast_config,
                                      runs_folder=tmp_path / "runs", seed=1)
    tasks = [AgentTask(WRITER, sim(reply=valid_output(WRITER, seed=i)), task_id=f"h{i}") for i in range(6)]

    results = orch.run_parallel(tasks)

    assert [r.output for r in results] == [valid_output(WRITER, seed=i) for i in range(6)]
    assert sorted(attempt_of(r["label"]) for r in gateway.runs()) == [f"h{i}#1" for i in range(6)]
    assert orch.last_run.runtime_calls["sessions_spawn"] == 6


def test_gateway_runs_use_history_collection_from_the_start(start_fake_gateway, fast_config, tmp_path):
    """Collector runs spawned over HTTP never start on a real gateway (see
    tests/integration/test_gateway_live.py), so a gateway caller never asks for them."""
    gateway = start_fake_gateway(SECRET, "--deny", "agents_wait")
    runtime = OpenClawRuntime(GatewayToolCaller(gateway.url, SECRET))
    orch = RealAIParallelOrchestrator(2, runtime=runtime, config=fast_config,
                                      runs_folder=tmp_path / "runs", seed=1)

    results = orch.run_parallel([AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="d")])

    assert results[0].status == "completed" and results[0].output == valid_output(WRITER)
    assert orch.last_run.runtime_calls.get("agents_wait", 0) == 0
    assert runtime.collection_mode == "history"
    assert orch.last_run.runtime_calls["sessions_history"] >= 1


# -- errors that name the fix ---------------------------------------------------------------

def test_wrong_token_is_fatal_and_names_the_token_variable(gateway):
    caller = GatewayToolCaller(gateway.url, "tok-WRONG-0000")
    with pytest.raises(ToolError) as info:
        caller.call("subagents", {"action": "list"})
    error = info.value
    assert error.fatal and not error.retryable
    assert "401" in error.message and "OPENCLAW_GATEWAY_TOKEN" in error.fix
    assert "tok-WRONG-0000" not in str(error)


def test_denied_sessions_spawn_is_fatal_and_says_how_to_allow_it(start_fake_gateway):
    gateway = start_fake_gateway(SECRET, "--deny", "sessions_spawn")
    caller = GatewayToolCaller(gateway.url, SECRET)
    with pytest.raises(ToolError) as info:
        caller.call("sessions_spawn", {"task": "x"})
    error = info.value
    assert error.fatal and "404" in error.message
    assert "gateway.tools.allow" in error.fix and "security audit" in error.fix
    assert not caller.has("sessions_spawn")
    assert caller.has("subagents")


def test_connection_refused_is_fatal_after_the_retries():
    caller = GatewayToolCaller(f"http://127.0.0.1:{free_port()}", SECRET, retries=2)
    started = time.monotonic()
    with pytest.raises(ToolError) as info:
        caller.call("subagents", {"action": "list"})
    error = info.value
    assert error.fatal and error.retryable
    assert "not reachable" in error.message and "OPENCLAW_GATEWAY_URL" in error.fix
    assert time.monotonic() - started < 2             # one short back-off, not a hang


@pytest.mark.parametrize("url", ["http://example.com:18789", "http://10.0.0.5:18789"])
def test_plain_http_to_another_host_is_refused_unless_allowed(url):
    with pytest.raises(EnvironmentProblem) as info:
        GatewayToolCaller(url, SECRET)
    assert "unencrypted" in str(info.value) and "allow_insecure_http" in str(info.value)
    assert SECRET not in str(info.value)
    assert GatewayToolCaller(url, SECRET, allow_insecure_http=True).url == url + "/tools/invoke"


@pytest.mark.parametrize("url", ["https://gateway.example.com", "http://127.0.0.1:18789",
                                 "http://localhost:18789", "http://[::1]:18789"])
def test_https_and_loopback_are_accepted(url):
    assert GatewayToolCaller(url, SECRET).url.endswith("/tools/invoke")


@pytest.mark.parametrize("url", ["", "ftp://127.0.0.1", "127.0.0.1:18789"])
def test_a_url_that_is_not_http_is_refused(url):
    with pytest.raises(EnvironmentProblem, match="not an http"):
        GatewayToolCaller(url, SECRET)


def test_no_token_is_an_environment_problem_naming_the_variable():
    with pytest.raises(EnvironmentProblem) as info:
        GatewayToolCaller("http://127.0.0.1:1", None)
    assert "OPENCLAW_GATEWAY_TOKEN" in str(info.value)


def test_the_gateway_url_comes_from_the_argument_then_the_environment_then_config(monkeypatch):
    monkeypatch.delenv("OPENCLAW_GATEWAY_URL", raising=False)
    monkeypatch.setenv("OPENCLAW_GATEWAY_TOKEN", SECRET)
    configured = {"url": "http://127.0.0.1:1111", "allow_insecure_http": False}
    assert gateway_caller() is None
    assert gateway_caller(gateway=configured).url == "http://127.0.0.1:1111/tools/invoke"
    monkeypatch.setenv("OPENCLAW_GATEWAY_URL", "http://127.0.0.1:18789")
    assert gateway_caller(gateway=configured).url == "http://127.0.0.1:18789/tools/invoke"
    assert gateway_caller("http://localhost:2222", gateway=configured).url == \
        "http://localhost:2222/tools/invoke"


def test_plain_http_to_another_host_needs_the_explicit_allow(monkeypatch):
    monkeypatch.setenv("OPENCLAW_GATEWAY_TOKEN", SECRET)
    with pytest.raises(EnvironmentProblem) as info:
        gateway_caller("http://gateway.example:18789")
    assert "--allow-insecure-http" in str(info.value)
    allowed = gateway_caller("http://gateway.example:18789", gateway={"allow_insecure_http": True})
    assert allowed.url == "http://gateway.example:18789/tools/invoke"


def test_a_short_token_is_redacted_where_it_stands_alone_without_garbling_words():
    caller = GatewayToolCaller("http://127.0.0.1:1", "t")
    assert caller.redact("gateway at http://x?token=t not reachable: t") == \
        "gateway at http://x?token=[redacted] not reachable: [redacted]"
    long = GatewayToolCaller("http://127.0.0.1:1", SECRET)
    assert SECRET not in long.redact(f"Bearer {SECRET}; x{SECRET}y")


# -- the token stays secret -------------------------------------------------------------------

def test_the_token_is_not_in_repr_or_errors(gateway):
    caller = GatewayToolCaller(gateway.url, SECRET)
    assert SECRET not in repr(caller) and SECRET not in str(caller)
    errors = []
    for bad in (GatewayToolCaller(f"http://127.0.0.1:{free_port()}", SECRET, retries=1),):
        with pytest.raises(ToolError) as info:
            bad.call("subagents", {"action": "list"})
        errors.append(info.value)
    with pytest.raises(ToolError) as info:
        GatewayToolCaller(gateway.url + "/", SECRET).call("no_such_tool", {})
    errors.append(info.value)
    for error in errors:
        assert SECRET not in str(error) and SECRET not in repr(error) and SECRET not in error.fix
        assert SECRET not in json.dumps(error.to_dict())


def test_the_token_is_not_in_cli_output_or_the_journal(start_fake_gateway, run_cli, pa_home):
    gateway = start_fake_gateway(SECRET)
    task = sim("Write a post.", reply=valid_output(WRITER))
    code, out, err = run_cli("run", "--agent", WRITER, "--task", task, "--json", env=gateway.env())
    assert code == 0, err
    assert json.loads(out)["counts"] == {"completed": 1}
    code2, out2, err2 = run_cli("run", "--agent", WRITER, "--task", task, env=gateway.env())
    assert code2 == 0, err2

    wrong = start_fake_gateway("tok-the-gateway-wants-this")   # our token is refused there
    code3, out3, err3 = run_cli("run", "--agent", WRITER, "--task", task, env=wrong.env(
        OPENCLAW_GATEWAY_TOKEN=SECRET))
    assert code3 == 3
    assert "401" in err3 and "OPENCLAW_GATEWAY_TOKEN" in err3 and "resume" in err3

    journals = list((pa_home / "runs").glob("*.jsonl"))
    assert len(journals) == 3
    for text in (out, err, out2, err2, out3, err3, *(p.read_text() for p in journals)):
        assert SECRET not in text


# -- choosing the gateway from the command line or config.yaml ----------------------------------

def test_run_and_doctor_take_the_gateway_from_the_command_line(start_fake_gateway, run_cli, pa_home):
    gateway = start_fake_gateway(SECRET)
    env = {"OPENCLAW_GATEWAY_URL": "", "OPENCLAW_GATEWAY_TOKEN": SECRET}
    task = sim("Write a post.", reply=valid_output(WRITER))

    code, out, err = run_cli("run", "--agent", WRITER, "--task", task, "--gateway", gateway.url,
                             "--json", env=env)
    assert code == 0, err
    assert json.loads(out)["counts"] == {"completed": 1}
    assert [r["label"].split("#")[0] for r in gateway.runs()] == [json.loads(out)["results"][0]["task_id"]]

    code, out, err = run_cli("doctor", "--gateway", gateway.url, "--json", env=env)
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["gateway reachable"]["state"] == "ok" and checks["token accepted"]["state"] == "ok"


def test_config_names_the_gateway_and_the_environment_wins(start_fake_gateway, run_cli, pa_home):
    gateway = start_fake_gateway(SECRET)
    (pa_home / "config.yaml").write_text(f"gateway:\n  url: {gateway.url}\n", encoding="utf-8")
    task = sim("Write a post.", reply=valid_output(WRITER))

    code, out, err = run_cli("run", "--agent", WRITER, "--task", task, "--json",
                             env={"OPENCLAW_GATEWAY_URL": "", "OPENCLAW_GATEWAY_TOKEN": SECRET})
    assert code == 0, err
    assert len(gateway.runs()) == 1
    code, out, err = run_cli("run", "--agent", WRITER, "--task", task, "--json",
                             env={"OPENCLAW_GATEWAY_URL": "http://127.0.0.1:9",
                                  "OPENCLAW_GATEWAY_TOKEN": SECRET})
    assert code == 3 and "127.0.0.1:9" in err and len(gateway.runs()) == 1


def test_plain_http_to_another_host_is_refused_by_the_cli_until_allowed(run_cli, pa_home):
    env = {"OPENCLAW_GATEWAY_URL": "", "OPENCLAW_GATEWAY_TOKEN": SECRET}
    args = ("run", "--agent", WRITER, "--task", "x", "--gateway", "http://192.0.2.1:18789")
    code, out, err = run_cli(*args, env=env)
    assert code == 3 and "unencrypted" in err and "--allow-insecure-http" in err
    code, out, err = run_cli("doctor", "--gateway", "http://192.0.2.1:18789", "--json", env=env)
    assert json.loads(out)["checks"][-1]["state"] == "fail" and "unencrypted" in out
    assert not (pa_home / "runs").exists() or not list((pa_home / "runs").glob("*.jsonl"))


def test_an_orchestrator_refuses_a_budget_that_is_not_positive(fast_config):
    for bad in (0, -1.5, "2", True):
        with pytest.raises(InputError) as info:
            RealAIParallelOrchestrator(2, runtime="simulated", config=fast_config, budget_usd=bad)
        assert info.value.problems[0].field == "budget_usd"
