"""Agents that create agents: the creator/reviewer workflow, design normalisation, and
install_agent (atomic, validated, no silent clashes, usable by name at once)."""
from __future__ import annotations

import time

import pytest

from parallel_agents.core import yamlio
from parallel_agents.definitions.registry import load_registry
from parallel_agents.definitions.model import check_definition
from parallel_agents.core.errors import DefinitionError, InputError
from parallel_agents.workflows.meta import (collect_designs, create_meta_agent_workflow, install_agent,
                                  normalise_design)
from parallel_agents.simulation.directives import Reply
from parallel_agents.simulation.simulated import AgentPlayer
from parallel_agents.engine.tasks import AgentTask
from test_engine import fenced_json, new_fake, new_orch, task_of

TEN = [{"name": f"agent_{n}", "purpose": f"Do job number {n}", "domain": "testing",
        "capabilities": ["one", "two"]} for n in range(10)]


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def player():
    return AgentPlayer(load_registry(), latency=(0.005, 0.02))


# -- the workflow -----------------------------------------------------------------------------------

def test_each_request_gets_a_creator_and_a_reviewer_fed_its_design():
    tasks = create_meta_agent_workflow([
        {"name": "crypto_analyst", "purpose": "Analyze crypto trends"},
        {"name": "content_strategist", "purpose": "Plan content calendars"}])

    assert [(t.task_id, t.agent_type) for t in tasks] == [
        ("create-crypto_analyst", "agent_creator"), ("review-crypto_analyst", "agent_design_reviewer"),
        ("create-content_strategist", "agent_creator"),
        ("review-content_strategist", "agent_design_reviewer")]
    creator, reviewer = tasks[:2]
    assert creator.input_data == {"name": "crypto_analyst", "purpose": "Analyze crypto trends"}
    assert creator.depends_on == [] and creator.timeout_seconds == 300   # the creator's own timeout
    assert reviewer.input_from == {"definition": "create-crypto_analyst"}
    assert reviewer.depends_on == ["create-crypto_analyst"]
    assert reviewer.input_data == {"requirements": creator.input_data}


def test_requests_may_lack_keys_and_names_are_normalised():
    tasks = create_meta_agent_workflow([{"purpose": "Find bugs in code"}, {"name": "API Documenter!"},
                                        "release_helper"])

    assert [t.task_id for t in tasks if t.agent_type == "agent_creator"] == [
        "create-find_bugs_in_code", "create-api_documenter", "create-release_helper"]


@pytest.mark.parametrize("new_agents,message", [
    ([], "non-empty list"),
    ({"name": "x"}, "non-empty list"),
    ([{"domain": "qa"}], "neither a name nor a purpose"),
    ([42], "must be a mapping"),
    ([{"name": "dup_agent"}, {"name": "Dup Agent"}], "requested twice"),
])
def test_bad_requests_are_input_errors(new_agents, message):
    with pytest.raises(InputError, match=message):
        create_meta_agent_workflow(new_agents)


class CallLog:
    """Forwards tool calls to a fake and keeps their order: (tool, spawn label or None). With
    `spawn_delay` each spawn takes that long first (a loaded machine)."""

    def __init__(self, inner, spawn_delay: float = 0.0):
        self.inner, self.spawn_delay, self.calls = inner, spawn_delay, []

    def has(self, tool):
        return self.inner.has(tool)

    def call(self, tool, args):
        if tool == "sessions_spawn" and self.spawn_delay:
            time.sleep(self.spawn_delay)
        self.calls.append((tool, args.get("label") if tool == "sessions_spawn" else None))
        return self.inner.call(tool, args)


@pytest.mark.parametrize("spawn_delay", [0.0, 0.03], ids=["idle", "loaded"])
def test_ten_creators_run_at_once_each_reviewer_after_its_creator_and_all_install(
        spawn_delay, fast_config, tmp_path):
    """"At once" is what the engine controls, not the clock: all ten creators are spawned before
    the first result is waited for, so all ten are in flight together. (How long the children
    overlap on the fake's clock depends on the machine: with slow spawns - "loaded", 30 ms each
    against children of 5-20 ms - the first creators end before the last are spawned.)"""
    fake = new_fake(player(), lane_max_concurrent=20, swarm_max_concurrent=20, max_children=20)
    log = CallLog(fake, spawn_delay)
    orch = new_orch(log, fast_config, tmp_path, max_concurrent=20)
    tasks = create_meta_agent_workflow(TEN)

    results = orch.run_parallel(tasks)

    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert orch.last_run.peak_in_flight == 10           # spawned and not yet collected, at once
    first_wait = next(i for i, (tool, _) in enumerate(log.calls) if tool != "sessions_spawn")
    spawned_first = {task_of(label) for _, label in log.calls[:first_wait]}
    assert spawned_first == {f"create-agent_{n}" for n in range(10)}
    runs = {task_of(r["label"]): r for r in fake.runs()}
    for n in range(10):
        assert runs[f"review-agent_{n}"]["created_at"] >= runs[f"create-agent_{n}"]["ended_at"]

    designs = collect_designs(tasks, results)
    assert [d.name for d in designs] == [f"agent_{n}" for n in range(10)]
    assert all(d.installable and d.score is not None for d in designs)
    for d in designs:
        install_agent(d.definition)
    registry = load_registry()
    assert {f"agent_{n}" for n in range(10)} <= set(registry.names())

    later = new_orch(new_fake(player()), fast_config, tmp_path)          # usable by name
    assert later.run_task(AgentTask("agent_3", "Do the job", {"x": 1})).status == "completed"


def test_the_reviewer_sees_exactly_the_creators_design(fast_config, tmp_path):
    prompts = {}
    play = player()

    def responder(view):
        prompts[task_of(view.label)] = view.task
        return play(view)

    orch = new_orch(new_fake(responder), fast_config, tmp_path)
    tasks = create_meta_agent_workflow([{"name": "bug_hunter", "purpose": "Find bugs"}])
    creator, reviewer = orch.run_parallel(tasks)

    data = fenced_json(prompts["review-bug_hunter"], "## Input data")
    assert data == {"definition": creator.output,
                    "requirements": {"name": "bug_hunter", "purpose": "Find bugs"}}
    assert "## Results of earlier tasks" not in prompts["review-bug_hunter"]   # not sent twice


def test_a_failed_creator_skips_its_reviewer_and_is_reported(fast_config, tmp_path):
    play = player()

    def responder(view):
        return Reply(fail="no model") if view.label.startswith("create-broken") else play(view)

    orch = new_orch(new_fake(responder), fast_config, tmp_path)
    tasks = create_meta_agent_workflow([{"name": "broken"}, {"name": "fine_agent"}])
    results = orch.run_parallel(tasks)

    broken, fine = collect_designs(tasks, results)
    assert not broken.installable and broken.error.startswith("agent_creator failed")
    assert results[1].status == "skipped"
    assert fine.installable and fine.error is None


# -- design -> definition -------------------------------------------------------------------------------

def design(**fields):
    base = {"name": "bug_hunter", "category": "qa",
            "description": "Finds bugs in the code given and explains each one.",
            "system_prompt": "You are a bug hunter. " * 6, "output_format": "text",
            "tier": "balanced", "timeout_seconds": 120}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def test_normalise_design_fills_fixes_and_drops():
    out = normalise_design(design(name="Bug Hunter!", category="Software QA", tier=None,
                                  timeout_seconds=None, examples=["x"], version=2,
                                  aliases=["Bug Finder", "bug_hunter", 7],
                                  output_schema={"type": "object"}))

    assert out["name"] == "bug_hunter" and out["category"] == "software_qa"
    assert out["aliases"] == ["bug_finder"]
    assert (out["tier"], out["timeout_seconds"]) == ("balanced", 180)
    assert "examples" not in out and "version" not in out
    assert "output_schema" not in out          # only json agents have one
    assert check_definition(out) == []


def test_a_designed_agent_never_picks_the_openclaw_agent_its_children_run_as():
    """agent_id chooses a tool policy and workspace: the operator's call, not a model's. A
    sandbox requirement only restricts, so a design may keep it."""
    out = normalise_design(design(agent_id="admin", sandbox="require"))
    assert "agent_id" not in out and out["sandbox"] == "require"
    assert check_definition(out) == []


@pytest.mark.parametrize("given,expected", [(5, 10), (99999, 3600), ("slow", 180), (True, 180), (42.7, 42)])
def test_normalise_design_clamps_the_timeout(given, expected):
    assert normalise_design(design(timeout_seconds=given))["timeout_seconds"] == expected


def test_normalise_design_keeps_the_requested_name_and_a_configured_tier():
    out = normalise_design(design(name="something_else", tier="turbo"), name="Bug Hunter")
    assert out["name"] == "bug_hunter" and out["tier"] == "balanced"
    assert normalise_design(design(category="!!"))["category"] == "custom"


# -- install ---------------------------------------------------------------------------------------------

def test_install_writes_the_overlay_file_and_the_registry_sees_it(overlay_dir):
    path = install_agent(design())

    assert path == overlay_dir / "bug_hunter.yaml"
    assert yamlio.parse(path.read_text(), shown="x")[0] == design()
    assert load_registry().get("bug_hunter").origin == "overlay"
    assert not [p for p in overlay_dir.iterdir() if p.name.startswith(".")]   # no temp file left


def test_install_refuses_an_invalid_definition_and_writes_nothing(pa_home):
    with pytest.raises(DefinitionError) as caught:
        install_agent(design(output_format="json"))
    assert "output_schema" in str(caught.value) and "fix:" in str(caught.value)
    with pytest.raises(DefinitionError, match="unknown tier 'turbo'"):
        install_agent(design(tier="turbo"))
    assert not (pa_home / "agents").exists() or not list((pa_home / "agents").iterdir())


def test_install_refuses_an_existing_name_unless_forced(overlay_dir):
    shipped = load_registry().get("code_reviewer").to_dict()
    mine = {**shipped, "description": "My own code reviewer, stricter than the shipped one."}

    with pytest.raises(InputError, match="already exists.*shipped") as caught:
        install_agent(mine)
    assert "--force" in caught.value.problems[0].fix
    assert not list(overlay_dir.iterdir())

    install_agent(mine, force=True)
    assert load_registry().get("code_reviewer").description == mine["description"]


def test_install_refuses_alias_clashes_even_when_forced(overlay_dir):
    with pytest.raises(InputError, match="alias of agent 'donut_care_coordinator'"):
        install_agent(design(name="pet_care_coordinator"), force=True)
    with pytest.raises(InputError, match="alias 'code_reviewer' is already taken"):
        install_agent(design(aliases=["code_reviewer"]), force=True)
    assert not list(overlay_dir.iterdir())


def test_force_replaces_an_overlay_agent_in_its_own_file(overlay_dir, write_definition):
    nested = write_definition(overlay_dir / "team", "bug_hunter")

    path = install_agent(design(), force=True)

    assert path == nested
    assert [p.name for p in overlay_dir.rglob("*.yaml")] == ["bug_hunter.yaml"]
    assert load_registry().get("bug_hunter").description == design()["description"]


def test_install_accepts_a_yaml_file(tmp_path, pa_home):
    source = tmp_path / "design.yaml"
    source.write_text(yamlio.dump(design()))

    assert install_agent(str(source)) == pa_home / "agents" / "bug_hunter.yaml"
    with pytest.raises(InputError, match="missing.yaml: file not found"):
        install_agent(tmp_path / "missing.yaml")


# -- the seed's examples, verbatim ------------------------------------------------------------------

SEED_EXAMPLES = '''
from ai_orchestrator import (
    RealAIParallelOrchestrator,
    create_meta_agent_workflow
)

orch = RealAIParallelOrchestrator()

# Define agents to create
new_agents = [
    {'name': 'crypto_analyst', 'purpose': 'Analyze crypto trends'},
    {'name': 'content_strategist', 'purpose': 'Plan content calendars'}
]

# Creates: 2 creators + 2 reviewers (4 tasks)
tasks = create_meta_agent_workflow(new_agents)
results = orch.run_parallel(tasks)
check("workflow 1", results, 4)

agents_to_refine = [
    {'name': 'my_agent', 'current_score': 7.4, 'target': 8.5}
]

# This runs the full loop automatically
results = orch.run_iterative_refinement(agents_to_refine)
assert results[0].reason == "target reached" and results[0].score >= 8.5, results[0].to_dict()

from ai_orchestrator import RealAIParallelOrchestrator, create_content_team

orch = RealAIParallelOrchestrator(max_concurrent=5)
tasks = create_content_team("Monday motivation", platform="bluesky")

# This spawns 5 REAL AI agents
results = orch.run_parallel(tasks)
check("example 1", results, 5)

from ai_orchestrator import RealAIParallelOrchestrator, create_dev_team

orch = RealAIParallelOrchestrator(max_concurrent=5)
tasks = create_dev_team("TaskManager", ['auth', 'tasks', 'teams'])

# Spawns 5 dev agents in parallel
results = orch.run_parallel(tasks)
check("example 2", results, 5)

from ai_orchestrator import RealAIParallelOrchestrator, create_review_team

code = open('app.py').read()

orch = RealAIParallelOrchestrator(max_concurrent=5)
tasks = create_review_team(code)

# Spawns 5 reviewers simultaneously
results = orch.run_parallel(tasks)
check("example 3", results, 5)

orch = RealAIParallelOrchestrator(max_concurrent=6)
new_agents = [
    {
        'name': 'social_media_analyst',
        'purpose': 'Analyze social media performance',
        'domain': 'social media analytics',
        'capabilities': ['engagement analysis', 'trend identification']
    },
    {
        'name': 'bug_hunter',
        'purpose': 'Find bugs in code',
        'domain': 'software QA',
        'capabilities': ['static analysis', 'edge case detection']
    },
    {
        'name': 'api_documenter',
        'purpose': 'Generate API docs',
        'domain': 'technical writing',
        'capabilities': ['endpoint extraction', 'example generation']
    }
]

# Creates 6 tasks: 3 creators + 3 reviewers
tasks = create_meta_agent_workflow(new_agents)
results = orch.run_parallel(tasks)
check("example 4", results, 6)

from ai_orchestrator import RealAIParallelOrchestrator, AgentTask

orch = RealAIParallelOrchestrator(max_concurrent=10)
new_agents = [
    {'name': 'engagement_optimizer', 'purpose': 'Analyze social media posts',
     'domain': 'social media', 'capabilities': ['analytics', 'optimization']},
    {'name': 'workout_designer', 'purpose': 'Create gym/home workouts',
     'domain': 'fitness', 'capabilities': ['program design', 'adaptation']},
    {'name': 'email_drafter', 'purpose': 'Write professional/personal emails',
     'domain': 'communication', 'capabilities': ['tone adaptation', 'drafting']},
]
all_tasks = []
for agent in new_agents:
    all_tasks.append(AgentTask(
        agent_type='agent_creator',
        task_description=f"Design agent: {agent['name']}",
        input_data=agent,
        timeout_seconds=180
    ))
    all_tasks.append(AgentTask(
        agent_type='agent_design_reviewer',
        task_description=f"Review {agent['name']}",
        input_data={'agent_name': agent['name']},
        timeout_seconds=120
    ))
results = orch.run_parallel(all_tasks)
check("example 5", results, 6)
print("all seed examples ran")
'''


def test_the_seeds_workflow_examples_run_verbatim(tmp_path):
    """Workflows 1-2 and Examples 1-5 of the skill we replace, as its page shows them, on the
    runtime-injected `tools` shim whose children play the agents (Workflow 3's raw
    sessions_spawn call is replaced by orchestrate(), tested in test_planning.py)."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "app.py").write_text("def div(a, b):\n    return a / b\n")
    check = ("def check(name, results, n):\n"
             "    assert len(results) == n and all(r.status == 'completed' for r in results), "
             "(name, [(r.task_id, r.status, r.error) for r in results])\n")
    (tmp_path / "seed.py").write_text(check + SEED_EXAMPLES)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_GATEWAY")},
           "PYTHONPATH": os.pathsep.join([str(repo / "tests" / "shim"), str(repo)]),
           "PARALLEL_AGENTS_SHIM": "agents", "PARALLEL_AGENTS_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "seed.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "all seed examples ran" in done.stdout


def test_a_live_orchestrator_sees_an_agent_installed_after_it_started(tmp_path):
    """The orchestrator uses the shared registry, which install_agent reloads."""
    from ai_orchestrator import AgentTask, RealAIParallelOrchestrator
    from parallel_agents.workflows.meta import install_agent
    from parallel_agents.definitions.samples import agent_definition_sample
    orch = RealAIParallelOrchestrator(runtime="simulated")
    assert "late_comer" not in orch.registry
    install_agent(agent_definition_sample("late_comer", "Arrives after the orchestrator"))
    assert orch.registry.get("late_comer").origin == "overlay"
    [result] = orch.run_parallel([AgentTask("late_comer", "Do the thing")])
    assert result.agent_type == "late_comer" and result.status == "completed"
