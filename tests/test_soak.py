"""The soak: 1,000 tasks through the engine on FakeOpenClaw with most kinds of trouble at once
(history collection, the gateway's path, with spawns and reads 4 at once), and 500 on collectors.

Every task is scripted by the SIM line in its text (parallel_agents.simulation.directives), plus two
keys of this file's own: `invalid_first` (the first N replies of the task break its schema; see
`soak_script`) and `lose` (the transport loses the first spawn request, or the answer to it; see
`LossyCaller`). The strongest tier always fails and the fake refuses children past 5 while the
engine allows 8 in flight, so back-pressure runs through the whole soak.

What must hold whatever happens, checked at three places at once (the results, a monitor at the
scheduler/runtime seam, the fake's own record of runs) and in the journal:
- no task lost: one result per task, in input order, each with its scripted final status and
  attempts, and a reason whenever it did not complete;
- attempts within the retry/escalation budget of the config;
- never more than max_concurrent attempts in flight, never two live attempts of one task;
- costs add up: each attempt priced from its tokens, task = sum of attempts, run = sum of tasks;
- the journal is complete: an answer for every spawn intent, an attempt_finished for every
  accepted spawn, one task_finished per task, run_finished with the right counts, and the
  state it restores is the run's results.
Latencies are milliseconds and one runTimeoutSeconds unit lasts 30 ms, so the soak takes
seconds.
"""
from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter, defaultdict

import pytest

from parallel_agents.definitions.registry import load_registry
from parallel_agents.engine.costs import PriceTable
from parallel_agents.definitions.model import schema_registry
from parallel_agents.core.errors import ToolError
from parallel_agents.simulation.directives import directive_responder, parse_directive
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.engine.journal import read_records
from parallel_agents.orchestrator import RealAIParallelOrchestrator, restore_state
from parallel_agents.replies.validate import validate_output
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.spawn import Receipt
from parallel_agents.engine.tasks import AgentTask

from test_engine import (BALANCED, FAST, MODELS, REVIEWER, STRONGEST, WRITER, Recorder,
                         attempt_of, max_overlap, sim, task_of, valid_output)

N_TASKS = 1000
MAX_CONCURRENT = 8          # the engine's window (OpenClaw's lane default)
MAX_CHILDREN = 5            # the fake's maxChildrenPerAgent / maxChildrenPerGroup: refusals
AGENTS = (WRITER, REVIEWER, "security_reviewer")
NOT_JSON = "Sure! Here is what you asked for: a list of posts, as requested."
LOST = "gateway did not answer within 30s"


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


# -- the workload -------------------------------------------------------------------------------

def _a(tier: str, status: str, reask: bool = False) -> tuple:
    return tier, status, reask


OK_ON_FAST = [_a("fast", "ok")]
# kind -> (final status, [(tier, status, reask) of each attempt]). Tasks start on `fast`
# (set explicitly, whatever their agent's own tier), except starts_on_failing_tier.
KINDS = {
    "plain": ("completed", OK_ON_FAST),
    "transient_spawn_error": ("completed", [_a("fast", "refused"), _a("fast", "ok")]),
    "transient_spawn_errors_exhaust_the_tier": (
        "completed", [_a("fast", "refused")] * 3 + [_a("balanced", "ok")]),
    "model_refused": ("completed", [_a("fast", "refused"), _a("balanced", "ok")]),
    "spawn_request_lost": ("completed", [_a("fast", "refused"), _a("fast", "ok")]),
    "spawn_answer_lost": ("completed", OK_ON_FAST),   # the accepted run is adopted, not re-sent
    "plain_2": ("completed", OK_ON_FAST),
    "run_fails_on_fast": ("completed", [_a("fast", "error"), _a("balanced", "ok")]),
    "transient_run_errors": ("completed", [_a("fast", "error")] * 2 + [_a("fast", "ok")]),
    "transient_run_errors_exhaust_the_tier": (
        "completed", [_a("fast", "error")] * 3 + [_a("balanced", "ok")]),
    "malformed_json_on_fast": (
        "completed", [_a("fast", "invalid"), _a("fast", "invalid", True), _a("balanced", "ok")]),
    "truncated_json_on_fast": (
        "completed", [_a("fast", "invalid"), _a("fast", "invalid", True), _a("balanced", "ok")]),
    "plain_3": ("completed", OK_ON_FAST),
    "invalid_then_fixed_by_the_reask": ("completed", [_a("fast", "invalid"), _a("fast", "ok", True)]),
    "schema_invalid_until_the_failing_tier": (
        "failed", [_a("fast", "invalid"), _a("fast", "invalid", True), _a("balanced", "invalid"),
                   _a("balanced", "invalid", True), _a("strongest", "error")]),
    "timeout_on_fast": ("completed", [_a("fast", "timeout"), _a("balanced", "ok")]),
    "hang_everywhere": ("timeout", [_a("fast", "timeout"), _a("balanced", "timeout"),
                                    _a("strongest", "timeout")]),
    "starts_on_failing_tier": ("failed", [_a("strongest", "error")]),
    "depends_on_a_failure": ("skipped", []),
    "depends_on_a_success": ("completed", OK_ON_FAST),
}
KIND_NAMES = list(KINDS)
CLEAN_KINDS = {"plain", "plain_2", "plain_3", "depends_on_a_success"}


def kind_of(i: int) -> str:
    return KIND_NAMES[i % len(KIND_NAMES)]


def task_id(i: int) -> str:
    return f"s{i:04d}"


def soak_task(i: int) -> AgentTask:
    kind, agent = kind_of(i), AGENTS[(i // len(KIND_NAMES)) % len(AGENTS)]
    first_of_cycle = i - i % len(KIND_NAMES)
    good = valid_output(agent, seed=i)
    by_model = {STRONGEST: {"fail": "the strongest tier is broken in this soak"}}
    spec = {"latency": 0.002 + (i % 4) * 0.002, "reply": good}
    extra = {"tier": "fast"}
    retry_shortly = "gateway rate limit hit; retry shortly"
    if kind == "transient_spawn_error":
        spec.update(spawn_error=retry_shortly, fail_first=1)
    elif kind == "transient_spawn_errors_exhaust_the_tier":
        by_model[FAST] = {"spawn_error": retry_shortly}
    elif kind == "model_refused":
        by_model[FAST] = {"spawn_error": f'sessions_spawn model "{FAST}" is not usable: model not allowed'}
    elif kind == "spawn_request_lost":
        spec["lose"] = "request"
    elif kind == "spawn_answer_lost":
        spec["lose"] = "answer"
    elif kind == "run_fails_on_fast":
        by_model[FAST] = {"fail": "the model crashed"}
    elif kind == "transient_run_errors":
        spec.update(fail="provider overloaded (529)", fail_first=2)
    elif kind == "transient_run_errors_exhaust_the_tier":
        by_model[FAST] = {"fail": "rate limit reached (429)"}
    elif kind == "malformed_json_on_fast":
        by_model[FAST] = {"reply": NOT_JSON}
    elif kind == "truncated_json_on_fast":
        text = json.dumps(good)
        by_model[FAST] = {"reply": text[: len(text) // 2]}
    elif kind == "invalid_then_fixed_by_the_reask":
        spec["invalid_first"] = 1
    elif kind == "schema_invalid_until_the_failing_tier":
        by_model.update({FAST: {"reply": {"nope": 1}}, BALANCED: {"reply": {"nope": 1}}})
    elif kind == "timeout_on_fast":
        by_model[FAST] = {"hang": True}
    elif kind == "hang_everywhere":
        by_model = {m: {"hang": True} for m in MODELS}
    elif kind == "starts_on_failing_tier":
        extra["tier"] = "strongest"
    elif kind == "depends_on_a_failure":
        extra["depends_on"] = [task_id(first_of_cycle + KIND_NAMES.index("starts_on_failing_tier"))]
    elif kind == "depends_on_a_success":
        extra["depends_on"] = [task_id(first_of_cycle + KIND_NAMES.index("plain"))]
    spec["by_model"] = by_model
    return AgentTask(agent, sim(f"Soak task {i} ({kind}).", **spec), {"n": i}, task_id=task_id(i),
                     timeout_seconds=1, **extra)


def soak_script(view):
    """directive_responder, plus `invalid_first: N`: the task's first N replies break its schema
    (`view.attempt` counts per task here: the Recorder sets it)."""
    reply = directive_responder(view)
    spec = parse_directive(view.task) or {}
    if view.attempt <= int(spec.get("invalid_first") or 0):
        return dataclasses.replace(reply, text=json.dumps({"nope": view.attempt}))
    return reply


class LossyCaller:
    """FakeOpenClaw behind a transport that loses things, as HTTP does. A task whose SIM line has
    `"lose": "request"` has its first spawn lost on the way (the fake never sees it);
    `"lose": "answer"` has its first accepted spawn's answer lost on the way back. Both look like
    a gateway that did not answer in time (a retryable ToolError). `parallel_calls` > 1 lets
    the runtime send several calls at once, as it does to a gateway over HTTP."""

    def __init__(self, fake: FakeOpenClaw, parallel_calls: int = 1):
        self.fake, self.parallel_calls = fake, parallel_calls
        self.lost: dict[str, str] = {}    # task id -> "request" | "answer"
        self._lock = threading.Lock()

    def has(self, tool):
        return self.fake.has(tool)

    def call(self, tool, args):
        lose = None
        if tool == "sessions_spawn":
            lose = (parse_directive(args.get("task", "")) or {}).get("lose")
            with self._lock:
                if task_of(args["label"]) in self.lost:
                    lose = None
        if lose == "request":
            self._lost(args["label"], lose)
        result = self.fake.call(tool, args)
        if lose == "answer" and result.get("status") == "accepted":
            self._lost(args["label"], lose)
        return result

    def _lost(self, label: str, what: str):
        with self._lock:
            self.lost[task_of(label)] = what
        raise ToolError(LOST, tool="sessions_spawn", retryable=True, fix="check the gateway's load")


class SeamMonitor:
    """The runtime, watched where the scheduler uses it: which attempts are in flight (accepted,
    not yet handed back by wait, not cancelled), their peak, and any task with two at once."""

    def __init__(self, runtime: OpenClawRuntime):
        self.runtime = runtime
        self.live: dict[str, str] = {}  # run id -> task id
        self.peak = 0
        self.double_live: list[str] = []
        self.spawn_calls = 0

    def __getattr__(self, name):        # calls, missing_capabilities, spawn_concurrency, ...
        return getattr(self.runtime, name)

    def _accepted(self, label: str, answer) -> None:
        if isinstance(answer, Receipt):
            tid = task_of(label)
            if tid in self.live.values():
                self.double_live.append(tid)
            self.live[answer.run_id] = tid
            self.peak = max(self.peak, len(self.live))

    def spawn(self, request):
        self.spawn_calls += 1
        receipt = self.runtime.spawn(request)
        self._accepted(request.label, receipt)
        return receipt

    def spawn_many(self, requests):
        if not hasattr(self.runtime, "spawn_many"):
            raise AttributeError("spawn_many")
        self.spawn_calls += 1
        answers = self.runtime.spawn_many(requests)
        for request, answer in zip(requests, answers):
            self._accepted(request.label, answer)
        return answers

    def wait(self, run_ids, timeout_s):
        outcomes = self.runtime.wait(run_ids, timeout_s)
        for outcome in outcomes:
            self.live.pop(outcome.run_id, None)
        return outcomes

    def cancel(self, run_id):
        self.live.pop(run_id, None)
        return self.runtime.cancel(run_id)


# -- the checks -----------------------------------------------------------------------------------

def budget_problems(result, start_tier: int, tiers: list[str], retry: dict) -> list[str]:
    """Where a task's attempts leave the retry/escalation budget of the config: tiers only climb,
    one rung at a time, from the start tier; per tier at most `transient_attempts` failed spawns
    or runs (a permanent failure moves on after one), one re-ask (after an invalid reply, if
    re-asks are on), no second try of a timeout, and nothing after a success."""
    per_tier = retry["transient_attempts"] + (1 if retry["reask_invalid"] else 0)
    problems, previous = [], None
    tier_counts, reasks, transients = Counter(), Counter(), Counter()
    for attempt in result.attempts:
        index = tiers.index(attempt.tier)
        if previous is None and index != start_tier:
            problems.append(f"first attempt on {attempt.tier}, not {tiers[start_tier]}")
        if previous is not None:
            step = index - tiers.index(previous.tier)
            if step not in (0, 1):
                problems.append(f"attempt {attempt.number} moved {step} tiers")
            if previous.status == "ok":
                problems.append(f"attempt {attempt.number} after a success")
            if step == 0 and previous.status == "timeout":
                problems.append(f"attempt {attempt.number} retried a timeout on the same tier")
        if attempt.reask:
            reasks[attempt.tier] += 1
            if previous is None or previous.status != "invalid" or previous.tier != attempt.tier:
                problems.append(f"attempt {attempt.number} re-asked without an invalid reply before")
        if attempt.status in ("refused", "error"):
            transients[attempt.tier] += 1
        tier_counts[attempt.tier] += 1
        previous = attempt
    for tier, n in tier_counts.items():
        if n > per_tier:
            problems.append(f"{n} attempts on {tier} (budget {per_tier})")
        if reasks[tier] > (1 if retry["reask_invalid"] else 0):
            problems.append(f"{reasks[tier]} re-asks on {tier}")
        if transients[tier] > retry["transient_attempts"]:
            problems.append(f"{transients[tier]} failed spawns/runs on {tier}")
    if len(result.attempts) > (len(tiers) - start_tier) * per_tier:
        problems.append(f"{len(result.attempts)} attempts in all")
    return problems


def journal_problems(records: list[dict], results) -> list[str]:
    """Where the journal falls short of the run it records."""
    problems = []
    types = [r["type"] for r in records]
    if types[:1] != ["run_started"] or types[-1:] != ["run_finished"] or types.count("run_finished") != 1:
        problems.append(f"journal starts with {types[:1]} and ends with {types[-1:]}")
    if [t["task_id"] for t in records[0].get("tasks", [])] != [r.task_id for r in results]:
        problems.append("run_started does not list the tasks in order")
    # every spawn intent is answered (accepted or refused) before the next intent of that attempt
    open_intents: set[tuple] = set()
    accepted: dict[tuple, str] = {}
    finished_attempts: dict[tuple, dict] = {}
    for r in records:
        kind = r["type"]
        if kind == "spawn_intent":
            key = (r["task_id"], r["attempt"])
            if key in open_intents:
                problems.append(f"intent {key} sent again before an answer")
            open_intents.add(key)
        elif kind in ("spawn_accepted", "spawn_refused"):
            number = r["attempt"]["number"] if kind == "spawn_accepted" else r["attempt"]
            key = (r["task_id"], number)
            if key not in open_intents:
                problems.append(f"{kind} {key} without an intent before it")
            open_intents.discard(key)
            if kind == "spawn_accepted":
                if key in accepted:
                    problems.append(f"attempt {key} accepted twice")
                accepted[key] = r["attempt"]["run_id"]
        elif kind == "attempt_finished":
            key = (r["task_id"], r["attempt"]["number"])
            if key in finished_attempts:
                problems.append(f"attempt {key} finished twice")
            finished_attempts[key] = r["attempt"]
    if open_intents:
        problems.append(f"{len(open_intents)} spawn intents never answered: {sorted(open_intents)[:3]}")
    for key, run_id in accepted.items():
        if key not in finished_attempts or finished_attempts[key]["run_id"] != run_id:
            problems.append(f"accepted attempt {key} has no attempt_finished with its run id")
    recorded_attempts = {(r.task_id, a.number): a.to_dict() for r in results for a in r.attempts}
    if finished_attempts != recorded_attempts:
        missing = set(recorded_attempts) ^ set(finished_attempts)
        problems.append(f"attempt_finished records differ from the results' attempts: {sorted(missing)[:3]}")
    finished = Counter(r["task_id"] for r in records if r["type"] == "task_finished")
    if finished != Counter(r.task_id for r in results):
        problems.append("not exactly one task_finished per task")
    counts = Counter(r.status for r in results)
    if records[-1].get("counts") != dict(counts):
        problems.append(f"run_finished counts {records[-1].get('counts')} != {dict(counts)}")
    # the journal alone gives back every result (what resume would start from)
    restored = restore_state(records, runtime=None)
    for r in results:
        if (restored.get(r.task_id) or {}).get("result") != json.loads(json.dumps(r.to_dict())):
            problems.append(f"journal restores a different result for {r.task_id}")
            break
    return problems


# -- the soak -------------------------------------------------------------------------------------

class Soak:
    """One soak run: the tasks, the fake, what watched it, and what came back."""

    def __init__(self, n: int, config, folder, *, collection: str, parallel_calls: int = 1):
        self.recorder = Recorder(soak_script)
        self.fake = FakeOpenClaw(self.recorder, models=MODELS, max_children=MAX_CHILDREN,
                                 max_children_per_group=MAX_CHILDREN, run_timeout_unit_s=0.03)
        self.caller = LossyCaller(self.fake, parallel_calls)
        self.monitor = SeamMonitor(OpenClawRuntime(self.caller, collection=collection))
        self.events = []
        self.orch = RealAIParallelOrchestrator(MAX_CONCURRENT, runtime=self.monitor, config=config,
                                               runs_folder=folder, seed=7, on_event=self.events.append)
        self.tasks = [soak_task(i) for i in range(n)]
        self.results = self.orch.run_parallel(self.tasks)
        self.records = read_records(folder / f"{self.orch.last_run.run_id}.jsonl")


# History collection (the gateway's path over HTTP) with spawns and reads going out 4 at once, and
# collectors. The collector soak is shorter because the history soak takes most of the time: each
# `subagents list` it makes returns every run of the session so far.
@pytest.mark.parametrize("collection, parallel_calls, n", [("history", 4, N_TASKS), ("collector", 1, 500)])
def test_soak_with_every_kind_of_fault(collection, parallel_calls, n, fast_config, tmp_path):
    config = fast_config
    soak = Soak(n, config, tmp_path / "runs", collection=collection, parallel_calls=parallel_calls)
    tasks, results, orch, fake = soak.tasks, soak.results, soak.orch, soak.fake
    caller, monitor, events = soak.caller, soak.monitor, soak.events

    # 0 lost tasks: one result per task, in input order
    assert [r.task_id for r in results] == [t.task_id for t in tasks]

    # every final status is the scripted one, with the scripted attempts, and explained
    registry, schemas = load_registry(), schema_registry()
    tiers = [t.name for t in config.tiers]
    for i, (task, r) in enumerate(zip(tasks, results)):
        status, shape = KINDS[kind_of(i)]
        seen = [(a.tier, a.status, a.reask) for a in r.attempts]
        assert (r.status, seen) == (status, shape), (r.task_id, kind_of(i), r.error)
        if r.status == "completed":
            assert r.error is None
            assert validate_output(r.output, registry.get(task.agent_type).output_schema,
                                   registry=schemas) == []
            assert r.model_used == r.attempts[-1].model and r.tier == r.attempts[-1].tier
        else:
            assert r.output is None and r.error and r.error.strip(), r.task_id
            if r.status == "skipped":
                assert r.error == f"dependency {task.depends_on[0]} failed"
            else:
                last = r.attempts[-1]
                assert last.status == ("timeout" if r.status == "timeout" else "error")
                if r.status == "failed":   # the reason quotes what went wrong last
                    assert last.error and last.error in r.error, (r.task_id, r.error)
        for attempt in r.attempts:
            assert (attempt.status == "ok") == (attempt.error is None), (r.task_id, attempt)
        # back-pressure is never a task's failure, nor an attempt
        assert "max active children" not in (r.error or "") and "maxChildrenPerGroup" not in (r.error or "")
        assert budget_problems(r, tiers.index(task.tier), tiers, config.data["retry"]) == [], r.task_id
    # and every kind of fault really happened, to at least 30% of the tasks
    assert Counter(caller.lost.values()) == {"request": n // len(KINDS), "answer": n // len(KINDS)}
    faulted = {r.task_id for r in results if r.status != "completed" or len(r.attempts) != 1} | set(caller.lost)
    assert len(faulted) >= 0.3 * n
    kinds = Counter(e.kind for e in events)
    for kind in ("backpressure", "retried", "reasked", "escalated", "timeout", "skipped"):
        assert kinds[kind] > 0, kind

    # never more than max_concurrent in flight, never two live attempts of one task
    assert monitor.double_live == [] and monitor.live == {}
    assert 1 < monitor.peak <= MAX_CONCURRENT
    assert orch.last_run.peak_in_flight <= MAX_CONCURRENT
    runs = fake.runs()
    assert all(run["status"] in ("done", "failed", "timeout", "killed") for run in runs)
    assert max_overlap([(run["created_at"], run["ended_at"]) for run in runs]) <= MAX_CONCURRENT
    assert fake.peak_active_children <= MAX_CHILDREN
    by_task = defaultdict(list)
    for run in runs:
        by_task[task_of(run["label"])].append((run["created_at"], run["ended_at"]))
    for tid, spans in by_task.items():
        spans.sort()
        assert all(nxt >= end for (_, end), (nxt, _) in zip(spans, spans[1:])), tid
    # each run the fake accepted is exactly one attempt, and each attempt with a run id is one run
    by_run = {a.run_id: (r.task_id, a) for r in results for a in r.attempts if a.run_id}
    assert sorted(by_run) == sorted(run["run_id"] for run in runs)
    for run in runs:
        tid, attempt = by_run[run["run_id"]]
        assert attempt_of(run["label"]) == f"{tid}#{attempt.number}" and run["model"] == attempt.model

    # costs add up: each attempt priced from its tokens, task = sum of attempts, run = sum of tasks
    prices = PriceTable(config.prices)
    for r in results:
        for a in r.attempts:
            assert a.cost_usd == prices.cost(a.model, a.input_tokens, a.output_tokens), (r.task_id, a)
        assert r.cost_usd == pytest.approx(sum(a.cost_usd for a in r.attempts), abs=1e-9)
        assert r.usage == {"input_tokens": sum(a.input_tokens for a in r.attempts),
                           "output_tokens": sum(a.output_tokens for a in r.attempts)}
    assert orch.last_run.cost_usd == pytest.approx(sum(r.cost_usd for r in results), abs=1e-9)
    if collection == "collector":   # collectors report token usage (history strips it)
        assert orch.last_run.cost_usd > 0

    # the journal is complete
    records = soak.records
    assert journal_problems(records, results) == []
    assert any(r["type"] == "spawn_refused" and r["kind"] == "backpressure" for r in records)
    accepted = {r["attempt"]["run_id"] for r in records if r["type"] == "spawn_accepted"}
    assert accepted == {run["run_id"] for run in runs}


# -- the checks themselves catch what they look for ------------------------------------------------

def test_the_journal_check_catches_a_journal_that_falls_short(fast_config, tmp_path):
    soak = Soak(2 * len(KINDS), fast_config, tmp_path / "runs", collection="collector")
    records, results = soak.records, soak.results
    assert journal_problems(records, results) == []

    def without(predicate):
        index = next(i for i, r in enumerate(records) if predicate(r))
        return records[:index] + records[index + 1:]

    def problems(broken):
        return " | ".join(journal_problems(broken, results))

    assert "no attempt_finished" in problems(
        without(lambda r: r["type"] == "attempt_finished" and r["attempt"]["run_id"]))
    assert "differ from the results' attempts" in problems(
        without(lambda r: r["type"] == "attempt_finished" and r["attempt"]["status"] == "refused"))
    assert "never answered" in problems(without(lambda r: r["type"] == "spawn_accepted"))
    assert "sent again before an answer" in problems(
        without(lambda r: r["type"] == "spawn_refused" and r["kind"] == "backpressure"))
    assert "not exactly one task_finished" in problems(without(lambda r: r["type"] == "task_finished"))
    assert "ends with" in problems(records[:-1])
    recount = dict(records[-1], counts={**records[-1]["counts"], "completed": 0})
    assert "run_finished counts" in problems(records[:-1] + [recount])
    finished = next(i for i, r in enumerate(records) if r["type"] == "task_finished")
    wrong = dict(records[finished], result={**records[finished]["result"], "cost_usd": 1.0})
    assert "restores a different result" in problems(records[:finished] + [wrong] + records[finished + 1:])


def test_the_budget_check_catches_attempts_past_the_budget(fast_config):
    from parallel_agents.engine.tasks import AgentResult, Attempt
    tiers, retry = [t.name for t in fast_config.tiers], fast_config.data["retry"]

    def problems(*attempts, start=0):
        result = AgentResult("t", WRITER, attempts=[Attempt(n, tier, None, status, reask=reask)
                                                    for n, (tier, status, reask) in enumerate(attempts, 1)])
        return " | ".join(budget_problems(result, start, tiers, retry))

    assert problems(*KINDS["schema_invalid_until_the_failing_tier"][1]) == ""
    assert "failed spawns/runs on fast" in problems(*[_a("fast", "refused")] * 4, _a("balanced", "ok"))
    assert "moved 2 tiers" in problems(_a("fast", "error"), _a("strongest", "ok"))
    assert "first attempt on fast, not balanced" in problems(_a("fast", "ok"), start=1)
    assert "without an invalid reply" in problems(_a("fast", "error"), _a("fast", "ok", True))
    assert "2 re-asks" in problems(_a("fast", "invalid"), _a("fast", "invalid", True),
                                   _a("fast", "invalid", True))
    assert "after a success" in problems(_a("fast", "ok"), _a("fast", "ok"))
    assert "retried a timeout" in problems(_a("fast", "timeout"), _a("fast", "ok"))


def test_the_seam_monitor_sees_two_live_attempts_of_one_task():
    class Stub:
        def spawn(self, request):
            return Receipt(f"run-{request.label}", "key", None, {})

        def wait(self, run_ids, timeout_s):
            return [dataclasses.make_dataclass("Outcome", ["run_id"])(run_ids[0])]

    from parallel_agents.openclaw.spawn import SpawnRequest
    monitor = SeamMonitor(Stub())
    monitor.spawn(SpawnRequest("x", "a#1", "t", None, 1))
    monitor.wait(["run-a#1"], 0)
    monitor.spawn(SpawnRequest("x", "a#2", "t", None, 1))
    assert monitor.double_live == [] and monitor.peak == 1
    monitor.spawn(SpawnRequest("x", "b#1", "t", None, 1))
    monitor.spawn(SpawnRequest("x", "a#3", "t", None, 1))
    assert monitor.double_live == ["a"] and monitor.peak == 3
