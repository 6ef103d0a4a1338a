"""Reuse finished work (parallel_agents/engine/reuse.py): completed results are kept in the user folder in
every run, and a run with `reuse` (`run --reuse`) finishes a task from there instead of spawning it
when its agent definition, prompt (task text, input, upstream outputs), output format and starting
tier are the same. Never a failed or invalid result; an entry expires, the store has a size cap,
and `runs --forget` empties it.

The engine runs against FakeOpenClaw (children scripted with `SIM {json}` lines, see test_engine);
spawns are counted from the runtime's calls.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import pytest

from parallel_agents.definitions.registry import load_registry
from parallel_agents.core.config import Config
from parallel_agents.core.errors import RunAborted, ToolError
from parallel_agents.engine.journal import read_records
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.engine.reuse import ReuseStore, reuse_dir, reuse_key
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.engine.tasks import AgentResult, AgentTask

from test_engine import (FAST, REVIEWER, WRITER, FailingCaller, Recorder, new_fake, new_orch, sim,
                         valid_output)


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def spawns(orch) -> int:
    return orch.last_run.runtime_calls.get("sessions_spawn", 0)


def kept() -> int:
    """Entries in the store."""
    return ReuseStore().stats().entries


def writer_tasks(n: int = 3, *, text: str = "Write a post.") -> list[AgentTask]:
    return [AgentTask(WRITER, sim(text, reply=valid_output(WRITER, seed=i)), {"topic": f"t{i}"},
                      task_id=f"w{i}") for i in range(n)]


def run(tasks, config, tmp_path, *, reuse=False, registry=None, recorder=None, **kwargs):
    orch = new_orch(new_fake(recorder), config, tmp_path, reuse=reuse, registry=registry, **kwargs)
    results = orch.run_parallel(tasks)
    return orch, results


# -- hits -----------------------------------------------------------------------------------------

def test_a_rerun_with_reuse_spawns_nothing_and_says_reused_at_no_cost(fast_config, tmp_path):
    first, before = run(writer_tasks(), fast_config, tmp_path)
    assert spawns(first) == 3 and all(r.ok and not r.reused for r in before)
    assert kept() == 3   # kept by a run made without --reuse

    events = []
    second, after = run(writer_tasks(), fast_config, tmp_path, reuse=True, on_event=events.append)
    assert spawns(second) == 0
    for old, new in zip(before, after):
        assert new.status == "completed" and new.reused is True
        assert new.output == old.output
        assert new.attempts == [] and new.cost_usd == 0 and new.usage == {"input_tokens": 0,
                                                                           "output_tokens": 0}
        assert new.tier == old.tier and new.model_used == old.model_used
    done = [e for e in events if e.kind == "completed"]
    assert len(done) == 3 and all(f"reused from run {first.last_run.run_id}" in e.message for e in done)
    assert second.last_run.to_dict()["reused"] == 3
    assert second.last_run.to_dict()["results"][0]["reused"] is True


def test_without_reuse_a_rerun_spawns_everything(fast_config, tmp_path):
    run(writer_tasks(), fast_config, tmp_path)
    second, after = run(writer_tasks(), fast_config, tmp_path)
    assert spawns(second) == 3 and not any(r.reused for r in after)


def test_one_changed_task_is_the_only_spawn(fast_config, tmp_path):
    run(writer_tasks(5), fast_config, tmp_path)
    tasks = writer_tasks(5)
    tasks[2] = dataclasses.replace(tasks[2], input_data={"topic": "something else"})
    second, after = run(tasks, fast_config, tmp_path, reuse=True)
    assert spawns(second) == 1
    assert [r.reused for r in after] == [True, True, False, True, True]


# -- misses on each part of the key ----------------------------------------------------------------

class EditedRegistry:
    """The shipped registry with one definition changed."""

    def __init__(self, name, **changes):
        self.base, self.name, self.changes = load_registry(), name, changes

    def get(self, name):
        d = self.base.get(name)
        return dataclasses.replace(d, **self.changes) if d.name == self.name else d


def test_an_edited_definition_misses(fast_config, tmp_path):
    run(writer_tasks(1), fast_config, tmp_path)
    d = load_registry().get(WRITER)
    edited = EditedRegistry(WRITER, description=d.description + " Edited.")  # not in the prompt
    second, after = run(writer_tasks(1), fast_config, tmp_path, reuse=True, registry=edited)
    assert spawns(second) == 1 and not after[0].reused


def test_a_changed_input_or_task_text_misses(fast_config, tmp_path):
    run(writer_tasks(2), fast_config, tmp_path)
    tasks = writer_tasks(2, text="Write a longer post.")
    second, after = run(tasks, fast_config, tmp_path, reuse=True)
    assert spawns(second) == 2 and not any(r.reused for r in after)


def test_another_output_format_misses(fast_config, tmp_path):
    text = lambda fmt: [AgentTask(WRITER, sim("Write.", reply="A post."), output_format=fmt,  # noqa: E731
                                  task_id="w")]
    run(text("markdown"), fast_config, tmp_path)
    second, after = run(text("text"), fast_config, tmp_path, reuse=True)
    assert spawns(second) == 1 and not after[0].reused
    third, after = run(text("markdown"), fast_config, tmp_path, reuse=True)
    assert spawns(third) == 0 and after[0].reused and after[0].output == "A post."


def test_another_starting_tier_or_its_model_misses(fast_config, tmp_path):
    run(writer_tasks(1), fast_config, tmp_path)
    task = dataclasses.replace(writer_tasks(1)[0], tier="strongest")
    second, after = run([task], fast_config, tmp_path, reuse=True)
    assert spawns(second) == 1 and not after[0].reused
    tiers = [dict(t, model="anthropic/claude-opus-4-5") if t["name"] == "fast" else t
             for t in fast_config.data["tiers"]]
    other_model = Config({**fast_config.data, "tiers": tiers})
    third, after = run(writer_tasks(1), other_model, tmp_path, reuse=True)
    assert spawns(third) == 1 and not after[0].reused


def test_the_key_covers_definition_prompt_format_tier_and_model():
    d = load_registry().get(WRITER)
    tier = fast = type("T", (), {"name": "fast", "model": FAST})()
    base = reuse_key(d, "prompt", "json", tier)
    assert base == reuse_key(dataclasses.replace(d, source="elsewhere"), "prompt", "json", fast)
    other_tier = type("T", (), {"name": "balanced", "model": FAST})()
    other_model = type("T", (), {"name": "fast", "model": "x/y"})()
    assert len({base, reuse_key(dataclasses.replace(d, system_prompt="other"), "prompt", "json", tier),
                reuse_key(d, "prompt!", "json", tier), reuse_key(d, "prompt", "text", tier),
                reuse_key(d, "prompt", "json", other_tier),
                reuse_key(d, "prompt", "json", other_model)}) == 6


# -- never a failed or invalid result ---------------------------------------------------------------

def test_failed_invalid_and_rejected_results_are_never_kept(fast_config, tmp_path):
    tasks = [AgentTask(WRITER, sim("Fails.", fail="model down"), task_id="failed"),
             AgentTask(WRITER, sim("Invalid.", reply={"not": "the schema"}), task_id="invalid"),
             AgentTask(WRITER, sim("Rejected.", reply=valid_output(WRITER)), task_id="rejected"),
             AgentTask(WRITER, sim("Skipped."), task_id="skipped", depends_on=["failed"])]
    gate = lambda task, output: "not good enough" if task.task_id == "rejected" else True  # noqa: E731
    orch, results = run(tasks, fast_config, tmp_path, quality_gate=gate)
    assert [r.status for r in results] == ["failed", "failed", "failed", "skipped"]
    assert kept() == 0


def test_a_kept_result_invalid_under_the_current_schema_is_not_reused(fast_config, tmp_path):
    run(writer_tasks(1), fast_config, tmp_path)
    [path] = reuse_dir().glob("*.jsonl")
    entry = json.loads(path.read_text())
    entry["output"] = {"not": "the schema"}
    path.write_text(json.dumps(entry) + "\n")
    second, after = run(writer_tasks(1), fast_config, tmp_path, reuse=True)
    assert spawns(second) == 1 and not after[0].reused and after[0].ok


def test_a_kept_result_the_quality_gate_rejects_is_not_reused(fast_config, tmp_path):
    run(writer_tasks(1), fast_config, tmp_path)
    calls = []
    gate = lambda task, output: calls.append(task.task_id) or (len(calls) > 1)  # noqa: E731
    second, after = run(writer_tasks(1), fast_config, tmp_path, reuse=True, quality_gate=gate)
    assert spawns(second) == 1 and not after[0].reused and after[0].ok


def test_config_store_false_keeps_nothing(fast_config, tmp_path):
    config = Config({**fast_config.data, "reuse": {"store": False}})
    run(writer_tasks(2), config, tmp_path)
    assert kept() == 0


# -- dependents -------------------------------------------------------------------------------------

def test_dependents_of_a_reused_task_get_its_output_and_run(fast_config, tmp_path):
    def tasks(b_text):
        return [AgentTask(WRITER, sim("Draft.", reply=valid_output(WRITER, seed=3)), task_id="a"),
                AgentTask(REVIEWER, sim(b_text, reply=valid_output(REVIEWER)), task_id="b",
                          input_from={"draft": "a"})]
    _, before = run(tasks("Review the draft."), fast_config, tmp_path)
    second, after = run(tasks("Review the draft."), fast_config, tmp_path, reuse=True)
    assert spawns(second) == 0 and [r.reused for r in after] == [True, True]

    recorder = Recorder()
    third, after = run(tasks("Review the draft again."), fast_config, tmp_path, reuse=True,
                       recorder=recorder)
    assert spawns(third) == 1 and [r.reused for r in after] == [True, False] and after[1].ok
    [prompt] = recorder.prompts("b")
    assert json.dumps(before[0].output["posts"][0]["text"], ensure_ascii=False)[1:-1] in prompt


# -- resume ----------------------------------------------------------------------------------------

def test_resume_keeps_reused_results_and_goes_on_reusing(fast_config, tmp_path):
    run(writer_tasks(4), fast_config, tmp_path)
    tasks = writer_tasks(4) + [AgentTask(WRITER, sim("New.", reply=valid_output(WRITER)), task_id="new"),
                               AgentTask(WRITER, sim("Later.", reply=valid_output(WRITER)),
                                         task_id="later", depends_on=["new"])]
    fake = new_fake()
    fatal = ToolError("gateway gone", tool="sessions_spawn", fatal=True, fix="start it")
    orch = RealAIParallelOrchestrator(2, runtime=OpenClawRuntime(FailingCaller(fake, "sessions_spawn", 1, fatal)),
                                      config=fast_config, runs_folder=tmp_path / "runs", seed=1,
                                      reuse=True)
    with pytest.raises(RunAborted):
        orch.run_parallel(tasks, run_id="reuse-resume")
    records = read_records(tmp_path / "runs" / "reuse-resume.jsonl")
    assert records[0]["reuse"] is True
    assert {r["task_id"] for r in records if r["type"] == "reused"} == {"w0", "w1", "w2", "w3"}
    # meanwhile the kept results went away (resume keeps what the journal says) and another
    # run completed `new` (resume reuses it: the run was started with reuse)
    ReuseStore().clear()
    run(tasks[4:5], fast_config, tmp_path)
    resumed = RealAIParallelOrchestrator(2, runtime=OpenClawRuntime(new_fake()), config=fast_config,
                                         runs_folder=tmp_path / "runs", seed=1)   # no reuse= here
    results = resumed.resume("reuse-resume")
    assert [r.task_id for r in results if r.reused] == ["w0", "w1", "w2", "w3", "new"]
    assert all(r.ok for r in results)
    assert spawns(resumed) == 1   # later


def test_results_of_older_journals_load_without_the_reused_field():
    old = AgentResult("t", WRITER, status="completed", output={"x": 1}).to_dict()
    del old["reused"]
    assert AgentResult.from_dict(old).reused is False


# -- the store: expiry, size cap ----------------------------------------------------------------------

def put(store, key, output="x" * 100):
    return store.put(key, output=output, agent_type=WRITER, output_format="text", tier="fast",
                     model=FAST, run_id="r1", task_id="t")


def key_of(i: int) -> str:
    return f"{i:04x}" + "0" * 60


def test_an_entry_is_found_by_a_later_store_and_the_newest_of_a_key_wins(tmp_path):
    first = ReuseStore(tmp_path / "store")
    assert put(first, key_of(1), "old") and put(first, key_of(2), "two")
    first.close()
    second = ReuseStore(tmp_path / "store")
    assert put(second, key_of(1), "new")
    second.close()
    store = ReuseStore(tmp_path / "store")
    assert store.get(key_of(1))["output"] == "new" and store.get(key_of(2))["output"] == "two"
    assert store.get(key_of(3)) is None
    assert store.stats().entries == 3


def test_an_expired_entry_is_a_miss_and_its_segment_is_deleted(tmp_path):
    now = [time.time()]
    store = ReuseStore(tmp_path / "store", max_age_seconds=60, clock=lambda: now[0])
    assert put(store, key_of(1))
    store.close()
    assert ReuseStore(tmp_path / "store", max_age_seconds=60, clock=lambda: now[0]
                      ).get(key_of(1))["output"] == "x" * 100
    now[0] += 61
    assert ReuseStore(tmp_path / "store", max_age_seconds=60, clock=lambda: now[0]).get(key_of(1)) is None
    assert not list((tmp_path / "store").glob("*.jsonl"))


def test_past_the_size_cap_the_oldest_entries_go_first(tmp_path):
    probe = ReuseStore(tmp_path / "probe")
    put(probe, key_of(0), output="y" * 300)
    size = probe.stats().bytes                      # every entry below has this size
    cap = 20 * size                                 # segments roll every 2 entries
    for batch in range(5):                          # five runs of 8 entries, oldest first
        store = ReuseStore(tmp_path / "store", max_bytes=cap)
        for i in range(8):
            assert put(store, key_of(batch * 8 + i), output="y" * 300)
        store.close()
        stamp = time.time() - 1000 + batch      # earlier runs' segments are older
        for path in (tmp_path / "store").glob("*.jsonl"):
            if path.stat().st_mtime > stamp + 500:
                os.utime(path, (stamp, stamp))
    store = ReuseStore(tmp_path / "store", max_bytes=cap)
    assert store.stats().bytes <= cap
    found = [i for i in range(40) if store.get(key_of(i))]
    assert found == list(range(40 - len(found), 40)) and 14 <= len(found) <= 20


def test_an_entry_larger_than_a_segment_is_not_kept(tmp_path):
    store = ReuseStore(tmp_path / "store", max_bytes=2000)
    assert not put(store, key_of(1), output="z" * 500)
    assert store.stats().entries == 0


def test_a_damaged_or_torn_line_is_a_miss_and_the_others_are_found(tmp_path):
    store = ReuseStore(tmp_path / "store")
    put(store, key_of(1))
    put(store, key_of(2))
    store.close()
    [path] = (tmp_path / "store").glob("*.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0][:60] + b"\n" + lines[1] + lines[0][:150])   # damaged, whole, torn
    store = ReuseStore(tmp_path / "store")
    assert store.get(key_of(1)) is None and store.get(key_of(2))["output"] == "x" * 100


# -- CLI: run --reuse, runs --forget ------------------------------------------------------------------

def test_cli_run_reuse_and_runs_forget(cli, tmp_path):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("tasks:\n"
                     "  - {id: a, agent: code_reviewer, task: Review it., input: {code: 'x = 1'}}\n"
                     "  - {id: b, agent: code_reviewer, task: Review it., input: {code: 'y = 2'}}\n")
    code, out, err = cli("run", "--tasks", tasks, "--simulate", "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["reused"] == 0 and first["runtime_calls"]["sessions_spawn"] >= 2

    code, out, err = cli("run", "--tasks", tasks, "--simulate", "--reuse", "--json")
    assert code == 0, err
    second = json.loads(out)
    assert second["reused"] == 2 and second["cost_usd"] == 0
    assert "sessions_spawn" not in second["runtime_calls"]
    assert [r["reused"] for r in second["results"]] == [True, True]

    code, out, err = cli("run", "--tasks", tasks, "--simulate", "--reuse")
    assert code == 0 and "[reused]" in out and "(2 reused)" in out

    code, out, err = cli("runs", "--forget", "--json")
    assert code == 0
    forgotten = json.loads(out)["forgotten"]
    assert forgotten["entries"] == 2 and forgotten["bytes"] > 0
    assert kept() == 0 and not list(reuse_dir().iterdir())
    code, out, _ = cli("runs", "--forget")
    assert code == 0 and out.startswith("forgot 0 kept result(s), 0 bytes")

    code, out, err = cli("run", "--tasks", tasks, "--simulate", "--reuse", "--json")
    assert code == 0 and json.loads(out)["reused"] == 0


def test_cli_runs_forget_with_a_run_id_is_a_one_line_error(cli):
    code, out, err = cli("runs", "some-run", "--forget")
    assert code == 2 and "--forget" in err and "Traceback" not in err


# -- the bench still runs (no timing asserted) --------------------------------------------------------

def test_reuse_bench_reruns_after_one_changed_task_with_one_spawn():
    import sys
    from pathlib import Path
    bench = str(Path(__file__).resolve().parent.parent / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import reuse_bench
    result = reuse_bench.measure(20)
    spawned = {r["step"]: r["spawns"] for r in result["rows"]}
    assert spawned == {"first": 20, "same": 0, "one": 1, "upstream": 2}
    assert result["goals"][0].endswith(": met")
