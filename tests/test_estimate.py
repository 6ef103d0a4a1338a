"""Estimate and gate (issue 15): `--estimate` spawns nothing and says what a run should cost,
learnt from the user's journals or, without them, from the prompt and the schema; `--max-cost`
refuses to start past it (exit 2); `orch.estimate(tasks)` is the same in Python."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from parallel_agents.core.config import Config, load_config
from parallel_agents.core.errors import CostLimitExceeded, InputError
from parallel_agents.engine.estimate import Range
from parallel_agents.engine.estimator import estimate_tasks
from parallel_agents.simulation.directives import directive_responder
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.engine.tasks import AgentTask
from parallel_agents.engine.usage_history import load_history, prompt_tokens

from test_engine import REVIEWER, sim, valid_output  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TASKS = REPO / "examples" / "tasks.yaml"
BALANCED = "kimi-coding/k2p5"


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


@pytest.fixture
def config():
    return load_config(user=False)


def usage(ratio: float = 1.0, output_tokens: int = 500):
    """The fake's directive replies, reporting `ratio` x the prompt's chars / 4 as input tokens."""
    def respond(view):
        reply = directive_responder(view)
        reply.usage = {"input_tokens": int(len(view.task) // 4 * ratio),
                       "output_tokens": output_tokens}
        return reply
    return respond


def review(i: int, **spec) -> AgentTask:
    spec.setdefault("reply", valid_output(REVIEWER, i))
    return AgentTask(REVIEWER, sim(f"Review change {i}.", **spec),
                     {"code": f"def f{i}(x):\n    return x + {i}\n" * 20}, task_id=f"r{i}")


def orch_for(tmp_path, config, responder=None, **kwargs):
    fake = FakeOpenClaw(responder or usage(), run_timeout_unit_s=0.05)
    orch = RealAIParallelOrchestrator(8, runtime=OpenClawRuntime(fake), config=config,
                                      runs_folder=tmp_path / "runs", seed=1, **kwargs)
    return orch, fake


def per_attempt(task_estimate, tier="balanced"):
    cost = task_estimate.per_tier[tier]
    return cost.input_tokens.expected / cost.attempts, cost.output_tokens.expected / cost.attempts


# -- the estimate -----------------------------------------------------------------------------------

def test_without_history_it_comes_from_the_prompt_and_the_schema(tmp_path, config):
    orch, fake = orch_for(tmp_path, config)
    task = review(1)
    est = orch.estimate([task])

    [t] = est.tasks
    assert t.source == "prompt" and est.history_runs == 0
    definition = orch.registry.get(REVIEWER)
    tokens_in, tokens_out = per_attempt(t)
    assert tokens_in == pytest.approx(prompt_tokens(definition, task, "json"))
    assert tokens_out >= 200                                  # a json schema's sample, scaled
    assert t.usd.low < t.usd.expected < t.usd.high
    assert fake.calls["sessions_spawn"] == 0 and not (tmp_path / "runs").exists()


def test_history_teaches_tokens_per_agent_and_model(tmp_path, config):
    orch, _ = orch_for(tmp_path, config, usage(ratio=2.0, output_tokens=777))
    orch.run_parallel([review(i) for i in range(4)])
    task = review(9)
    est = orch.estimate([task])

    [t] = est.tasks
    assert t.source == "history" and est.history_runs == 1
    base = prompt_tokens(orch.registry.get(REVIEWER), task, "json")
    tokens_in, tokens_out = per_attempt(t)
    assert tokens_in == pytest.approx(2 * base, rel=0.05)     # what the model really counted
    assert tokens_out == pytest.approx(777)
    # all four completed on their first attempt: hardly any climbing expected any more
    assert t.per_tier["strongest"].attempts < 0.1


def test_escalations_and_reasks_in_history_raise_expected_cost(tmp_path, config):
    ok, _ = orch_for(tmp_path / "ok", config)
    ok.run_parallel([review(i) for i in range(4)])
    bad, _ = orch_for(tmp_path / "bad", config)
    invalid = {"score": "8/10"}   # schema-invalid on balanced: re-ask, then the strongest tier
    results = bad.run_parallel([review(i, by_model={BALANCED: {"reply": invalid}}) for i in range(4)])
    assert all(r.ok and r.tier == "strongest" and len(r.attempts) == 3 for r in results)

    calm, climbing = ok.estimate([review(9)]).tasks[0], bad.estimate([review(9)]).tasks[0]
    assert climbing.usd.expected > 3 * calm.usd.expected
    assert climbing.per_tier["balanced"].attempts > 1.5       # the re-ask
    assert climbing.per_tier["strongest"].attempts > 0.5      # the escalation


def test_reasks_and_escalation_raise_expected_and_high_without_history(config):
    from parallel_agents.definitions.registry import load_registry
    task = review(1)
    with_reask = estimate_tasks([task], registry=load_registry(), config=config)
    no_reask = estimate_tasks([task], registry=load_registry(), config=Config(
        {**config.data, "retry": {**config.data["retry"], "reask_invalid": False}}))
    one_tier = estimate_tasks([task], registry=load_registry(), config=Config(
        {**config.data, "tiers": config.data["tiers"][:2]}))
    a, b, c = with_reask.total_usd, no_reask.total_usd, one_tier.total_usd
    assert a.expected > b.expected and a.high > b.high        # re-asks add
    assert a.expected > c.expected and a.high > c.high        # a tier to climb to adds
    assert a.low == b.low == c.low                            # one attempt on the first tier


def test_per_tier_sums_equal_the_total_and_json_shape(config):
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.engine.taskfile import load_tasks
    est = estimate_tasks(load_tasks(TASKS), registry=load_registry(), config=config)
    data = est.to_dict()

    assert set(data) >= {"tasks", "per_tier", "total_usd", "total_tokens", "unpriced_models",
                         "history_runs"}
    assert set(data["total_usd"]) == {"low", "expected", "high"}
    assert list(data["per_tier"]) == ["fast", "balanced", "strongest"]
    for key in ("low", "expected", "high"):
        assert sum(t["usd"][key] for t in data["per_tier"].values()) == \
            pytest.approx(data["total_usd"][key], abs=1e-5)
        assert sum(t["usd"][key] for t in data["tasks"]) == \
            pytest.approx(data["total_usd"][key], abs=1e-5)
    task = data["tasks"][0]
    assert set(task) >= {"task_id", "agent_type", "tier", "input_tokens", "output_tokens", "usd",
                         "source"}
    assert data["per_tier"]["fast"]["usd"]["expected"] == 0   # every task starts on balanced


def test_a_dependent_task_counts_its_upstream_output_as_input(config):
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.engine.taskfile import load_tasks
    registry = load_registry()
    tasks = {t.task_id: t for t in load_tasks(TASKS)}
    est = {t.task_id: t for t in estimate_tasks(list(tasks.values()), registry=registry,
                                                config=config).tasks}
    backend = tasks["backend"]
    alone = prompt_tokens(registry.get(backend.agent_type), backend, "json")
    tokens_in, _ = per_attempt(est["backend"])
    assert tokens_in == pytest.approx(alone + est["api"].output_tokens_one.expected, rel=0.01)


def test_an_unpriced_model_costs_nothing_and_is_listed(config):
    from parallel_agents.definitions.registry import load_registry
    tiers = [dict(t) for t in config.data["tiers"]]
    tiers[1]["model"] = "someone/unpriced-model"
    est = estimate_tasks([review(1)], registry=load_registry(), config=Config({**config.data, "tiers": tiers}))
    assert est.unpriced_models == ["someone/unpriced-model"]
    assert est.tasks[0].per_tier["balanced"].usd.expected == 0


def test_history_skips_damaged_lines_and_reads_a_bounded_number_of_runs(tmp_path, config,
                                                                    monkeypatch):
    orch, _ = orch_for(tmp_path, config, usage(output_tokens=321))
    orch.run_parallel([review(i) for i in range(3)])
    orch.run_parallel([review(i + 10) for i in range(3)])
    runs = sorted((tmp_path / "runs").glob("*.jsonl"))
    with runs[0].open("a") as fh:
        fh.write("this line is not a record\n")
    from parallel_agents.definitions.registry import load_registry
    history = load_history(tmp_path / "runs", registry=load_registry())
    assert history.runs == 2 and history.outputs[(REVIEWER, BALANCED)] == [321] * 6
    assert load_history(tmp_path / "runs", max_runs=1).runs == 1
    from parallel_agents.engine import usage_history
    monkeypatch.setattr(usage_history, "MAX_SAMPLES", 4)
    capped = load_history(tmp_path / "runs", registry=load_registry())
    assert len(capped.outputs[(REVIEWER, BALANCED)]) == len(capped.input_ratios[(REVIEWER, BALANCED)]) == 4


def test_workflow_stages_that_may_not_run_count_by_their_chance(config):
    from parallel_agents.definitions.registry import load_registry
    tasks = [review(1), review(2)]
    whole = estimate_tasks(tasks, registry=load_registry(), config=config)
    halved = estimate_tasks(tasks, registry=load_registry(), config=config,
                            probabilities={"r2": 0.5})
    a, b = whole.tasks[1].usd, halved.tasks[1].usd
    assert b.expected == pytest.approx(a.expected / 2) and b.high == a.high and b.low == 0


# -- the gate (Python) ------------------------------------------------------------------------------

def test_max_cost_refuses_before_any_spawn(tmp_path, config):
    orch, fake = orch_for(tmp_path, config, max_cost_usd=0.000001)
    with pytest.raises(CostLimitExceeded) as caught:
        orch.run_parallel([review(1), review(2)])
    assert "expected cost $" in str(caught.value) and "over the limit" in str(caught.value)
    assert caught.value.estimate.total_usd.expected > 0.000001
    assert caught.value.exit_code == 2
    assert fake.calls["sessions_spawn"] == 0 and not list((tmp_path / "runs").glob("*.jsonl"))
    # a limit per call overrides the constructor's; one above the estimate runs
    results = orch.run_parallel([review(1)], max_cost_usd=100)
    assert results[0].ok and fake.calls["sessions_spawn"] == 1


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "2", True])
def test_a_bad_max_cost_is_a_typed_error(bad, config):
    with pytest.raises(InputError) as caught:
        RealAIParallelOrchestrator(config=config, max_cost_usd=bad)
    assert caught.value.problems[0].field == "max_cost_usd"


# -- the CLI ----------------------------------------------------------------------------------------

def test_run_estimate_spawns_nothing_and_prints_json(cli, pa_home):
    code, out, err = cli("run", "--tasks", TASKS, "--simulate", "--estimate", "--json")
    assert code == 0, err
    data = json.loads(out)["estimate"]
    assert [t["task_id"] for t in data["tasks"]] == ["api", "backend", "review"]
    assert set(data["total_usd"]) == {"low", "expected", "high"}
    assert not list(pa_home.glob("runs/*.jsonl"))


def test_run_estimate_table_for_people(cli):
    code, out, err = cli("run", "--tasks", TASKS, "--estimate")
    assert code == 0, err
    assert "TASK" in out and "backend" in out and "TIER" in out
    assert "total: expected $" in out and "nothing was spawned" in out
    assert "no earlier runs in your journals" in out


def test_run_max_cost_refuses_with_exit_2_and_the_estimate(cli, pa_home):
    code, out, err = cli("run", "--tasks", TASKS, "--simulate", "--max-cost", "0.000001")
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("error: --max-cost: expected cost $") and "range $" in line
    assert not list(pa_home.glob("runs/*.jsonl"))

    code, out, _ = cli("run", "--tasks", TASKS, "--simulate", "--max-cost", "0.000001", "--json")
    body = json.loads(out)
    assert code == 2 and body["error"] == "CostLimitExceeded"
    assert body["estimate"]["total_usd"]["expected"] > body["max_cost_usd"]


def test_an_estimate_needs_no_runtime_not_even_attached(cli):
    code, out, err = cli("run", "--tasks", TASKS, "--attach", "--estimate", "--json")
    assert code == 0, err
    assert json.loads(out)["estimate"]["tasks"]


def test_run_under_max_cost_runs_and_says_the_estimate(cli):
    code, out, err = cli("run", "--tasks", TASKS, "--simulate", "--max-cost", "50")
    assert code == 0, err
    assert "estimate: expected $" in err and "within --max-cost $50" in err
    assert "3 completed" in out


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_bad_max_cost_is_one_line(cli, value):
    code, out, err = cli("run", "--tasks", TASKS, "--max-cost", value)
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert "--max-cost" in line


def test_plan_estimate_makes_no_plan(cli, pa_home):
    code, out, err = cli("plan", "--tasks", TASKS, "--estimate", "--json")
    assert code == 0, err
    assert json.loads(out)["estimate"]["total_usd"]["expected"] > 0
    assert not list(pa_home.glob("runs/*.jsonl"))


def test_plan_max_cost_refuses_or_tells_the_host(cli, pa_home):
    code, _, err = cli("plan", "--tasks", TASKS, "--max-cost", "0.000001")
    assert code == 2 and "over the limit" in err
    assert not list(pa_home.glob("runs/*.jsonl"))

    code, out, err = cli("plan", "--tasks", TASKS, "--max-cost", "50", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["estimate"]["total_usd"]["expected"] <= 50 and body["spawn"]
    assert any(n.startswith("estimate: expected $") for n in body["notes"])


def test_goal_estimate_covers_the_planner_and_synthesis_and_says_what_it_leaves_out(cli):
    code, out, err = cli("run", "--goal", "Write a launch post", "--estimate", "--json")
    assert code == 0, err
    data = json.loads(out)["estimate"]
    assert [t["task_id"] for t in data["tasks"]] == ["plan", "synthesis"]
    assert any("plan's own tasks" in n for n in data["notes"])


def test_team_and_refine_estimates(cli):
    code, out, err = cli("run", "--team", "content", "--topic", "Mondays", "--estimate", "--json")
    assert code == 0, err
    assert len(json.loads(out)["estimate"]["tasks"]) == 5

    code, out, err = cli("refine", REVIEWER, "--max-rounds", "3", "--estimate", "--json")
    assert code == 0, err
    tasks = {t["task_id"]: t for t in json.loads(out)["estimate"]["tasks"]}
    assert f"{REVIEWER}-review-1" in tasks and "probability" not in tasks[f"{REVIEWER}-review-1"]
    assert tasks[f"{REVIEWER}-refine-2"]["probability"] == 0.5
    assert tasks[f"{REVIEWER}-review-3"]["probability"] == 0.25

    code, _, err = cli("refine", REVIEWER, "--max-cost", "0.000001", "--simulate")
    assert code == 2 and "over the limit" in err


# -- the benchmark ------------------------------------------------------------------------------------

def test_estimate_bench_at_a_small_n(tmp_path, monkeypatch):
    monkeypatch.setenv("PARALLEL_AGENTS_HOME", str(tmp_path / "home"))
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import estimate_bench
        import run as bench_run
    finally:
        sys.path.remove(str(REPO / "bench"))
    result = estimate_bench.measure(30)
    rows = {r["estimate"]: r for r in result["rows"]}
    assert rows["no history"]["history_runs"] == 0 and rows["learnt"]["history_runs"] == 1
    learnt = rows["learnt"]
    assert learnt["low_usd"] <= learnt["actual_usd"] <= learnt["high_usd"]
    assert learnt["inside"] <= learnt["n"] == 30
    assert [g.split(":")[-1].strip() in ("met", "MISSED") for g in estimate_bench.goals(result)] == [True, True]
    text = bench_run.render_markdown({"estimate": result}, bench_run.machine(), "cmd", "today", None)
    assert "## Estimate against actual" in text and "| learnt | 1 |" in text


# -- map groups (for_each) ------------------------------------------------------------------------

def files(*sizes: int) -> list[str]:
    return [f"f{i}.py:" + "x" * size for i, size in enumerate(sizes)]


def test_a_written_list_is_estimated_as_the_item_tasks_a_run_builds(config):
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.engine.mapping import item_tasks, map_task
    registry = load_registry()
    group = map_task(REVIEWER, "Review this file", files(10, 4000, 10), as_="file", id="review")
    est = estimate_tasks([group], registry=registry, config=config)

    rows = {t.task_id: t for t in est.tasks}
    assert [t.task_id for t in est.tasks] == ["review", "review[0]", "review[1]", "review[2]"]
    g = rows["review"]
    assert g.group and g.items == 3 and g.usd == Range(0, 0, 0) and not g.per_tier
    row = est.to_dict()["tasks"][0]
    assert row["group"] is True and row["items"] == 3 and row["usd"]["high"] == 0
    definition = registry.get(REVIEWER)
    for item in item_tasks(group, group.for_each["items"]):   # the element under `as`
        tokens_in, _ = per_attempt(rows[item.task_id])
        assert tokens_in == pytest.approx(prompt_tokens(definition, item, "json"))
    assert per_attempt(rows["review[1]"])[0] > per_attempt(rows["review[0]"])[0] + 900
    assert est.task_count == 3 and "for 3 task(s)" in est.summary()
    items_total = rows["review[0]"].usd + rows["review[1]"].usd + rows["review[2]"].usd
    assert est.total_usd.expected == pytest.approx(items_total.expected)
    assert est.total_usd.high == pytest.approx(items_total.high)


def test_a_task_depending_on_a_group_gets_its_items_replies_as_input(config):
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.engine.mapping import map_task
    registry = load_registry()
    group = map_task(REVIEWER, "Review this file", files(10, 10, 10, 10), as_="file", id="review")
    summary = AgentTask(REVIEWER, "Sum the reviews up", task_id="summary", depends_on=["review"])
    rows = {t.task_id: t for t in estimate_tasks([group, summary], registry=registry,
                                                  config=config).tasks}

    replies = sum(rows[f"review[{i}]"].output_tokens_one.expected for i in range(4))
    assert rows["review"].output_tokens_one.expected == pytest.approx(replies)
    alone = prompt_tokens(registry.get(REVIEWER), summary, "json")
    assert per_attempt(rows["summary"])[0] == pytest.approx(alone + replies, rel=0.01)


def test_a_list_from_another_task_is_left_out_and_the_gate_says_so(config):
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.engine.estimate import check_max_cost
    registry = load_registry()
    tasks = [review(1),
             AgentTask(REVIEWER, "Review this file", task_id="each",
                       for_each={"from": "r1", "path": "files", "as": "file"}),
             AgentTask(REVIEWER, "Sum the reviews up", task_id="summary", depends_on=["each"])]
    est = estimate_tasks(tasks, registry=registry, config=config)
    rows = {t.task_id: t for t in est.tasks}

    assert [t.task_id for t in est.tasks] == ["r1", "each", "summary"]
    each = rows["each"]
    assert each.group and each.items is None and each.usd == Range(0, 0, 0)
    assert each.output_tokens_one == Range(0, 0, 0)            # nothing of its items counted
    assert per_attempt(rows["summary"])[0] == pytest.approx(
        prompt_tokens(registry.get(REVIEWER), tasks[2], "json"))
    assert est.total_usd == rows["r1"].usd + rows["summary"].usd
    data = est.to_dict()
    assert data["unknown_groups"] == ["each"] and data["tasks"][1]["items"] is None
    [note] = [n for n in est.notes if "each" in n]
    assert "known only during the run" in note and "at most 1000" in note
    assert "not included" in est.summary() and "each" in est.summary()
    with pytest.raises(CostLimitExceeded) as caught:
        check_max_cost(est, 0.000001)
    assert "not included: the items of group(s) each" in str(caught.value)


def test_map_estimate_through_the_cli(cli):
    code, out, err = cli("run", "--tasks", REPO / "examples" / "map.yaml", "--estimate", "--json")
    assert code == 0, err
    data = json.loads(out)["estimate"]
    assert [t["task_id"] for t in data["tasks"]] == ["build", "review", "audit", "audit[0]",
                                                     "audit[1]", "audit[2]", "summary"]
    assert data["unknown_groups"] == ["review"]

    code, out, err = cli("run", "--tasks", REPO / "examples" / "map.yaml", "--max-cost", "0.000001")
    assert code == 2 and "not included: the items of group(s) review" in err


# -- reuse ------------------------------------------------------------------------------------------

def test_with_reuse_kept_results_cost_nothing_and_match_what_the_run_reuses(tmp_path, config):
    first, _ = orch_for(tmp_path, config)
    chain = AgentTask(REVIEWER, sim("Review r1's review.", reply=valid_output(REVIEWER, 5)),
                      task_id="after", depends_on=["r1"])
    first.run_parallel([review(1), review(2), chain])

    tasks = [review(1), review(2, reply=valid_output(REVIEWER, 7)), review(3), chain]
    priced = orch_for(tmp_path, config)[0].estimate(tasks)       # no reuse: every task priced
    assert priced.reused == 0 and all(t.usd.expected > 0 for t in priced.tasks)

    orch, fake = orch_for(tmp_path, config, reuse=True)
    est = orch.estimate(tasks)
    rows = {t.task_id: t for t in est.tasks}
    # r1 is the same; so is `after`, whose upstream (r1) would be reused: its prompt is known
    assert {t.task_id for t in est.tasks if t.reused} == {"r1", "after"}
    assert rows["r1"].usd == Range(0, 0, 0) and rows["after"].usd == Range(0, 0, 0)
    assert rows["r2"].usd.expected > 0 and rows["r3"].usd.expected > 0   # changed, new
    data = est.to_dict()
    assert data["reused"] == 2 and "2 reused" in est.summary()
    assert {t["task_id"] for t in data["tasks"] if t.get("reused")} == {"r1", "after"}
    assert est.total_usd.expected == pytest.approx(rows["r2"].usd.expected + rows["r3"].usd.expected)
    assert fake.calls["sessions_spawn"] == 0

    results = orch.run_parallel(tasks)                          # the run agrees
    assert {r.task_id for r in results if r.reused} == {"r1", "after"}


def test_reuse_prices_tasks_whose_upstream_is_not_known_and_a_rejected_entry(tmp_path, config):
    first, _ = orch_for(tmp_path, config)
    after = AgentTask(REVIEWER, sim("Review r1's review.", reply=valid_output(REVIEWER, 5)),
                      task_id="after", depends_on=["r1"])
    first.run_parallel([review(1), after])

    changed = [review(1, reply=valid_output(REVIEWER, 9)), after]   # r1 changed: after unknown
    est = orch_for(tmp_path, config, reuse=True)[0].estimate(changed)
    assert est.reused == 0 and all(t.usd.expected > 0 for t in est.tasks)
    assert any(n.startswith("reuse: 1 task(s)") for n in est.notes)

    gated = orch_for(tmp_path, config, reuse=True, quality_gate=lambda task, value: "not today")[0]
    assert gated.estimate([review(1)]).reused == 0             # the run would not take it either


def test_a_written_lists_items_are_reused_one_by_one(tmp_path, config):
    from parallel_agents.engine.mapping import map_task
    orch, _ = orch_for(tmp_path, config, reuse=True)
    spec = sim("Review this file", reply=valid_output(REVIEWER, 1))
    orch.run_parallel([map_task(REVIEWER, spec, ["a.py", "b.py"], as_="file", id="review")])

    est = orch.estimate([map_task(REVIEWER, spec, ["a.py", "b.py", "c.py"], as_="file",
                                  id="review")])
    assert [t.task_id for t in est.tasks if t.reused] == ["review[0]", "review[1]"]
    assert est.total_usd == {t.task_id: t for t in est.tasks}["review[2]"].usd


def test_run_reuse_estimate_through_the_cli(cli):
    code, out, err = cli("run", "--tasks", TASKS, "--simulate")
    assert code == 0, err
    code, out, err = cli("run", "--tasks", TASKS, "--reuse", "--estimate", "--json")
    assert code == 0, err
    data = json.loads(out)["estimate"]
    assert data["reused"] == 3 and data["total_usd"] == {"low": 0, "expected": 0, "high": 0}
    assert all(t["reused"] for t in data["tasks"])
    code, out, err = cli("run", "--tasks", TASKS, "--estimate")
    assert code == 0 and "reused" not in out                    # without --reuse: priced

    code, out, err = cli("run", "--tasks", TASKS, "--reuse", "--estimate")
    assert code == 0, err
    assert "for 3 task(s) (3 reused, at $0)" in out

    code, out, err = cli("plan", "--tasks", TASKS, "--reuse", "--estimate", "--json")
    assert code == 0, err
    assert json.loads(out)["estimate"]["reused"] == 3          # host mode: the same store
