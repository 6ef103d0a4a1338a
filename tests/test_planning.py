"""orchestrate(goal): agent_orchestrator plans, the plan is checked, runs as a dependency graph,
and a documentation_writer merges every result; with refine_created/install, the seed's
"Create 5 new agents and ensure all score 8.5+" is one call."""
from __future__ import annotations

import json

import pytest

from parallel_agents.definitions.registry import load_registry
from parallel_agents.core.errors import InputError
from parallel_agents.simulation.directives import Reply
from parallel_agents.workflows.planning import plan_problems
from parallel_agents.simulation.simulated import AgentPlayer
from parallel_agents.engine.tasks import AgentTask
from test_engine import BALANCED, STRONGEST, fenced_json, new_fake, new_orch, task_of

GOAL = "Write a post about our launch and review the signup code"
SYNTHESIS = "Put the post first, then the review findings, most severe first."


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def plan(*tasks, synthesis=SYNTHESIS) -> dict:
    return {"summary": "Draft, then review.", "synthesis": synthesis,
            "tasks": [{"id": i, "agent_type": a, "description": f"Do {i}.", "input": {"n": i},
                       "depends_on": list(d)} for i, a, d in tasks]}


GOOD = plan(("post", "content_writer_funny", []), ("review", "code_reviewer", []),
            ("check", "security_reviewer", ["review"]))


class Planner:
    """AgentPlayer for everyone; the planner replies with the plans given, by model."""

    def __init__(self, plans: dict | None = None, *, fail=()):
        self.player = AgentPlayer(load_registry(), latency=(0.002, 0.01))
        self.plans = plans or {}
        self.fail = set(fail)
        self.prompts: dict[str, list[str]] = {}

    def __call__(self, view):
        tid = task_of(view.label)
        self.prompts.setdefault(tid, []).append(view.task)
        if tid in self.fail:
            return Reply(fail="broken on purpose")
        if tid == "plan" and self.plans:
            chosen = self.plans.get(view.model, self.plans.get("*"))
            return Reply(text=json.dumps(chosen), latency_s=0.002)
        return self.player(view)


def orchestrator(responder, fast_config, tmp_path, **kwargs):
    fake = new_fake(responder, lane_max_concurrent=20, swarm_max_concurrent=20, max_children=20)
    return new_orch(fake, fast_config, tmp_path, max_concurrent=10, **kwargs), fake


def test_the_plan_runs_as_a_graph_and_the_synthesis_gets_every_result(fast_config, tmp_path):
    planner = Planner({"*": GOOD})
    orch, fake = orchestrator(planner, fast_config, tmp_path)

    done = orch.orchestrate(GOAL)

    assert done.ok and done.error is None and done.plan == GOOD
    assert [(r.task_id, r.agent_type, r.status) for r in done.results] == [
        ("post", "content_writer_funny", "completed"), ("review", "code_reviewer", "completed"),
        ("check", "security_reviewer", "completed")]
    runs = {task_of(r["label"]): r for r in fake.runs()}
    assert runs["check"]["created_at"] >= runs["review"]["ended_at"]       # depends_on kept
    assert runs["post"]["created_at"] < runs["review"]["ended_at"]          # independent ones at once

    [synthesis_prompt] = planner.prompts["synthesis"]
    assert f"## Task\n{SYNTHESIS}" in synthesis_prompt
    data = fenced_json(synthesis_prompt, "## Input data")
    assert data["goal"] == GOAL and data["plan_summary"] == "Draft, then review."
    assert {k: v["output"] for k, v in data["results"].items()} == {r.task_id: r.output for r in done.results}
    assert done.synthesis_result.agent_type == "documentation_writer"
    assert done.synthesis.startswith("[simulated] documentation_writer")
    assert "Results received: check, post, review." in done.synthesis   # (prompt data is key-sorted)


def test_the_planner_is_offered_the_agents_and_the_goal(fast_config, tmp_path):
    planner = Planner({"*": GOOD})
    orch, _ = orchestrator(planner, fast_config, tmp_path)

    orch.orchestrate(GOAL, max_tasks=4, input_data={"audience": "developers"})

    [prompt] = planner.prompts["plan"]
    assert f"## Task\n{GOAL}" in prompt
    data = fenced_json(prompt, "## Input data")
    offered = [a["name"] for a in data["available_agents"]]
    assert "code_reviewer" in offered and "agent_orchestrator" not in offered
    assert "agent_refiner" in offered                     # only hidden when refining is automatic
    assert (data["max_tasks"], data["audience"]) == (4, "developers")


def test_an_invalid_plan_moves_the_planner_up_the_ladder_and_never_runs(fast_config, tmp_path):
    bad = plan(("a", "wizard_of_oz", []), ("b", "code_reviewer", ["zz"]))
    planner = Planner({BALANCED: bad, STRONGEST: GOOD})
    orch, fake = orchestrator(planner, fast_config, tmp_path)

    done = orch.orchestrate(GOAL)

    assert done.ok and done.plan == GOOD
    attempts = [(a.tier, a.status) for a in done.planner.attempts]
    assert attempts == [("balanced", "invalid"), ("strongest", "ok")]
    assert "agent type 'wizard_of_oz' is not available" in done.planner.attempts[0].error
    assert "a" not in {task_of(r["label"]) for r in fake.runs()}


def test_a_plan_that_stays_invalid_is_an_error_not_an_exception(fast_config, tmp_path):
    planner = Planner({"*": plan(("a", "code_reviewer", ["a"]))})
    orch, fake = orchestrator(planner, fast_config, tmp_path)

    done = orch.orchestrate(GOAL)

    assert not done.ok and done.plan is None and done.results == []
    assert done.error == ("planning failed: invalid output: invalid plan: task a: depends_on 'a' "
                          "is not another task of the plan")
    assert {task_of(r["label"]) for r in fake.runs()} == {"plan"}


def test_a_failed_task_still_reaches_the_synthesis(fast_config, tmp_path):
    planner = Planner({"*": GOOD}, fail={"review"})
    orch, _ = orchestrator(planner, fast_config, tmp_path)

    done = orch.orchestrate(GOAL)

    status = {r.task_id: r.status for r in done.results}
    assert status == {"post": "completed", "review": "failed", "check": "skipped"}
    assert not done.ok and done.synthesis is not None
    results = fenced_json(planner.prompts["synthesis"][0], "## Input data")["results"]
    assert results["review"]["status"] == "failed" and "broken on purpose" in results["review"]["error"]
    assert results["check"] == {"agent_type": "security_reviewer", "status": "skipped",
                                "error": "dependency review failed"}


@pytest.mark.parametrize("tasks,max_tasks,expected", [
    ([("a", "code_reviewer", []), ("b", "reviewer_of_code", [])], 5,
     ["task b: agent type 'reviewer_of_code' is not available"]),
    ([("a", "code_reviewer", ["x"])], 5, ["task a: depends_on 'x' is not another task of the plan"]),
    ([("a", "code_reviewer", []), ("a", "code_reviewer", [])], 5, ["task ids are repeated: a"]),
    ([("a", "code_reviewer", ["b"]), ("b", "code_reviewer", ["a"])], 5,
     ["depends_on has a cycle: a -> b -> a"]),
    ([(f"t{i}", "code_reviewer", []) for i in range(3)], 2, ["the plan has 3 tasks, more than max_tasks 2"]),
    ([("a", "pet_care_coordinator", [])], 5, []),            # an alias is a known agent type
])
def test_plan_problems(tasks, max_tasks, expected):
    assert plan_problems(plan(*tasks), load_registry(), max_tasks=max_tasks) == expected


def test_bad_arguments_are_input_errors(fast_config, tmp_path):
    orch, fake = orchestrator(Planner(), fast_config, tmp_path)
    with pytest.raises(InputError, match="goal is empty"):
        orch.orchestrate("  ")
    with pytest.raises(InputError, match="max_tasks"):
        orch.orchestrate(GOAL, max_tasks=0)
    with pytest.raises(InputError, match="refine_created=True"):
        orch.orchestrate(GOAL, install=True)
    assert not fake.calls


def test_the_simulated_planner_plans_with_what_it_is_offered(fast_config, tmp_path):
    orch, _ = orchestrator(Planner(), fast_config, tmp_path)

    done = orch.orchestrate("Write a launch post and review the login code for security", max_tasks=3)

    assert done.ok, done.to_dict()
    assert plan_problems(done.plan, load_registry(), max_tasks=3) == []
    kinds = [t["agent_type"] for t in done.plan["tasks"]]
    assert "security_reviewer" in kinds and all(not k.startswith("agent_") for k in kinds)


def test_workflow_3_create_refine_install_in_one_call(fast_config, tmp_path, overlay_dir):
    """The seed's "Create 5 new agents and ensure all score 8.5+", on the simulated agents."""
    planner = Planner()
    orch, _ = orchestrator(planner, fast_config, tmp_path)

    done = orch.orchestrate("Create 5 new agents and ensure all score 8.5+",
                            refine_created=True, target_score=8.5, install=True)

    assert done.ok, done.to_dict()
    assert [t["agent_type"] for t in done.plan["tasks"]] == ["agent_creator"] * 5
    offered = [a["name"] for a in fenced_json(planner.prompts["plan"][0], "## Input data")["available_agents"]]
    assert "agent_design_reviewer" not in offered and "agent_refiner" not in offered
    assert len(done.refinements) == 5
    assert all(r.reason == "target reached" and r.score >= 8.5 for r in done.refinements)
    assert [i["name"] for i in done.installed] == [f"new_agent_{n}" for n in range(1, 6)]
    assert sorted(p.name for p in overlay_dir.iterdir()) == [f"new_agent_{n}.yaml" for n in range(1, 6)]
    refined = fenced_json(planner.prompts["synthesis"][0], "## Input data")["refined_agents"]
    assert [r["reason"] for r in refined] == ["target reached"] * 5
    # installed agents are usable by name at once, through the same orchestrator
    assert orch.run_task(AgentTask("new_agent_2", "Do your job", {"x": 1})).status == "completed"
    assert json.loads(json.dumps(done.to_dict()))["installed"] == done.installed


def test_the_documented_result_shape_is_the_real_one(fast_config, tmp_path):
    """USAGE-GUIDE.md lists the keys of OrchestrationResult.to_dict()."""
    from pathlib import Path
    guide = (Path(__file__).resolve().parent.parent / "USAGE-GUIDE.md").read_text()
    documented = guide.split("`done.to_dict()`: `{", 1)[1].split("}`", 1)[0]
    orch, _ = orchestrator(Planner({"*": GOOD}), fast_config, tmp_path)
    real = orch.orchestrate(GOAL).to_dict()

    top = [k.split(":")[0].strip() for k in documented.replace("\n", " ").split(", ")
           if k.split(":")[0].strip().isidentifier()]
    assert set(real) <= set(top)
    for key in ("summary", "tasks", "synthesis", "id", "agent_type", "description", "input", "depends_on"):
        assert key in documented


def test_created_designs_with_the_same_name_are_refined_once(fast_config, tmp_path):
    twins = plan(("one", "agent_creator", []), ("two", "agent_creator", []))
    for t in twins["tasks"]:
        t["input"] = {"name": "twin_agent", "purpose": "Be a twin"}
    orch, _ = orchestrator(Planner({"*": twins}), fast_config, tmp_path)

    done = orch.orchestrate("Create two agents", refine_created=True, synthesize=False)

    assert [r.name for r in done.refinements] == ["twin_agent"]
    assert done.rejected_designs == [{"task_id": "two", "name": "twin_agent", "problems": [
        "the name 'twin_agent' is already used by the design of task one"]}]
    assert done.synthesis is None and done.synthesis_result is None
