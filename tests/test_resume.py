"""Resume: a run that stopped (SIGKILL, a fatal tool error) is finished from its journal.
Finished tasks keep their results, attempts the runtime accepted are collected - never spawned
again - and the rest run.

The crash tests drive the real CLI (`ai_orchestrator.py run` / `resume`) in subprocesses against
tests/fake_gateway.py, a FakeOpenClaw behind a real HTTP /tools/invoke server in a process of its
own, so the gateway (and the runs it accepted) outlives the killed client.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from parallel_agents.core.errors import InputError, RunAborted, ToolError
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.engine.journal import read_records
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.spawn import attempt_label
from parallel_agents.engine.tasks import AgentTask

from test_engine import (FAST, MODELS, WRITER, FailingCaller, attempt_of, sim, task_of,  # noqa: E402
                         valid_output)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def orchestrator(caller, config, tmp_path, max_concurrent=4):
    return RealAIParallelOrchestrator(max_concurrent, runtime=OpenClawRuntime(caller), config=config,
                                      runs_folder=tmp_path / "runs", seed=1)


def fatal_error() -> ToolError:
    return ToolError("gateway not reachable", tool="sessions_spawn", fatal=True, fix="start it")


# -- in process: a fatal tool error stops the run, resume finishes it -----------------------------

def test_resume_after_an_abort_collects_accepted_runs_and_finishes(fast_config, tmp_path):
    fake = FakeOpenClaw(models=MODELS, run_timeout_unit_s=0.05)
    tasks = [AgentTask(WRITER, sim(latency=0.02, reply=valid_output(WRITER),
                                   by_model={FAST: {"fail": "fast tier broke"}}), task_id="a0")]
    tasks += [AgentTask(WRITER, sim(latency=0.15, reply=valid_output(WRITER, seed=i)), task_id=f"a{i}")
              for i in range(1, 6)]
    tasks.append(AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id="after", depends_on=["a1"]))
    # four spawns go through; a0's fast attempt fails at once and the 5th spawn (its
    # escalation) hits an unreachable gateway
    first = orchestrator(FailingCaller(fake, "sessions_spawn", 5, fatal_error()), fast_config, tmp_path)
    with pytest.raises(RunAborted):
        first.run_parallel(tasks, run_id="crashed-run")
    accepted_before = {r["run_id"]: r["label"] for r in fake.runs()}
    assert sorted(map(attempt_of, accepted_before.values())) == ["a0#1", "a1#1", "a2#1", "a3#1"]

    second = orchestrator(fake, fast_config, tmp_path)
    results = second.resume("crashed-run")

    assert [r.task_id for r in results] == [t.task_id for t in tasks]
    assert [r.status for r in results] == ["completed"] * len(tasks)
    labels = Counter(r["label"] for r in fake.runs())
    assert all(n == 1 for n in labels.values()), labels          # no label spawned twice
    for run_id, label in accepted_before.items():                # accepted runs were collected
        result = next(r for r in results if r.task_id == task_of(label))
        assert run_id in [a.run_id for a in result.attempts]
    a0 = results[0]
    assert [(a.tier, a.status) for a in a0.attempts] == [("fast", "error"), ("balanced", "ok")]
    assert a0.attempts[0].error == "fast tier broke"
    for r in results:                                            # restored attempts count too
        assert abs(sum(a.cost_usd for a in r.attempts) - r.cost_usd) < 1e-9
        assert r.usage["input_tokens"] == sum(a.input_tokens for a in r.attempts)
    assert abs(second.last_run.cost_usd - sum(r.cost_usd for r in results)) < 1e-9

    records = read_records(tmp_path / "runs" / "crashed-run.jsonl")
    types = [r["type"] for r in records]
    assert types.count("run_started") == 1 and types.count("run_aborted") == 1
    assert types.count("run_resumed") == 1 and types[-1] == "run_finished"
    resumed = next(r for r in records if r["type"] == "run_resumed")
    assert resumed["reattached"] == 3                            # a1, a2, a3 were still live
    finished = Counter(r["task_id"] for r in records if r["type"] == "task_finished")
    assert finished == {t.task_id: 1 for t in tasks}


def test_resume_of_a_finished_run_spawns_nothing(fast_config, tmp_path):
    fake = FakeOpenClaw(models=MODELS)
    tasks = [AgentTask(WRITER, sim(reply=valid_output(WRITER)), task_id=f"t{i}") for i in range(3)]
    done = orchestrator(fake, fast_config, tmp_path).run_parallel(tasks, run_id="finished-run")
    calls_before = dict(fake.calls)

    again = orchestrator(fake, fast_config, tmp_path).resume("finished-run")

    assert dict(fake.calls) == calls_before
    assert [r.to_dict() for r in again] == [r.to_dict() for r in done]


def test_resume_of_an_unknown_run_is_an_input_error(fast_config, tmp_path):
    with pytest.raises(InputError, match="no journal for run 'nope-1'"):
        orchestrator(FakeOpenClaw(), fast_config, tmp_path).resume("nope-1")
    with pytest.raises(InputError, match="invalid run id"):
        orchestrator(FakeOpenClaw(), fast_config, tmp_path).resume("../etc/passwd")


def test_resume_of_a_journal_without_a_start_record_is_an_input_error(fast_config, tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "empty-run.jsonl").write_text('{"t": 1, "type": "run_aborted"}\n{"torn": ')
    with pytest.raises(InputError, match="no start record"):
        orchestrator(FakeOpenClaw(), fast_config, tmp_path).resume("empty-run")


def test_resume_finds_a_run_accepted_just_before_the_crash(fast_config, tmp_path):
    fake = FakeOpenClaw(models=MODELS)
    tasks = [AgentTask(WRITER, sim(latency=0.05, reply=valid_output(WRITER)), task_id="only")]
    # the gateway accepts the spawn, then the client dies before it hears back
    caller = FailingCaller(fake, "sessions_spawn", 1, fatal_error(), after_forwarding=True)
    with pytest.raises(RunAborted):
        orchestrator(caller, fast_config, tmp_path).run_parallel(tasks, run_id="torn-run")

    [result] = orchestrator(fake, fast_config, tmp_path).resume("torn-run")

    assert result.status == "completed"
    assert [attempt_of(r["label"]) for r in fake.runs()] == ["only#1"]


LONG_ID = "nightly-review-of-the-payments-service-" + "x" * 30   # its label would be cut in lists


@pytest.mark.parametrize("task_id", ["only", LONG_ID])
def test_a_spawn_whose_answer_is_lost_is_adopted_not_sent_twice(task_id, fast_config, tmp_path):
    """The gateway accepts the spawn, then the HTTP answer times out: the runtime finds the run
    by its unique label instead of spawning a second child - also for a task id too long for
    `subagents list` to show whole (labels stay within its 48 characters)."""
    fake = FakeOpenClaw(models=MODELS)
    lost = ToolError("gateway did not answer within 30s", tool="sessions_spawn", retryable=True,
                     fix="check the gateway's load")
    caller = FailingCaller(fake, "sessions_spawn", 1, lost, after_forwarding=True)
    tasks = [AgentTask(WRITER, sim(latency=0.05, reply=valid_output(WRITER)), task_id=task_id)]

    [result] = orchestrator(caller, fast_config, tmp_path).run_parallel(tasks)

    assert result.status == "completed" and len(result.attempts) == 1
    [run] = fake.runs()
    assert len(run["label"]) <= 48 and attempt_of(run["label"]).endswith("#1")
    assert attempt_of(run["label"]) == "only#1" or run["label"].startswith(LONG_ID[:30])


def test_attempt_labels_are_distinct_for_long_ids_that_share_a_prefix():
    a, b = LONG_ID + "-a", LONG_ID + "-b"
    labels = {attempt_label(t, n, run) for t in (a, b) for n in (1, 2) for run in ("r1", "r2")}
    assert len(labels) == 8 and all(len(label) <= 48 for label in labels)


# -- the real thing: SIGKILL the CLI mid-run, resume it from another process ----------------------

TASKS_YAML = """\
tasks:
{items}
"""


def write_task_file(path: Path, n: int, latency: float) -> list[str]:
    items = []
    for i in range(n):
        spec = json.dumps({"latency": latency, "reply": valid_output(WRITER, seed=i)})
        items.append(f"  - id: k{i:02d}\n    agent: {WRITER}\n    task: |\n      Write post {i}.\n"
                     f"      SIM {spec}\n")
    path.write_text(TASKS_YAML.format(items="".join(items)), encoding="utf-8")
    return [f"k{i:02d}" for i in range(n)]


def start_cli(args, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "ai_orchestrator.py"), *args], cwd=REPO,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_journal(runs: Path, predicate, proc, timeout: float = 20) -> tuple[Path, list[dict]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in runs.glob("*.jsonl"):
            records = read_records(path)
            if predicate(records):
                return path, records
        assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read()
        time.sleep(0.005)
    raise AssertionError("the journal never reached the expected state")


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)


def resume(run_id: str, env) -> dict:
    proc = start_cli(["resume", run_id, "--json"], env)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        kill(proc)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_sigkill_mid_run_then_resume_collects_instead_of_respawning(start_fake_gateway, pa_home, tmp_path):
    gateway = start_fake_gateway("resume-token")
    task_ids = write_task_file(tmp_path / "tasks.yaml", 12, latency=1.0)
    env = gateway.env(PARALLEL_AGENTS_HOME=str(pa_home))
    proc = start_cli(["run", "--tasks", str(tmp_path / "tasks.yaml"), "--max-concurrent", "4", "--json"], env)
    try:
        journal, records = wait_for_journal(
            pa_home / "runs", lambda rs: sum(r["type"] == "spawn_accepted" for r in rs) >= 4, proc)
    finally:
        kill(proc)
    assert proc.returncode == -signal.SIGKILL
    records = read_records(journal)   # everything written before the kill
    accepted = {r["attempt"]["run_id"]: r["task_id"] for r in records if r["type"] == "spawn_accepted"}
    assert len(accepted) == 4
    assert not any(r["type"] == "task_finished" for r in records)

    report = resume(journal.stem, env)

    assert report["run_id"] == journal.stem
    assert report["counts"] == {"completed": 12}
    assert [r["task_id"] for r in report["results"]] == task_ids
    runs = gateway.runs()
    labels = Counter(r["label"] for r in runs)
    assert all(n == 1 for n in labels.values()), labels                 # no label spawned twice
    assert sorted(task_of(label) for label in labels) == task_ids          # one run per task
    for run_id, task_id in accepted.items():                               # collected, not respawned
        result = next(r for r in report["results"] if r["task_id"] == task_id)
        assert [a["run_id"] for a in result["attempts"]] == [run_id]
    records = read_records(journal)
    finished = Counter(r["task_id"] for r in records if r["type"] == "task_finished")
    assert finished == {t: 1 for t in task_ids}
    assert [r["type"] for r in records].count("run_resumed") == 1
    assert records[-1]["type"] == "run_finished"


class BlackHole:
    """A TCP server that accepts connections and never answers: a client's first tool call hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_sigkill_before_any_spawn_then_resume_spawns_each_task_once(start_fake_gateway, pa_home, tmp_path):
    gateway = start_fake_gateway("resume-token")
    task_ids = write_task_file(tmp_path / "tasks.yaml", 6, latency=0.05)
    hole = BlackHole()   # the first run never reaches a gateway: its first spawn hangs
    proc = start_cli(["run", "--tasks", str(tmp_path / "tasks.yaml"), "--max-concurrent", "4", "--json"],
                     {"OPENCLAW_GATEWAY_URL": hole.url, "OPENCLAW_GATEWAY_TOKEN": gateway.token,
                      "PARALLEL_AGENTS_HOME": str(pa_home)})
    try:
        journal, records = wait_for_journal(
            pa_home / "runs", lambda rs: any(r["type"] == "run_started" for r in rs), proc)
    finally:
        kill(proc)
        hole.close()
    records = read_records(journal)
    assert not any(r["type"] == "spawn_accepted" for r in records)

    report = resume(journal.stem, gateway.env(PARALLEL_AGENTS_HOME=str(pa_home)))

    assert report["counts"] == {"completed": 6}
    labels = [r["label"] for r in gateway.runs()]
    assert sorted(map(attempt_of, labels)) == [f"{t}#1" for t in task_ids]  # everything, once
    finished = Counter(r["task_id"] for r in read_records(journal) if r["type"] == "task_finished")
    assert finished == {t: 1 for t in task_ids}


def test_a_lost_answer_never_adopts_the_child_of_an_earlier_run_of_the_same_tasks(fast_config, tmp_path):
    """The same task file run twice within minutes: the first run's child is still listed when
    the second run's spawn answer is lost. Labels carry the run, so the second run adopts its
    own child (one more run, its own output), never the first run's."""
    fake = FakeOpenClaw(models=MODELS)

    def tasks(seed: int) -> list[AgentTask]:
        return [AgentTask(WRITER, sim(latency=0.01, reply=valid_output(WRITER, seed=seed)), task_id="only")]

    [first] = orchestrator(fake, fast_config, tmp_path).run_parallel(tasks(1))
    lost = ToolError("gateway did not answer within 30s", tool="sessions_spawn", retryable=True,
                     fix="check the gateway's load")
    caller = FailingCaller(fake, "sessions_spawn", 1, lost, after_forwarding=True)
    [second] = orchestrator(caller, fast_config, tmp_path).run_parallel(tasks(2))

    assert second.status == "completed" and len(second.attempts) == 1
    assert second.attempts[0].run_id != first.attempts[0].run_id
    assert second.output == valid_output(WRITER, seed=2)
    assert len(fake.runs()) == 2                      # one child per run: nothing orphaned


def test_resume_keeps_where_a_task_stood_on_its_tier(fast_config, tmp_path):
    """A re-ask already made on a tier is not made again after a crash (nor are transient
    failures forgotten): the attempts stay within the budget of one re-ask per tier."""
    fake = FakeOpenClaw(models=MODELS)
    task = AgentTask(WRITER, sim(latency=0.01, reply=valid_output(WRITER),
                                 by_model={FAST: {"reply": "not json"}}), task_id="w")
    # attempt 1 (fast) is invalid, a re-ask is planned, and its spawn dies
    caller = FailingCaller(fake, "sessions_spawn", 2, fatal_error())
    with pytest.raises(RunAborted):
        orchestrator(caller, fast_config, tmp_path).run_parallel([task], run_id="mid-ladder")

    [result] = orchestrator(fake, fast_config, tmp_path).resume("mid-ladder")

    assert result.status == "completed"
    assert [(a.tier, a.status, a.reask) for a in result.attempts] == [
        ("fast", "invalid", False), ("fast", "invalid", True), ("balanced", "ok", False)]
