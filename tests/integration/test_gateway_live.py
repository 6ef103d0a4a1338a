"""The orchestrator against a real OpenClaw gateway (2026.9.6) over HTTP, models scripted.

Which collection path works over HTTP - settled by experiment (test_history_collection_works,
test_collector_collection_never_starts):

- history (plain quiet spawn + `subagents` list/wait + `sessions_history`) WORKS. A run is
  accepted in ~0.1-0.3 s, listed with its label, its task row completes, and the last assistant
  message of its transcript is the reply. OpenClawRuntime(collection="history") completes every
  scenario below: fan-out, escalation on invalid output, timeouts, refused models.
- collector (Swarm: `collect:true` + `groupId` [+ `outputSchema`], drained by `agents_wait`)
  does NOT work over HTTP. Without groupId the spawn is refused ("requires a requesting run id
  when groupId is omitted"); with it the spawn is accepted (receipt with `sessionKey` and the
  collector note) but the run never starts: `subagents list` shows it `queued` (runtime "n/a")
  for as long as we watched (minutes), the model is never called, and `agents_wait` keeps it in
  `pending` - even after `subagents cancel` marked its task cancelled. The gateway logs, right
  after the spawn, "failed to delete restored collector session after launch failure" (after
  "subagent cleanup owner is no longer current"): the queued launch fails, most likely because
  it is tied to the operator authority of the HTTP request that spawned it, which ends with the
  response (dist/sessions-spawn-tool-*.mjs createCollectorLaunchCallbacks checks it before
  launching). So over HTTP only the history path can be used, and `collection="auto"` picks it for a gateway caller
  (GatewayToolCaller.collector_runs_start = False; test_auto_collection_picks_history_over_http).

Scripted failures (tests/integration/model_server.py): an HTTP 400 from the model ends the run
`failed` at once (OpenClaw does not retry it); 500/503/429 and in-stream errors are retried by
OpenClaw with back-off until runTimeoutSeconds, so those runs end `timeout`. A model ref the
gateway does not allow is refused at spawn: 'sessions_spawn model "m" is not usable: model not
allowed: m' (the gateway's agents.defaults.modelPolicy.allow lists the three scripted models;
without such a policy an unknown model under a known provider is accepted and sent to it).

Not testable here: `plan` + `check` (the host-agent loop needs a host agent making the spawns).
"""
from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import time

import pytest

from parallel_agents.definitions.model import schema_registry
from parallel_agents.core.errors import RunAborted, ToolError
from parallel_agents.openclaw.gateway import GatewayToolCaller
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.spawn import SpawnRequest
from parallel_agents.definitions.samples import sample
from parallel_agents.engine.tasks import AgentTask

import openclaw_gateway as og

pytestmark = pytest.mark.gateway

AGENT = "content_writer_funny"  # json output, tier fast


def sim(**directive) -> str:
    return "SIM " + json.dumps(directive, separators=(",", ":"))


def valid_reply(registry, agent: str = AGENT, seed: int = 1):
    return sample(registry.get(agent).output_schema, schema_registry(), seed=seed)


def ours(model_server, mark: int, nonce: str) -> list[dict]:
    """The model requests since `mark` whose SIM directive is tagged `nonce`."""
    return [r for r in model_server.requests(mark) if r.get("tag") == nonce]


def orchestrator(caller, config, registry, folder, *, max_concurrent=8, events=None,
                 collection="history"):
    return RealAIParallelOrchestrator(
        max_concurrent, runtime=OpenClawRuntime(caller, collection=collection), config=config,
        registry=registry, runs_folder=folder, on_event=None if events is None else events.append)


# -- which collection path works over HTTP ---------------------------------------------------
def test_history_collection_works(caller, model_server, nonce):
    runtime = OpenClawRuntime(caller, collection="history")
    mark = model_server.mark()
    receipt = runtime.spawn(SpawnRequest(task=f"Say hello.\n{sim(reply='hello from history', tag=nonce)}",
                                         label=f"history-{nonce}", task_name="history_probe",
                                         model="scripted/fast", run_timeout_seconds=60))
    assert receipt.raw["status"] == "accepted" and receipt.raw["mode"] == "run"
    assert receipt.raw["expectsCompletionMessage"] is False
    outcomes = []
    deadline = time.monotonic() + 60
    while not outcomes and time.monotonic() < deadline:
        outcomes = runtime.wait([receipt.run_id], deadline - time.monotonic())
    assert [(o.status, o.text) for o in outcomes] == [("ok", "hello from history")]
    assert outcomes[0].model == "scripted/fast"
    assert runtime.calls["sessions_history"] >= 1 and runtime.calls["subagents"] >= 1
    assert "agents_wait" not in runtime.calls
    assert [r["model"] for r in ours(model_server, mark, nonce)] == ["fast"]


def test_collector_collection_never_starts(caller, model_server, nonce):
    runtime = OpenClawRuntime(caller, collection="collector")
    mark = model_server.mark()
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
    request = SpawnRequest(task=f"Give a.\n{sim(reply={'a': 3}, tag=nonce)}", label=f"collector-{nonce}",
                           task_name="collector_probe", model="scripted/fast", run_timeout_seconds=60,
                           output_schema=schema)
    # without a groupId, a caller that is not itself an agent run is refused
    refused = caller.call("sessions_spawn", {**request.to_args(), "collect": True, "outputSchema": schema})
    assert refused == {"status": "error", "error": "sessions_spawn collect=true requires a requesting "
                                                   "run id when groupId is omitted."}
    receipt = runtime.spawn(request)  # the runtime always sends a groupId
    assert receipt.raw["status"] == "accepted" and receipt.raw["note"].startswith("Collector run")
    assert receipt.raw["sessionKey"] == receipt.raw["childSessionKey"]
    started = time.monotonic()
    assert runtime.wait([receipt.run_id], 8) == []  # a plain run of this kind takes ~1 s
    assert time.monotonic() - started >= 7
    listing = caller.call("subagents", {"action": "list"})
    view = next(v for v in listing["active"] if v["runId"] == receipt.run_id)
    assert (view["status"], view["runtimeMs"]) == ("queued", 0)
    assert ours(model_server, mark, nonce) == []  # the model was never asked
    assert caller.call("agents_wait", {"ids": [receipt.run_id], "timeoutSeconds": 0}) == \
        {"completed": [], "pending": [receipt.run_id]}
    assert runtime.cancel(receipt.run_id) is True  # its task row can still be cancelled


def test_auto_collection_picks_history_over_http(caller):
    assert OpenClawRuntime(caller).collection_mode == "history"
    assert OpenClawRuntime(caller).effective_request(
        SpawnRequest(task="t", label="l", task_name="t", model=None, run_timeout_seconds=5)).collect is False


# -- the orchestrator over the gateway ------------------------------------------------------
def test_fan_out_24_tasks_at_8_concurrent(caller, scripted_config, registry, model_server, nonce,
                                          tmp_path):
    reply = valid_reply(registry)
    directive = sim(latency=0.5, reply=reply, tag=nonce)
    tasks = [AgentTask(AGENT, f"Write post {i} of the series {nonce}.\n{directive}", timeout_seconds=60)
             for i in range(24)]
    mark = model_server.mark()
    orch = orchestrator(caller, scripted_config, registry, tmp_path)
    results = orch.run_parallel(tasks)
    report = orch.last_run
    assert [r.status for r in results] == ["completed"] * 24, [r.error for r in results]
    assert all(r.output == reply for r in results)  # parsed and validated against the schema
    assert all(len(r.attempts) == 1 and r.tier == "fast" for r in results)
    assert all(r.model_used == "scripted/fast" for r in results)
    assert report.peak_in_flight == 8
    requests = ours(model_server, mark, nonce)
    assert len(requests) == 24 and {r["model"] for r in requests} == {"fast"}
    calls = report.runtime_calls
    assert calls["sessions_spawn"] == 24 and calls["sessions_history"] == 24
    assert sum(calls.get(k, 0) for k in ("sessions_spawn", "subagents", "sessions_history")) / 24 < 6
    ideal = math.ceil(24 / 8) * 0.5
    assert report.wall_seconds < ideal + 60  # generous: a 2-core CI box runs the gateway too


def test_invalid_output_escalates_to_the_next_tier(caller, scripted_config, registry, model_server,
                                                   nonce, tmp_path):
    reply = valid_reply(registry, seed=2)
    directive = sim(reply="Sorry, no JSON today.", by_model={"balanced": {"reply": reply}}, tag=nonce)
    mark = model_server.mark()
    events = []
    orch = orchestrator(caller, scripted_config, registry, tmp_path, events=events)
    [result] = orch.run_parallel([AgentTask(AGENT, f"Write a post {nonce}.\n{directive}", timeout_seconds=60)])
    assert result.status == "completed" and result.output == reply
    assert (result.tier, result.model_used) == ("balanced", "scripted/balanced")
    assert [(a.tier, a.status, a.reask) for a in result.attempts] == \
        [("fast", "invalid", False), ("fast", "invalid", True), ("balanced", "ok", False)]
    assert [r["model"] for r in ours(model_server, mark, nonce)] == ["fast", "fast", "balanced"]
    assert [e.kind for e in events if e.kind in ("reasked", "escalated")] == ["reasked", "escalated"]


def test_timeouts_escalate_or_end_timeout(caller, scripted_config, registry, model_server, nonce,
                                          tmp_path):
    reply = valid_reply(registry, seed=3)
    escalates = AgentTask(AGENT, f"Post A {nonce}.\n" + sim(reply=reply, by_model={"fast": {"hang": True}},
                                                             tag=nonce), timeout_seconds=3)
    times_out = AgentTask(AGENT, f"Post B {nonce}.\n" + sim(hang=True, tag=nonce), timeout_seconds=3,
                          tier="strongest")  # the last tier: nothing to escalate to
    mark = model_server.mark()
    orch = orchestrator(caller, scripted_config, registry, tmp_path)
    started = time.monotonic()
    first, second = orch.run_parallel([escalates, times_out])
    assert first.status == "completed" and first.output == reply and first.tier == "balanced"
    assert [(a.tier, a.status) for a in first.attempts] == [("fast", "timeout"), ("balanced", "ok")]
    assert "runTimeoutSeconds=3" in first.attempts[0].error
    assert second.status == "timeout" and [a.status for a in second.attempts] == ["timeout"]
    assert time.monotonic() - started < 60  # the gateway's runTimeoutSeconds, not our backstop
    # (OpenClaw may re-send a hung request before the run's timeout: count kinds, not requests)
    kinds = {(r["model"], r["kind"]) for r in ours(model_server, mark, nonce)}
    assert kinds == {("balanced", "reply"), ("fast", "hang"), ("strongest", "hang")}


def test_a_model_the_gateway_does_not_allow_is_refused_and_escalates(caller, registry, model_server,
                                                                      nonce, tmp_path):
    config = og.scripted_config(("nowhere/ghost-model", "scripted/balanced", "scripted/strongest"))
    reply = valid_reply(registry, seed=4)
    mark = model_server.mark()
    orch = orchestrator(caller, config, registry, tmp_path)
    [result] = orch.run_parallel([AgentTask(AGENT, f"Post {nonce}.\n" + sim(reply=reply, tag=nonce),
                                            timeout_seconds=60)])
    assert result.status == "completed" and result.tier == "balanced"
    refused, ok = result.attempts
    assert (refused.status, refused.model, refused.run_id) == ("refused", "nowhere/ghost-model", None)
    assert 'sessions_spawn model "nowhere/ghost-model" is not usable: model not allowed' in refused.error
    assert ok.status == "ok"
    assert [r["model"] for r in ours(model_server, mark, nonce)] == ["balanced"]


def test_a_failed_run_escalates(caller, scripted_config, registry, model_server, nonce, tmp_path):
    reply = valid_reply(registry, seed=5)
    directive = sim(fail="scripted model failure", by_model={"balanced": {"fail": None, "reply": reply}},
                    tag=nonce)
    orch = orchestrator(caller, scripted_config, registry, tmp_path)
    [result] = orch.run_parallel([AgentTask(AGENT, f"Post {nonce}.\n{directive}", timeout_seconds=60)])
    assert result.status == "completed" and result.tier == "balanced"
    assert [a.status for a in result.attempts] == ["error", "ok"]
    assert "LLM request failed" in result.attempts[0].error  # OpenClaw's summary of the HTTP 400


def test_a_rate_limited_model_call_is_retried_by_openclaw_itself(caller, scripted_config, registry,
                                                                 model_server, nonce, tmp_path):
    reply = valid_reply(registry, seed=7)
    directive = sim(fail="rate limited, slow down", fail_status=429, fail_first=1, reply=reply, tag=nonce)
    mark = model_server.mark()
    orch = orchestrator(caller, scripted_config, registry, tmp_path)
    [result] = orch.run_parallel([AgentTask(AGENT, f"Post {nonce}.\n{directive}", timeout_seconds=60)])
    assert result.status == "completed" and result.output == reply
    assert [(a.tier, a.status) for a in result.attempts] == [("fast", "ok")]  # one run, two model calls
    assert [(r["model"], r["kind"]) for r in ours(model_server, mark, nonce)] == [("fast", "fail"), ("fast", "reply")]


def test_sessions_spawn_not_allowed_over_http_aborts_with_the_fix(gateway_factory, scripted_config,
                                                                   registry, nonce, tmp_path):
    closed = gateway_factory(allow_spawn=False)
    no_spawn = GatewayToolCaller(closed.url, closed.token)
    with pytest.raises(ToolError) as thrown:
        no_spawn.call("sessions_spawn", {"task": "x"})
    assert "(404)" in thrown.value.message and "gateway.tools.allow" in thrown.value.fix
    assert thrown.value.fatal
    assert no_spawn.call("subagents", {"action": "list"})["status"] == "ok"  # other tools still work

    orch = orchestrator(GatewayToolCaller(closed.url, closed.token), scripted_config, registry, tmp_path)
    with pytest.raises(RunAborted) as aborted:
        orch.run_parallel([AgentTask(AGENT, f"Post {nonce}.\n" + sim(reply="x"), timeout_seconds=30)])
    problem = aborted.value.problems[0]
    assert "sessions_spawn" in problem.message and "404" in problem.message
    assert "gateway.tools.allow" in problem.fix and "resume" in problem.fix
    journal = next(tmp_path.glob("*.jsonl")).read_text()
    assert '"run_aborted"' in journal


def test_the_token_never_appears_in_output_errors_or_journals(gateway, gateway_factory, registry,
                                                              model_server, nonce, tmp_path, caplog,
                                                              pa_home):
    token = gateway.token
    seen: list[str] = []
    # a run with every kind of attempt: ok, failed run, refused model; debug logging on
    caplog.set_level(logging.DEBUG, logger="parallel_agents")
    config = og.scripted_config(("nowhere/ghost-model", "scripted/balanced", "scripted/strongest"))
    events = []
    caller = GatewayToolCaller(gateway.url, token)
    orch = orchestrator(caller, config, registry, tmp_path / "runs", events=events)
    reply = valid_reply(registry, seed=6)
    results = orch.run_parallel([
        AgentTask(AGENT, f"Good {nonce}.\n" + sim(reply=reply, tag=nonce), timeout_seconds=60),
        AgentTask(AGENT, f"Bad {nonce}.\n" + sim(fail="boom", tag=nonce), timeout_seconds=60)])
    assert [r.status for r in results] == ["completed", "failed"]
    seen += [json.dumps(orch.last_run.to_dict()), repr(events), caplog.text, repr(caller)]
    seen += [p.read_text() for p in (tmp_path / "runs").glob("*.jsonl")]

    # errors: a refused spawn over HTTP, a bad token, an unreachable gateway
    closed = gateway_factory(allow_spawn=False)
    orch = orchestrator(GatewayToolCaller(closed.url, closed.token), config, registry, tmp_path / "aborted")
    with pytest.raises(RunAborted) as aborted:
        orch.run_parallel([AgentTask(AGENT, f"x {nonce}", timeout_seconds=30)])
    seen += [str(aborted.value), json.dumps(aborted.value.to_dict()),
             *[p.read_text() for p in (tmp_path / "aborted").glob("*.jsonl")]]
    for url, secret in ((gateway.url, "wrong-" + token), (f"http://127.0.0.1:{og.free_port()}", token)):
        with pytest.raises(ToolError) as failed:
            GatewayToolCaller(url, secret, retries=1).call("subagents", {"action": "list"})
        seen += [str(failed.value), failed.value.message, failed.value.fix or ""]

    # the CLI over the gateway named in the environment: `run` (auto collection) and
    # `doctor --probe` (one run per tier)
    (pa_home / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (pa_home / "config.yaml").write_text(
        "tiers:\n" + "".join(f"  - {{name: {n}, model: {m}}}\n" for n, m in zip(og.TIER_NAMES, og.SCRIPTED_MODELS)))
    env = {**os.environ, "OPENCLAW_GATEWAY_URL": gateway.url, "OPENCLAW_GATEWAY_TOKEN": token}
    cli = [sys.executable, str(og.REPO / "ai_orchestrator.py")]
    done = subprocess.run([*cli, "run", "--agent", AGENT, "--task", f"CLI post {nonce}.\n"
                           + sim(reply=reply, tag=nonce), "--json"],
                          cwd=og.REPO, env=env, capture_output=True, text=True, timeout=300)
    seen += [done.stdout, done.stderr, *[p.read_text() for p in (pa_home / "runs").glob("*.jsonl")]]
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["counts"] == {"completed": 1} and report["results"][0]["output"] == reply
    assert "agents_wait" not in report["runtime_calls"]  # auto collection chose history
    done = subprocess.run([*cli, "doctor", "--probe", "--json"],
                          cwd=og.REPO, env=env, capture_output=True, text=True, timeout=300)
    seen += [done.stdout, done.stderr]
    checks = {c["name"]: c["state"] for c in json.loads(done.stdout)["checks"]}
    assert checks["token accepted"] == "ok" and checks["sessions_spawn allowed"] == "ok"
    assert [checks[f"tier {n}"] for n in og.TIER_NAMES] == ["ok"] * 3, done.stdout
    env["OPENCLAW_GATEWAY_TOKEN"] = "wrong-" + token
    done = subprocess.run([*cli, "doctor", "--json"],
                          cwd=og.REPO, env=env, capture_output=True, text=True, timeout=120)
    seen += [done.stdout, done.stderr]
    assert {c["name"]: c["state"] for c in json.loads(done.stdout)["checks"]}["token accepted"] == "fail"

    leaks = [text[:200] for text in seen if token in text]
    assert not leaks, f"the gateway token leaked into: {leaks}"


def test_gateway_bench_runs(gateway):
    """bench/gateway_bench.py against this session's gateway, tiny: keeps the bench from rotting."""
    sys.path.insert(0, str(og.REPO / "bench"))
    try:
        import gateway_bench
    finally:
        sys.path.remove(str(og.REPO / "bench"))
    result = gateway_bench.measure(gateway.url, gateway.token, n=6, concurrent=3, latency=0.2)
    assert result["completed"] == 6 and result["statuses"] == {"completed": 6}
    assert result["ratio"] > 0 and result["http_calls_per_task"] >= 2  # a spawn and a history read each
    assert result["spawn_ms_median"] > 0 and result["run_ms_median"] >= 200
    assert gateway_bench.row(result)[-1] == "6/6"
