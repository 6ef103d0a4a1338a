"""Nothing spawned or recorded twice (issue 14): one process at a time per run or plan
(parallel_agents/engine/locks.py), host-mode labels that carry their plan, and `check` all or nothing.

The concurrency tests use real processes: two `resume` of one run against tests/fake_gateway.py
(a FakeOpenClaw in a process of its own, as in test_resume.py), and three `check --plan P` of
the same pasted message, released together from a barrier so that, without the lock, all three
would read the plan before any of them wrote.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from parallel_agents.simulation.fake_deliveries import settled_batch
from parallel_agents.engine.journal import read_records
from parallel_agents.engine.locks import JournalInUse, JournalLock, lock_path
from parallel_agents.openclaw.spawn import attempt_label, run_tag

from test_engine import WRITER, FailingCaller, attempt_of, sim, valid_output  # noqa: E402
from test_hostmode import Host, cli, valid, write_tasks  # noqa: E402
from test_resume import fatal_error, kill, orchestrator, start_cli  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


# -- the lock itself ----------------------------------------------------------------------------------

def test_a_held_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    journal = tmp_path / "runs" / "some-run.jsonl"
    first = JournalLock(journal, kind="run", command="resume").acquire()
    assert lock_path(journal).read_text() == f"{os.getpid()} resume\n"
    started = time.monotonic()
    with pytest.raises(JournalInUse) as caught:
        JournalLock(journal, kind="run", wait=0.3).acquire()
    assert 0.3 <= time.monotonic() - started < 2
    line = str(caught.value)
    assert f"process {os.getpid()} (resume)" in line and "run some-run is in use" in line
    assert "runs some-run" in line and caught.value.exit_code == 3
    first.release()
    assert not lock_path(journal).exists()                 # the holder tidies up
    with JournalLock(journal, wait=0):                     # free again, at once
        assert lock_path(journal).exists()


def test_a_plan_lock_waits_for_its_holder():
    """check and plan are short: a second one waits for the first instead of failing."""
    from threading import Timer
    journal = Path(os.environ["PARALLEL_AGENTS_HOME"]) / "runs" / "abc123.jsonl"
    first = JournalLock(journal, kind="plan", command="check").acquire()
    Timer(0.3, first.release).start()
    started = time.monotonic()
    with JournalLock(journal, kind="plan", command="check"):
        assert time.monotonic() - started >= 0.25


HOLDER = """
import sys, time
sys.path.insert(0, {repo!r})
from parallel_agents.engine.locks import JournalLock
JournalLock({journal!r}, kind="run", command="run").acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path):
    """kill -9 leaves the lock file behind, but the OS has dropped the lock: no stale lock."""
    journal = tmp_path / "runs" / "killed-run.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(repo=str(REPO), journal=str(journal))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(JournalInUse, match=rf"process {holder.pid} \(run\)"):
            JournalLock(journal, wait=0.1).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert lock_path(journal).read_text() == f"{holder.pid} run\n"   # left behind...
    with JournalLock(journal, wait=0, command="resume"):              # ...and taken over at once
        assert lock_path(journal).read_text() == f"{os.getpid()} resume\n"


# -- two `resume` of one run at once --------------------------------------------------------------

def test_two_resumes_at_once_spawn_each_task_once(start_fake_gateway, pa_home, fast_config, tmp_path):
    from parallel_agents.core.errors import RunAborted
    from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
    from parallel_agents.engine.tasks import AgentTask
    gateway = start_fake_gateway("lock-token")
    # a run that stopped at its first spawn: every task is still to do (each takes 4 s)
    tasks = [AgentTask(WRITER, sim(latency=4.0, reply=valid_output(WRITER, seed=i)), task_id=f"k{i}")
             for i in range(4)]
    dead = FailingCaller(FakeOpenClaw(), "sessions_spawn", 1, fatal_error())
    with pytest.raises(RunAborted):
        orchestrator(dead, fast_config, pa_home).run_parallel(tasks, run_id="twice-resumed")

    env = gateway.env(PARALLEL_AGENTS_HOME=str(pa_home))
    procs = [start_cli(["resume", "twice-resumed", "--json"], env) for _ in range(2)]
    try:
        done = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            kill(p)

    labels = Counter(r["label"] for r in gateway.runs())
    assert sorted(map(attempt_of, labels)) == [f"k{i}#1" for i in range(4)]
    assert set(labels.values()) == {1}, labels                     # nothing spawned twice
    assert sorted(p.returncode for p in procs) == [0, 3], done     # the second one was refused
    out, err = done[[p.returncode for p in procs].index(3)]
    [line] = err.strip().splitlines()
    assert "run twice-resumed is in use by process" in line and "(resume)" in line
    assert "runs twice-resumed" in line and "(fix: " in line and "Traceback" not in err
    records = read_records(pa_home / "runs" / "twice-resumed.jsonl")
    assert Counter(r["task_id"] for r in records if r["type"] == "task_finished") == \
        {f"k{i}": 1 for i in range(4)}
    assert [r["type"] for r in records].count("run_resumed") == 1
    assert not lock_path(pa_home / "runs" / "twice-resumed.jsonl").exists()


# -- host mode: labels carry the plan; checks at once; another plan's children ------------------------

def _plan(tasks_file) -> dict:
    rc, out, err = cli("plan", "--tasks", tasks_file, "--json")
    assert rc == 0, err
    return json.loads(out)


def _journal(plan_id: str) -> list[dict]:
    return read_records(Path(os.environ["PARALLEL_AGENTS_HOME"]) / "runs" / f"{plan_id}.jsonl")


def test_host_labels_carry_six_hex_digits_of_the_plan_id(tmp_path):
    tasks = write_tasks(tmp_path / "t.yaml", {"id": "api", "agent": "api_designer", "task": "Design"},
                        {"id": "review", "task": "Review"})
    a, b = _plan(tasks), _plan(tasks)
    for plan in (a, b):
        assert [s["args"]["label"] for s in plan["spawn"]] == \
            [attempt_label(t, 1, plan["plan_id"]) for t in ("api", "review")]
        assert all(s["args"]["label"].endswith("@" + run_tag(plan["plan_id"])) for s in plan["spawn"])
    assert not {s["args"]["label"] for s in a["spawn"]} & {s["args"]["label"] for s in b["spawn"]}


BARRIER = """
import os, sys, time
sys.path.insert(0, {repo!r})
from parallel_agents.cli.main import main
import parallel_agents.cli.host, parallel_agents.host.hostmode, parallel_agents.host.hostinput
import parallel_agents.openclaw.deliveries, parallel_agents.replies.validate, parallel_agents.api
parallel_agents.api.load_registry()
open(sys.argv[1], "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
sys.exit(main(sys.argv[3:]))
"""


def test_checks_at_once_with_the_same_message_record_each_reply_once(tmp_path):
    n = 5
    tasks = write_tasks(tmp_path / "t.yaml", *({"id": f"t{i}", "sim": {"reply": valid("code_reviewer", i)}}
                                               for i in range(n)))
    host = Host()
    plan = _plan(tasks)
    host.spawn_all(plan["spawn"])
    message = tmp_path / "settled.txt"
    message.write_text(settled_batch(host.settle()))
    go = tmp_path / "go"
    procs = []
    for i in range(3):
        ready = tmp_path / f"ready-{i}"
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", BARRIER.format(repo=str(REPO)), ready, go,
             "check", "--plan", plan["plan_id"], "--json", message],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "the checks never got ready"
        time.sleep(0.01)
    go.touch()                                       # all three read the plan at once
    answers = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Traceback" not in err, err
        answers.append(json.loads(out))

    records = _journal(plan["plan_id"])
    finished = Counter(r["task_id"] for r in records if r["type"] == "attempt_finished")
    assert finished == {f"t{i}": 1 for i in range(n)}, finished     # each reply recorded once
    assert Counter(r["task_id"] for r in records if r["type"] == "task_finished") == finished
    steps = Counter(c["step"] for a in answers for c in a["checked"])
    assert steps == {"complete": n, "ignored: task already final": 2 * n}
    assert all(a["done"] for a in answers)


def test_check_of_one_plan_ignores_the_children_of_another(tmp_path):
    """Two plans of the same task file: plan B's children are none of plan A's business, even
    though their task ids are the same."""
    tasks = write_tasks(tmp_path / "t.yaml",
                        {"id": "api", "agent": "api_designer", "sim": {"reply": valid("api_designer")}},
                        {"id": "review", "sim": {"reply": valid("code_reviewer")}})
    a, b = _plan(tasks), _plan(tasks)
    host = Host()
    host.spawn_all(b["spawn"])
    message = settled_batch(host.settle())

    rc, out, err = cli("check", "--plan", a["plan_id"], "--json", stdin=message)

    assert rc == 0, err
    answer = json.loads(out)
    assert [c["step"] for c in answer["checked"]] == ["ignored: not a spawn of this plan"] * 2
    assert all(c["task_id"] is None for c in answer["checked"])
    assert not any(r["type"] == "attempt_finished" for r in _journal(a["plan_id"]))
    assert [r["status"] for r in answer["results"]] == ["spawned", "spawned"]
    # plan B takes them
    answer = json.loads(cli("check", "--plan", b["plan_id"], "--json", stdin=message)[1])
    assert answer["done"] and [c["step"] for c in answer["checked"]] == ["complete", "complete"]


def test_a_message_with_this_plans_child_and_another_plans_records_this_plans(tmp_path):
    tasks = write_tasks(tmp_path / "t.yaml", {"id": "review", "sim": {"reply": valid("code_reviewer")}})
    a, b = _plan(tasks), _plan(tasks)
    host = Host()
    host.spawn_all(a["spawn"] + b["spawn"])
    message = settled_batch(host.settle())

    rc, out, err = cli("check", "--plan", a["plan_id"], "--json", stdin=message)

    assert rc == 0, err
    answer = json.loads(out)
    assert [c["step"] for c in answer["checked"]] == ["complete", "ignored: not a spawn of this plan"]
    assert answer["done"]


def test_check_is_all_or_nothing_and_names_the_bad_input(tmp_path):
    tasks = write_tasks(tmp_path / "t.yaml", {"id": "review", "sim": {"reply": valid("code_reviewer")}})
    plan = _plan(tasks)
    host = Host()
    host.spawn_all(plan["spawn"])
    good, bad = tmp_path / "good.txt", tmp_path / "bad.json"
    good.write_text(settled_batch(host.settle()))
    bad.write_text('{"unexpected": 1}')

    rc, out, err = cli("check", "--plan", plan["plan_id"], good, bad)

    assert rc == 2 and out == ""
    [line] = err.strip().splitlines()
    assert f"{bad}: input: unrecognised JSON object" in line and "nothing was recorded" in line
    assert not any(r["type"] == "attempt_finished" for r in _journal(plan["plan_id"]))
    # a --refused label the plan never listed is refused before anything is recorded, too
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--refused", "nope#1@000000", good)
    assert rc == 2 and "--refused: plan" in err and "never listed" in err
    assert not any(r["type"] == "attempt_finished" for r in _journal(plan["plan_id"]))
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--json", good)   # the good one alone
    assert rc == 0 and json.loads(out)["done"]
    assert not list((Path(os.environ["PARALLEL_AGENTS_HOME"]) / "runs").glob("*.lock"))
