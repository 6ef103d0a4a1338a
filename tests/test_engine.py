"""The engine (scheduler + orchestrator) against FakeOpenClaw, the contract double.

Each child is scripted by a `SIM {json}` line in its task text (see parallel_agents.simulation.directives):
latency, reply, fail, hang, spawn_error, fail_first, by_model. Timeouts use the fake's
`run_timeout_unit_s`, so `timeout_seconds=1` lasts tens of milliseconds here.

The soak runs 200 tasks through every kind of trouble at once and checks the invariants that
must hold whatever happens: every task ends with an explained status, results come back in
input order, never more than max_concurrent in flight, never two live runs for one task, and
attempts, costs and tokens add up.
"""
from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections import Counter, defaultdict

import pytest

from parallel_agents.engine import scheduler as scheduler_module
from parallel_agents.engine import taskstate as taskstate_module
from parallel_agents.definitions.registry import load_registry
from parallel_agents.definitions.model import schema_registry
from parallel_agents.core.errors import InputError, RunAborted, ToolError, UnknownAgentError
from parallel_agents.simulation.directives import Reply, directive_responder
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.engine.journal import read_records
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.replies.validate import validate_output
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.definitions.samples import sample
from parallel_agents.engine.tasks import AgentResult, AgentTask

FAST, BALANCED, STRONGEST = "anthropic/claude-haiku-4-5", "kimi-coding/k2p5", "anthropic/claude-opus-4-5"
MODELS = (FAST, BALANCED, STRONGEST)
WRITER, REVIEWER = "content_writer_funny", "code_reviewer"   # start on fast / balanced
REASK_HEADING = "## Your previous reply was rejected"


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


# -- helpers ----------------------------------------------------------------------------------

def valid_output(agent: str, seed: int = 0):
    """A value that satisfies the agent's output_schema."""
    return sample(load_registry().get(agent).output_schema, schema_registry(), seed=seed)


def sim(description: str = "Do the task.", **spec) -> str:
    """A task description carrying a SIM directive for the fake child."""
    return f"{description}\nSIM {json.dumps(spec)}"


class Recorder:
    """A responder that scripts children with the SIM directive and keeps what each one saw.

    `attempt` is counted per task (the label before '#'), not per label: the scheduler gives
    every attempt its own label (task_id#n), so the fake's own per-label count never passes 1.
    """

    def __init__(self, script=None):
        self.script = script or directive_responder
        self.views = []
        self._per_task = Counter()

    def __call__(self, view):
        task_id = view.label.split("#")[0]
        self._per_task[task_id] += 1
        view = dataclasses.replace(view, attempt=self._per_task[task_id])
        self.views.append(view)
        return self.script(view)

    def prompts(self, task_id: str) -> list[str]:
        return [v.task for v in self.views if v.label.split("#")[0] == task_id]


def new_fake(responder=None, **kwargs) -> FakeOpenClaw:
    kwargs.setdefault("run_timeout_unit_s", 0.05)
    return FakeOpenClaw(responder or Recorder(), models=MODELS, **kwargs)


def new_orch(fake, config, tmp_path, *, collection="auto", max_concurrent=8, **kwargs):
    return RealAIParallelOrchestrator(max_concurrent, runtime=OpenClawRuntime(fake, collection=collection),
                                      config=config, runs_folder=tmp_path / "runs", seed=1, **kwargs)


def journal_of(orch, tmp_path) -> list[dict]:
    return read_records(tmp_path / "runs" / f"{orch.last_run.run_id}.jsonl")


def task_of(label: str) -> str:
    return label.split("#")[0]


def attempt_of(label: str) -> str:
    """`task#n` of an attempt's label `task#n@run` (the run part keeps labels unique per run)."""
    return label.split("@")[0]


def max_overlap(intervals) -> int:
    """Most intervals [start, end] open at one instant."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                   key=lambda x: (x[0], x[1]))
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


def fenced_json(prompt: str, heading: str):
    """The JSON between the data fence lines that follow `heading` in a prompt."""
    section = prompt.split(heading, 1)[1]
    match = re.search(r"^<<<(DATA-[0-9a-f]+)\n(.*?)\n\1>>>$", section, re.S | re.M)
    assert match, f"no fenced data after {heading!r}"
    return json.loads(match.group(2))


# -- the soak -----------------------------------------------------------------------------------

STRONGEST_FAILS = {STRONGEST: {"fail": "the strongest tier is broken in this test"}}
SOAK_EXPECTED = {  # kind -> (final status of a writer, of a reviewer)
    "plain": ("completed", "completed"),
    "transient_spawn_error": ("completed", "completed"),
    "malformed_on_fast": ("completed", "completed"),
    "hang_fast_and_balanced": ("failed", "failed"),
    "hang_on_fast": ("completed", "completed"),
    "starts_on_failing_tier": ("failed", "failed"),
    "hang_everywhere": ("timeout", "timeout"),
    "schema_invalid_until_strongest": ("failed", "failed"),
    "depends_on_a_failure": ("skipped", "skipped"),
    "depends_on_a_success": ("completed", "completed"),
}
SOAK_KINDS = list(SOAK_EXPECTED)


def soak_task(i: int) -> AgentTask:
    kind = SOAK_KINDS[i % 10]
    agent = WRITER if (i // 10) % 2 == 0 else REVIEWER
    by_model = dict(STRONGEST_FAILS)
    spec = {"latency": 0.01 + (i % 5) * 0.01, "reply": valid_output(agent, seed=i)}
    extra = {}
    if kind == "transient_spawn_error":
        spec.update(spawn_error="gateway rate limit hit; retry shortly", fail_first=1)
    elif kind == "malformed_on_fast":
        by_model[FAST] = {"reply": "not json"}
    elif kind == "hang_fast_and_balanced":
        by_model.update({FAST: {"hang": True}, BALANCED: {"hang": True}})
    elif kind == "hang_on_fast":
        by_model[FAST] = {"hang": True}
    elif kind == "starts_on_failing_tier":
        extra["tier"] = "strongest"
    elif kind == "hang_everywhere":
        by_model = {m: {"hang": True} for m in MODELS}
    elif kind == "schema_invalid_until_strongest":
        by_model.update({FAST: {"reply": {"nope": 1}}, BALANCED: {"reply": {"nope": 1}}})
    elif kind == "depends_on_a_failure":
        extra["depends_on"] = [f"t{i - 3:03d}"]      # a starts_on_failing_tier task
    elif kind == "depends_on_a_success":
        extra["depends_on"] = [f"t{i - 9:03d}"]      # a plain task
    spec["by_model"] = by_model
    return AgentTask(agent, sim(f"Soak task {i} ({kind}).", **spec), {"n": i},
                     task_id=f"t{i:03d}", timeout_seconds=1, **extra)


@pytest.mark.parametrize("collection,width", [("history", 1), ("collector", 1), ("history", 4)])
def test_soak_200_tasks_with_mixed_faults(collection, width, fast_config, tmp_path):
    recorder = Recorder()
    # max_children (plain runs) and max_children_per_group (collectors) below max_concurrent:
    # the runtime refuses with `forbidden` and the scheduler must treat that as back-pressure
    fake = new_fake(recorder, max_children=5, max_children_per_group=5, run_timeout_unit_s=0.1)
    events = []
    # width 4: spawns and history reads go out several at once, as over the gateway's HTTP API
    caller = fake if width == 1 else ParallelCaller(fake, width, delay=0.002)
    orch = new_orch(caller, fast_config, tmp_path, collection=collection, on_event=events.append)
    tasks = [soak_task(i) for i in range(200)]

    results = orch.run_parallel(tasks)

    # every task has a result, in input order, with the status its script leads to
    assert len(results) == 200
    assert [r.task_id for r in results] == [t.task_id for t in tasks]
    registry, schemas = load_registry(), schema_registry()
    for i, (task, r) in enumerate(zip(tasks, results)):
        writer_status, reviewer_status = SOAK_EXPECTED[SOAK_KINDS[i % 10]]
        assert r.status == (writer_status if task.agent_type == WRITER else reviewer_status), \
            (r.task_id, SOAK_KINDS[i % 10], r.error, [(a.tier, a.status, a.error) for a in r.attempts])
        if r.status == "completed":
            assert validate_output(r.output, registry.get(task.agent_type).output_schema,
                                   registry=schemas) == []
            assert r.error is None
        else:
            assert r.status in ("failed", "timeout", "skipped")
            assert r.error and r.error.strip()
    # back-pressure is never a task's failure
    assert not any("max active children" in (r.error or "") or "maxChildrenPerGroup" in (r.error or "")
                   for r in results)

    # the faults really happened
    kinds = Counter(e.kind for e in events)
    for kind in ("queued", "spawned", "backpressure", "retried", "reasked", "escalated", "timeout",
                 "completed", "failed", "skipped"):
        assert kinds[kind] > 0, kind

    # never more than max_concurrent in flight, on our side and on the runtime's
    runs = fake.runs()
    assert 1 < orch.last_run.peak_in_flight <= 8
    if width > 1:
        assert 1 < caller.peak["sessions_spawn"] <= width
    assert fake.peak_running <= fake.lane_max_concurrent
    assert fake.peak_active_children <= 5
    end = max(r["ended_at"] for r in runs)
    assert max_overlap([(r["created_at"], r["ended_at"] or end) for r in runs]) <= 8
    assert all(r["status"] in ("done", "failed", "timeout", "killed") for r in runs)
    groups = defaultdict(list)
    for run in runs:
        if run["collect"]:
            groups[run["group_id"]].append((run["created_at"], run["ended_at"]))
    assert all(max_overlap(spans) <= 5 for spans in groups.values())   # maxChildrenPerGroup

    # one live run per task, ever: a task's runs never overlap in time (from acceptance, which
    # is stricter than from the start on the lane)
    by_task = defaultdict(list)
    for run in runs:
        by_task[task_of(run["label"])].append((run["created_at"], run["ended_at"]))
    for task_id, spans in by_task.items():
        spans.sort()
        for (_, prev_end), (next_start, _) in zip(spans, spans[1:]):
            assert next_start >= prev_end, task_id

    # every accepted run is exactly one recorded attempt (same run id, label, model)
    attempts_by_run = defaultdict(list)
    for r in results:
        for a in r.attempts:
            if a.run_id:
                attempts_by_run[a.run_id].append((r.task_id, a))
    assert set(attempts_by_run) == {run["run_id"] for run in runs}
    for run in runs:
        [(task_id, attempt)] = attempts_by_run[run["run_id"]]
        assert attempt_of(run["label"]) == f"{task_id}#{attempt.number}"
        assert run["model"] == attempt.model
    # refused spawns are attempts without a run
    refused = [a for r in results for a in r.attempts if a.status == "refused"]
    assert refused and all(a.run_id is None and "retry" in a.error for a in refused)

    # attempts add up: cost and tokens per task, and over the run
    for r in results:
        assert [a.number for a in r.attempts] == list(range(1, len(r.attempts) + 1))
        assert abs(sum(a.cost_usd for a in r.attempts) - r.cost_usd) < 1e-9
        assert r.usage["input_tokens"] == sum(a.input_tokens for a in r.attempts)
        assert r.usage["output_tokens"] == sum(a.output_tokens for a in r.attempts)
    assert abs(sum(r.cost_usd for r in results) - orch.last_run.cost_usd) < 1e-9
    if collection == "collector":  # collectors report token usage; history strips it
        assert orch.last_run.cost_usd > 0

    # runtime calls are reported, and stay a handful per task (no busy polling)
    calls = orch.last_run.runtime_calls
    assert calls["sessions_spawn"] == fake.calls["sessions_spawn"]
    assert sum(fake.calls.values()) == sum(v for k, v in calls.items() if "." not in k)
    assert sum(fake.calls.values()) / len(tasks) < 12

    # a dependent saw its dependency's output as fenced data
    t009 = next(r for r in results if r.task_id == "t009")
    context = fenced_json(recorder.prompts("t009")[0], "## Results of earlier tasks")
    assert context == {"t000": results[0].output}
    assert t009.status == "completed"


# -- scheduling ---------------------------------------------------------------------------------

def test_ready_tasks_start_by_priority_then_input_order(fast_config, tmp_path):
    fake = new_fake()
    orch = new_orch(fake, fast_config, tmp_path, max_concurrent=1)
    priorities = [0, 5, 1, 5, 3]
    tasks = [AgentTask(WRITER, sim(latency=0.005, reply=valid_output(WRITER)), task_id=f"p{i}",
                     priority=p) for i, p in enumerate(priorities)]

    results = orch.run_parallel(tasks)

    assert [task_of(r["label"]) for r in fake.runs()] == ["p1", "p3", "p4", "p2", "p0"]
    assert [r.task_id for r in results] == ["p0", "p1", "p2", "p3", "p4"]  # results: input order
    assert orch.last_run.peak_in_flight == 1


def _occupy(fake, n: int, latency: float) -> None:
    """Children of someone else (not this run) holding `n` of the fake's child slots."""
    for i in range(n):
        receipt = fake.call("sessions_spawn", {"task": sim(latency=latency), "label": f"other#{i}"})
        assert receipt["status"] == "accepted"


def test_backpressure_shrinks_the_window_then_it_recovers(fast_config, tmp_path):
    fake = new_fake(max_children=5)
    _occupy(fake, 3, latency=0.15)   # only 2 of 5 slots free at first
    events = []
    orch = new_orch(fake, fast_config, tmp_path, collection="history", max_concurrent=5,
                    on_event=events.append)
    tasks = [AgentTask(WRITER, sim(latency=0.05, reply=valid_output(WRITER)), task_id=f"b{i}")
             for i in range(20)]

    results = orch.run_parallel(tasks)

    assert [r.status for r in results] == ["completed"] * 20
    assert all(len(r.attempts) == 1 for r in results)       # a refusal is not an attempt
    pressure = [e for e in events if e.kind == "backpressure"]
    assert pressure and "window now" in pressure[0].message
    assert fake.peak_active_children <= 5
    assert orch.last_run.peak_in_flight == 5                 # grew back once the slots freed


def test_backpressure_with_nothing_of_ours_running_backs_off_and_retries(fast_config, tmp_path):
    fake = new_fake(max_children=2)
    _occupy(fake, 2, latency=0.1)    # every slot taken by someone else
    events = []
    orch = new_orch(fake, fast_config, tmp_path, collection="history", on_event=events.append)
    tasks = [AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id=f"w{i}") for i in range(3)]

    results = orch.run_parallel(tasks)

    assert [r.status for r in results] == ["completed"] * 3
    assert any(e.kind == "backpressure" for e in events)


class RefusingCaller:
    """Forwards to a fake, but answers the spawn calls numbered in `refuse` with OpenClaw's
    max-children refusal (someone else's children fill every slot)."""

    def __init__(self, fake, refuse):
        self.fake, self.refuse, self.spawns = fake, set(refuse), 0

    def has(self, tool):
        return self.fake.has(tool)

    def call(self, tool, args):
        if tool == "sessions_spawn":
            self.spawns += 1
            if self.spawns in self.refuse:
                return {"status": "forbidden", "error": "sessions_spawn has reached max active "
                        "children for this session (5/5; agents.defaults.subagents.maxChildrenPerAgent)."}
        return self.fake.call(tool, args)


def test_idle_refusals_are_counted_in_a_row_not_over_the_whole_task(fast_config, tmp_path):
    """15 refusals before each of the first two attempts: never more than MAX_IDLE_REFUSALS (20)
    in a row, so the task runs; 30 in all must not fail it."""
    assert scheduler_module.MAX_IDLE_REFUSALS == 20
    caller = RefusingCaller(new_fake(), [*range(1, 16), *range(17, 32)])
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), by_model={FAST: {"reply": "not json"}}),
                     task_id="w")
    orch = new_orch(caller, fast_config, tmp_path, collection="history")

    [result] = orch.run_parallel([task])

    assert result.status == "completed", result.error
    assert caller.spawns == 33 and len(result.attempts) == 3   # fast, its re-ask, balanced


def test_max_concurrent_must_be_positive(fast_config, tmp_path):
    orch = new_orch(new_fake(), fast_config, tmp_path, max_concurrent=-1)
    with pytest.raises(InputError, match="max_concurrent"):
        orch.run_parallel([AgentTask(WRITER, "x", task_id="a")])


# -- timeouts -------------------------------------------------------------------------------------

def test_timeout_on_every_tier_ends_in_timeout(fast_config, tmp_path):
    fake = new_fake(run_timeout_unit_s=0.03)
    orch = new_orch(fake, fast_config, tmp_path)
    task = AgentTask(WRITER, sim(hang=True), task_id="slow", timeout_seconds=1)

    [result] = orch.run_parallel([task])

    assert result.status == "timeout"
    assert "timed out" in result.error
    assert [(a.tier, a.status) for a in result.attempts] == [
        ("fast", "timeout"), ("balanced", "timeout"), ("strongest", "timeout")]
    assert [r["status"] for r in fake.runs()] == ["timeout"] * 3
    assert [r["timeout_s"] for r in fake.runs()] == [pytest.approx(0.03)] * 3  # runTimeoutSeconds=1


def test_timeout_on_one_tier_escalates_to_the_next(fast_config, tmp_path):
    fake = new_fake(run_timeout_unit_s=0.03)
    orch = new_orch(fake, fast_config, tmp_path)
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), by_model={FAST: {"hang": True}}),
                     task_id="t", timeout_seconds=1)

    [result] = orch.run_parallel([task])

    assert result.status == "completed"
    assert [(a.tier, a.status) for a in result.attempts] == [("fast", "timeout"), ("balanced", "ok")]


def test_a_run_the_runtime_never_reports_is_cancelled_at_our_deadline(fast_config, tmp_path, monkeypatch):
    # the runtime enforces runTimeoutSeconds itself; our backstop only catches runs it never
    # reports. Shrink the backstop to 50 ms and give the fake a timeout it will not reach.
    monkeypatch.setattr(taskstate_module, "backstop", lambda timeout: 0.05)
    fake = new_fake(run_timeout_unit_s=30)
    events = []
    orch = new_orch(fake, fast_config, tmp_path, on_event=events.append)
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), by_model={FAST: {"hang": True}}),
                     task_id="stuck", timeout_seconds=1)

    [result] = orch.run_parallel([task])

    first, second = result.attempts
    assert (first.tier, first.status) == ("fast", "timeout")
    assert first.error == "no result within 1s"                 # and the cancel worked
    assert fake.runs()[0]["status"] == "killed"
    assert any(e.kind == "cancelled" and e.run_id == first.run_id for e in events)
    assert (second.tier, second.status, result.status) == ("balanced", "ok", "completed")


# -- invalid output: re-ask, then escalate -------------------------------------------------------

def test_reask_quotes_the_validation_errors(fast_config, tmp_path):
    good = valid_output(WRITER)
    bad = {**good, "posts": []}           # posts needs at least one item

    def script(view):
        return Reply(text=json.dumps(good if REASK_HEADING in view.task else bad), latency_s=0.005)

    recorder = Recorder(script)
    orch = new_orch(new_fake(recorder), fast_config, tmp_path)

    [result] = orch.run_parallel([AgentTask(WRITER, "Write a post.", task_id="r")])

    first, second = recorder.prompts("r")
    assert REASK_HEADING not in first
    reask = second.split(REASK_HEADING, 1)[1]
    assert "posts" in reask and "should be non-empty" in reask
    assert second.startswith(first.rstrip("\n"))              # same prompt, the errors appended
    assert [(a.tier, a.status, a.reask) for a in result.attempts] == [
        ("fast", "invalid", False), ("fast", "ok", True)]
    assert "posts" in result.attempts[0].error
    assert result.status == "completed" and result.output == good


def test_invalid_after_the_reask_escalates(fast_config, tmp_path):
    orch = new_orch(new_fake(), fast_config, tmp_path)
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), by_model={FAST: {"reply": "not json"}}),
                     task_id="m")

    [result] = orch.run_parallel([task])

    assert [(a.tier, a.status, a.reask) for a in result.attempts] == [
        ("fast", "invalid", False), ("fast", "invalid", True), ("balanced", "ok", False)]
    assert result.status == "completed" and result.tier == "balanced"


def test_escalation_climbs_fast_balanced_strongest_and_records_each_attempt(fast_config, tmp_path):
    events = []
    orch = new_orch(new_fake(), fast_config, tmp_path, on_event=events.append)
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), by_model={
        FAST: {"fail": "fast model broke"}, BALANCED: {"fail": "balanced model broke"}}), task_id="e")

    [result] = orch.run_parallel([task])

    assert [(a.number, a.tier, a.model, a.status) for a in result.attempts] == [
        (1, "fast", FAST, "error"), (2, "balanced", BALANCED, "error"), (3, "strongest", STRONGEST, "ok")]
    assert result.attempts[0].error == "fast model broke"
    assert (result.status, result.tier, result.model_used) == ("completed", "strongest", STRONGEST)
    assert [(e.tier, e.model) for e in events if e.kind == "escalated"] == [
        ("balanced", BALANCED), ("strongest", STRONGEST)]


def test_every_tier_failing_ends_failed_with_the_last_reason(fast_config, tmp_path):
    orch = new_orch(new_fake(), fast_config, tmp_path)

    [result] = orch.run_parallel([AgentTask(WRITER, sim(fail="no luck"), task_id="f")])

    assert result.status == "failed"
    assert "no luck" in result.error
    assert [a.tier for a in result.attempts] == ["fast", "balanced", "strongest"]


def test_transient_run_errors_retry_the_same_tier(fast_config, tmp_path):
    events = []
    orch = new_orch(new_fake(), fast_config, tmp_path, on_event=events.append)
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER), fail="provider overloaded (529)",
                                 fail_first=2), task_id="x")

    [result] = orch.run_parallel([task])

    assert [(a.tier, a.status) for a in result.attempts] == [
        ("fast", "error"), ("fast", "error"), ("fast", "ok")]
    assert sum(e.kind == "retried" for e in events) == 2


def test_quality_gate_reason_escalates(fast_config, tmp_path):
    seen = []

    def gate(task, output):
        seen.append(output)
        return "too dull" if len(seen) == 1 else True

    orch = new_orch(new_fake(), fast_config, tmp_path, quality_gate=gate)
    task = AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="q")

    [result] = orch.run_parallel([task])

    assert [(a.tier, a.status, a.error, a.reask) for a in result.attempts] == [
        ("fast", "invalid", "too dull", False), ("balanced", "ok", None, False)]
    assert result.status == "completed" and len(seen) == 2


# -- budget ---------------------------------------------------------------------------------------

def test_budget_stops_new_attempts_and_skips_the_rest(fast_config, tmp_path):
    fake = new_fake()
    orch = new_orch(fake, fast_config, tmp_path, max_concurrent=1, budget_usd=1e-9)
    tasks = [AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id=f"b{i}") for i in range(4)]

    results = orch.run_parallel(tasks)

    assert results[0].status == "completed" and results[0].cost_usd > 1e-9
    assert [r.status for r in results[1:]] == ["skipped"] * 3
    assert all(r.error.startswith("budget") and not r.attempts for r in results[1:])
    assert len(fake.runs()) == 1


# -- dependencies -----------------------------------------------------------------------------------

def test_unknown_dependency_is_an_input_error_before_any_spawn(fast_config, tmp_path):
    fake = new_fake()
    orch = new_orch(fake, fast_config, tmp_path)
    tasks = [AgentTask(WRITER, "a", task_id="a"), AgentTask(WRITER, "b", task_id="b", depends_on=["nope"])]

    with pytest.raises(InputError, match="unknown task 'nope'"):
        orch.run_parallel(tasks)
    assert not fake.calls
    assert not (tmp_path / "runs").exists()


def test_dependency_cycle_is_an_input_error_before_any_spawn(fast_config, tmp_path):
    fake = new_fake()
    orch = new_orch(fake, fast_config, tmp_path)
    tasks = [AgentTask(WRITER, "a", task_id="a", depends_on=["c"]),
             AgentTask(WRITER, "b", task_id="b", depends_on=["a"]),
             AgentTask(WRITER, "c", task_id="c", depends_on=["b"]),
             AgentTask(WRITER, "d", task_id="d")]

    with pytest.raises(InputError, match="cycle: a -> c -> b -> a"):
        orch.run_parallel(tasks)
    assert not fake.calls


def test_duplicate_task_ids_are_an_input_error(fast_config, tmp_path):
    fake = new_fake()
    with pytest.raises(InputError, match="repeated: a"):
        new_orch(fake, fast_config, tmp_path).run_parallel(
            [AgentTask(WRITER, "x", task_id="a"), AgentTask(WRITER, "y", task_id="a")])
    assert not fake.calls


def test_dependent_gets_the_dependency_output_as_fenced_data(fast_config, tmp_path):
    recorder = Recorder()
    fake = new_fake(recorder)
    orch = new_orch(fake, fast_config, tmp_path)
    first_output = valid_output(WRITER, seed=7)
    tasks = [AgentTask(REVIEWER, sim(reply=valid_output(REVIEWER)), task_id="review", depends_on=["draft"]),
             AgentTask(WRITER, sim(reply=first_output), task_id="draft")]

    results = orch.run_parallel(tasks)

    assert [r.status for r in results] == ["completed", "completed"]
    [prompt] = recorder.prompts("review")
    assert fenced_json(prompt, "## Results of earlier tasks") == {"draft": first_output}
    draft_run, review_run = sorted(fake.runs(), key=lambda r: r["created_at"])
    assert task_of(draft_run["label"]) == "draft"
    assert review_run["created_at"] >= draft_run["ended_at"]    # started after its dependency


def test_failed_dependency_skips_its_dependents_with_the_reason(fast_config, tmp_path):
    fake = new_fake()
    orch = new_orch(fake, fast_config, tmp_path)
    tasks = [AgentTask(WRITER, sim(fail="cannot"), task_id="base"),
             AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="mid", depends_on=["base"]),
             AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="top", depends_on=["mid"]),
             AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="free")]

    base, mid, top, free = orch.run_parallel(tasks)

    assert base.status == "failed"
    assert (mid.status, mid.error) == ("skipped", "dependency base failed")
    assert (top.status, top.error) == ("skipped", "dependency mid skipped")
    assert free.status == "completed"
    assert {task_of(r["label"]) for r in fake.runs()} == {"base", "free"}


# -- events, callbacks, errors before any spawn ---------------------------------------------------

@pytest.mark.parametrize("bad, message", [
    (AgentTask(WRITER, "   ", task_id="bad"), "task bad: task description is empty"),
    (AgentTask(WRITER, "x", {"when": {1, 2}}, task_id="bad"), "task bad: value of type set cannot be sent"),
    (AgentTask(WRITER, "x", {"blob": "x" * 300_000}, task_id="bad"), "input_data of task bad is"),
    (AgentTask(WRITER, "x", task_id="bad", tier="fastest"), "unknown tier 'fastest'"),
    (AgentTask(WRITER, "x", task_id="bad", output_format="yaml"), "unknown output_format 'yaml'"),
])
def test_a_bad_task_fails_the_call_before_anything_spawns(fast_config, tmp_path, bad, message):
    fake = new_fake()
    orch = new_orch(fake, fast_config, tmp_path)

    with pytest.raises(InputError, match=re.escape(message)):
        orch.run_parallel([AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="good"), bad])
    assert not fake.calls                      # the good task was not started either


def test_on_event_and_callbacks_see_the_run(fast_config, tmp_path):
    events, seed_callback, call_callback = [], [], []
    orch = new_orch(new_fake(), fast_config, tmp_path, on_event=events.append,
                    callback=seed_callback.append)
    tasks = [AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="ok"),
             AgentTask(WRITER, sim(fail="nope"), task_id="bad")]

    results = orch.run_parallel(tasks, callback=call_callback.append)

    ok_kinds = [e.kind for e in events if e.task_id == "ok"]
    assert ok_kinds == ["queued", "spawned", "completed"]
    bad_kinds = [e.kind for e in events if e.task_id == "bad"]
    assert bad_kinds == ["queued", "spawned", "escalated", "spawned", "escalated", "spawned", "failed"]
    spawned = [e for e in events if e.kind == "spawned" and e.task_id == "ok"]
    assert spawned[0].run_id == results[0].attempts[0].run_id and spawned[0].model == FAST
    for received in (seed_callback, call_callback):
        assert all(isinstance(r, AgentResult) for r in received)
        assert sorted(r.task_id for r in received) == ["bad", "ok"]
        assert {r.task_id: r.status for r in received} == {"ok": "completed", "bad": "failed"}
    assert orch.results == results


def test_unknown_agent_type_fails_before_any_spawn(fast_config, tmp_path):
    fake = new_fake()
    orch = new_orch(fake, fast_config, tmp_path)

    with pytest.raises(UnknownAgentError) as info:
        orch.run_parallel([AgentTask(WRITER, "fine", task_id="a"),
                           AgentTask("code_reviewr", "typo", task_id="b")])
    assert "code_reviewer" in info.value.suggestions
    assert not fake.calls


def test_journal_records_intent_before_acceptance_and_one_finish_per_task(fast_config, tmp_path):
    orch = new_orch(new_fake(), fast_config, tmp_path)
    tasks = [AgentTask(WRITER, sim(reply=valid_output(WRITER), by_model={FAST: {"fail": "x"}}), task_id="a"),
             AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="b"),
             AgentTask(WRITER, sim(fail="always"), task_id="c")]

    orch.run_parallel(tasks)
    records = journal_of(orch, tmp_path)

    assert records[0]["type"] == "run_started" and records[-1]["type"] == "run_finished"
    assert [t["task_id"] for t in records[0]["tasks"]] == ["a", "b", "c"]
    accepted = [(i, r) for i, r in enumerate(records) if r["type"] == "spawn_accepted"]
    assert len(accepted) == 2 + 1 + 3
    for index, record in accepted:
        key = (record["task_id"], record["attempt"]["number"])
        intents = [i for i, r in enumerate(records) if r["type"] == "spawn_intent"
                   and (r["task_id"], r["attempt"]) == key]
        assert len(intents) == 1 and intents[0] < index
    finished = Counter(r["task_id"] for r in records if r["type"] == "task_finished")
    assert finished == {"a": 1, "b": 1, "c": 1}
    assert records[-1]["counts"] == {"completed": 2, "failed": 1}


class ParallelCaller:
    """A fake behind a caller that, like the gateway over HTTP, takes `width` calls at once
    (`parallel_calls`), each sessions_spawn / sessions_history taking `delay` seconds of round
    trip outside the fake's lock. Keeps the peak number of concurrent calls per tool."""

    def __init__(self, fake, width: int = 4, delay: float = 0.0):
        self.fake, self.parallel_calls, self.delay = fake, width, delay
        self._lock = threading.Lock()
        self._active: Counter = Counter()
        self.peak: Counter = Counter()

    def has(self, tool):
        return self.fake.has(tool)

    def call(self, tool, args):
        with self._lock:
            self._active[tool] += 1
            self.peak[tool] = max(self.peak[tool], self._active[tool])
        try:
            if self.delay and tool in ("sessions_spawn", "sessions_history"):
                time.sleep(self.delay)
            return self.fake.call(tool, args)
        finally:
            with self._lock:
                self._active[tool] -= 1


class FailingCaller:
    """A tool caller that forwards to a fake and raises `error` on the n-th call of `tool`."""

    def __init__(self, fake, tool: str, n: int, error: Exception, *, after_forwarding: bool = False):
        self.fake, self.tool, self.n, self.error = fake, tool, n, error
        self.after_forwarding = after_forwarding
        self.count = 0

    def has(self, tool):
        return self.fake.has(tool)

    def call(self, tool, args):
        if tool == self.tool:
            self.count += 1
            if self.count == self.n:
                if self.after_forwarding:
                    self.fake.call(tool, args)
                raise self.error
        return self.fake.call(tool, args)


def test_fatal_tool_error_aborts_the_run_naming_resume(fast_config, tmp_path):
    fake = new_fake()
    fatal = ToolError("the gateway refused the token (401)", tool="sessions_spawn", fatal=True,
                      fix="set OPENCLAW_GATEWAY_TOKEN")
    orch = RealAIParallelOrchestrator(2, runtime=OpenClawRuntime(FailingCaller(fake, "sessions_spawn", 3, fatal)),
                                      config=fast_config, runs_folder=tmp_path / "runs", seed=1)
    tasks = [AgentTask(WRITER, sim(latency=0.2, reply=valid_output(WRITER)), task_id=f"a{i}") for i in range(4)]

    with pytest.raises(RunAborted) as info:
        orch.run_parallel(tasks)

    message = str(info.value)
    [journal] = (tmp_path / "runs").glob("*.jsonl")
    assert "401" in message and "OPENCLAW_GATEWAY_TOKEN" in message
    assert f"python3 ai_orchestrator.py resume {journal.stem}" in message
    records = read_records(journal)
    assert records[-1]["type"] == "run_aborted"
    assert not any(r["type"] == "run_finished" for r in records)
    finished = {r["task_id"] for r in records if r["type"] == "task_finished"}
    assert finished and finished <= {"a0", "a1"}          # the first two ran; a2's spawn stopped it
    assert attempt_of([r["label"] for r in records if r["type"] == "spawn_intent"][-1]) == "a2#1"
    assert info.value.exit_code == 3


def test_non_fatal_thrown_spawn_error_is_a_permanent_refusal_not_an_abort(fast_config, tmp_path):
    fake = new_fake()
    thrown = ToolError("task required", tool="sessions_spawn")
    orch = RealAIParallelOrchestrator(1, runtime=OpenClawRuntime(FailingCaller(fake, "sessions_spawn", 1, thrown)),
                                      config=fast_config, runs_folder=tmp_path / "runs", seed=1)

    [result] = orch.run_parallel([AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="a")])

    assert [(a.tier, a.status) for a in result.attempts] == [("fast", "refused"), ("balanced", "ok")]
    assert result.attempts[0].error == "task required"


def test_a_tools_module_without_agents_wait_and_subagents_is_named_in_the_report(fast_config, tmp_path):
    """An injected `tools` module is used as it is; what it lacks is said, with its cost."""
    import types
    fake = new_fake()
    module = types.SimpleNamespace(
        sessions_spawn=lambda **kw: fake.call("sessions_spawn", kw),
        sessions_history=lambda **kw: fake.call("sessions_history", kw))
    orch = RealAIParallelOrchestrator(2, runtime=module, config=fast_config,
                                      runs_folder=tmp_path / "runs", seed=1)
    [result] = orch.run_parallel([AgentTask(WRITER, sim(latency=0.01, reply=valid_output(WRITER)))])
    assert result.status == "completed"
    notes = " ".join(orch.last_run.runtime_notes)
    assert "no agents_wait tool" in notes and "no subagents tool" in notes
    assert orch.last_run.to_dict()["runtime_notes"] == orch.last_run.runtime_notes


def test_a_failed_head_of_a_long_chain_skips_every_task_without_recursion(fast_config, tmp_path):
    """_finish -> release dependents -> skip -> _finish ... recursed once per task: a chain of
    1,500 whose first task fails raised RecursionError."""
    tasks = [AgentTask("content_writer_funny", "Write.\nSIM " + json.dumps({"fail": "down"}), task_id="t0",
                       tier="strongest")]
    tasks += [AgentTask("content_writer_funny", f"Write {i}", task_id=f"t{i}", depends_on=[f"t{i - 1}"])
              for i in range(1, 1500)]
    orch = new_orch(FakeOpenClaw(), fast_config, tmp_path)
    results = orch.run_parallel(tasks)
    assert results[0].status == "failed"
    assert all(r.status == "skipped" for r in results[1:])
    assert results[-1].error == "dependency t1498 skipped"
