"""The seed's helpers (helpers.py), made real: they return validated outputs, not spawn receipts,
and run on the same engine as RealAIParallelOrchestrator."""
from __future__ import annotations

import pytest

import helpers
from parallel_agents import helpers_api
from parallel_agents.definitions.registry import load_registry
from parallel_agents.core.config import load_config
from parallel_agents.definitions.model import schema_registry
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.helpers_api import (MODEL_HIERARCHY, TaskFailed, collect_agent_results,
                                         spawn_parallel_with_retry, spawn_with_model_hierarchy,
                                         spawn_with_retry)
from parallel_agents.replies.validate import validate_output
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.engine.tasks import AgentResult, AgentTask

from test_engine import BALANCED, FAST, MODELS, REVIEWER, WRITER, sim, valid_output  # noqa: E402


@pytest.fixture(autouse=True)
def _quick(warm_cache, pa_home):
    """Cached definitions, and a user config with millisecond retry back-off (the helpers read
    the user's config like everything else)."""
    (pa_home / "config.yaml").write_text("retry:\n  backoff_seconds: 0.005\n  backoff_max_seconds: 0.02\n")


@pytest.fixture
def fake():
    return FakeOpenClaw(models=MODELS)


def schema_of(agent):
    return load_registry().get(agent).output_schema


def test_model_hierarchy_is_the_config_ladder():
    assert MODEL_HIERARCHY == [t.model for t in load_config(user=False).tiers]
    assert MODEL_HIERARCHY == list(MODELS)
    assert helpers.MODEL_HIERARCHY is MODEL_HIERARCHY


def test_the_facade_re_exports_the_helpers():
    for name in ("spawn_with_retry", "spawn_parallel_with_retry", "spawn_with_model_hierarchy",
                 "collect_agent_results"):
        assert getattr(helpers, name) is getattr(helpers_api, name)


def test_spawn_with_retry_returns_the_validated_output_on_the_simulated_runtime():
    task = AgentTask(REVIEWER, "Review this function", {"code": "def f(x):\n    return x / 0\n"})

    output = spawn_with_retry(task, runtime="simulated")

    assert isinstance(output, dict) and "status" not in output and "runId" not in output
    assert validate_output(output, schema_of(REVIEWER), registry=schema_registry()) == []


def test_spawn_with_retry_over_openclaw_runtime(fake):
    expected = valid_output(WRITER, seed=3)

    output = spawn_with_retry(AgentTask(WRITER, sim(reply=expected)), runtime=OpenClawRuntime(fake))

    assert output == expected
    [run] = fake.runs()
    assert run["model"] == FAST


def test_spawn_with_retry_accepts_a_dict_task_and_sets_the_timeout(fake):
    output = spawn_with_retry({"agent_type": WRITER, "task_description": sim(reply=valid_output(WRITER))},
                              timeout=7, runtime=OpenClawRuntime(fake))

    assert output == valid_output(WRITER)
    assert fake.runs()[0]["timeout_s"] == 7


def test_plain_text_task_is_sent_as_is_and_returns_the_text(fake):
    output = spawn_with_retry(sim("Say hello to the team.", reply="Hello, team!"),
                              runtime=OpenClawRuntime(fake))

    assert output == "Hello, team!"
    assert fake.runs()[0]["task_name"] == "raw_text"


def test_plain_text_task_with_an_agent_type(fake):
    expected = valid_output(WRITER)
    assert spawn_with_retry(sim("Write about Mondays.", reply=expected), agent_type=WRITER,
                            runtime=OpenClawRuntime(fake)) == expected


def test_model_hierarchy_tries_the_models_in_order(fake):
    fake.models = None  # these two are not in config; the fake accepts any model
    a, b = "test/model-a", "test/model-b"
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), by_model={a: {"fail": "model a is down"}}))

    output = spawn_with_model_hierarchy(task, models=[a, b], runtime=OpenClawRuntime(fake))

    assert output == valid_output(WRITER)
    assert [r["model"] for r in fake.runs()] == [a, b]


def test_model_hierarchy_starts_every_agent_on_the_first_model(fake):
    # code_reviewer's definition starts it on the `balanced` tier; the hierarchy is a ladder of
    # its own (cheapest first), so the agent's tier name must not break it
    task = AgentTask(REVIEWER, sim(reply=valid_output(REVIEWER), by_model={FAST: {"fail": "x"}}))

    output = spawn_with_model_hierarchy(task, runtime=OpenClawRuntime(fake))

    assert output == valid_output(REVIEWER)
    assert [r["model"] for r in fake.runs()] == [FAST, BALANCED]
    assert task.tier is None                      # the caller's task is left as it was


def test_spawn_parallel_with_retry_returns_results_in_order(fake):
    tasks = [AgentTask(WRITER, sim(latency=0.03 - i * 0.005, reply=valid_output(WRITER, seed=i)),
                       task_id=f"p{i}") for i in range(5)]
    tasks.append(AgentTask(WRITER, sim(fail="always broken"), task_id="broken"))

    results = spawn_parallel_with_retry(tasks, max_concurrent=3, runtime=OpenClawRuntime(fake))

    assert all(isinstance(r, AgentResult) for r in results)
    assert [r.task_id for r in results] == ["p0", "p1", "p2", "p3", "p4", "broken"]
    assert [r.output for r in results[:5]] == [valid_output(WRITER, seed=i) for i in range(5)]
    assert results[-1].status == "failed"

    collected = collect_agent_results(results)
    assert collected == {f"p{i}": valid_output(WRITER, seed=i) for i in range(5)}
    with_failed = collect_agent_results(results, include_failed=True)
    assert with_failed["broken"]["status"] == "failed"
    assert "always broken" in with_failed["broken"]["error"]


def test_task_failed_carries_the_result(fake):
    with pytest.raises(TaskFailed) as info:
        spawn_with_retry(AgentTask(WRITER, sim(fail="nothing works"), task_id="doomed"),
                         runtime=OpenClawRuntime(fake))

    result = info.value.result
    assert isinstance(result, AgentResult) and result.task_id == "doomed"
    assert result.status == "failed" and len(result.attempts) == 3
    assert "doomed" in str(info.value) and "nothing works" in str(info.value)
    assert info.value.exit_code == 1


def test_use_hierarchy_false_stays_on_the_first_tier(fake):
    with pytest.raises(TaskFailed) as info:
        spawn_with_retry(AgentTask(WRITER, sim(fail="nope")), use_hierarchy=False,
                         runtime=OpenClawRuntime(fake))
    assert [a.tier for a in info.value.result.attempts] == ["fast"]


def test_use_hierarchy_false_works_for_agents_that_start_higher(fake):
    output = spawn_with_retry(AgentTask(REVIEWER, sim(reply=valid_output(REVIEWER))),
                              use_hierarchy=False, runtime=OpenClawRuntime(fake))
    assert output == valid_output(REVIEWER)
    assert [r["model"] for r in fake.runs()] == [FAST]


def test_max_retries_bounds_transient_retries_on_a_tier(fake):
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), fail="rate limit (429)",
                                 by_model={BALANCED: {"fail": None}}))

    results = spawn_parallel_with_retry([task], max_retries=2, runtime=OpenClawRuntime(fake))

    assert [(a.tier, a.status) for a in results[0].attempts] == [
        ("fast", "error"), ("fast", "error"), ("balanced", "ok")]


def test_a_task_of_the_wrong_type_is_an_input_error():
    with pytest.raises(helpers_api.InputError, match="AgentTask, a dict or text"):
        spawn_with_retry(42, runtime="simulated")
