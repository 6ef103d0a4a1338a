"""Ready-made teams: the seed's create_content_team / create_dev_team / create_review_team, as
AgentTask lists that run_parallel runs (dev team with its dependencies)."""
from __future__ import annotations

import pytest

from parallel_agents.definitions.registry import load_registry
from parallel_agents.core.errors import InputError
from parallel_agents.simulation.directives import Reply
from parallel_agents.simulation.simulated import AgentPlayer
from parallel_agents.workflows.teams import (CONTENT_WRITERS, REVIEWERS, create_content_team,
                                   create_dev_team, create_review_team)
from test_engine import fenced_json, journal_of, new_fake, new_orch, task_of

CODE = "def average(values):\n    return sum(values) / len(values)\n"


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


class Played:
    """AgentPlayer at test speed, keeping each task's prompt."""

    def __init__(self, fail=()):
        self.player = AgentPlayer(load_registry(), latency=(0.005, 0.02))
        self.fail = set(fail)
        self.prompts = {}

    def __call__(self, view):
        self.prompts[task_of(view.label)] = view.task
        if task_of(view.label) in self.fail:
            return Reply(fail="broken on purpose")
        return self.player(view)


def run(tasks, fast_config, tmp_path, played=None):
    played = played or Played()
    fake = new_fake(played, lane_max_concurrent=10, max_children=10)
    orch = new_orch(fake, fast_config, tmp_path, max_concurrent=5)
    return orch.run_parallel(tasks), fake, orch, played


def timeout_of(agent: str) -> int:
    return load_registry().get(agent).timeout_seconds


def test_content_team_is_five_independent_writers_on_one_topic(fast_config, tmp_path):
    tasks = create_content_team("Monday motivation", platform="bluesky")

    assert [t.agent_type for t in tasks] == list(CONTENT_WRITERS)
    assert [t.task_id for t in tasks] == ["content-creative", "content-funny", "content-educational",
                                          "content-trendy", "content-controversial"]
    assert all(t.input_data == {"topic": "Monday motivation", "platform": "bluesky"} for t in tasks)
    assert all(not t.depends_on for t in tasks)
    assert all(t.timeout_seconds == timeout_of(t.agent_type) for t in tasks)

    results, fake, orch, _ = run(tasks, fast_config, tmp_path)

    assert [r.status for r in results] == ["completed"] * 5
    assert orch.last_run.peak_in_flight == 5                     # all five at once


def test_content_team_options_and_two_teams_in_one_run(fast_config, tmp_path):
    a = create_content_team("Tea", audience="students", tone="dry")
    b = create_content_team("Coffee", platform="mastodon", id_prefix="coffee")

    assert a[0].input_data == {"topic": "Tea", "platform": "bluesky", "audience": "students", "tone": "dry"}
    assert b[0].task_id == "coffee-creative" and b[0].input_data["platform"] == "mastodon"
    results, *_ = run(a + b, fast_config, tmp_path)
    assert len(results) == 10 and all(r.ok for r in results)


def test_dev_team_designs_first_and_feeds_the_designs_to_the_builders(fast_config, tmp_path):
    tasks = create_dev_team("TaskManager", ["auth", "tasks", "teams"])
    by_id = {t.task_id: t for t in tasks}

    assert [t.agent_type for t in tasks] == ["api_designer", "database_architect", "backend_developer",
                                             "frontend_developer", "devops_engineer"]
    assert by_id["dev-backend"].input_from == {"api_design": "dev-api", "database_design": "dev-database"}
    assert by_id["dev-frontend"].input_from == {"api_design": "dev-api"}
    assert [by_id[i].depends_on for i in ("dev-api", "dev-database", "dev-devops")] == [[], [], []]
    assert by_id["dev-backend"].input_data["framework"] == "FastAPI"
    assert by_id["dev-frontend"].input_data["framework"] == "React"
    assert by_id["dev-backend"].timeout_seconds == timeout_of("backend_developer") == 300

    results, fake, orch, played = run(tasks, fast_config, tmp_path)

    assert all(r.ok for r in results), [r.error for r in results]
    outputs = {r.task_id: r.output for r in results}
    backend_input = fenced_json(played.prompts["dev-backend"], "## Input data")
    assert backend_input["api_design"] == outputs["dev-api"]
    assert backend_input["database_design"] == outputs["dev-database"]
    assert backend_input["features"] == ["auth", "tasks", "teams"]
    assert "## Results of earlier tasks" not in played.prompts["dev-backend"]   # not sent twice
    assert fenced_json(played.prompts["dev-frontend"], "## Input data")["api_design"] == outputs["dev-api"]
    runs = {task_of(r["label"]): r for r in fake.runs()}
    assert runs["dev-backend"]["created_at"] >= max(runs["dev-api"]["ended_at"],
                                                    runs["dev-database"]["ended_at"])
    assert runs["dev-frontend"]["created_at"] >= runs["dev-api"]["ended_at"]
    # devops did not wait for the design: spawned in the first wave, before dev-api's result was
    # in (the journal's order, which the scheduler decides; the clock depends on the machine)
    order = [(r["type"], r.get("task_id")) for r in journal_of(orch, tmp_path)]
    assert order.index(("spawn_accepted", "dev-devops")) < order.index(("task_finished", "dev-api"))


def test_dev_team_a_failed_api_design_skips_backend_and_frontend_only(fast_config, tmp_path):
    tasks = create_dev_team("TaskManager", "auth, tasks")
    results, *_ = run(tasks, fast_config, tmp_path, Played(fail={"dev-api"}))

    status = {r.task_id: (r.status, r.error) for r in results}
    assert status["dev-api"][0] == "failed"
    assert status["dev-backend"] == ("skipped", "dependency dev-api failed")
    assert status["dev-frontend"] == ("skipped", "dependency dev-api failed")
    assert status["dev-database"][0] == status["dev-devops"][0] == "completed"


def test_review_team_is_five_reviewers_of_one_code_at_once(fast_config, tmp_path):
    tasks = create_review_team(CODE, language="python")

    assert [t.agent_type for t in tasks] == list(REVIEWERS)
    assert [t.task_id for t in tasks] == ["review-code", "review-security", "review-performance",
                                          "review-accessibility", "review-test"]
    assert all(t.input_data == {"code": CODE, "language": "python"} for t in tasks)

    results, fake, orch, _ = run(tasks, fast_config, tmp_path)

    assert all(r.ok and 0 <= r.output["score"] <= 10 for r in results)
    # all five at once: what the scheduler controls (its peak of attempts in flight), not the
    # clock - the fake's runs last milliseconds, and a loaded machine can start the fifth after
    # the first has already ended
    assert orch.last_run.peak_in_flight == 5 and len(fake.runs()) == 5


@pytest.mark.parametrize("make,field", [
    (lambda: create_content_team(""), "topic"),
    (lambda: create_content_team("Tea", platform=None), "platform"),
    (lambda: create_dev_team("App", []), "features"),
    (lambda: create_dev_team("App", ["auth", 3]), "features"),
    (lambda: create_dev_team(" ", ["auth"]), "app_name"),
    (lambda: create_review_team(None), "code"),
])
def test_bad_arguments_are_input_errors_naming_the_field(make, field):
    with pytest.raises(InputError) as caught:
        make()
    assert caught.value.problems[0].field == field and caught.value.problems[0].fix
