"""Interrupted runs: Ctrl-C (SIGINT) stops the client, not the work. The attempts in flight go on
on the gateway and are journaled in an `interrupted` record; `resume` re-attaches and collects
what the gateway still knows, and spawns again - on the same tier, as no failure, without waiting
for any timeout - what it does not know (a gateway restarted meanwhile, a run resumed through
another door). The same holds after kill -9.

The CLI runs in subprocesses against tests/fake_gateway.py (a process of its own, so the runs it
accepted outlive the client), over HTTP (plain runs, read through subagents/sessions_history) and
through an attach grant (collectors, read by agents_wait, with token usage: real costs). Every
task has runTimeoutSeconds of an hour, far above what a test may take: a resume that waited for
a timeout (or our own backstop, twice that) cannot pass. Nothing sleeps for a fixed time: the
tests wait for the journal and the gateway to show what they need.
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

from gateway_process import install_fake_cli
from parallel_agents.core.errors import ToolError
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.engine.journal import read_records
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.spawn import SpawnRequest
from parallel_agents.engine.scheduler import RunInterrupted
from parallel_agents.engine.tasks import AgentTask

from test_engine import FAST, MODELS, WRITER, attempt_of, sim, task_of, valid_output
from test_resume import kill, start_cli, wait_for_journal

REPO = Path(__file__).resolve().parent.parent
TOKEN = "interrupt-token"
N_TASKS = 8
MAX_CONCURRENT = 4          # the first wave, k00..k03, is in flight when the client is stopped
HOUR = 3600                 # every attempt's runTimeoutSeconds
RESUME_LIMIT_S = 60         # a resume that waited for any timeout would take an hour or more
# k00, k01 end on the gateway while no client is there; k02, k03 are still running when resume
# starts; the rest are spawned by resume. Latencies of one length: every prompt, and so every
# attempt's token count and cost, is the same size.
LATENCY = {0: 0.25, 1: 0.25, 2: 2.25, 3: 2.25}


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def write_tasks(path: Path, latency: dict = LATENCY) -> list[str]:
    reply = valid_output(WRITER)          # one reply for all: equal token counts, equal costs
    items = []
    for i in range(N_TASKS):
        spec = json.dumps({"latency": latency.get(i, 0.05), "reply": reply})
        items.append(f"  - id: k{i:02d}\n    agent: {WRITER}\n    timeout_seconds: {HOUR}\n"
                     f"    task: |\n      Write post {i}.\n      SIM {spec}\n")
    path.write_text("tasks:\n" + "".join(items), encoding="utf-8")
    return [f"k{i:02d}" for i in range(N_TASKS)]


class Door:
    """How the CLI reaches the fake gateway: over HTTP (`gateway`), or through an attach grant
    minted by the fake `openclaw` CLI (`attach`). `restart()` replaces the gateway with a new
    one that knows none of the runs."""

    def __init__(self, kind: str, start_fake_gateway, folder: Path, home: Path):
        self.kind, self.start, self.folder, self.home = kind, start_fake_gateway, folder, home
        self.gateways = []
        self._new_gateway()

    def _new_gateway(self):
        gateway = self.start(TOKEN, "--models", ",".join(MODELS))
        self.gateways.append(gateway)
        self.env = {"PARALLEL_AGENTS_HOME": str(self.home)}
        if self.kind == "gateway":
            self.env.update(gateway.env())
        else:
            self.env.update(install_fake_cli(self.folder / f"cli-{len(self.gateways)}", gateway))
            self.env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), self.env["PATH"]])

    @property
    def args(self) -> list[str]:
        return ["--attach"] if self.kind == "attach" else []

    def runs(self, gateway=None) -> list[dict]:
        gateway = gateway or self.gateways[-1]
        if self.kind == "gateway":
            return gateway.runs()
        return gateway.grant_runs().get("agent:main:main", [])

    def restart(self) -> None:
        self.gateways[-1].stop()
        self._new_gateway()


def stop_mid_run(door: Door, tasks_file: Path, how: int) -> tuple[Path, subprocess.CompletedProcess]:
    """Start `run`, and once the first wave is accepted (the client then waits for it), send
    `how` to its process group, as a terminal's Ctrl-C does (or kill -9)."""
    proc = start_cli(["run", "--tasks", str(tasks_file), "--max-concurrent", str(MAX_CONCURRENT),
                      "--json", *door.args], door.env)
    try:
        journal, _ = wait_for_journal(
            door.home / "runs",
            lambda rs: sum(r["type"] == "spawn_accepted" for r in rs) >= MAX_CONCURRENT, proc, timeout=60)
        os.killpg(proc.pid, how)
        out, err = proc.communicate(timeout=30)
    finally:
        kill(proc)
    return journal, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def resume_cli(door: Door, run_id: str) -> tuple[dict, float]:
    started = time.monotonic()
    proc = start_cli(["resume", run_id, "--json", *door.args], door.env)
    try:
        out, err = proc.communicate(timeout=RESUME_LIMIT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"resume did not finish within {RESUME_LIMIT_S}s: it waited for "
                             "attempts' timeouts") from None
    finally:
        kill(proc)
    assert proc.returncode == 0, err
    return json.loads(out), time.monotonic() - started


def in_flight(records: list[dict]) -> set[str]:
    """Tasks with an accepted attempt the client never saw finish."""
    accepted = {r["task_id"] for r in records if r["type"] == "spawn_accepted"}
    return accepted - {r["task_id"] for r in records if r["type"] == "attempt_finished"}


def wait_until(predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("the gateway never reached the expected state")


def assert_costs_are_one_attempt_per_task(door: Door, report: dict) -> None:
    """Every task paid for exactly one run: all tasks are the same size, so all cost the same;
    a task that paid twice would cost double."""
    costs = [r["cost_usd"] for r in report["results"]]
    for r in report["results"]:
        assert r["cost_usd"] == pytest.approx(sum(a["cost_usd"] for a in r["attempts"] if a["status"] == "ok"))
        assert all(a["cost_usd"] == 0 for a in r["attempts"] if a["status"] == "lost")
    if door.kind == "attach":       # collectors carry token usage; plain runs over HTTP do not
        assert min(costs) > 0 and max(costs) == pytest.approx(min(costs), rel=0.02), costs
    assert report["cost_usd"] == pytest.approx(sum(costs))


# -- Ctrl-C, the gateway still has the runs: re-attach and collect ---------------------------------

@pytest.mark.parametrize("kind", ["gateway", "attach"])
def test_ctrl_c_then_resume_collects_the_attempts_in_flight_without_spawning_them_again(
        kind, start_fake_gateway, pa_home, tmp_path):
    door = Door(kind, start_fake_gateway, tmp_path, pa_home)
    task_ids = write_tasks(tmp_path / "tasks.yaml")

    journal, stopped = stop_mid_run(door, tmp_path / "tasks.yaml", signal.SIGINT)

    assert stopped.returncode == 130 and "interrupted" in stopped.stderr, stopped.stderr
    before = read_records(journal)
    flying = in_flight(before)
    assert flying
    accepted = {r["task_id"]: r["attempt"]["run_id"] for r in before if r["type"] == "spawn_accepted"}
    marks = [r for r in before if r["type"] == "interrupted"]
    if kind == "gateway":           # (attached, OpenClaw's CLI passes a SIGTERM on that may win)
        [mark] = marks
        assert {(live["task_id"], live["attempt"]["run_id"]) for live in mark["live"]} == \
            {(t, accepted[t]) for t in flying}
    # the runs go on without a client; the short ones end before anyone collects them
    wait_until(lambda: all(r["status"] == "done" for r in door.runs()
                           if task_of(r["label"]) in {"k00", "k01"}))

    report, seconds = resume_cli(door, journal.stem)

    assert report["counts"] == {"completed": N_TASKS}
    assert [r["task_id"] for r in report["results"]] == task_ids
    by_task = {r["task_id"]: r for r in report["results"]}
    for t in task_ids:    # one attempt each, on the first tier: nothing escalated, nothing lost
        assert [(a["tier"], a["status"]) for a in by_task[t]["attempts"]] == [("fast", "ok")], t
    for t in flying:      # collected, not spawned again
        assert by_task[t]["attempts"][0]["run_id"] == accepted[t]
    labels = Counter(attempt_of(r["label"]) for r in door.runs())
    assert labels == Counter(f"{t}#1" for t in task_ids)         # each task spawned once in all
    records = read_records(journal)
    [resumed] = [r for r in records if r["type"] == "run_resumed"]
    assert resumed["reattached"] == len(flying) and resumed["lost"] == 0
    assert resumed["interrupted"] is (kind == "gateway" or bool(marks))
    assert not any(r["type"] == "escalated" for r in records)
    assert seconds < RESUME_LIMIT_S
    assert_costs_are_one_attempt_per_task(door, report)


# -- the gateway no longer has the runs: spawn them again on the same tier, at once ---------------

@pytest.mark.parametrize("kind,how", [("gateway", signal.SIGINT), ("attach", signal.SIGINT),
                                      ("gateway", signal.SIGKILL)],
                         ids=["ctrl-c-gateway", "ctrl-c-attach", "kill-9-gateway"])
def test_resume_spawns_the_runs_a_restarted_gateway_lost_again_on_the_same_tier(
        kind, how, start_fake_gateway, pa_home, tmp_path):
    door = Door(kind, start_fake_gateway, tmp_path, pa_home)
    task_ids = write_tasks(tmp_path / "tasks.yaml", {i: 2.25 for i in range(MAX_CONCURRENT)})
    journal, stopped = stop_mid_run(door, tmp_path / "tasks.yaml", how)
    assert stopped.returncode == (130 if how == signal.SIGINT else -signal.SIGKILL)
    before = read_records(journal)
    flying = in_flight(before)
    assert flying
    first_runs = door.runs()
    # the runs the old gateway started that the journal never saw end: accepted ones (flying),
    # and a spawn sent just before the stop whose receipt was never journaled (rare)
    ended = {r["task_id"] for r in before if r["type"] == "attempt_finished"}
    unfinished = {task_of(r["label"]) for r in first_runs} - ended
    door.restart()                       # the new gateway knows none of the runs above

    report, seconds = resume_cli(door, journal.stem)

    assert report["counts"] == {"completed": N_TASKS}
    by_task = {r["task_id"]: r for r in report["results"]}
    for t in task_ids:    # the same tier again, as no failure: nothing escalated, no re-ask used
        expected = [("fast", "lost", False), ("fast", "ok", False)] if t in flying else [("fast", "ok", False)]
        assert [(a["tier"], a["status"], a["reask"]) for a in by_task[t]["attempts"]] == expected, t
        assert by_task[t]["tier"] == "fast" and by_task[t]["model_used"] == FAST
    records = read_records(journal)
    assert not any(r["type"] in ("escalated", "reask_planned", "retry_planned") for r in records)
    [resumed] = [r for r in records if r["type"] == "run_resumed"]
    assert resumed["lost"] == len(flying) and resumed["reattached"] == 0
    assert resumed["interrupted"] is (how == signal.SIGINT and kind == "gateway" or
                                      any(r["type"] == "interrupted" for r in records))
    # each task spawned at most once more than before; the ones never started, once in all
    spawned = Counter(task_of(r["label"]) for r in first_runs + door.runs())
    assert spawned == Counter({t: 2 if t in unfinished else 1 for t in task_ids})
    assert sorted(attempt_of(r["label"]) for r in door.runs()) == sorted(
        f"{t}#2" if t in flying else f"{t}#1" for t in task_ids)
    assert seconds < RESUME_LIMIT_S
    assert_costs_are_one_attempt_per_task(door, report)


# -- in process: what Ctrl-C leaves, and the ladder after a lost attempt ---------------------------

class InterruptingCaller:
    """Forwards to a fake; the first call of `tool` after `after_spawns` spawns raises
    KeyboardInterrupt (Ctrl-C while the client waits there)."""

    def __init__(self, fake, tool: str, after_spawns: int = 0):
        self.fake, self.tool, self.after_spawns = fake, tool, after_spawns
        self.spawns, self.fired = 0, False

    def has(self, tool):
        return self.fake.has(tool)

    def call(self, tool, args):
        if tool == "sessions_spawn":
            self.spawns += 1
        elif tool == self.tool and self.spawns >= self.after_spawns and not self.fired:
            self.fired = True
            raise KeyboardInterrupt
        return self.fake.call(tool, args)


def orch(caller, config, tmp_path, collection: str) -> RealAIParallelOrchestrator:
    return RealAIParallelOrchestrator(4, runtime=OpenClawRuntime(caller, collection=collection),
                                      config=config, runs_folder=tmp_path / "runs", seed=1)


WAITS_IN = {"history": "subagents", "collector": "agents_wait"}


@pytest.mark.parametrize("collection", ["history", "collector"])
def test_ctrl_c_journals_the_live_attempts_and_names_the_resume_command(collection, fast_config, tmp_path):
    fake = FakeOpenClaw(models=MODELS)
    tasks = [AgentTask(WRITER, sim(latency=0.05, reply=valid_output(WRITER, seed=i)), task_id=f"t{i}",
                       timeout_seconds=HOUR) for i in range(3)]
    first = orch(InterruptingCaller(fake, WAITS_IN[collection]), fast_config, tmp_path, collection)

    with pytest.raises(RunInterrupted) as caught:
        first.run_parallel(tasks, run_id="stopped-run")

    assert isinstance(caught.value, KeyboardInterrupt)     # whatever caught Ctrl-C still does
    assert "resume stopped-run" in str(caught.value) and caught.value.live == 3
    records = read_records(tmp_path / "runs" / "stopped-run.jsonl")
    [mark] = [r for r in records if r["type"] == "interrupted"]
    spawned = {r["task_id"]: r["attempt"]["run_id"] for r in records if r["type"] == "spawn_accepted"}
    assert {(m["task_id"], m["attempt"]["run_id"], m["collect"]) for m in mark["live"]} == \
        {(t, run_id, collection == "collector") for t, run_id in spawned.items()}
    assert all(m["timeout"] == HOUR and m["tier_index"] == 0 for m in mark["live"])

    results = orch(fake, fast_config, tmp_path, collection).resume("stopped-run")

    assert [r.status for r in results] == ["completed"] * 3
    assert [[a.run_id for a in r.attempts] for r in results] == [[spawned[t.task_id]] for t in tasks]
    assert len(fake.runs()) == 3
    if collection == "collector":    # real usage: one run's worth per task, not two
        assert all(r.cost_usd > 0 and r.cost_usd == r.attempts[0].cost_usd for r in results)


@pytest.mark.parametrize("collection", ["history", "collector"])
def test_a_lost_reask_is_asked_again_on_its_tier_and_the_ladder_goes_on_from_there(
        collection, fast_config, tmp_path):
    """The lost attempt was the tier's re-ask: the attempt that replaces it is that re-ask again
    (the same hint), not a second one nor an escalation; and the ladder then goes on as usual."""
    task = AgentTask(WRITER, sim(latency=0.01, reply=valid_output(WRITER), by_model={FAST: {"reply": "not json"}}),
                     task_id="w", timeout_seconds=HOUR)
    # attempt 1 (fast) is invalid; its re-ask is accepted; Ctrl-C while the client waits for it
    first = orch(InterruptingCaller(FakeOpenClaw(models=MODELS), WAITS_IN[collection], after_spawns=2),
                 fast_config, tmp_path, collection)
    with pytest.raises(RunInterrupted):
        first.run_parallel([task], run_id="lost-reask")
    before = read_records(tmp_path / "runs" / "lost-reask.jsonl")
    assert [r["attempt"]["reask"] for r in before if r["type"] == "spawn_accepted"] == [False, True]

    fresh = FakeOpenClaw(models=MODELS)            # a gateway that knows none of it
    started = time.monotonic()
    [result] = orch(fresh, fast_config, tmp_path, collection).resume("lost-reask")

    assert time.monotonic() - started < 20         # no deadline waited out (our backstop: 2 h)
    assert [(a.tier, a.status, a.reask) for a in result.attempts] == [
        ("fast", "invalid", False), ("fast", "lost", True), ("fast", "invalid", True),
        ("balanced", "ok", False)]
    assert result.status == "completed" and result.tier == "balanced"
    assert [(attempt_of(v["label"]), v["model"]) for v in fresh.runs()] == [("w#3", FAST), ("w#4", MODELS[1])]


def test_a_damaged_interrupted_record_is_read_around(fast_config, tmp_path):
    """The `interrupted` record only adds what a lost receipt line would have said; a damaged
    one changes nothing: the intent is found again by its label."""
    fake = FakeOpenClaw(models=MODELS)
    task = AgentTask(WRITER, sim(latency=0.01, reply=valid_output(WRITER)), task_id="only", timeout_seconds=HOUR)
    with pytest.raises(RunInterrupted):
        orch(InterruptingCaller(fake, "subagents"), fast_config, tmp_path, "history").run_parallel(
            [task], run_id="odd-mark")
    path = tmp_path / "runs" / "odd-mark.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines = [r for r in lines if r["type"] != "spawn_accepted"]            # the receipt line lost
    for r in lines:
        if r["type"] == "interrupted":
            r["live"] = [{"task_id": "only", "attempt": "garbled"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))

    [result] = orch(fake, fast_config, tmp_path, "history").resume("odd-mark")

    assert result.status == "completed" and len(result.attempts) == 1
    assert [attempt_of(r["label"]) for r in fake.runs()] == ["only#1"]


# -- the runtime's check: does the gateway still know a journaled run? -----------------------------

class ListRecorder:
    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def has(self, tool):
        return self.inner.has(tool)

    def call(self, tool, args):
        self.calls.append((tool, dict(args)))
        return self.inner.call(tool, args)


def spawn(rt: OpenClawRuntime, label: str, **spec):
    return rt.spawn(SpawnRequest(task=sim(**spec), label=label, task_name="t", model=FAST,
                                 run_timeout_seconds=HOUR))


def test_known_runs_tells_runs_the_gateway_has_from_runs_it_does_not():
    fake = FakeOpenClaw(models=MODELS)
    plain = spawn(OpenClawRuntime(fake, collection="history"), "p#1", latency=5)
    done = spawn(OpenClawRuntime(fake, collection="collector"), "c#1", latency=0, reply="hi")
    running = spawn(OpenClawRuntime(fake, collection="collector"), "c#2", latency=5)
    now = time.time()
    asked = [{"run_id": plain.run_id, "collect": False, "session_key": plain.session_key, "accepted_at": now},
             {"run_id": done.run_id, "collect": True, "session_key": done.session_key, "accepted_at": now},
             {"run_id": running.run_id, "collect": True, "session_key": running.session_key, "accepted_at": now},
             {"run_id": "gone-plain", "collect": False, "session_key": "agent:main:subagent:x", "accepted_at": now},
             {"run_id": "gone-collector", "collect": True, "session_key": None, "accepted_at": now}]
    recorder = ListRecorder(fake)
    rt = OpenClawRuntime(recorder, collection="collector")

    assert rt.known_runs(asked) == {plain.run_id: True, done.run_id: True, running.run_id: True,
                                    "gone-plain": False, "gone-collector": False}
    # a collector found finished is kept: the wait that follows asks nothing more
    recorder.calls.clear()
    [outcome] = rt.wait([done.run_id], 5)
    assert outcome.status == "ok" and outcome.text == "hi" and recorder.calls == []


def test_known_runs_cannot_tell_without_the_tools_and_says_so():
    """No subagents and no agents_wait: nothing is called lost (the run is re-attached as
    before), except a session sessions_history says does not exist."""
    fake = FakeOpenClaw(models=MODELS, tools=("sessions_spawn", "sessions_history"))
    run = spawn(OpenClawRuntime(fake, collection="history"), "p#1", latency=5)
    rt = OpenClawRuntime(fake, collection="history")
    now = time.time()

    assert rt.known_runs([
        {"run_id": run.run_id, "collect": False, "session_key": run.session_key, "accepted_at": now},
        {"run_id": "no-key", "collect": False, "session_key": None, "accepted_at": now},
        {"run_id": "gone", "collect": False, "session_key": "agent:main:subagent:nope", "accepted_at": now},
    ]) == {run.run_id: None, "no-key": None, "gone": False}


class FailingList(ListRecorder):
    def call(self, tool, args):
        if tool == "subagents":
            raise ToolError("Task activity did not stabilize. Retry the task read.", tool=tool, retryable=True)
        return super().call(tool, args)


def test_known_runs_never_calls_a_run_lost_when_the_list_fails():
    fake = FakeOpenClaw(models=MODELS, tools=("sessions_spawn", "subagents"))
    rt = OpenClawRuntime(FailingList(fake), collection="history")
    assert rt.known_runs([{"run_id": "x", "collect": False, "session_key": None,
                           "accepted_at": time.time()}]) == {"x": None}


def test_runs_accepted_hours_ago_are_looked_for_as_far_back_as_that():
    """OpenClaw lists runs that ended in the last 30 minutes unless asked for more (up to 24 h):
    a resume hours after the run asks for enough to see its runs, when it checks them and when
    it waits for them."""
    fake = FakeOpenClaw(models=MODELS)
    run = spawn(OpenClawRuntime(fake, collection="history"), "p#1", latency=0, reply="done")
    recorder = ListRecorder(fake)
    rt = OpenClawRuntime(recorder, collection="history")
    two_hours_ago = time.time() - 2 * 3600

    assert rt.known_runs([{"run_id": run.run_id, "collect": False, "session_key": run.session_key,
                           "accepted_at": two_hours_ago}]) == {run.run_id: True}
    rt.adopt(run.run_id, collect=False, session_key=run.session_key, run_timeout_s=HOUR,
             accepted_at=two_hours_ago)
    [outcome] = rt.wait([run.run_id], 5)
    assert outcome.status == "ok"
    lists = [args for tool, args in recorder.calls if tool == "subagents" and args["action"] == "list"]
    assert lists and all(121 <= args["recentMinutes"] <= 1440 for args in lists)
    assert rt.find_by_label("p#1", since=two_hours_ago) is not None
    assert recorder.calls[-1][1]["recentMinutes"] >= 121
