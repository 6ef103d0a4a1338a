"""FakeOpenClaw's run board keeps counts and indexes (collectors per swarm group, live plain
children, running collectors per group, live collectors) instead of scanning every run on every
call. These tests drive random spawns, cancels and waits and check, after each step, that what
the board answers from its counts is what a scan of all its runs (`runs()`) says, and that the
lanes are never over- or under-filled. Runs either hang (they end only when cancelled) or
answer at once, so no step depends on timing."""
from __future__ import annotations

import json
import random

import pytest

from parallel_agents.simulation.fake_openclaw import FakeOpenClaw

LANE, SWARM = 3, 2
LIVE = ("queued", "running")
GROUPS = ("g-a", "g-b")


def make_fake(collector_runs_start: bool = True) -> FakeOpenClaw:
    return FakeOpenClaw(lane_max_concurrent=LANE, swarm_max_concurrent=SWARM, max_children=4,
                        max_children_per_group=3, max_total_per_group=6,
                        collector_runs_start=collector_runs_start)


def spawn(fake: FakeOpenClaw, rng: random.Random, n: int) -> dict:
    directive = {"hang": True} if rng.random() < 0.6 else {"latency": 0}
    args = {"task": f"step {n}\nSIM {json.dumps(directive)}", "label": f"t{n}"}
    if rng.random() < 0.6:
        args.update(collect=True, groupId=rng.choice(GROUPS))
    return fake.call("sessions_spawn", args)


def scan(fake: FakeOpenClaw) -> list[dict]:
    return fake.runs()


def check_counts(fake: FakeOpenClaw, runs: list[dict]) -> None:
    for group in GROUPS + ("g-never",):
        members = [r for r in runs if r["collect"] and r["group_id"] == group]
        assert fake.group_counts(group) == (len(members), sum(r["status"] in LIVE for r in members))
    assert fake.group_counts(None) == (0, 0)
    assert fake.active_children() == sum(1 for r in runs if not r["collect"] and r["status"] in LIVE)


def check_lanes(fake: FakeOpenClaw, runs: list[dict]) -> None:
    """No lane over its limit, and no queued run left that a free slot could have started."""
    running = [r for r in runs if r["status"] == "running"]
    assert len(running) <= LANE
    assert fake.peak_running >= len(running)
    per_group = {g: sum(1 for r in running if r["collect"] and r["group_id"] == g) for g in GROUPS}
    assert all(n <= SWARM for n in per_group.values())
    if not fake.collector_runs_start:
        return   # parked collectors list as queued but never start
    for r in runs:
        if r["status"] == "queued":
            assert len(running) == LANE or (r["collect"] and per_group[r["group_id"]] >= SWARM), r


def check_split(fake: FakeOpenClaw, runs: list[dict], ids: list[str]) -> None:
    by_id = {r["run_id"]: r for r in runs}
    collectors = {i: r for i, r in by_id.items() if r["collect"]}
    ended, pending, unknown = fake.split_collectors(ids)
    assert [r.run_id for r in ended] == [i for i in ids if i in collectors and collectors[i]["status"] not in LIVE]
    assert pending == [i for i in ids if i in collectors and collectors[i]["status"] in LIVE]
    assert unknown == [i for i in ids if i not in collectors]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("collector_runs_start", [True, False])
def test_board_counts_match_a_scan_of_all_runs(seed, collector_runs_start):
    rng = random.Random(seed)
    fake = make_fake(collector_runs_start)
    accepted = refused = 0
    for step in range(120):
        roll = rng.random()
        runs = scan(fake)
        if roll < 0.55 or not runs:
            status = spawn(fake, rng, step)["status"]
            accepted, refused = accepted + (status == "accepted"), refused + (status != "accepted")
        elif roll < 0.8:
            victim = rng.choice(runs)
            fake.call("subagents", {"action": "cancel", "taskId": victim["task_id"]})
        else:
            ids = [r["run_id"] for r in rng.sample(runs, min(len(runs), 5))] + ["no-such-run"]
            rng.shuffle(ids)
            result = fake.call("agents_wait", {"ids": ids, "timeoutSeconds": 0})
            after = scan(fake)
            by_id = {r["run_id"]: r for r in after}
            assert result["pending"] == [i for i in ids if i in by_id and by_id[i]["collect"]
                                         and by_id[i]["status"] in LIVE]
            assert sorted(c["runId"] for c in result["completed"]) == sorted(
                i for i in ids if i in by_id and by_id[i]["collect"] and by_id[i]["status"] not in LIVE)
            assert [e["runId"] for e in result.get("errors", [])] == [
                i for i in ids if i not in by_id or not by_id[i]["collect"]]
        runs = scan(fake)
        check_counts(fake, runs)
        check_lanes(fake, runs)
        check_split(fake, runs, [r["run_id"] for r in runs] + ["no-such-run"])
    assert accepted >= 10 and refused >= 1   # the walk did exercise the board and its limits
    assert len(scan(fake)) == accepted


def test_a_cancelled_run_frees_its_slot_for_the_next_queued_one():
    fake = make_fake()
    receipts = [fake.call("sessions_spawn", {"task": 'x\nSIM {"hang": true}', "label": f"c{i}",
                                             "collect": True, "groupId": "g-a"}) for i in range(3)]
    assert [r["status"] for r in fake.runs()] == ["running", "running", "queued"]   # swarm limit 2
    assert fake.group_counts("g-a") == (3, 3)
    first = fake.runs()[0]
    fake.call("subagents", {"action": "cancel", "taskId": first["task_id"]})
    assert [r["status"] for r in fake.runs()] == ["killed", "running", "running"]
    assert fake.group_counts("g-a") == (3, 2)
    ended, pending, unknown = fake.split_collectors([r["runId"] for r in receipts])
    assert [r.run_id for r in ended] == [receipts[0]["runId"]]
    assert pending == [receipts[1]["runId"], receipts[2]["runId"]] and unknown == []
