"""Reuse finished work in host mode (issue 15, item 3; parallel_agents/engine/reuse.py, hostmode.py):
`check` keeps every task it records completed in the reuse store, under the same key as `run`;
`plan --reuse` finishes a task from a still-valid kept result instead of listing its spawn - at
plan time, or when a later check releases it - with `reused: true`.

The test plays the host agent as tests/test_hostmode.py does (FakeOpenClaw, the settled-batch
message)."""
from __future__ import annotations

import json

from parallel_agents.simulation.fake_deliveries import settled_batch
from parallel_agents.engine.reuse import ReuseStore, reuse_dir

from test_hostmode import Host, cli, loop, sim, valid, write_tasks


def kept_ids() -> list[str]:
    """task_id of every entry in the store."""
    ids = []
    for path in sorted(reuse_dir().glob("*.jsonl")) if reuse_dir().is_dir() else []:
        ids += [json.loads(line)["task_id"] for line in path.read_text().splitlines()]
    return sorted(ids)


def reviews(path, *, c_text="Review c"):
    """a; c; b, which depends on c (its prompt holds c's output)."""
    return write_tasks(path,
                       {"id": "a", "task": "Review a\n" + sim(reply=valid("code_reviewer", 0))},
                       {"id": "c", "task": f"{c_text}\n" + sim(reply=valid("code_reviewer", 2))},
                       {"id": "b", "task": "Review b\n" + sim(reply=valid("code_reviewer", 1)),
                        "depends_on": ["c"]})


def test_check_keeps_completed_tasks_and_plan_reuse_spawns_nothing(tmp_path):
    tasks = reviews(tmp_path / "t.yaml")
    first = loop(Host(), tasks)
    assert first["done"] and "reused" not in first        # a plan made without --reuse
    assert kept_ids() == ["a", "b", "c"]

    rc, out, err = cli("plan", "--tasks", tasks, "--reuse", "--json")
    assert rc == 0, err
    again = json.loads(out)
    assert again["done"] and again["spawn"] == [] and again["reused"] == 3
    assert "All done" in again["next"]
    before = {r["task_id"]: r for r in first["results"]}
    for r in again["results"]:
        assert r["status"] == "completed" and r["reused"] is True and r["attempts"] == []
        assert r["output"] == before[r["task_id"]]["output"]
        assert (r["tier"], r["model_used"]) == (before[r["task_id"]]["tier"],
                                                before[r["task_id"]]["model_used"])
    assert kept_ids() == ["a", "b", "c"]                   # a reused result is not kept again

    rc, out, err = cli("plan", "--tasks", tasks, "--reuse")
    assert rc == 0 and "0 spawn(s) to make, 3 task(s) reused." in out and "All done" in out
    assert "[reused]" in out
    rc, out, err = cli("plan", "--tasks", tasks, "--json")   # without --reuse: spawns as ever
    plain = json.loads(out)
    assert [s["task_id"] for s in plain["spawn"]] == ["a", "c"] and "reused" not in plain


def test_a_dependent_released_by_check_is_reused_as_the_plan_said(tmp_path):
    """c's task text changed: c runs again, gives the same output, and the check that records it
    finishes b (same prompt, as c's output is the same) from the store: no spawn of b."""
    loop(Host(), reviews(tmp_path / "t.yaml"))
    host = Host()
    rc, out, err = cli("plan", "--tasks", reviews(tmp_path / "t2.yaml", c_text="Review c again"),
                       "--reuse", "--json")
    plan = json.loads(out)
    assert [s["task_id"] for s in plan["spawn"]] == ["c"] and plan["reused"] == 1
    status = {r["task_id"]: (r["status"], r.get("reused")) for r in plan["results"]}
    assert status == {"a": ("completed", True), "c": ("spawned", None), "b": ("waiting", None)}
    host.spawn_all(plan["spawn"])
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--json", stdin=settled_batch(host.settle()))
    answer = json.loads(out)
    assert rc == 0 and answer["done"] and answer["spawn"] == [] and answer["reused"] == 2
    by_id = {r["task_id"]: r for r in answer["results"]}
    assert by_id["b"]["reused"] is True and "reused" not in by_id["c"]
    assert [a["label"].split("#")[0] for a in host.spawned] == ["c"]


def test_the_key_is_the_one_run_uses(tmp_path):
    """Kept by check, reused by `run --reuse`; kept by `run`, reused by `plan --reuse`."""
    loop(Host(), reviews(tmp_path / "t.yaml"))
    rc, out, err = cli("run", "--tasks", tmp_path / "t.yaml", "--simulate", "--reuse", "--json")
    assert rc == 0, err
    assert json.loads(out)["reused"] == 3

    other = write_tasks(tmp_path / "o.yaml", {"id": "x", "task": "Review x"},
                        {"id": "y", "task": "Review y", "depends_on": ["x"]})
    rc, out, err = cli("run", "--tasks", other, "--simulate", "--json")
    assert rc == 0 and json.loads(out)["reused"] == 0, err
    plan = json.loads(cli("plan", "--tasks", other, "--reuse", "--json")[1])
    assert plan["done"] and plan["spawn"] == [] and plan["reused"] == 2


def test_failed_invalid_and_skipped_results_are_never_kept(tmp_path):
    """f fails (its dependent is skipped): nothing of either is kept. v is invalid, then valid
    after the re-ask: kept under its first attempt's key, so a plan --reuse of it reuses it."""
    tasks = write_tasks(tmp_path / "t.yaml",
                        {"id": "f", "sim": {"fail": "provider overloaded"}, "tier": "strongest"},
                        {"id": "s", "task": "Review more", "depends_on": ["f"]},
                        {"id": "v", "sim": {"key": "v", "replies": ["nope", valid("code_reviewer")]}})
    final = loop(Host(), tasks)
    assert {r["task_id"]: r["status"] for r in final["results"]} == {
        "f": "failed", "s": "skipped", "v": "completed"}
    assert kept_ids() == ["v"]
    again = json.loads(cli("plan", "--tasks", tasks, "--reuse", "--json")[1])
    assert [s["task_id"] for s in again["spawn"]] == ["f"] and again["reused"] == 1


def test_reuse_store_false_keeps_nothing(tmp_path, pa_home):
    pa_home.mkdir(parents=True, exist_ok=True)
    (pa_home / "config.yaml").write_text("reuse:\n  store: false\n")
    tasks = reviews(tmp_path / "t.yaml")
    assert loop(Host(), tasks)["done"]
    assert kept_ids() == []
    again = json.loads(cli("plan", "--tasks", tasks, "--reuse", "--json")[1])
    assert [s["task_id"] for s in again["spawn"]] == ["a", "c"] and again["reused"] == 0


def test_a_groups_items_are_kept_its_list_is_not(tmp_path):
    reply = valid("code_reviewer")
    path = tmp_path / "t.yaml"
    path.write_text(json.dumps({"tasks": [
        {"id": "review", "agent": "code_reviewer", "task": "Review this file\n" + sim(reply=reply),
         "for_each": ["a.py", "b.py"], "as": "file"},
        {"id": "summary", "agent": "code_reviewer", "task": "Sum up\n" + sim(reply=reply),
         "depends_on": ["review"]}]}))
    assert loop(Host(), path)["done"]
    assert kept_ids() == ["review[0]", "review[1]", "summary"]
    again = json.loads(cli("plan", "--tasks", path, "--reuse", "--json")[1])
    assert again["done"] and again["spawn"] == [] and again["reused"] == 3
    by_id = {r["task_id"]: r for r in again["results"]}
    assert by_id["review"]["status"] == "completed" and by_id["review"]["output"] == [reply, reply]
    assert "reused" not in by_id["review"]                  # the group is its items' list


def test_a_kept_result_is_checked_against_the_schema_again(tmp_path):
    """An entry under the task's key that no longer fits the agent's schema is not reused."""
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.core.config import load_config
    from parallel_agents.host.hostmode import HostPlan
    tasks = write_tasks(tmp_path / "t.yaml", {"id": "a", "task": "Review a"})
    planned = json.loads(cli("plan", "--tasks", tasks, "--json")[1])
    plan = HostPlan.load(planned["plan_id"], load_registry(), load_config())
    key = plan._reuse_key(plan.tasks["a"])

    def keep(output):
        store = ReuseStore()
        store.put(key, output=output, agent_type="code_reviewer", output_format="json",
                  tier="balanced", model=None, run_id="elsewhere", task_id="a")
        store.close()

    keep(valid("code_reviewer", 3))
    hit = json.loads(cli("plan", "--tasks", tasks, "--reuse", "--json")[1])
    assert hit["done"] and hit["results"][0]["output"] == valid("code_reviewer", 3)
    keep({"score": "not a number"})                        # newer: wins, and is invalid
    miss = json.loads(cli("plan", "--tasks", tasks, "--reuse", "--json")[1])
    assert [s["task_id"] for s in miss["spawn"]] == ["a"] and miss["reused"] == 0
