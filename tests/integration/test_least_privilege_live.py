"""Least privilege on a real OpenClaw gateway (2026.9.6): the truth the fake must match.

The gateway's openclaw.json configures four agents - main (the default, the requester of every
HTTP call) with `subagents.allowAgents: [reviewer, boxed, ghost]`, reviewer, writer (configured,
not allowed) and boxed (`sandbox.mode: all`); ghost is allowed but not configured - and offers
agents_list over HTTP (`tools.alsoAllow`; the "coding" profile lacks it). Every spawn below is
sent to both the gateway and FakeOpenClaw configured the same way (tests/test_least_privilege.py
gateway_like), and their answers must agree: status, error text, and the agent the child runs
as (`agent:<id>:subagent:…`). Seen here: an allowed agentId runs as that agent; a disallowed or
unknown one is "forbidden" with OpenClaw's text; `sandbox: "require"` for an unsandboxed agent is
forbidden; any other sandbox value is taken as "inherit". The boxed agent's runs are accepted
and then cannot start without Docker - only their acceptance is checked.
"""
from __future__ import annotations

import json

import pytest

from parallel_agents.simulation.fake_openclaw import AGENTS_LIST, ALL_TOOLS, FakeOpenClaw
from parallel_agents.openclaw.gateway import GatewayToolCaller
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.spawn import SpawnRefused, SpawnRequest

import openclaw_gateway as og

pytestmark = pytest.mark.gateway

AGENTS = {"list": [{"id": "main", "default": True,
                    "subagents": {"allowAgents": ["reviewer", "boxed", "ghost"]}},
                   {"id": "reviewer"}, {"id": "writer"},
                   {"id": "boxed", "sandbox": {"mode": "all"}}]}


def fake_like_the_gateway() -> FakeOpenClaw:
    return FakeOpenClaw(agents=["main", "reviewer", "writer", "boxed"],
                        allow_agents=["reviewer", "boxed", "ghost"], sandboxed_agents=["boxed"],
                        models=og.SCRIPTED_MODELS, default_model=og.SCRIPTED_MODELS[0],
                        tools=ALL_TOOLS + (AGENTS_LIST,))


@pytest.fixture(scope="module")
def scoped_gateway(openclaw_pkg, model_server, live_dir):
    """A gateway whose config has the agents above (og.gateway_config plus agents.list)."""
    plain = og.gateway_config

    def with_agents(**options):
        config = plain(**options)
        config["agents"]["list"] = json.loads(json.dumps(AGENTS["list"]))
        config["tools"]["alsoAllow"] = [AGENTS_LIST]
        return config

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(og, "gateway_config", with_agents)
        gateway = og.Gateway.start(openclaw_pkg.pkg, openclaw_pkg.node, live_dir / "gateway-scoped",
                                   model_server.url)
    try:
        og.warm_up(gateway)
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def scoped_caller(scoped_gateway):
    return GatewayToolCaller(scoped_gateway.url, scoped_gateway.token, timeout_s=60)


def answer_of(caller, args: dict, label: str) -> dict:
    full = {"task": 'Say hi.\nSIM {"reply": "hi"}', "label": label, "runTimeoutSeconds": 60,
            "expectsCompletionMessage": False, **args}
    answer = caller.call("sessions_spawn", full)
    agent = (answer.get("childSessionKey") or "").split(":subagent:")[0]
    return {"status": answer.get("status"), "error": answer.get("error"), "runs_as": agent or None}


SPAWNS = [{"agentId": "reviewer"}, {"agentId": "REVIEWER"}, {"agentId": "writer"},
          {"agentId": "nobody"}, {"agentId": "ghost"}, {"agentId": "main"}, {"agentId": "Bad Id!"},
          {}, {"sandbox": "require"}, {"agentId": "reviewer", "sandbox": "require"},
          {"agentId": "boxed", "sandbox": "require"}, {"sandbox": "inherit"}, {"sandbox": "bogus"}]


def test_the_fake_answers_every_agent_id_and_sandbox_spawn_as_the_gateway_does(scoped_caller, nonce):
    fake = fake_like_the_gateway()
    for i, args in enumerate(SPAWNS):
        label = f"lp-{nonce}-{i}"
        live = answer_of(scoped_caller, args, label)
        assert answer_of(fake, args, label) == live, args
    # the cases that matter, spelled out
    assert answer_of(scoped_caller, {"agentId": "reviewer"}, f"lp-{nonce}-r") == \
        {"status": "accepted", "error": None, "runs_as": "agent:reviewer"}
    assert answer_of(scoped_caller, {"agentId": "writer"}, f"lp-{nonce}-w") == \
        {"status": "forbidden", "runs_as": None,
         "error": "agentId is not allowed for sessions_spawn (allowed: boxed, reviewer)"}


def test_agents_list_agrees_with_the_fake(scoped_caller):
    live = scoped_caller.call(AGENTS_LIST, {})
    fake = fake_like_the_gateway().call(AGENTS_LIST, {})
    assert live["requester"] == fake["requester"] == "main"
    assert live["allowAny"] is fake["allowAny"] is False
    assert [(a["id"], a["configured"]) for a in live["agents"]] == \
        [(a["id"], a["configured"]) for a in fake["agents"]] == [("boxed", True), ("reviewer", True)]


def test_the_runtime_runs_a_child_as_the_named_agent_and_explains_a_refusal(scoped_caller, nonce):
    runtime = OpenClawRuntime(scoped_caller, collection="history")
    receipt = runtime.spawn(SpawnRequest(task='Say hi.\nSIM {"reply": "hi from reviewer"}',
                                         label=f"lp-{nonce}-run", task_name="lp", model=None,
                                         run_timeout_seconds=60, agent_id="reviewer"))
    assert receipt.session_key.startswith("agent:reviewer:subagent:")
    (outcome,) = runtime.wait([receipt.run_id], 60) or runtime.wait([receipt.run_id], 60)
    assert outcome.status == "ok" and "hi from reviewer" in outcome.text
    with pytest.raises(SpawnRefused) as refused:
        runtime.spawn(SpawnRequest(task="x", label=f"lp-{nonce}-no", task_name="lp", model=None,
                                   run_timeout_seconds=60, agent_id="writer", sandbox="inherit"))
    assert refused.value.kind == "permanent"
    assert refused.value.message.startswith("agentId is not allowed for sessions_spawn")
    assert 'add "writer" to agents.list' in refused.value.message


def test_doctor_reads_agents_list_from_the_gateway(scoped_caller):
    from parallel_agents.definitions.model import AgentDefinition
    from parallel_agents.host.doctor import _privilege_checks
    base = {"category": "testing", "description": "A scoped test agent here.",
            "system_prompt": "x" * 100, "output_format": "text"}
    good = AgentDefinition.from_dict({**base, "name": "scoped_ok", "agent_id": "reviewer"})
    bad = AgentDefinition.from_dict({**base, "name": "scoped_bad", "agent_id": "writer"})
    (ok,) = _privilege_checks([good], scoped_caller)
    assert ok.state == "ok" and "agents_list" in ok.detail
    (fail,) = _privilege_checks([good, bad], scoped_caller)
    assert fail.state == "fail" and "allowed: boxed, reviewer" in fail.detail
