"""Least privilege per agent: a definition's `agent_id` (the configured OpenClaw agent its children
run as) and `sandbox: require` - validated, carried into every spawn (script mode through each
door, host mode's plan), refused by the contract fake exactly as OpenClaw 2026.9.6 refuses them
(tests/integration/test_least_privilege_live.py checks the same texts on a live gateway), and
checked by `doctor` against agents_list or the local openclaw.json."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from parallel_agents.definitions.model import AgentDefinition, check_definition
from parallel_agents.simulation.fake_openclaw import AGENTS_LIST, ALL_TOOLS, FakeOpenClaw
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.spawn import SpawnRefused, SpawnRequest
from parallel_agents.openclaw.spawn_targets import SANDBOX_REQUIRED_ERROR
from parallel_agents.engine.tasks import AgentTask
from support import REPO, definition_text

MODELS = ("anthropic/claude-haiku-4-5", "kimi-coding/k2p5", "anthropic/claude-opus-4-5")
NOT_ALLOWED = "agentId is not allowed for sessions_spawn (allowed: boxed, reviewer)"
NOT_CONFIGURED = 'agentId "ghost" is not in the configured agent registry (allowed: boxed, reviewer)'


def gateway_like(**options) -> FakeOpenClaw:
    """The fake configured like the live test's gateway: main may spawn as reviewer and boxed
    (and names ghost, which is not configured); writer exists but is not allowed; boxed runs
    sandboxed."""
    return FakeOpenClaw(agents=["main", "reviewer", "writer", "boxed"],
                        allow_agents=["reviewer", "boxed", "ghost"], sandboxed_agents=["boxed"],
                        models=MODELS, **options)


def spawn(fake, **args) -> dict:
    return fake.call("sessions_spawn", {"task": "Do it.", "label": "lp", **args})


def request(**fields) -> SpawnRequest:
    return SpawnRequest(task="Do it.", label="lp#1", task_name="lp", model=None,
                        run_timeout_seconds=60, **fields)


# -- definitions ---------------------------------------------------------------------------------
def test_a_definition_may_name_its_openclaw_agent_and_require_a_sandbox():
    data = {"name": "scoped", "category": "testing", "description": "A scoped test agent here.",
            "system_prompt": "x" * 100, "output_format": "text", "agent_id": "reviewer",
            "sandbox": "require"}
    assert check_definition(data) == []
    definition = AgentDefinition.from_dict(data)
    assert definition.to_dict()["agent_id"] == "reviewer" and definition.to_dict()["sandbox"] == "require"
    assert definition.spawn_privileges() == {"agentId": "reviewer", "sandbox": "require"}
    plain = AgentDefinition.from_dict({k: v for k, v in data.items() if k not in ("agent_id", "sandbox")})
    assert plain.spawn_privileges() == {} and "agent_id" not in plain.to_dict()


@pytest.mark.parametrize("field, value, fix", [
    ("agent_id", "Code Reviewer", "agents.list"),
    ("agent_id", "Reviewer", "lower-case"),      # OpenClaw would lower-case it; we keep the canonical id
    ("agent_id", "-x", "letter or digit"),
    ("agent_id", "a" * 65, "up to 64"),
    ("sandbox", "required", "inherit, require"),
    ("sandbox", True, "inherit, require"),
])
def test_a_bad_agent_id_or_sandbox_names_the_file_line_field_and_fix(tmp_path, field, value, fix):
    path = tmp_path / "scoped.yaml"
    text = definition_text("scoped", **{field: value})
    path.write_text(text)
    from parallel_agents.core import yamlio
    (problem,) = check_definition(yamlio.parse(text, shown=str(path))[0], file=path, text=text,
                                  expected_name="scoped")
    assert problem.field == field and problem.line == text.splitlines().index(
        next(line for line in text.splitlines() if line.startswith(field))) + 1
    assert fix in problem.fix and str(path.name) in problem.file


def test_validate_and_show_report_them(cli, overlay_dir, write_definition):
    write_definition(overlay_dir, "scoped", agent_id="reviewer", sandbox="require")
    rc, out, _ = cli("validate")
    assert rc == 0 and "scoped runs as OpenClaw agent reviewer, sandbox: require" in out
    rc, out, _ = cli("validate", "--json")
    (row,) = json.loads(out)["privileges"]
    assert row["name"] == "scoped" and row["agent_id"] == "reviewer" and row["sandbox"] == "require"
    rc, out, _ = cli("show", "scoped", "--json")
    shown = json.loads(out)["definition"]
    assert rc == 0 and shown["agent_id"] == "reviewer" and shown["sandbox"] == "require"
    rc, out, _ = cli("show", "scoped")
    assert "agent_id: reviewer" in out and "sandbox: require" in out


def test_a_bad_agent_id_is_a_one_line_error_in_validate(cli, overlay_dir, write_definition):
    write_definition(overlay_dir, "scoped", agent_id="Bad Id")
    rc, out, err = cli("validate")
    assert rc == 1 and "Traceback" not in err
    (line,) = [x for x in out.splitlines() if "agent_id" in x]
    assert "scoped.yaml:" in line and "openclaw.json" in line


# -- spawn arguments ---------------------------------------------------------------------------
def test_spawn_args_carry_agent_id_and_sandbox_and_stay_byte_identical_without_them():
    before = {"task": "Do it.", "label": "lp#1", "taskName": "lp", "runTimeoutSeconds": 60,
              "cleanup": "keep", "expectsCompletionMessage": False}
    assert json.dumps(request().to_args()) == json.dumps(before)
    args = request(agent_id="reviewer", sandbox="require").to_args()
    assert args["agentId"] == "reviewer" and args["sandbox"] == "require"
    assert {k: v for k, v in args.items() if k not in ("agentId", "sandbox")} == before


@pytest.mark.parametrize("collection", ["history", "collector"])
def test_the_runtime_spawns_as_the_named_agent(collection):
    fake = gateway_like()
    runtime = OpenClawRuntime(fake, collection=collection)
    receipt = runtime.spawn(request(agent_id="reviewer"))
    assert receipt.session_key.startswith("agent:reviewer:subagent:")
    (run,) = fake.runs()
    assert run["agent_id"] == "reviewer" and run["collect"] == (collection == "collector")
    (outcome,) = runtime.wait([receipt.run_id], 10)
    assert outcome.status == "ok"


def test_through_the_http_gateway_and_an_attach_grant(start_fake_gateway):
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    from parallel_agents.openclaw.mcp import McpToolCaller
    gateway = start_fake_gateway("tok-lp", "--configured-agents", "main,reviewer",
                                 "--allow-agents", "reviewer")
    over_http = OpenClawRuntime(GatewayToolCaller(gateway.url, gateway.token))
    receipt = over_http.spawn(request(agent_id="reviewer"))
    assert receipt.session_key.startswith("agent:reviewer:subagent:")
    assert [r["agent_id"] for r in gateway.runs()] == ["reviewer"]
    with pytest.raises(SpawnRefused) as refused:
        over_http.spawn(request(agent_id="writer"))
    assert refused.value.message.startswith("agentId is not allowed for sessions_spawn (allowed: reviewer)")
    grant = gateway.grant("lp-test", 600_000)
    through_grant = OpenClawRuntime(McpToolCaller(grant["url"], grant["token"]))
    receipt = through_grant.spawn(request(agent_id="reviewer", sandbox="inherit"))
    assert receipt.session_key.startswith("agent:reviewer:subagent:")
    (run,) = gateway.grant_runs()["agent:main:lp-test"]
    assert run["agent_id"] == "reviewer" and run["sandbox"] == "inherit"


# -- the fake refuses as OpenClaw does ------------------------------------------------------------
@pytest.mark.parametrize("args, status, error", [
    ({"agentId": "reviewer"}, "accepted", None),
    ({"agentId": "REVIEWER"}, "accepted", None),                 # normalised to lower case
    ({"agentId": "writer"}, "forbidden", NOT_ALLOWED),           # configured, not allowed
    ({"agentId": "nobody"}, "forbidden", NOT_ALLOWED),           # neither
    ({"agentId": "ghost"}, "forbidden", NOT_CONFIGURED),         # allowed, not configured
    ({"agentId": "main"}, "forbidden", NOT_ALLOWED),             # itself, by name, is not listed
    ({"agentId": "Bad Id!"}, "error",
     'Invalid agentId "Bad Id!". Agent IDs must match [a-z0-9][a-z0-9_-]{0,63}.'),
    ({}, "accepted", None),                                      # no agentId: runs as main
    ({"sandbox": "require"}, "forbidden", SANDBOX_REQUIRED_ERROR),
    ({"agentId": "reviewer", "sandbox": "require"}, "forbidden", SANDBOX_REQUIRED_ERROR),
    ({"agentId": "boxed", "sandbox": "require"}, "accepted", None),
    ({"sandbox": "inherit"}, "accepted", None),
    ({"sandbox": "bogus"}, "accepted", None),                    # taken as inherit, not refused
])
def test_the_fake_answers_agent_id_and_sandbox_like_openclaw(args, status, error):
    answer = spawn(gateway_like(), **args)
    assert answer["status"] == status and answer.get("error") == error
    if status == "accepted":
        agent = args.get("agentId", "main").lower()
        assert answer["childSessionKey"].startswith(f"agent:{agent}:subagent:")


def test_a_stock_gateway_lets_a_spawn_run_only_as_the_requester():
    fake = FakeOpenClaw()   # no agents.list, no allowAgents
    assert spawn(fake, agentId="main")["status"] == "accepted"
    assert spawn(fake, agentId="reviewer")["error"] == "agentId is not allowed for sessions_spawn (allowed: main)"
    star = FakeOpenClaw(agents=["main", "reviewer"], allow_agents=["*"])
    assert spawn(star, agentId="reviewer")["status"] == "accepted"
    assert spawn(star, agentId="ghost")["error"] == \
        'agentId "ghost" is not in the configured agent registry (allowed: main, reviewer)'
    strict = FakeOpenClaw(require_agent_id=True)
    assert spawn(strict)["error"].startswith("sessions_spawn requires explicit agentId")
    assert spawn(strict, agentId="main")["status"] == "accepted"


def test_back_pressure_comes_before_the_agent_check():
    fake = gateway_like(max_children=1)
    assert spawn(fake, agentId="reviewer")["status"] == "accepted"
    assert "max active children" in spawn(fake, agentId="writer")["error"]


def test_agents_list_shows_who_may_be_spawned_as():
    assert not FakeOpenClaw().has(AGENTS_LIST)     # not in a stock gateway's coding profile
    fake = gateway_like(tools=ALL_TOOLS + (AGENTS_LIST,))
    listing = fake.call(AGENTS_LIST, {})
    assert listing["requester"] == "main" and listing["allowAny"] is False
    assert [a["id"] for a in listing["agents"]] == ["boxed", "reviewer"]
    assert all(a["configured"] for a in listing["agents"])
    star = FakeOpenClaw(agents=["main", "reviewer"], allow_agents=["*"], tools=(AGENTS_LIST,))
    assert [a["id"] for a in star.call(AGENTS_LIST, {})["agents"]] == ["main", "reviewer"]


def test_a_refusal_is_permanent_and_says_what_to_change():
    runtime = OpenClawRuntime(gateway_like(), collection="history")
    with pytest.raises(SpawnRefused) as refused:
        runtime.spawn(request(agent_id="writer"))
    assert refused.value.kind == "permanent" and refused.value.message.startswith(NOT_ALLOWED)
    assert 'add "writer" to agents.list' in refused.value.message
    with pytest.raises(SpawnRefused) as refused:
        runtime.spawn(request(agent_id="reviewer", sandbox="require"))
    assert refused.value.kind == "permanent" and refused.value.message.startswith(SANDBOX_REQUIRED_ERROR)
    assert 'sandbox.mode "all"' in refused.value.message and 'agent "reviewer"' in refused.value.message


# -- script mode, end to end ----------------------------------------------------------------------
# The scheduler builds each attempt's SpawnRequest (scheduler._plan_attempt): it must pass the
# definition's agent_id and sandbox, or these runs go out as the requesting agent.
WIRED = "scheduler._plan_attempt must pass agent_id=/sandbox= from the definition to SpawnRequest"

def run_as(agent_id, fake, overlay_dir, write_definition, fast_config, tmp_path, **fields):
    write_definition(overlay_dir, "scoped", agent_id=agent_id, **fields)
    orch = RealAIParallelOrchestrator(4, runtime=OpenClawRuntime(fake, collection="history"),
                                      config=fast_config, runs_folder=tmp_path / "runs", seed=1)
    (result,) = orch.run_parallel([AgentTask("scoped", 'Say hi.\nSIM {"reply": "hi"}')])
    return result


def test_a_run_spawns_every_attempt_as_the_named_agent(overlay_dir, write_definition, fast_config,
                                                       tmp_path):
    fake = gateway_like()
    result = run_as("reviewer", fake, overlay_dir, write_definition, fast_config, tmp_path)
    assert result.status == "completed", result.error
    assert [r["agent_id"] for r in fake.runs()] == ["reviewer"], WIRED


def test_a_disallowed_agent_fails_once_per_tier_with_the_fix(overlay_dir, write_definition,
                                                             fast_config, tmp_path):
    fake = gateway_like()
    result = run_as("writer", fake, overlay_dir, write_definition, fast_config, tmp_path)
    assert result.status == "failed" and fake.runs() == [], WIRED
    assert NOT_ALLOWED in result.error and 'add "writer" to agents.list' in result.error
    assert len(result.attempts) == len(fast_config.tiers)       # up the ladder once, then done
    assert all(a.status == "refused" for a in result.attempts)


def test_the_simulated_runtime_knows_the_agents_definitions_name(overlay_dir, write_definition,
                                                                 fast_config):
    from parallel_agents.definitions.registry import Registry
    from parallel_agents.simulation.simulated import simulated_runtime
    write_definition(overlay_dir, "scoped", agent_id="reviewer", sandbox="require")
    runtime = simulated_runtime(Registry.load(), config=fast_config, latency=(0.0, 0.01))
    receipt = runtime.spawn(request(agent_id="reviewer", sandbox="require"))
    assert receipt.session_key.startswith("agent:reviewer:subagent:")


# -- host mode ---------------------------------------------------------------------------------
def test_plan_puts_agent_id_and_sandbox_in_the_spawn_and_the_prompt_inline(cli, overlay_dir,
                                                                          write_definition):
    write_definition(overlay_dir, "scoped", agent_id="reviewer", sandbox="require")
    rc, out, err = cli("plan", "--agent", "scoped", "--task", "Review it", "--json")
    assert rc == 0, err
    (spawn_,) = json.loads(out)["spawn"]
    args = spawn_["args"]
    assert args["agentId"] == "reviewer" and args["sandbox"] == "require"
    assert "Review it" in args["task"]          # its tools or sandbox may not reach a prompt file
    rc, out, _ = cli("plan", "--agent", "code_reviewer", "--task", "Review it", "--json")
    assert not {"agentId", "sandbox"} & set(json.loads(out)["spawn"][0]["args"])


def test_a_refused_host_spawn_climbs_the_ladder_with_the_fix(cli, overlay_dir, write_definition):
    write_definition(overlay_dir, "scoped", agent_id="writer")
    rc, out, _ = cli("plan", "--agent", "scoped", "--task", "Review it", "--json")
    plan = json.loads(out)
    label = plan["spawn"][0]["args"]["label"]
    done = subprocess.run([sys.executable, str(REPO / "ai_orchestrator.py"), "check", "--plan",
                           plan["plan_id"], "--refused", label, "--error",
                           "agentId is not allowed for sessions_spawn (allowed: reviewer)", "--json"],
                          input="", capture_output=True, text=True, timeout=60)
    out, err = done.stdout, done.stderr
    assert "Traceback" not in err, err
    answer = json.loads(out)
    (result,) = answer["results"]
    (refused,) = result["attempts"]
    assert refused["status"] == "refused" and refused["tier"] == plan["spawn"][0]["tier"]
    assert refused["error"].startswith("spawn refused: agentId is not allowed for sessions_spawn")
    assert 'add "writer" to agents.list' in refused["error"]
    (again,) = answer["spawn"]          # the next tier, still as writer
    assert again["args"]["agentId"] == "writer" and again["tier"] != refused["tier"]


# -- doctor -------------------------------------------------------------------------------------
def write_openclaw_config(tmp_path, monkeypatch, agents: dict) -> str:
    path = tmp_path / "openclaw.json"
    path.write_text(json.dumps({"agents": agents}))
    monkeypatch.setenv("OPENCLAW_CONFIG_PATH", str(path))
    return str(path)


ROSTER = {"list": [{"id": "main", "default": True, "subagents": {"allowAgents": ["reviewer"]}},
                   {"id": "reviewer"}, {"id": "writer"}, {"id": "boxed", "sandbox": {"mode": "all"}}]}


def privilege_checks(caller=None):
    from parallel_agents.host.doctor import _privilege_checks
    from parallel_agents.definitions.registry import Registry
    return [c.to_dict() for c in _privilege_checks(Registry.load(), caller)]


def test_doctor_is_silent_when_no_definition_names_an_agent(tmp_path, monkeypatch):
    write_openclaw_config(tmp_path, monkeypatch, ROSTER)
    assert privilege_checks() == []


@pytest.mark.parametrize("agent_id, detail, fix", [
    ("writer", "agentId is not allowed for sessions_spawn (allowed: reviewer)",
     'add "writer" to the subagents.allowAgents of agent "main" (agents.list)'),
    ("ghost", "agentId is not allowed for sessions_spawn (allowed: reviewer)",
     'add {"id": "ghost"} to agents.list and add "ghost" to the subagents.allowAgents of agent "main"'),
])
def test_doctor_names_a_missing_or_disallowed_agent_from_the_local_config(
        tmp_path, monkeypatch, overlay_dir, write_definition, agent_id, detail, fix):
    config = write_openclaw_config(tmp_path, monkeypatch, ROSTER)
    write_definition(overlay_dir, "scoped", agent_id=agent_id)
    (check,) = privilege_checks()
    assert check["state"] == "fail" and check["name"] == "least privilege: scoped"
    assert detail in check["detail"] and f'agent_id "{agent_id}"' in check["detail"]
    assert fix in check["fix"] and config in check["fix"] and "remove agent_id" in check["fix"]


def test_doctor_passes_an_allowed_agent_and_checks_the_sandbox(tmp_path, monkeypatch, overlay_dir,
                                                              write_definition):
    write_openclaw_config(tmp_path, monkeypatch, {**ROSTER, "list": [
        {**ROSTER["list"][0], "subagents": {"allowAgents": ["*"]}}, *ROSTER["list"][1:]]})
    write_definition(overlay_dir, "scoped", agent_id="reviewer")
    write_definition(overlay_dir, "boxed_one", agent_id="boxed", sandbox="require")
    (check,) = privilege_checks()
    assert check["state"] == "ok" and "scoped -> reviewer" in check["detail"]
    assert "boxed_one -> boxed (sandboxed)" in check["detail"]
    write_definition(overlay_dir, "scoped", agent_id="reviewer", sandbox="require")
    (check,) = privilege_checks()
    assert check["state"] == "fail" and 'agent "reviewer" has sandbox.mode "off"' in check["detail"]
    assert 'sandbox.mode "all"' in check["fix"]


def test_doctor_asks_agents_list_when_the_gateway_offers_it(start_fake_gateway, tmp_path,
                                                            monkeypatch, overlay_dir, write_definition):
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    write_openclaw_config(tmp_path, monkeypatch, {"list": [{"id": "main"}, {"id": "writer"}],
                                                  "defaults": {"subagents": {"allowAgents": ["*"]}}})
    gateway = start_fake_gateway("tok-lp", "--configured-agents", "main,reviewer",
                                 "--allow-agents", "reviewer", "--agents-list")
    write_definition(overlay_dir, "scoped", agent_id="writer")
    (check,) = privilege_checks(GatewayToolCaller(gateway.url, gateway.token))
    assert check["state"] == "fail" and "agents_list" in check["detail"]   # the gateway wins
    assert "(allowed: reviewer)" in check["detail"]
    stock = start_fake_gateway("tok-lp", "--configured-agents", "main,reviewer",
                               "--allow-agents", "reviewer")          # no agents_list: the config
    (check,) = privilege_checks(GatewayToolCaller(stock.url, stock.token))
    assert check["state"] == "ok" and "openclaw.json" in check["detail"]


def test_doctor_skips_with_a_fix_when_nothing_can_be_asked(overlay_dir, write_definition):
    write_definition(overlay_dir, "scoped", agent_id="reviewer")
    (check,) = privilege_checks()
    assert check["state"] == "skip" and "OPENCLAW_CONFIG_PATH" in check["fix"]


def test_doctor_json_has_the_line(run_cli, tmp_path, overlay_dir, write_definition):
    config = tmp_path / "openclaw.json"
    config.write_text(json.dumps({"agents": ROSTER}))
    write_definition(overlay_dir, "scoped", agent_id="writer")
    rc, out, err = run_cli("doctor", "--json", env={"OPENCLAW_CONFIG_PATH": str(config)})
    assert rc == 1 and "Traceback" not in err
    (check,) = [c for c in json.loads(out)["checks"] if c["name"] == "least privilege: scoped"]
    assert check["state"] == "fail" and "allowAgents" in check["fix"]
