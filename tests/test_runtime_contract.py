"""The runtime seam against the OpenClaw contract double.

Read top to bottom, these tests document what OpenClawRuntime relies on from OpenClaw 2026.9.6
(sessions_spawn receipts and refusals, the subagent lane, subagents list/wait/cancel,
sessions_history caps, collector runs via agents_wait) and how the runtime turns it into
Receipts and RunOutcomes. Every simulated latency is <= 50 ms.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
import types
from pathlib import Path

import pytest

from parallel_agents.simulation.directives import Reply, SpawnView, directive_responder
from parallel_agents.simulation.fake_history import TRUNCATION_MARKER
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.openclaw.runs import RunOutcome
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.spawn import SpawnRefused, SpawnRequest, classify_refusal, make_task_name
from parallel_agents.openclaw.toolcaller import (ModuleToolCaller, ToolCaller, ToolError,
                                        find_tools_module, unwrap_result)

SHIM = Path(__file__).parent / "shim"


# -- helpers ----------------------------------------------------------------------------------
def sim(**directive) -> str:
    return "SIM " + json.dumps(directive)


def task(text: str = "Summarise the file.", **directive) -> str:
    return f"{text}\n{sim(**directive)}" if directive else text


def req(label: str = "t1", timeout: int = 5, **kw) -> SpawnRequest:
    directive = kw.pop("sim", {})
    return SpawnRequest(task=kw.pop("task", task(**directive)), label=label,
                        task_name=kw.pop("task_name", make_task_name(label)),
                        model=kw.pop("model", None), run_timeout_seconds=timeout, **kw)


def wait_all(rt: OpenClawRuntime, run_ids, timeout_s: float = 3.0) -> dict[str, RunOutcome]:
    """Drain runs the way a scheduler does: keep waiting on the ones not finished yet."""
    outcomes: dict[str, RunOutcome] = {}
    deadline = time.monotonic() + timeout_s
    while len(outcomes) < len(run_ids) and time.monotonic() < deadline:
        left = [r for r in run_ids if r not in outcomes]
        for outcome in rt.wait(left, deadline - time.monotonic()):
            outcomes[outcome.run_id] = outcome
    return outcomes


class WaitActionMissing:
    """A caller whose `subagents` has no `wait` action (as in older gateways)."""

    def __init__(self, inner: FakeOpenClaw):
        self.inner = inner

    def has(self, tool):
        return self.inner.has(tool)

    def call(self, tool, args):
        if tool == "subagents" and args.get("action") == "wait":
            self.inner.calls["subagents"] += 1
            return {"status": "error", "error": "Unsupported action."}
        return self.inner.call(tool, args)


@pytest.fixture
def fake():
    return FakeOpenClaw()


@pytest.fixture
def history_rt(fake):
    return OpenClawRuntime(fake, collection="history")


@pytest.fixture
def shim_tools(monkeypatch):
    monkeypatch.syspath_prepend(str(SHIM))
    monkeypatch.delitem(sys.modules, "tools", raising=False)
    module = importlib.import_module("tools")
    module.reset()
    yield module
    sys.modules.pop("tools", None)


# -- sessions_spawn arguments and receipts ----------------------------------------------------
def test_spawn_args_are_exactly_what_openclaw_accepts():
    plain = SpawnRequest(task="do it", label="review a.py", task_name="review-a", model="m/fast",
                         run_timeout_seconds=120, output_schema={"type": "object"})
    assert plain.to_args() == {"task": "do it", "label": "review a.py", "taskName": "review-a",
                               "model": "m/fast", "runTimeoutSeconds": 120, "cleanup": "keep",
                               "expectsCompletionMessage": False}
    collector = SpawnRequest(task="do it", label="x", task_name="x", model=None, run_timeout_seconds=60,
                             output_schema={"type": "object"}, collect=True, group_id="g1")
    args = collector.to_args()
    assert args["collect"] is True and args["outputSchema"] == {"type": "object"} and args["groupId"] == "g1"
    assert "model" not in args and "timeoutSeconds" not in args


def test_make_task_name_always_passes_openclaws_regex():
    for text in ["Review a.py!", "123 go", "ALL", "all", "", "x" * 200, "last"]:
        name = make_task_name(text)
        assert FakeOpenClaw().call("sessions_spawn", {"task": "t", "taskName": name})["status"] == "accepted"


def test_accepted_receipt_has_openclaws_keys(fake):
    raw = fake.call("sessions_spawn", {"task": "hi", "label": "a", "taskName": "a", "model": "prov/m1",
                                       "runTimeoutSeconds": 5, "cleanup": "keep",
                                       "expectsCompletionMessage": False})
    assert raw["status"] == "accepted"
    assert raw["childSessionKey"].startswith("agent:main:subagent:")
    assert {"runId", "mode", "expectsCompletionMessage", "context", "taskName", "note",
            "resolvedModel", "resolvedProvider", "modelApplied"} <= set(raw)
    assert raw["expectsCompletionMessage"] is False and raw["note"].startswith("Quiet run")
    assert raw["resolvedModel"] == "prov/m1" and raw["resolvedProvider"] == "prov"
    assert "sessionKey" not in raw  # only collectors echo it


def test_runtime_spawn_returns_a_receipt(fake, history_rt):
    receipt = history_rt.spawn(req(model="prov/m1"))
    assert receipt.run_id == receipt.raw["runId"]
    assert receipt.session_key == receipt.raw["childSessionKey"]
    assert receipt.resolved_model == "prov/m1"
    assert history_rt.calls["sessions_spawn"] == 1


# -- refusals ---------------------------------------------------------------------------------
def test_max_active_children_is_backpressure_not_failure(fake, history_rt):
    ids = [history_rt.spawn(req(f"h{i}", sim={"hang": True})).run_id for i in range(5)]
    with pytest.raises(SpawnRefused) as refused:
        history_rt.spawn(req("h5", sim={"hang": True}))
    assert refused.value.kind == "backpressure" and refused.value.retryable
    assert "max active children for this session (5/5" in refused.value.message
    assert refused.value.raw["status"] == "forbidden"
    assert history_rt.cancel(ids[0]) is True  # a slot frees ...
    history_rt.spawn(req("h5", sim={"hang": True}))  # ... and the spawn is accepted
    assert fake.peak_active_children == 5


def test_collectors_do_not_count_against_max_children(fake):
    rt = OpenClawRuntime(fake)  # auto -> collector, the fake offers agents_wait
    assert rt.collection_mode == "collector"
    for i in range(7):
        rt.spawn(req(f"c{i}", sim={"hang": True}))
    assert fake.peak_active_children == 0


def test_refusals_are_classified_from_openclaw_error_texts():
    fake = FakeOpenClaw(models=["prov/good"], responder=lambda view: Reply(
        text="ok", spawn_error="sessions_spawn could not reserve swarm FIFO order." if view.label == "flaky" else None))
    rt = OpenClawRuntime(fake, collection="history")
    with pytest.raises(SpawnRefused) as bad_model:
        rt.spawn(req(model="prov/nope"))
    assert bad_model.value.kind == "permanent"
    assert bad_model.value.message == 'sessions_spawn model "prov/nope" is not usable: model not allowed: prov/nope'
    with pytest.raises(SpawnRefused) as bad_name:
        rt.spawn(req(task_name="Bad Name"))
    assert bad_name.value.kind == "permanent" and bad_name.value.message.startswith('Invalid taskName "Bad Name"')
    with pytest.raises(SpawnRefused) as flaky:
        rt.spawn(req("flaky"))
    assert flaky.value.kind == "transient"


@pytest.mark.parametrize("status,text,kind", [
    ("forbidden", "sessions_spawn has reached max active children for this session (5/5; "
                  "agents.defaults.subagents.maxChildrenPerAgent).", "backpressure"),
    ("forbidden", "sessions_spawn reached tools.swarm.maxChildrenPerGroup (50/50).", "backpressure"),
    ("forbidden", "sessions_spawn reached tools.swarm.maxTotalPerGroup (200/200).", "permanent"),
    ("forbidden", "sessions_spawn is not allowed at this depth (current depth: 5, max: 5; "
                  "agents.defaults.subagents.maxSpawnDepth).", "permanent"),
    ("error", 'sessions_spawn model "x/y" is not usable: model not allowed: x/y', "permanent"),
    ("error", 'sessions_spawn model "x/y" is not usable: Model account facts are not prepared. '
              'Retry after configuration finishes loading.', "transient"),
    ("error", "sessions_spawn could not verify the selected model: ECONNRESET", "transient"),
    ("error", "Failed to register subagent run: disk busy", "transient"),
    ("error", "sessions_spawn collect=true requires a requesting run id when groupId is omitted.", "permanent"),
    ("forbidden", "sessions_spawn swarm parameters require tools.swarm.enabled=true.", "permanent"),
])
def test_classify_refusal_table(status, text, kind):
    assert classify_refusal(status, text) == kind


def test_thrown_input_errors_are_permanent_refusals(fake):
    with pytest.raises(ToolError, match='does not support "timeoutSeconds". Use "runTimeoutSeconds"'):
        fake.call("sessions_spawn", {"task": "x", "timeoutSeconds": 5})
    with pytest.raises(ToolError, match='"outputSchema" requires collect=true'):
        fake.call("sessions_spawn", {"task": "x", "outputSchema": {}})

    class Thrower:
        def has(self, tool):
            return True

        def call(self, tool, args):
            raise ToolError('sessions_spawn does not support "timeoutSeconds".', tool=tool)

    with pytest.raises(SpawnRefused) as refused:
        OpenClawRuntime(Thrower(), collection="history").spawn(req())
    assert refused.value.kind == "permanent"


def test_collector_without_group_id_is_refused_over_http(fake):
    result = fake.call("sessions_spawn", {"task": "x", "collect": True})
    assert result == {"status": "error", "error": "sessions_spawn collect=true requires a requesting "
                                                  "run id when groupId is omitted."}
    rt = OpenClawRuntime(fake, collection="collector")
    receipt = rt.spawn(req())  # the runtime always sends its groupId
    assert receipt.raw["sessionKey"] == receipt.session_key


# -- the subagent lane ------------------------------------------------------------------------
def test_lane_cap_queues_runs_and_starts_them_as_slots_free():
    fake = FakeOpenClaw(lane_max_concurrent=2, max_children=10)
    rt = OpenClawRuntime(fake, collection="history")
    ids = [rt.spawn(req(f"q{i}", sim={"latency": 0.03, "reply": f"r{i}"})).run_id for i in range(5)]
    outcomes = wait_all(rt, ids)
    assert [outcomes[r].text for r in ids] == [f"r{i}" for i in range(5)]
    assert fake.peak_running == 2
    runs = fake.runs()
    assert runs[0]["start_at"] == runs[0]["created_at"]
    ends = sorted(r["ended_at"] for r in runs)
    for queued in runs[2:]:  # each queued run started exactly when an earlier run ended
        assert queued["start_at"] in ends and queued["start_at"] > queued["created_at"]
        assert queued["ended_at"] == pytest.approx(queued["start_at"] + 0.03)


def test_queued_runs_still_count_as_active_children():
    fake = FakeOpenClaw(lane_max_concurrent=1, max_children=2)
    rt = OpenClawRuntime(fake, collection="history")
    rt.spawn(req("a", sim={"hang": True}))
    rt.spawn(req("b", sim={"hang": True}))  # queued behind a
    with pytest.raises(SpawnRefused) as refused:
        rt.spawn(req("c"))
    assert refused.value.kind == "backpressure"
    assert [r["start_at"] is None for r in fake.runs()] == [False, True]


# -- waiting and collecting plain runs --------------------------------------------------------
def test_history_collection_returns_the_last_assistant_text(fake, history_rt):
    run_id = history_rt.spawn(req(sim={"latency": 0.02, "reply": {"answer": 42}}, model="prov/m1")).run_id
    [outcome] = history_rt.wait([run_id], 2)
    assert outcome.status == "ok" and json.loads(outcome.text) == {"answer": 42}
    assert outcome.truncated is False and outcome.structured is None
    assert outcome.model == "prov/m1"
    assert outcome.usage["input_tokens"] == 0 and outcome.usage["output_tokens"] == 0
    assert history_rt.calls["sessions_history"] == 1
    assert history_rt.wait([run_id], 0) == [outcome]  # idempotent


def test_wait_blocks_in_subagents_wait_not_a_busy_loop(fake, history_rt):
    run_id = history_rt.spawn(req(sim={"latency": 0.05})).run_id
    started = time.monotonic()
    [outcome] = history_rt.wait([run_id], 5)
    assert outcome.status == "ok" and time.monotonic() - started < 1
    assert history_rt.calls["subagents.wait"] == 1
    assert history_rt.calls["subagents"] <= 2  # one list (to learn the task id) + one wait


def test_wait_returns_empty_when_nothing_finishes_in_time(fake, history_rt):
    run_id = history_rt.spawn(req(sim={"hang": True})).run_id
    started = time.monotonic()
    assert history_rt.wait([run_id], 0.15) == []
    assert 0.14 <= time.monotonic() - started < 0.6
    assert sum(history_rt.calls.values()) < 12  # bounded back-off, not a spin


def test_falls_back_to_list_polling_when_wait_is_not_offered():
    fake = FakeOpenClaw()
    rt = OpenClawRuntime(WaitActionMissing(fake), collection="history")
    run_id = rt.spawn(req(sim={"latency": 0.04, "reply": "polled"})).run_id
    [outcome] = rt.wait([run_id], 5)
    assert outcome.text == "polled"
    assert rt.calls["subagents.list"] <= 6  # 0.05 s doubling back-off, not a spin


def test_run_timeout_gives_timeout_status():
    fake = FakeOpenClaw(run_timeout_unit_s=0.03)  # runTimeoutSeconds=1 lasts 30 ms here
    rt = OpenClawRuntime(fake, collection="history")
    hung = rt.spawn(req("hung", timeout=1, sim={"hang": True})).run_id
    slow = rt.spawn(req("slow", timeout=1, sim={"latency": 0.05})).run_id
    outcomes = wait_all(rt, [hung, slow])
    assert outcomes[hung].status == outcomes[slow].status == "timeout"
    assert outcomes[hung].text is None and "timed out" in outcomes[hung].error


def test_failed_run_reports_its_error(fake, history_rt):
    run_id = history_rt.spawn(req(sim={"fail": "provider exploded"})).run_id
    [outcome] = history_rt.wait([run_id], 2)
    assert outcome.status == "error" and outcome.error == "provider exploded" and outcome.text is None


def test_cancel_stops_a_run(fake, history_rt):
    run_id = history_rt.spawn(req(sim={"hang": True})).run_id
    assert history_rt.cancel(run_id) is True
    [outcome] = history_rt.wait([run_id], 2)
    assert outcome.status == "cancelled"
    assert history_rt.cancel(run_id) is False  # already terminal
    assert history_rt.cancel("no-such-run") is False
    assert fake.call("subagents", {"action": "cancel", "taskId": "nope"}) == \
        {"status": "forbidden", "error": "Task outside session tree."}


def test_list_views_and_task_rows_look_like_openclaws(fake):
    done = fake.call("sessions_spawn", {"task": task(reply="All  good.\nDone."), "label": "done",
                                        "expectsCompletionMessage": False})["runId"]
    hung = fake.call("sessions_spawn", {"task": task(hang=True), "label": "hung"})["runId"]  # announces
    time.sleep(0.05)
    listing = fake.call("subagents", {"action": "list"})
    views = {v["runId"]: v for v in listing["active"] + listing["recent"]}
    assert "line" not in views[done] and "2. done (default, " in listing["text"]
    assert (views[done]["deliveryStatus"], views[hung]["deliveryStatus"]) == ("not_required", "pending")
    assert views[done]["totalTokens"] > 0 and "totalTokens" not in views[hung]  # no usage yet
    rows = {r["label"]: r for r in listing["tasks"]}
    assert rows["done"]["progressSummary"] == "All good. Done."  # the reply, whitespace collapsed
    fake.call("subagents", {"action": "cancel", "taskId": rows["hung"]["taskId"]})
    [row] = [r for r in fake.call("subagents", {"action": "list"})["tasks"] if r["label"] == "hung"]
    assert (row["status"], row["error"]) == ("cancelled", "Cancelled by operator.")


def test_collectors_stay_queued_on_a_gateway_reached_over_http():
    fake = FakeOpenClaw(collector_runs_start=False)  # as tests/fake_gateway.py plays it
    run_id = fake.call("sessions_spawn", {"task": task(reply="x"), "label": "c", "collect": True,
                                          "groupId": "g"})["runId"]
    plain = fake.call("sessions_spawn", {"task": task(reply="y", latency=0.01), "label": "p"})["runId"]
    time.sleep(0.05)
    listing = fake.call("subagents", {"action": "list"})
    [view] = listing["active"]
    assert (view["runId"], view["status"], view["execution"], view["runtime"]) == \
        (run_id, "queued", {"state": "queued"}, "n/a") and "startedAt" not in view
    assert next(r for r in listing["recent"] if r["runId"] == plain)["status"] == "done"  # the lane is free
    assert fake.call("agents_wait", {"ids": [run_id], "timeoutSeconds": 0.05}) == {"completed": [],
                                                                                 "pending": [run_id]}
    assert OpenClawRuntime(fake).collection_mode == "history"  # so the runtime never asks for one


def test_subagents_wait_and_cancel_take_task_ids_not_run_ids(fake):
    run_id = fake.call("sessions_spawn", {"task": "x", "label": "L"})["runId"]
    listing = fake.call("subagents", {"action": "list"})
    [row] = listing["tasks"]
    assert row["label"] == "L" and "runId" not in row and row["taskId"] != run_id
    assert listing["active"][0]["runId"] == run_id
    result = fake.call("subagents", {"action": "wait", "taskIds": [run_id], "timeoutSeconds": 0})
    assert result["reason"] == "unavailable" and result["unavailable"] == [run_id]
    with pytest.raises(ToolError, match="at most 32 taskIds"):
        fake.call("subagents", {"action": "wait", "taskIds": [f"t{i}" for i in range(33)]})
    assert fake.call("subagents", {"action": "kill", "taskId": row["taskId"]}) == \
        {"status": "error", "error": "Unsupported action."}


# -- sessions_history caps --------------------------------------------------------------------
def test_history_text_cap_is_detected_as_truncation(fake, history_rt):
    long_reply = "".join(f"line {i:05d}\n" for i in range(500))  # 5500 chars
    run_id = history_rt.spawn(req(sim={"reply": long_reply})).run_id
    [outcome] = history_rt.wait([run_id], 2)
    assert outcome.status == "ok" and outcome.truncated is True
    assert outcome.text == long_reply[:4000] + TRUNCATION_MARKER


def test_content_truncated_flag_alone_is_not_truncation(fake, history_rt):
    run_id = history_rt.spawn(req(sim={"reply": "short"})).run_id
    [outcome] = history_rt.wait([run_id], 2)
    raw = fake.call("sessions_history", {"sessionKey": outcome_session(fake, run_id)})
    assert raw["contentTruncated"] is True  # OpenClaw sets it whenever it strips usage
    assert "usage" not in raw["messages"][-1]
    assert outcome.truncated is False and outcome.text == "short"


def outcome_session(fake: FakeOpenClaw, run_id: str) -> str:
    return next(r["session_key"] for r in fake.runs() if r["run_id"] == run_id)


def test_history_of_unknown_session_is_an_error_result(fake):
    assert fake.call("sessions_history", {"sessionKey": "agent:main:subagent:nope"}) == \
        {"status": "error", "error": "No session found: agent:main:subagent:nope"}


def test_history_shows_the_task_as_a_pending_input_until_the_run_takes_it():
    fake = FakeOpenClaw(lane_max_concurrent=1)
    first = fake.call("sessions_spawn", {"task": task("First.", latency=0.03)})
    second = fake.call("sessions_spawn", {"task": task("Second.", reply="two")})  # waits for the lane
    waiting = fake.call("sessions_history", {"sessionKey": second["childSessionKey"]})
    assert waiting["messages"] == [] and waiting["pendingInputs"]["total"] == 1
    [pending] = waiting["pendingInputs"]["items"]
    assert pending["state"] == "queued" and "[Subagent Task]\n\nSecond." in pending["message"]["content"]
    time.sleep(0.06)
    done = fake.call("sessions_history", {"sessionKey": second["childSessionKey"]})
    assert done["pendingInputs"] == {"items": [], "total": 0}
    user, reply = done["messages"]
    assert user["content"].startswith("[Subagent Context] You are running as a subagent")
    assert user["content"].endswith("\n\nBegin. Execute the assigned task to completion.")
    assert user["idempotencyKey"] == f"{second['runId']}:user"
    assert reply["content"] == [{"type": "text", "text": "two"}] and reply["responseId"]
    assert first["runId"] != second["runId"]


def test_a_failed_reply_is_openclaws_error_text_without_error_message(fake):
    session = fake.call("sessions_spawn", {"task": task(fail="provider exploded")})["childSessionKey"]
    time.sleep(0.03)
    reply = fake.call("sessions_history", {"sessionKey": session})["messages"][-1]
    assert reply["stopReason"] == "error" and "errorMessage" not in reply
    assert reply["content"] == [{"type": "text", "text": "⚠️ LLM request failed (request format rejected, HTTP 400)."}]
    [row] = fake.call("subagents", {"action": "list"})["tasks"]
    assert row["error"] == "provider exploded"  # the scripted text shows in the task row


# -- collector runs ---------------------------------------------------------------------------
SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


def test_collector_path_returns_structured_result_and_usage(fake):
    rt = OpenClawRuntime(fake, collection="auto")
    receipt = rt.spawn(req(output_schema=SCHEMA, sim={"latency": 0.02, "reply": {"answer": 42}}))
    assert receipt.raw["note"].startswith("Collector run") and receipt.raw["expectsCompletionMessage"] is False
    [outcome] = rt.wait([receipt.run_id], 2)
    assert outcome.status == "ok" and outcome.structured == {"answer": 42}
    assert json.loads(outcome.text) == {"answer": 42}
    assert outcome.usage["input_tokens"] > 0 and outcome.usage["output_tokens"] > 0
    assert rt.calls["agents_wait"] == 1 and rt.calls["sessions_history"] == 0


def test_collector_schema_miss_is_an_answer_to_validate_not_a_failed_run(fake):
    """OpenClaw reports a finished collector whose answer missed the schema (after its own nudge)
    as failed with schemaError and the raw text; the run did not fail, its answer is invalid: the
    engine validates the text and re-asks, as for any invalid reply."""
    rt = OpenClawRuntime(fake, collection="collector")
    run_id = rt.spawn(req(output_schema=SCHEMA, sim={"reply": "not json"})).run_id
    [outcome] = rt.wait([run_id], 2)
    assert outcome.status == "ok" and outcome.error is None
    assert outcome.text == "not json" and outcome.structured is None
    failing = rt.spawn(req("broken", output_schema=SCHEMA, sim={"fail": "provider down"})).run_id
    [outcome] = rt.wait([failing], 2)
    assert outcome.status == "error" and "provider down" in outcome.error


def test_collector_timeout_and_cancel():
    fake = FakeOpenClaw(run_timeout_unit_s=0.02)
    rt = OpenClawRuntime(fake, collection="collector")
    hung = rt.spawn(req("hung", timeout=1, sim={"hang": True})).run_id
    doomed = rt.spawn(req("doomed", timeout=0, sim={"hang": True})).run_id
    assert rt.cancel(doomed) is True
    outcomes = wait_all(rt, [hung, doomed])
    assert outcomes[hung].status == "timeout" and outcomes[doomed].status == "cancelled"


def test_agents_wait_contract(fake):
    ok = fake.call("sessions_spawn", {"task": task(reply="x", latency=0.01), "collect": True,
                                      "groupId": "g", "label": "lab"})["runId"]
    plain = fake.call("sessions_spawn", {"task": "y"})["runId"]
    result = fake.call("agents_wait", {"ids": [ok, plain], "timeoutSeconds": 2})
    [item] = result["completed"]
    assert set(item) == {"runId", "status", "result", "sessionKey", "label", "usage"}
    assert item["status"] == "done" and item["result"] == "x"
    assert result["pending"] == [] and result["errors"] == [{"runId": plain, "error": "not_found"}]
    assert fake.call("agents_wait", {"ids": [plain], "timeoutSeconds": 0})["success"] is False


def test_collector_not_owned_is_read_through_history_instead():
    fake = FakeOpenClaw()

    class NotOwner:
        def has(self, tool):
            return fake.has(tool)

        def call(self, tool, args):
            if tool == "agents_wait":
                return {"completed": [], "pending": [],
                        "errors": [{"runId": i, "error": "not_owner"} for i in args["ids"]], "success": False}
            return fake.call(tool, args)

    rt = OpenClawRuntime(NotOwner(), collection="collector")
    run_id = rt.spawn(req(sim={"reply": "via history", "latency": 0.02})).run_id
    [outcome] = rt.wait([run_id], 2)
    assert outcome.status == "ok" and outcome.text == "via history"


def test_auto_falls_back_to_history_when_swarm_is_disabled():
    fake = FakeOpenClaw(swarm_enabled=False)
    rt = OpenClawRuntime(fake)
    receipt = rt.spawn(req(sim={"reply": "plain"}))
    assert rt.collection_mode == "history" and "sessionKey" not in receipt.raw
    [outcome] = rt.wait([receipt.run_id], 2)
    assert outcome.text == "plain"


# -- degraded runtimes ------------------------------------------------------------------------
def test_without_subagents_status_comes_from_history_and_cancel_is_impossible():
    fake = FakeOpenClaw(tools=("sessions_spawn", "sessions_history"))
    rt = OpenClawRuntime(fake)
    assert rt.collection_mode == "history"
    missing = rt.missing_capabilities()
    assert any(m.startswith("no subagents tool: cannot cancel timed-out runs") for m in missing)
    assert any(m.startswith("no agents_wait tool") for m in missing)
    run_id = rt.spawn(req(sim={"latency": 0.03, "reply": "seen"})).run_id
    assert rt.cancel(run_id) is False
    [outcome] = rt.wait([run_id], 2)
    assert outcome.status == "ok" and outcome.text == "seen"
    assert rt.calls["sessions_history"] <= 6


def test_full_runtime_lacks_nothing(fake):
    assert OpenClawRuntime(fake).missing_capabilities() == []


# -- the directive language -------------------------------------------------------------------
def test_fail_first_and_by_model(fake, history_rt):
    directive = {"fail_first": 1, "reply": "base", "by_model": {"strong": {"reply": "strong answer"}}}
    first = history_rt.spawn(req("same", sim=directive)).run_id
    second = history_rt.spawn(req("same", sim=directive)).run_id
    third = history_rt.spawn(req("other", sim=directive, model="prov/strong")).run_id
    out = wait_all(history_rt, [first, second, third])
    # (the two "same" runs share a label, so no task row is theirs alone: the error is the
    # failed reply's text from sessions_history, as on a live gateway)
    assert out[first].status == "error" and out[first].error and out[first].text is None
    assert out[second].text == "base"
    assert out[third].status == "error"  # "other" is on its first attempt too
    fourth = history_rt.spawn(req("other", sim=directive, model="prov/strong")).run_id
    assert wait_all(history_rt, [fourth])[fourth].text == "strong answer"


def test_directive_responder_defaults_and_spawn_error():
    view = SpawnView(task="plain task", model="fake/default", label="l", task_name=None, attempt=1)
    assert directive_responder(view) == Reply(text="OK", latency_s=0.01)
    bad = SpawnView(task=task(spawn_error="lane closed"), model="m", label="l", task_name=None, attempt=1)
    assert directive_responder(bad).spawn_error == "lane closed"


# -- the tools-module seam --------------------------------------------------------------------
def test_module_tool_caller_unwraps_openclaw_results(shim_tools):
    caller = ModuleToolCaller(shim_tools)
    assert isinstance(caller, ToolCaller)
    assert caller.has("sessions_spawn") and caller.has("agents_wait") and not caller.has("exec")
    raw = shim_tools.sessions_spawn(task="x")
    assert set(raw) == {"content", "details"}
    rt = OpenClawRuntime(caller, collection="history")
    run_id = rt.spawn(req(sim={"reply": "through the module"})).run_id
    [outcome] = rt.wait([run_id], 2)
    assert outcome.text == "through the module"
    shim_tools.INCLUDE_DETAILS = False  # only the text block: parse its JSON
    assert caller.call("subagents", {"action": "list"})["status"] == "ok"
    with pytest.raises(ToolError) as missing:
        caller.call("exec", {})
    assert missing.value.tool == "exec" and not missing.value.retryable


def test_module_tool_caller_turns_exceptions_into_tool_errors():
    module = types.SimpleNamespace(
        sessions_spawn=lambda **kw: (_ for _ in ()).throw(ConnectionError("gateway gone")),
        subagents=lambda **kw: (_ for _ in ()).throw(ValueError("bad")))
    caller = ModuleToolCaller(module)
    with pytest.raises(ToolError) as transport:
        caller.call("sessions_spawn", {})
    assert transport.value.retryable is True
    with pytest.raises(ToolError) as other:
        caller.call("subagents", {})
    assert other.value.retryable is False


def test_unwrap_result_shapes():
    assert unwrap_result("t", {"content": [{"type": "text", "text": "{}"}], "details": {"a": 1}}) == {"a": 1}
    assert unwrap_result("t", {"content": [{"type": "text", "text": '{"b": 2}'}]}) == {"b": 2}
    assert unwrap_result("t", '{"c": 3}') == {"c": 3}
    assert unwrap_result("t", {"status": "ok"}) == {"status": "ok"}
    with pytest.raises(ToolError):
        unwrap_result("t", {"content": [{"type": "text", "text": "not json"}]})


def test_find_tools_module_finds_the_shim(shim_tools):
    assert find_tools_module() is shim_tools


def test_find_tools_module_ignores_unrelated_or_broken_modules(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tools", types.ModuleType("tools"))  # e.g. a project's tools/
    assert find_tools_module() is None
    monkeypatch.delitem(sys.modules, "tools")
    (tmp_path / "tools.py").write_text("raise RuntimeError('import-time side effect')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert find_tools_module() is None
    sys.modules.pop("tools", None)


def test_find_tools_module_without_any_tools_module(monkeypatch):
    monkeypatch.delitem(sys.modules, "tools", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != SHIM.resolve()])
    if importlib.util.find_spec("tools") is not None:
        pytest.skip("a `tools` module is importable in this environment")
    assert find_tools_module() is None


def test_wait_on_collectors_and_plain_runs_together(fake):
    collector_rt = OpenClawRuntime(fake, collection="collector")
    other_rt = OpenClawRuntime(fake, collection="history")  # e.g. runs started by an earlier process
    collected = collector_rt.spawn(req("c", sim={"latency": 0.04, "reply": "from collector"})).run_id
    plain = other_rt.spawn(req("p", sim={"latency": 0.02, "reply": "from history"})).run_id
    outcomes = wait_all(collector_rt, [collected, plain])  # `plain` is unknown to collector_rt
    assert outcomes[collected].text == "from collector" and outcomes[plain].text == "from history"
    assert sum(collector_rt.calls.values()) < 20


def test_a_full_swarm_group_gets_a_fresh_group_id():
    fake = FakeOpenClaw(max_total_per_group=2)
    rt = OpenClawRuntime(fake, collection="collector")
    for i in range(3):
        rt.spawn(req(f"g{i}"))
    groups = [r["group_id"] for r in fake.runs()]
    assert groups[0] == groups[1] != groups[2]


class ListRecorder:
    """Forwards to a fake and keeps the arguments of every `subagents list`."""

    def __init__(self, inner: FakeOpenClaw):
        self.inner, self.lists = inner, []

    def has(self, tool):
        return self.inner.has(tool)

    def call(self, tool, args):
        if tool == "subagents" and args.get("action") == "list":
            self.lists.append(dict(args))
        return self.inner.call(tool, args)


def test_list_asks_only_as_far_back_as_its_own_runs_go(fake):
    recorder = ListRecorder(fake)
    rt = OpenClawRuntime(recorder, collection="history")
    spawned = rt.spawn(req("mine#1", sim={"latency": 0.05, "reply": "ok"}))

    assert wait_all(rt, [spawned.run_id])[spawned.run_id].status == "ok"
    assert recorder.lists and all(a.get("recentMinutes") == 2 for a in recorder.lists)

    # a run this runtime did not spawn (re-attached after a crash) may have ended long ago:
    # its list keeps OpenClaw's default window (30 minutes)
    other = OpenClawRuntime(recorder, collection="history")
    recorder.lists.clear()
    assert wait_all(other, [spawned.run_id])[spawned.run_id].status == "ok"
    assert recorder.lists and all("recentMinutes" not in a for a in recorder.lists)
