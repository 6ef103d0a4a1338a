"""Iterative refinement: creator -> reviewer -> refiner -> reviewer ... until the target score,
max_rounds, or no improvement. Children are played by FakeOpenClaw: AgentPlayer for the
creator, and a script for the reviewer (a score per design) and the refiner (marks what it
changed), so every score in these tests is chosen by the test."""
from __future__ import annotations

import json

import pytest

from parallel_agents.definitions.registry import load_registry
from parallel_agents.definitions.model import AgentDefinition, check_definition
from parallel_agents.core.errors import DefinitionError, InputError, UnknownAgentError
from parallel_agents.simulation.directives import Reply
from parallel_agents.simulation.simulated import AgentPlayer
from test_engine import fenced_json, new_fake, new_orch

REFINED = "- REFINED: say what is missing instead of guessing."


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def review(score: float) -> dict:
    """A schema-valid design review with this score."""
    issues = [] if score >= 8.5 else [{
        "dimension": "robustness", "field": "system_prompt",
        "problem": "Nothing says what to do with missing input.",
        "fix": f"Append the rule: {REFINED}"}]
    return {"score": score, "dimension_scores": dict.fromkeys(
                ("role_clarity", "method", "output_contract", "robustness", "safety"), score),
            "verdict": "ready" if score >= 8.5 else "revise", "issues": issues,
            "strengths": ["Clear role paragraph."]}


def refined(definition: dict) -> dict:
    """What the scripted refiner returns: the definition with the review's fix applied."""
    return {"definition": {**definition, "system_prompt": definition["system_prompt"] + "\n" + REFINED},
            "changes": [{"field": "system_prompt", "change": "appended the rule",
                         "addresses": "Nothing says what to do with missing input."}],
            "declined": []}


def given_design(prompt: str) -> dict:
    """The definition a reviewer prompt is about: `definition`, or the refiner's `revision`."""
    data = fenced_json(prompt, "## Input data")
    return data.get("definition") or data["revision"]["definition"]


class Script:
    """Responder: AgentPlayer for every agent, except that the design reviewer scores with
    `score(design)`, the refiner returns `refine(definition, call_number)` and the creator
    replies `create(view)` when given."""

    def __init__(self, score, refine=None, create=None):
        self.player = AgentPlayer(load_registry(), latency=(0.001, 0.01))
        self.score = score
        self.refine = refine or (lambda definition, n: refined(definition))
        self.create = create or self.player
        self.views = []
        self.replies = []

    def agent_of(self, view) -> str | None:
        d = self.player.definition_for(view.task)
        return d.name if d else None

    def prompts(self, agent: str) -> list[str]:
        return [v.task for v in self.views if self.agent_of(v) == agent]

    def replies_of(self, agent: str) -> list[str]:
        return [r.text for v, r in zip(self.views, self.replies) if self.agent_of(v) == agent]

    def __call__(self, view):
        self.views.append(view)
        self.replies.append(self.reply(view))
        return self.replies[-1]

    def reply(self, view) -> Reply:
        agent = self.agent_of(view)
        if agent == "agent_design_reviewer":
            return Reply(text=json.dumps(review(self.score(given_design(view.task)))), latency_s=0.002)
        if agent == "agent_refiner":
            definition = fenced_json(view.task, "## Input data")["definition"]
            n = len(self.prompts("agent_refiner"))
            return Reply(text=json.dumps(self.refine(definition, n)), latency_s=0.002)
        if agent == "agent_creator":
            return self.create(view)
        return self.player(view)


def first_68_then_87(design: dict) -> float:
    return 8.7 if REFINED in design["system_prompt"] else 6.8


def orchestrator(script, fast_config, tmp_path, **kwargs):
    fake = new_fake(script, lane_max_concurrent=20, max_children=20)
    return new_orch(fake, fast_config, tmp_path, max_concurrent=10, **kwargs)


def spy_runs(orch) -> list[list[str]]:
    """The task ids of every run_parallel call the orchestrator makes."""
    calls, real = [], orch.run_parallel

    def run(tasks, **kwargs):
        tasks = list(tasks)
        calls.append([t.task_id for t in tasks])
        return real(tasks, **kwargs)

    orch.run_parallel = run
    return calls


# -- the loop ---------------------------------------------------------------------------------------

def test_first_design_68_refined_87_stops_at_round_2_with_target_reached(fast_config, tmp_path):
    script = Script(first_68_then_87)
    orch = orchestrator(script, fast_config, tmp_path)
    runs = spy_runs(orch)

    [result] = orch.run_iterative_refinement([{"name": "my_agent", "current_score": 7.4, "target": 8.5}])

    assert result.reason == "target reached" and result.reached
    assert result.rounds == 2 and result.scores == [6.8, 8.7]
    assert result.score == 8.7 and REFINED in result.definition["system_prompt"]
    assert result.review["score"] == 8.7 and result.created
    assert check_definition(result.definition) == []
    assert runs == [["my_agent-create-1", "my_agent-review-1"],          # round 1: create + review
                    ["my_agent-refine-2", "my_agent-review-2"]]          # round 2: refine + review
    assert [h["accepted"] for h in result.history] == [True, True]
    assert result.history[0]["dimension_scores"]["robustness"] == 6.8
    assert result.history[1]["changes"] == 1


def test_the_reviewer_prompt_contains_the_creators_design(fast_config, tmp_path):
    script = Script(first_68_then_87)
    orch = orchestrator(script, fast_config, tmp_path)

    orch.run_iterative_refinement([{"name": "crypto_analyst", "purpose": "Analyze crypto trends"}])

    [creator_reply] = script.replies_of("agent_creator")
    creator_output = json.loads(creator_reply)
    first_review = script.prompts("agent_design_reviewer")[0]
    data = fenced_json(first_review, "## Input data")
    assert data["definition"] == creator_output
    assert data["requirements"] == {"name": "crypto_analyst", "purpose": "Analyze crypto trends"}
    assert json.dumps(creator_output["system_prompt"])[1:-1] in first_review


def test_the_refiner_gets_the_best_design_and_its_review(fast_config, tmp_path):
    script = Script(first_68_then_87)
    orch = orchestrator(script, fast_config, tmp_path)
    definition = load_registry().get("code_reviewer").to_dict()

    [result] = orch.run_iterative_refinement(["code_reviewer"])

    [refine_prompt] = script.prompts("agent_refiner")
    data = fenced_json(refine_prompt, "## Input data")
    assert data["definition"] == definition
    assert data["review"] == review(6.8)
    second_review = script.prompts("agent_design_reviewer")[1]
    revision = fenced_json(second_review, "## Input data")["revision"]
    assert revision["definition"]["system_prompt"].endswith(REFINED)
    assert revision["changes"][0]["field"] == "system_prompt"
    assert not result.created and result.reason == "target reached"


def test_scores_that_never_improve_stop_with_no_improvement_before_max_rounds(fast_config, tmp_path):
    orch = orchestrator(Script(lambda design: 6.8), fast_config, tmp_path)

    [result] = orch.run_iterative_refinement([{"name": "stuck_agent"}], target_score=8.5, max_rounds=5)

    assert result.reason == "no improvement"
    assert result.rounds == 2 and result.scores == [6.8, 6.8]
    assert REFINED not in result.definition["system_prompt"]   # the best (first) version is kept
    assert result.history[1]["accepted"] is False


def test_a_worse_version_never_replaces_the_best(fast_config, tmp_path):
    orch = orchestrator(Script(lambda d: 5.0 if REFINED in d["system_prompt"] else 7.0), fast_config, tmp_path)

    [result] = orch.run_iterative_refinement(["code_reviewer"], max_rounds=3)

    assert (result.reason, result.scores, result.score) == ("no improvement", [7.0, 5.0], 7.0)
    assert result.definition == load_registry().get("code_reviewer").to_dict()


def test_improving_but_short_of_the_target_stops_at_max_rounds_with_the_best(fast_config, tmp_path):
    def score(design):
        return 6.0 + design["system_prompt"].count(REFINED)

    orch = orchestrator(Script(score), fast_config, tmp_path)
    [result] = orch.run_iterative_refinement(["code_reviewer"], target_score=9, max_rounds=3)

    assert (result.reason, result.scores, result.score) == ("max rounds", [6.0, 7.0, 8.0], 8.0)
    assert result.definition["system_prompt"].count(REFINED) == 2


def test_an_invalid_refined_design_is_not_a_version(fast_config, tmp_path):
    def refine(definition, n):
        out = refined(definition)
        if n == 1:  # valid for the reply schema, but its output_schema is not a JSON Schema
            out["definition"]["output_schema"] = {"type": "banana"}
            out["definition"]["output_format"] = "json"
        return out

    def score(design):
        return 9.5 if design.get("output_schema") == {"type": "banana"} else first_68_then_87(design)

    orch = orchestrator(Script(score, refine), fast_config, tmp_path)
    [result] = orch.run_iterative_refinement(["code_reviewer"], max_rounds=3)

    assert result.reason == "target reached" and result.rounds == 3
    assert result.scores == [6.8, 9.5, 8.7]
    invalid = result.history[1]
    assert invalid["valid"] is False and invalid["accepted"] is False
    assert "output_schema" in invalid["problems"][0]
    assert result.score == 8.7 and result.definition["output_schema"] != {"type": "banana"}


def test_many_agents_refine_in_parallel_one_run_per_round(fast_config, tmp_path):
    def score(design):  # a reaches the target at once, b after one refinement, c never improves
        refined_times = design["system_prompt"].count(REFINED)
        return {"agent_a": 9.0, "agent_b": 7.0 + 2 * refined_times}.get(design["name"], 6.0)

    orch = orchestrator(Script(score), fast_config, tmp_path)
    runs = spy_runs(orch)

    a, b, c = orch.run_iterative_refinement(
        [{"name": "agent_a"}, {"name": "agent_b"}, {"name": "agent_c"}], max_rounds=3)

    assert [(r.name, r.reason, r.rounds) for r in (a, b, c)] == [
        ("agent_a", "target reached", 1), ("agent_b", "target reached", 2),
        ("agent_c", "no improvement", 2)]
    assert len(runs) == 2
    assert sorted(runs[0]) == sorted(f"agent_{x}-{k}-1" for x in "abc" for k in ("create", "review"))
    assert sorted(runs[1]) == sorted(f"agent_{x}-{k}-2" for x in "bc" for k in ("refine", "review"))
    assert orch.last_run.peak_in_flight == 2          # both refiners of round 2 at once


def test_creator_failure_is_a_reason_not_an_exception(fast_config, tmp_path):
    script = Script(first_68_then_87, create=lambda view: Reply(fail="model crashed"))
    orch = orchestrator(script, fast_config, tmp_path)

    [result] = orch.run_iterative_refinement([{"name": "doomed", "purpose": "x"}])

    assert result.reason.startswith("failed: agent_creator failed: ")
    assert result.definition is None and result.score is None
    assert result.history == [{"round": 1, "error": result.reason}]


# -- what can be refined --------------------------------------------------------------------------------

def test_accepts_a_definition_an_agent_definition_a_file_and_a_name(fast_config, tmp_path, write_definition):
    base = load_registry().get("code_reviewer").to_dict()
    as_dict = {**base, "name": "from_dict"}
    as_object = AgentDefinition.from_dict({**base, "name": "from_object"})
    as_file = write_definition(tmp_path / "defs", "from_file")
    wrapped = {"definition": {**base, "name": "wrapped"}, "requirements": {"purpose": "review code"},
               "target": 6.0}
    script = Script(first_68_then_87)
    orch = orchestrator(script, fast_config, tmp_path)

    results = orch.run_iterative_refinement([as_dict, as_object, str(as_file), "code_reviewer", wrapped])

    assert [r.name for r in results] == ["from_dict", "from_object", "from_file", "code_reviewer", "wrapped"]
    assert not script.prompts("agent_creator")
    reviewed = {given_design(p)["name"]: fenced_json(p, "## Input data")
                for p in script.prompts("agent_design_reviewer")[:5]}
    assert reviewed["from_dict"]["definition"] == as_dict
    assert reviewed["wrapped"]["requirements"] == {"purpose": "review code"}
    assert results[-1].reason == "target reached" and results[-1].rounds == 1   # its own target 6.0


def test_a_seed_dict_naming_an_installed_agent_refines_that_agent(fast_config, tmp_path):
    script = Script(first_68_then_87)
    orch = orchestrator(script, fast_config, tmp_path)

    [result] = orch.run_iterative_refinement([{"name": "security_reviewer", "current_score": 7.4}])

    assert not result.created and not script.prompts("agent_creator")
    first = given_design(script.prompts("agent_design_reviewer")[0])
    assert first == load_registry().get("security_reviewer").to_dict()


def test_bad_requests_fail_before_anything_runs(fast_config, tmp_path):
    script = Script(first_68_then_87)
    orch = orchestrator(script, fast_config, tmp_path)
    invalid = {**load_registry().get("code_reviewer").to_dict(), "output_format": "nope"}

    with pytest.raises(DefinitionError, match="cannot be refined"):
        orch.run_iterative_refinement([invalid])
    with pytest.raises(UnknownAgentError):
        orch.run_iterative_refinement(["code_reviewr"])
    with pytest.raises(InputError, match="target_score"):
        orch.run_iterative_refinement(["code_reviewer"], target_score=11)
    with pytest.raises(InputError, match="max_rounds"):
        orch.run_iterative_refinement(["code_reviewer"], max_rounds=0)
    with pytest.raises(InputError, match="given twice"):
        orch.run_iterative_refinement(["code_reviewer", {"name": "code_reviewer"}])
    with pytest.raises(InputError, match=r"agents_to_refine\[0\]\.target"):
        orch.run_iterative_refinement([{"name": "x_agent", "target": "high"}])
    with pytest.raises(InputError, match="neither a name nor a purpose"):
        orch.run_iterative_refinement([{"current_score": 7.4}])
    assert not script.views


def test_each_round_is_an_event(fast_config, tmp_path):
    events = []
    orch = orchestrator(Script(first_68_then_87), fast_config, tmp_path, on_event=events.append)

    orch.run_iterative_refinement(["code_reviewer"])

    rounds = [(e.task_id, e.attempt, e.message) for e in events if e.kind == "refined"]
    assert rounds == [
        ("code_reviewer", 1, "round 1: score 6.8 (new best, best 6.8)"),
        ("code_reviewer", 2, "round 2: score 8.7 (new best, best 8.7) -> target reached")]


def test_the_simulated_agents_converge(fast_config, tmp_path):
    """The simulated runtime (demo, docs) plays reviewer and refiner so that loops converge."""
    orch = orchestrator(AgentPlayer(load_registry(), latency=(0.001, 0.01)), fast_config, tmp_path)

    results = orch.run_iterative_refinement(
        [{"name": "my_agent", "current_score": 7.4, "target": 8.5}, "code_reviewer",
         {"name": "crypto_analyst", "purpose": "Analyze crypto trends"}])

    for r in results:
        assert r.reason == "target reached" and r.score >= 8.5, r.to_dict()
        assert r.scores == sorted(r.scores) and len(set(r.scores)) == len(r.scores)
        assert check_definition(r.definition) == []
        assert r.review["verdict"] == "ready"


def test_the_documented_result_shape_is_the_real_one(fast_config, tmp_path):
    """USAGE-GUIDE.md shows RefinementResult.to_dict(); it must have the real keys."""
    import re
    from pathlib import Path
    guide = (Path(__file__).resolve().parent.parent / "USAGE-GUIDE.md").read_text()
    documented = next(json.loads(b) for b in re.findall(r"```json\n(.*?)```", guide, re.S)
                      if '"reason"' in b and '"history"' in b)
    orch = orchestrator(Script(first_68_then_87), fast_config, tmp_path)
    [real] = orch.run_iterative_refinement([{"name": "my_agent"}])

    real = real.to_dict()
    assert set(documented) == set(real)
    assert set(documented["history"][0]) == set(real["history"][0])
    assert set(documented["history"][1]) == set(real["history"][1])
    assert set(documented["review"]) == set(real["review"])
