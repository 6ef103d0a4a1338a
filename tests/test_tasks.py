"""AgentTask, Attempt and AgentResult: automatic task ids (readable, stable across processes,
unique in a process), defaults, the seed-compatible fields, and dict round trips."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from parallel_agents.engine import tasks
from parallel_agents.engine.tasks import AgentResult, AgentTask, Attempt

REPO = Path(__file__).resolve().parent.parent

ID_RE = re.compile(r"^code_reviewer-[0-9a-f]{8}$")


@pytest.fixture(autouse=True)
def fresh_ids(monkeypatch):
    """Each test starts with no ids handed out in this process."""
    monkeypatch.setattr(tasks, "_id_counts", {})


def _review(**kwargs) -> AgentTask:
    return AgentTask(agent_type="code_reviewer", task_description="Review the patch.",
                     input_data={"code": "x = 1", "language": "python"}, **kwargs)


# -- ids ------------------------------------------------------------------------------------------

def test_task_id_is_automatic_and_readable():
    task = _review()
    assert ID_RE.match(task.task_id), task.task_id


def test_task_id_depends_on_the_content():
    a = AgentTask("code_reviewer", "Review the patch.", {"code": "x = 1"}).task_id
    b = AgentTask("code_reviewer", "Review the patch.", {"code": "x = 2"}).task_id
    c = AgentTask("code_reviewer", "Review another patch.", {"code": "x = 1"}).task_id
    d = AgentTask("security_reviewer", "Review the patch.", {"code": "x = 1"}).task_id
    assert len({a, b, c, d}) == 4
    assert d.startswith("security_reviewer-")
    # key order of the input does not change the id
    tasks._id_counts.clear()
    e = AgentTask("code_reviewer", "Review the patch.", {"language": "py", "code": "x"}).task_id
    tasks._id_counts.clear()
    f = AgentTask("code_reviewer", "Review the patch.", {"code": "x", "language": "py"}).task_id
    assert e == f


_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ai_orchestrator import AgentTask
t = AgentTask(agent_type="code_reviewer", task_description="Review the patch.",
              input_data={"code": "x = 1", "language": "python"})
u = AgentTask(agent_type="code_reviewer", task_description="Review the patch.",
              input_data={"code": "x = 1", "language": "python"})
print(json.dumps([t.task_id, u.task_id]))
"""


def test_task_id_is_stable_across_processes():
    here = [_review().task_id, _review().task_id]
    seen = []
    for seed in ("0", "1", "987"):
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(REPO)], capture_output=True,
                              text=True, env={**os.environ, "PYTHONHASHSEED": seed}, timeout=60)
        assert proc.returncode == 0, proc.stderr
        seen.append(json.loads(proc.stdout))
    assert seen[0] == seen[1] == seen[2] == here
    assert here[1] == here[0] + "-2"


def test_identical_tasks_get_unique_ids_in_one_process():
    ids = [_review().task_id for _ in range(5)]
    assert len(set(ids)) == 5
    assert ids[0] + "-2" == ids[1] and ids[4] == ids[0] + "-5"


def test_ids_are_unique_across_threads():
    ids, lock = [], threading.Lock()

    def make():
        for _ in range(50):
            task_id = _review().task_id
            with lock:
                ids.append(task_id)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 400 == len(set(ids))


def test_explicit_task_id_is_kept():
    task = _review(task_id="my-review")
    assert task.task_id == "my-review"
    twin = _review(task_id="my-review")
    assert twin.task_id == "my-review"  # the caller's id is never altered
    assert ID_RE.match(_review().task_id)  # and did not use up the automatic one


def test_unserialisable_input_still_gets_an_id():
    task = AgentTask("code_reviewer", "Review.", {"tags": {"b", "a"}})
    assert task.task_id.startswith("code_reviewer-")


# -- defaults -------------------------------------------------------------------------------------

def test_task_defaults():
    task = AgentTask("code_reviewer", "Review the patch.")
    assert task.timeout_seconds == 120
    assert task.input_data == {}
    assert task.output_format is None
    assert task.priority == 0
    assert task.depends_on == []
    assert task.tier is None


def test_none_input_and_depends_on_are_normalised():
    task = AgentTask("code_reviewer", "Review.", None, depends_on=("a", "b"))
    assert task.input_data == {}
    assert task.depends_on == ["a", "b"]
    assert AgentTask("code_reviewer", "Review.", depends_on=None).depends_on == []


def test_mutable_defaults_are_not_shared():
    a, b = AgentTask("x_agent", "One."), AgentTask("x_agent", "Two.")
    a.input_data["k"] = 1
    a.depends_on.append("t0")
    assert b.input_data == {} and b.depends_on == []


def test_positional_arguments_follow_the_seed():
    task = AgentTask("code_reviewer", "Review.", {"code": "x"}, "t1", 60)
    assert (task.agent_type, task.task_description, task.input_data, task.task_id,
            task.timeout_seconds) == ("code_reviewer", "Review.", {"code": "x"}, "t1", 60)


# -- results --------------------------------------------------------------------------------------

SEED_RESULT_FIELDS = ["task_id", "agent_type", "status", "output", "execution_time", "error",
                      "session_key"]


def test_result_fields_include_the_seed_fields_and_more():
    names = [f.name for f in dataclasses.fields(AgentResult)]
    assert names[: len(SEED_RESULT_FIELDS)] == SEED_RESULT_FIELDS  # positional order kept
    assert {"attempts", "model_used", "usage", "cost_usd"} <= set(names)


def test_result_defaults():
    result = AgentResult("t1", "code_reviewer")
    assert result.status == "pending"
    assert result.output is None and result.error is None and result.session_key is None
    assert result.execution_time == 0.0
    assert result.attempts == [] and result.model_used is None
    assert result.usage == {"input_tokens": 0, "output_tokens": 0}
    assert result.cost_usd == 0.0
    assert result.ok is False
    other = AgentResult("t2", "code_reviewer")
    other.usage["input_tokens"] = 5
    other.attempts.append(Attempt(1, "fast", None))
    assert result.usage["input_tokens"] == 0 and result.attempts == []


@pytest.mark.parametrize("status,ok", [("completed", True), ("failed", False),
                                       ("timeout", False), ("skipped", False),
                                       ("running", False)])
def test_result_ok(status, ok):
    assert AgentResult("t1", "code_reviewer", status=status).ok is ok
    assert status in tasks.STATUSES


def _full_result() -> AgentResult:
    attempts = [
        Attempt(1, "fast", "anthropic/claude-haiku-4-5", status="invalid", run_id="r1",
                session_key="agent:main:subagent:1", duration=3.5, input_tokens=100,
                output_tokens=20, cost_usd=0.0002, error="score: 11 is greater than the maximum"),
        Attempt(2, "balanced", "kimi-coding/k2p5", status="ok", run_id="r2",
                session_key="agent:main:subagent:2", reask=True, duration=7.25,
                input_tokens=150, output_tokens=300, cost_usd=0.00084),
    ]
    return AgentResult(task_id="code_reviewer-1234abcd", agent_type="code_reviewer",
                       status="completed", output={"score": 8, "summary": "Fine.", "findings": [],
                                                   "strengths": ["small"]},
                       execution_time=10.75, error=None, session_key="agent:main:subagent:2",
                       attempts=attempts, model_used="kimi-coding/k2p5", tier="balanced",
                       usage={"input_tokens": 250, "output_tokens": 320}, cost_usd=0.00104)


def test_result_round_trip():
    result = _full_result()
    data = result.to_dict()
    assert data["attempts"][1] == dataclasses.asdict(result.attempts[1])
    assert data["attempts"][1]["reask"] is True
    back = AgentResult.from_dict(data)
    assert back == result
    assert all(isinstance(a, Attempt) for a in back.attempts)
    # and through JSON, as results are stored
    assert AgentResult.from_dict(json.loads(json.dumps(data))) == result
    assert data == _full_result().to_dict()  # to_dict does not alias or mutate


def test_result_from_dict_does_not_mutate_its_input():
    data = _full_result().to_dict()
    snapshot = json.loads(json.dumps(data))
    AgentResult.from_dict(data)
    assert data == snapshot


def test_result_from_seed_shaped_dict():
    seed = {"task_id": "t1", "agent_type": "code_reviewer", "status": "failed", "output": None,
            "execution_time": 1.5, "error": "boom", "session_key": None}
    result = AgentResult.from_dict(seed)
    assert result.error == "boom" and result.attempts == [] and result.cost_usd == 0.0


def test_task_round_trip():
    task = AgentTask("code_reviewer", "Review.", {"code": "x", "nested": {"a": [1, 2]}},
                     task_id="t9", timeout_seconds=300, output_format="markdown", priority=3,
                     depends_on=["t1"], tier="strongest", input_from={"design": "t0"})
    data = task.to_dict()
    assert data == {"agent_type": "code_reviewer", "task_description": "Review.",
                    "input_data": {"code": "x", "nested": {"a": [1, 2]}}, "task_id": "t9",
                    "timeout_seconds": 300, "output_format": "markdown", "priority": 3,
                    "depends_on": ["t1", "t0"], "tier": "strongest",
                    "input_from": {"design": "t0"}, "for_each": None}
    assert AgentTask.from_dict(data) == task
    assert AgentTask.from_dict(json.loads(json.dumps(data))) == task


def test_task_round_trip_keeps_an_automatic_id():
    task = _review()
    again = AgentTask.from_dict(task.to_dict())
    assert again.task_id == task.task_id


def test_public_api_reexports_the_classes():
    import ai_orchestrator
    assert ai_orchestrator.AgentTask is AgentTask
    assert ai_orchestrator.AgentResult is AgentResult
    assert ai_orchestrator.Attempt is Attempt


def test_input_from_adds_its_sources_to_depends_on_once():
    task = AgentTask("agent_design_reviewer", "Review", depends_on=["a", "b"],
                     input_from={"definition": "b", "request": "c"})
    assert task.depends_on == ["a", "b", "c"]
