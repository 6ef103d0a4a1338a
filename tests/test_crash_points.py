"""kill -9 the CLI at each point of a run where a crash could lose or double work, then `resume`.

The CLI (`ai_orchestrator.py run --tasks FILE`) drives tests/fake_gateway.py, a FakeOpenClaw in a
process of its own (so its runs outlive the client), through `HoldingProxy`: a pass-through
HTTP proxy that holds chosen requests - before passing them on, or after, so the answer never
comes back. A held request stops the client at an exact point, so the journal under
PARALLEL_AGENTS_HOME shows that point and stays there until the kill: no sleeps, no races.

    (a) a spawn's intent is journaled and the spawn sent; the gateway never saw it, or it
        accepted it and the answer was lost;
    (b) spawns accepted and journaled; the client is waiting for them, nothing collected;
    (c) some results collected and journaled; the reading of the others is cut off.

Then `resume RUN_ID` (straight to the gateway) must finish every task exactly once: one
task_finished per task over both processes, one run per task on the gateway (no label spawned
twice: an accepted run is adopted or collected, never sent again), results kept from before the
crash, and every output valid.
"""
from __future__ import annotations

import json
import signal
import threading
import time
import types as namespace
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from parallel_agents.engine import journal as journal_module
from parallel_agents.definitions.registry import load_registry
from parallel_agents.definitions.model import schema_registry
from parallel_agents.core.errors import RunAborted
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.engine.journal import read_records
from parallel_agents.replies.validate import validate_output
from parallel_agents.engine.tasks import AgentTask

from test_engine import MODELS, WRITER, FailingCaller, attempt_of, sim, task_of, valid_output
from test_resume import (fatal_error, kill, orchestrator, resume, start_cli, wait_for_journal,
                         write_task_file)

N_TASKS = 10
MAX_CONCURRENT = 4          # the first wave is k00..k03
COLLECTION_TOOLS = ("subagents", "sessions_history", "agents_wait")


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


class HoldingProxy:
    """Passes POST /tools/invoke on to `upstream`, except the calls `hold(proxy, tool, args)`
    picks: "before" holds the request without passing it on, "after" passes it on and holds the
    answer. A held call is answered 503 (and never passed on, if it was not yet) on close().
    Keeps the child session key of each spawn's label, for rules about sessions_history."""

    def __init__(self, upstream: str, hold):
        self.upstream, self.hold = upstream, hold
        self.held: list[tuple[str, dict]] = []
        self.labels: dict[str, str] = {}      # child session key -> spawn label
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def held_calls(self, tool: str) -> list[dict]:
        with self._lock:
            return [args for name, args in self.held if name == tool]

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, body: bytes, authorization: str) -> tuple[int, bytes]:
        request = urllib.request.Request(self.upstream + "/tools/invoke", data=body, method="POST",
                                         headers={"Authorization": authorization,
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _handle(self, body: bytes, authorization: str) -> tuple[int, bytes]:
        call = json.loads(body)
        tool, args = call.get("tool"), call.get("args") or {}
        when = self.hold(self, tool, args)
        if when != "before":
            status, answer = self._forward(body, authorization)
            if tool == "sessions_spawn" and status == 200:
                details = json.loads(answer)["result"]["details"]
                if details.get("childSessionKey"):
                    with self._lock:
                        self.labels[details["childSessionKey"]] = args.get("label", "")
            if when is None:
                return status, answer
        with self._lock:
            self.held.append((tool, args))
        self._release.wait()
        return 503, b'{"ok": false, "error": {"type": "unavailable", "message": "proxy closed"}}'

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = proxy._handle(body, self.headers.get("Authorization", ""))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:   # the client was killed meanwhile
                    pass

        return Handler


def first_wave(label: str) -> bool:
    return int(task_of(label)[1:]) < MAX_CONCURRENT


def types(records: list[dict]) -> Counter:
    return Counter(r["type"] for r in records)


# -- where to stop: a hold rule and the journal state that shows the client is stuck there ----------

def hold_spawns(when: str):
    def rule(proxy, tool, args):
        return when if tool == "sessions_spawn" else None

    def stuck(proxy, records):
        # every spawn of the batch is sent and held: nothing more can happen until the kill
        intents = types(records)["spawn_intent"]
        return intents > 0 and len(proxy.held_calls("sessions_spawn")) == intents
    return rule, stuck


def hold_collection():
    def rule(proxy, tool, args):
        return "before" if tool in COLLECTION_TOOLS else None

    def stuck(proxy, records):
        return types(records)["spawn_accepted"] == MAX_CONCURRENT and bool(proxy.held)
    return rule, stuck


def hold_later_replies():
    """Replies of the first wave are read; reading any later task's reply is cut off."""
    def rule(proxy, tool, args):
        if tool != "sessions_history":
            return None
        label = proxy.labels.get(args.get("sessionKey"), "")
        return None if label and first_wave(label) else "before"

    def stuck(proxy, records):
        return types(records)["task_finished"] > 0 and bool(proxy.held_calls("sessions_history"))
    return rule, stuck


POINTS = {
    "before_spawn_never_sent": hold_spawns("before"),
    "before_spawn_answer_lost": hold_spawns("after"),
    "after_accept_before_collect": hold_collection(),
    "mid_collection": hold_later_replies(),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_9_then_resume_finishes_every_task_exactly_once(point, start_fake_gateway, pa_home, tmp_path):
    gateway = start_fake_gateway("crash-token")
    task_ids = write_task_file(tmp_path / "tasks.yaml", N_TASKS, latency=0.05)
    rule, stuck = POINTS[point]
    proxy = HoldingProxy(gateway.url, rule)
    proc = start_cli(["run", "--tasks", str(tmp_path / "tasks.yaml"), "--max-concurrent",
                      str(MAX_CONCURRENT), "--json"],
                     gateway.env(PARALLEL_AGENTS_HOME=str(pa_home), OPENCLAW_GATEWAY_URL=proxy.url))
    try:
        journal, _ = wait_for_journal(pa_home / "runs", lambda rs: stuck(proxy, rs), proc, timeout=60)
    finally:
        kill(proc)
        proxy.close()
    assert proc.returncode == -signal.SIGKILL
    before = read_records(journal)          # all the killed client left behind
    runs_before = {r["label"]: r["run_id"] for r in gateway.runs()}
    seen = types(before)

    # the crash happened where it was meant to
    assert seen["run_started"] == 1 and seen["run_finished"] == 0
    if point.startswith("before_spawn"):
        assert seen["spawn_intent"] > 0 and seen["spawn_accepted"] == 0
        intents = {r["label"] for r in before if r["type"] == "spawn_intent"}
        assert set(runs_before) == (intents if point == "before_spawn_answer_lost" else set())
    elif point == "after_accept_before_collect":
        assert seen["spawn_accepted"] == MAX_CONCURRENT and seen["attempt_finished"] == 0
        assert set(map(attempt_of, runs_before)) == {f"{t}#1" for t in task_ids[:MAX_CONCURRENT]}
    else:
        accepted = {r["task_id"] for r in before if r["type"] == "spawn_accepted"}
        finished = {r["task_id"] for r in before if r["type"] == "task_finished"}
        assert finished and finished <= set(task_ids[:MAX_CONCURRENT])
        assert accepted - finished, "no accepted run was left uncollected"

    report = resume(journal.stem, gateway.env(PARALLEL_AGENTS_HOME=str(pa_home)))

    # every task done, exactly once, each by one run on the gateway
    assert report["run_id"] == journal.stem
    assert report["counts"] == {"completed": N_TASKS}
    assert [r["task_id"] for r in report["results"]] == task_ids
    runs = gateway.runs()
    labels = Counter(r["label"] for r in runs)
    assert sorted(map(attempt_of, labels)) == [f"{t}#1" for t in task_ids] and set(labels.values()) == {1}, labels
    records = read_records(journal)
    assert Counter(r["task_id"] for r in records if r["type"] == "task_finished") == \
        {t: 1 for t in task_ids}
    assert types(records)["run_resumed"] == 1 and records[-1]["type"] == "run_finished"
    assert records[-1]["counts"] == {"completed": N_TASKS}
    # runs accepted before the crash were adopted or collected, results from before it kept
    by_task = {r["task_id"]: r for r in report["results"]}
    for label, run_id in runs_before.items():
        assert [a["run_id"] for a in by_task[task_of(label)]["attempts"]] == [run_id], label
    for record in before:
        if record["type"] == "task_finished":
            assert by_task[record["task_id"]] == record["result"]
    schema = load_registry().get(WRITER).output_schema
    for result in report["results"]:
        assert validate_output(result["output"], schema, registry=schema_registry()) == [], result["task_id"]


# -- a label seen before: task ids repeat across runs of the same task file ------------------------

def test_resume_does_not_adopt_the_run_of_an_earlier_run_with_the_same_label(
        fast_config, tmp_path, monkeypatch):
    fake = FakeOpenClaw(models=MODELS)

    def tasks(seed: int) -> list[AgentTask]:
        return [AgentTask(WRITER, sim(latency=0.01, reply=valid_output(WRITER, seed=seed)), task_id="only")]

    [earlier] = orchestrator(fake, fast_config, tmp_path).run_parallel(tasks(1), run_id="earlier-run")
    # a minute later the task file, edited, runs again; the client dies before its spawn is sent
    minute_later = namespace.SimpleNamespace(time=lambda: time.time() + 60, strftime=time.strftime)
    monkeypatch.setattr(journal_module, "time", minute_later)
    with pytest.raises(RunAborted):
        orchestrator(FailingCaller(fake, "sessions_spawn", 1, fatal_error()), fast_config,
                     tmp_path).run_parallel(tasks(2), run_id="later-run")
    assert [attempt_of(r["label"]) for r in fake.runs()] == ["only#1"]  # the earlier run's child, still listed

    [later] = orchestrator(fake, fast_config, tmp_path).resume("later-run")

    assert later.status == "completed"
    assert later.attempts[0].run_id != earlier.attempts[0].run_id   # spawned, not adopted
    assert later.output == valid_output(WRITER, seed=2)             # its own task's answer
    assert [attempt_of(r["label"]) for r in fake.runs()] == ["only#1", "only#1"]
