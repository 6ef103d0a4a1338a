"""Map over inputs (for_each, parallel_agents/engine/mapping.py): a group task becomes one task per item
of a list - static, or taken from an upstream task's output when it completes - its dependents
get the list of the items' outputs in order, and the items run in the same bounded window,
journaled so resume and host-mode check never expand a group twice."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from parallel_agents.definitions.registry import load_registry
from parallel_agents.core.errors import InputError, RunAborted, ToolError
from parallel_agents.simulation.directives import Reply
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.engine.journal import read_records
from parallel_agents.engine.mapping import SpecError, map_task, parse_path
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.engine.taskfile import load_tasks
from parallel_agents.engine.tasks import AgentTask

from test_engine import MODELS, FailingCaller, valid_output  # noqa: E402
from test_hostmode import Host, _as_child_sees, cli, settled_batch, sim  # noqa: E402

LISTER_SCHEMA = {"type": "object", "required": ["files"], "additionalProperties": False,
                 "properties": {"files": {"type": "array", "items": {"type": "string"}}}}


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


@pytest.fixture
def lister(overlay_dir, write_definition):
    """An agent `file_lister` whose output is {"files": [names]}."""
    write_definition(overlay_dir, "file_lister", output_format="json", output_schema=LISTER_SCHEMA)
    return load_registry(reload=True)


class Children:
    """Plays the children: the lister lists FILES; a reviewer answers for the file in its
    prompt (its summary names it), fails for a file named in `failing`."""

    def __init__(self, files=("a.py", "b.py", "c.py"), failing=(), latency=0.01):
        self.files, self.failing, self.latency = list(files), set(failing), latency
        self.prompts: dict[str, str] = {}

    def __call__(self, view):
        task_id = view.label.split("#")[0]
        self.prompts[task_id] = view.task
        if task_id == "find":
            return Reply(text=json.dumps({"files": self.files}), latency_s=self.latency)
        if task_id == "summary":
            return Reply(text="All reviewed.", latency_s=self.latency)
        name = next((f for f in sorted(self.files, key=len, reverse=True) if f in view.task), "?")
        if name in self.failing:
            return Reply(fail=f"could not review {name}", latency_s=self.latency)
        return Reply(text=json.dumps(reviewed(name)), latency_s=self.latency)


def reviewed(name: str) -> dict:
    return {**valid_output("code_reviewer"), "summary": f"reviewed {name}"}


def orchestrator(fake, config, tmp_path, max_concurrent=4, **kwargs):
    return RealAIParallelOrchestrator(max_concurrent, runtime=OpenClawRuntime(fake), config=config,
                                      runs_folder=tmp_path / "runs", seed=1, **kwargs)


def dynamic_tasks(**review_fields) -> list[AgentTask]:
    return [AgentTask("file_lister", "List the files", task_id="find", tier="strongest"),
            map_task("code_reviewer", "Review this file", {"from": "find", "path": "files"},
                     as_="file", id="review", tier="strongest", **review_fields),
            AgentTask("documentation_writer", "Summarise the reviews", task_id="summary",
                      input_from={"reviews": "review"}, tier="strongest")]


# -- task files -----------------------------------------------------------------------------------

def test_task_file_for_each_and_as_become_the_spec(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text("- {id: find, agent: file_lister, task: List}\n"
                    "- id: review\n  agent: code_reviewer\n  task: Review it\n"
                    "  for_each: {from: find, path: 'files[0].name'}\n  as: file\n  max_items: 5\n"
                    "- {id: each, agent: code_reviewer, task: Review, for_each: [x, y]}\n")
    find, review, each = load_tasks(path)
    assert review.for_each == {"from": "find", "path": "files[0].name", "as": "file", "max_items": 5}
    assert review.depends_on == ["find"]                       # the source is a dependency
    assert each.for_each == {"items": ["x", "y"]}


@pytest.mark.parametrize("body, line, field, says", [
    ("  for_each: 3\n", 5, "tasks[1].for_each", "must be a list or a mapping, not int"),
    ("  for_each: {from: nope}\n", 5, "tasks[1].for_each", "unknown task 'nope'"),
    ("  for_each: {from: find, path: 'a..b'}\n", 5, "tasks[1].for_each", "cannot be read at character 2"),
    ("  input: {file: x}\n  for_each: [1]\n  as: file\n", 7, "tasks[1].as", "already a key of the task's input"),
    ("  as: file\n", 5, "tasks[1].as", "'as' goes with for_each"),
    ("  for_each: {items: [1], from: find}\n", 5, "tasks[1].for_each", "not both"),
])
def test_task_file_for_each_mistakes_are_located(tmp_path, body, line, field, says):
    path = tmp_path / "tasks.yaml"
    path.write_text("- {id: find, agent: file_lister, task: List}\n"
                    "- id: review\n  agent: code_reviewer\n  task: Review it\n".replace(
                        "task: Review it\n", "task: Review it\n" + body, 1))
    with pytest.raises(InputError) as info:
        load_tasks(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (line, field) and says in problem.message, problem
    assert problem.fix


def test_paths_are_keys_and_indexes():
    assert parse_path("plan.tasks[0].files") == ["plan", "tasks", 0, "files"]
    assert parse_path("[2]") == [2]
    for bad in ("", ".a", "a.", "a[x]", "a[0]b", "a..b"):
        with pytest.raises(SpecError):
            parse_path(bad)


# -- the engine -----------------------------------------------------------------------------------

def test_static_list_runs_one_task_per_item_and_the_dependent_gets_the_list(fast_config, tmp_path):
    children = Children()
    fake = FakeOpenClaw(children, models=MODELS)
    tasks = [map_task("code_reviewer", "Review this file", ["a.py", "b.py", "c.py"], as_="file",
                      id="review", tier="strongest"),
             AgentTask("documentation_writer", "Summarise the reviews", task_id="summary",
                       depends_on=["review"], tier="strongest")]
    results = orchestrator(fake, fast_config, tmp_path).run_parallel(tasks)
    assert [r.task_id for r in results] == ["review", "review[0]", "review[1]", "review[2]", "summary"]
    assert all(r.status == "completed" for r in results)
    assert results[0].output == [reviewed("a.py"), reviewed("b.py"), reviewed("c.py")]
    assert results[0].attempts == [] and results[0].cost_usd == 0        # never spawned itself
    assert '"file": "b.py"' in children.prompts["review[1]"]
    summary = children.prompts["summary"]                                  # the list, in order
    assert summary.index("reviewed a.py") < summary.index("reviewed b.py") < summary.index("reviewed c.py")
    assert Counter(r["label"].split("#")[0] for r in fake.runs()) == Counter(
        ["review[0]", "review[1]", "review[2]", "summary"])


def test_dynamic_list_expands_when_its_source_completes(fast_config, tmp_path, lister):
    children = Children(files=["x.py", "y.py"])
    fake = FakeOpenClaw(children, models=MODELS)
    orch = orchestrator(fake, fast_config, tmp_path, registry=lister)
    results = orch.run_parallel(dynamic_tasks())
    by_id = {r.task_id: r for r in results}
    assert [r.task_id for r in results] == ["find", "review", "review[0]", "review[1]", "summary"]
    assert by_id["review"].output == [reviewed("x.py"), reviewed("y.py")]
    assert '"file": "y.py"' in children.prompts["review[1]"]
    assert '"files"' not in children.prompts["review[0]"]      # the item, not the source's output
    assert "reviewed x.py" in children.prompts["summary"] and "reviewed y.py" in children.prompts["summary"]
    records = read_records(tmp_path / "runs" / f"{orch.last_run.run_id}.jsonl")
    kinds = [(r["type"], r.get("task_id")) for r in records]
    expanded = kinds.index(("group_expanded", "review"))
    assert kinds.index(("spawn_intent", "review[0]")) > expanded    # journaled before any spawn
    (record,) = [r for r in records if r["type"] == "group_expanded"]
    assert [t["input_data"] for t in record["items"]] == [{"file": "x.py"}, {"file": "y.py"}]


def test_an_item_failure_fails_the_group_and_skips_its_dependents(fast_config, tmp_path, lister):
    children = Children(failing={"b.py"})
    fake = FakeOpenClaw(children, models=MODELS)
    results = orchestrator(fake, fast_config, tmp_path, registry=lister).run_parallel(dynamic_tasks())
    by_id = {r.task_id: r for r in results}
    assert by_id["review[1]"].status == "failed"
    assert by_id["review[0]"].ok and by_id["review[2]"].ok            # every item runs to the end
    assert by_id["review"].status == "failed"
    assert by_id["review"].error.startswith("item review[1] failed: ")
    assert (by_id["summary"].status, by_id["summary"].error) == ("skipped", "dependency review failed")
    assert "summary" not in children.prompts


def test_an_empty_list_completes_the_group_with_an_empty_list(fast_config, tmp_path, lister):
    fake = FakeOpenClaw(Children(files=[]), models=MODELS)
    results = orchestrator(fake, fast_config, tmp_path, registry=lister).run_parallel(dynamic_tasks())
    by_id = {r.task_id: r for r in results}
    assert (by_id["review"].status, by_id["review"].output) == ("completed", [])
    assert by_id["summary"].ok and [r.task_id for r in results] == ["find", "review", "summary"]


def test_a_dynamic_list_past_the_cap_fails_its_group(fast_config, tmp_path, lister):
    children = Children(files=[f"f{i}.py" for i in range(4)])
    fake = FakeOpenClaw(children, models=MODELS)
    results = orchestrator(fake, fast_config, tmp_path, registry=lister).run_parallel(
        dynamic_tasks(max_items=3))
    by_id = {r.task_id: r for r in results}
    assert by_id["review"].status == "failed"
    assert "has 4 items, over the cap of 3" in by_id["review"].error
    assert by_id["summary"].status == "skipped"
    assert set(children.prompts) == {"find"}                     # no item spawned


def test_a_path_that_is_not_in_the_output_fails_its_group(fast_config, tmp_path, lister):
    fake = FakeOpenClaw(Children(), models=MODELS)
    tasks = dynamic_tasks()
    tasks[1] = map_task("code_reviewer", "Review", {"from": "find", "path": "files[0].name"},
                        id="review")
    results = orchestrator(fake, fast_config, tmp_path, registry=lister).run_parallel(tasks)
    review = next(r for r in results if r.task_id == "review")
    assert review.status == "failed"
    assert review.error == "for_each: the output of find.files[0] has no key 'name' (it is text)"


def test_a_static_list_past_the_cap_is_refused_before_anything_spawns(fast_config, tmp_path):
    from parallel_agents.core.config import Config
    config = Config({**fast_config.data, "max_map_items": 2})
    fake = FakeOpenClaw(Children(), models=MODELS)
    task = map_task("code_reviewer", "Review", ["a", "b", "c"], id="review")
    with pytest.raises(InputError) as info:
        orchestrator(fake, config, tmp_path).run_parallel([task])
    (problem,) = info.value.problems
    assert problem.field == "for_each" and "3 items, over the cap of 2" in problem.message
    assert fake.runs() == [] and not (tmp_path / "runs").exists()


def test_depending_on_an_item_says_to_depend_on_the_group(fast_config, tmp_path):
    fake = FakeOpenClaw(Children(), models=MODELS)
    tasks = [map_task("code_reviewer", "Review", ["a"], id="review"),
             AgentTask("code_reviewer", "More", task_id="more", depends_on=["review[0]"])]
    with pytest.raises(InputError) as info:
        orchestrator(fake, fast_config, tmp_path).run_parallel(tasks)
    assert "depend on the group 'review'" in info.value.problems[0].fix


def test_the_window_bounds_the_items(fast_config, tmp_path):
    files = [f"file{i:02}.py" for i in range(50)]
    fake = FakeOpenClaw(Children(files=files, latency=0.005), models=MODELS, max_children=20)
    orch = orchestrator(fake, fast_config, tmp_path, max_concurrent=3)
    results = orch.run_parallel([map_task("code_reviewer", "Review this file", files, as_="file",
                                          id="review", tier="strongest")])
    assert len(results) == 51 and all(r.ok for r in results)
    assert orch.last_run.peak_in_flight <= 3
    assert fake.peak_active_children <= 3
    assert results[0].output == [reviewed(f) for f in files]


def test_resume_after_a_crash_after_the_expansion_never_expands_again(fast_config, tmp_path, lister):
    """The run stops (a fatal tool error) on an item's spawn, after the group's items were
    journaled and another item was accepted: resume rebuilds the items from the journal,
    re-attaches the first, spawns the rest once, and never writes a second expansion."""
    children = Children(latency=0.2)
    fake = FakeOpenClaw(children, models=MODELS)
    fatal = ToolError("gateway not reachable", tool="sessions_spawn", fatal=True, fix="start it")
    caller = FailingCaller(fake, "sessions_spawn", 3, fatal)    # find, review[0], then this
    orch = orchestrator(caller, fast_config, tmp_path, max_concurrent=2, registry=lister)
    with pytest.raises(RunAborted):
        orch.run_parallel(dynamic_tasks())
    run_id = next(p.stem for p in (tmp_path / "runs").glob("*.jsonl"))
    before = read_records(tmp_path / "runs" / f"{run_id}.jsonl")
    assert [r["type"] for r in before].count("group_expanded") == 1
    accepted = [r["task_id"] for r in before if r["type"] == "spawn_accepted"]
    assert accepted[0] == "find" and accepted[1] in ("review[0]", "review[1]")   # live at the crash

    again = orchestrator(fake, fast_config, tmp_path, registry=lister)
    results = again.resume(run_id)
    by_id = {r.task_id: r for r in results}
    assert [r.task_id for r in results] == ["find", "review", "review[0]", "review[1]",
                                            "review[2]", "summary"]
    assert all(r.ok for r in results)
    assert by_id["review"].output == [reviewed("a.py"), reviewed("b.py"), reviewed("c.py")]
    after = read_records(tmp_path / "runs" / f"{run_id}.jsonl")
    assert [r["type"] for r in after].count("group_expanded") == 1
    spawned = Counter(r["label"].split("#")[0] for r in fake.runs())
    assert spawned == Counter(["find", "review[0]", "review[1]", "review[2]", "summary"])


def test_an_older_journals_task_has_no_for_each():
    old = {"agent_type": "code_reviewer", "task_description": "x", "input_data": {}, "task_id": "a",
           "timeout_seconds": 120, "output_format": None, "priority": 0, "depends_on": [],
           "tier": None, "input_from": {}}
    assert AgentTask.from_dict(old).for_each is None


# -- host mode --------------------------------------------------------------------------------------

def test_plan_lists_a_static_groups_items_as_ordinary_spawns(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text(json.dumps({"tasks": [
        {"id": "review", "agent": "code_reviewer", "task": "Review this file",
         "for_each": ["a.py", "b.py"], "as": "file"},
        {"id": "summary", "agent": "documentation_writer", "task": "Sum up",
         "depends_on": ["review"]}]}))
    rc, out, err = cli("plan", "--tasks", path, "--json")
    assert rc == 0, err
    answer = json.loads(out)
    assert [s["task_id"] for s in answer["spawn"]] == ["review[0]", "review[1]"]
    assert [(r["task_id"], r["status"]) for r in answer["results"]] == [
        ("review", "waiting"), ("review[0]", "spawned"), ("review[1]", "spawned"),
        ("summary", "waiting")]
    assert '"file": "b.py"' in _as_child_sees(answer["spawn"][1]["args"]["task"])


def test_check_expands_a_dynamic_group_once_and_releases_its_dependent(tmp_path, lister, pa_home):
    path = tmp_path / "tasks.yaml"
    review_reply = valid_output("code_reviewer")
    path.write_text(json.dumps({"tasks": [
        {"id": "find", "agent": "file_lister", "task": sim(reply={"files": ["a.py", "b.py"]})},
        {"id": "review", "agent": "code_reviewer", "task": "Review it\n" + sim(reply=review_reply),
         "for_each": {"from": "find", "path": "files"}, "as": "file"},
        {"id": "summary", "agent": "documentation_writer", "task": sim(reply="All good."),
         "input_from": {"reviews": "review"}}]}))
    host = Host()
    rc, out, err = cli("plan", "--tasks", path, "--json")
    plan = json.loads(out)
    assert [s["task_id"] for s in plan["spawn"]] == ["find"]
    host.spawn_all(plan["spawn"])
    settled = settled_batch(host.settle())
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--json", stdin=settled)
    first = json.loads(out)
    assert [(s["task_id"], s["new"]) for s in first["spawn"]] == [("review[0]", True), ("review[1]", True)]
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--json", stdin=settled)   # again
    second = json.loads(out)
    assert [(s["task_id"], s["new"]) for s in second["spawn"]] == [("review[0]", False), ("review[1]", False)]
    journal = pa_home / "runs" / f"{plan['plan_id']}.jsonl"
    assert [r["type"] for r in read_records(journal)].count("group_expanded") == 1
    host.spawn_all(first["spawn"])
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--json", stdin=settled_batch(host.settle()))
    third = json.loads(out)
    assert [s["task_id"] for s in third["spawn"]] == ["summary"]
    by_id = {r["task_id"]: r for r in third["results"]}
    assert by_id["review"]["status"] == "completed" and by_id["review"]["output"] == [review_reply] * 2
    seen = _as_child_sees(third["spawn"][0]["args"]["task"])
    assert '"reviews"' in seen and seen.count('"score"') >= 2
    host.spawn_all(third["spawn"])
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--json", stdin=settled_batch(host.settle()))
    final = json.loads(out)
    assert rc == 0 and final["done"] and {r["status"] for r in final["results"]} == {"completed"}


def test_tasks_written_with_to_dict_load_back_from_a_task_file(tmp_path):
    """A task file made of AgentTask.to_dict() (every field, for_each null on plain tasks, as
    bench/attached_bench.py writes one) loads back to the same tasks, groups included."""
    import json
    from parallel_agents.engine.mapping import map_task
    from parallel_agents.engine.taskfile import load_tasks
    tasks = [AgentTask("code_reviewer", "Review", {"code": "x = 1"}, task_id="plain"),
             map_task("code_reviewer", "Review this file", ["a.py", "b.py"], as_="file", id="review")]
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([t.to_dict() for t in tasks]), encoding="utf-8")
    loaded = load_tasks(path)
    assert [t.to_dict() for t in loaded] == [t.to_dict() for t in tasks]
