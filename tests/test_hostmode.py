"""Host-agent mode end to end, with the test playing the host agent: it runs `plan`, makes each
sessions_spawn call on a FakeOpenClaw, and gives `check` what OpenClaw 2026.9.6 really delivers
after `sessions_yield` - the settled-batch message (parallel_agents/simulation/fake_deliveries.py, checked
byte for byte against live captures in tests/test_deliveries.py) - or lets `check` read the
children from the gateway itself (the fake gateway over HTTP, found through an openclaw.json the
way an exec'd process finds the real one). Children are scripted by SIM directives in the task
text; with prompt files (the default) the fake child reads the file its task points at."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from parallel_agents.definitions.model import schema_registry
from parallel_agents.simulation.fake_deliveries import DeliveredChild, announce_event, settled_batch, stamp
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.definitions.samples import sample

MODELS = ["anthropic/claude-haiku-4-5", "kimi-coding/k2p5", "anthropic/claude-opus-4-5"]
LABEL_RE = re.compile(r"^(?P<task>.+)#(?P<n>\d+)@[0-9a-f]{6}$")


def cli(*args, stdin=None, env=None):
    import subprocess
    import os
    import sys
    full = {**os.environ, **(env or {})}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parent.parent / "ai_orchestrator.py"),
                           *map(str, args)], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=60, env=full)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def valid(agent: str, seed: int = 0) -> dict:
    from parallel_agents.definitions.registry import load_registry
    return sample(load_registry().get(agent).output_schema, schema_registry(), seed=seed)


def sim(**directive) -> str:
    return "SIM " + json.dumps(directive)


def write_tasks(path: Path, *tasks: dict) -> Path:
    """A task file (JSON is YAML) with these tasks; `sim` keys become the task's directive."""
    items = []
    for task in tasks:
        task = dict(task)
        if "sim" in task:
            task["task"] = sim(**task.pop("sim"))
        items.append({"agent": "code_reviewer", **task})
    path.write_text(json.dumps({"tasks": items}, indent=1))
    return path


class Host:
    """Makes the spawns plan/check list on a FakeOpenClaw, like a host agent, and renders what
    OpenClaw delivers once the children have settled."""

    def __init__(self, **fake_options):
        self.fake = FakeOpenClaw(models=MODELS, max_children=fake_options.pop("max_children", 20),
                                 **fake_options)
        self.spawned: list[dict] = []
        self.receipts: list[dict] = []

    def spawn_all(self, spawns: list[dict]) -> list[dict]:
        receipts = []
        for s in spawns:
            assert s["tool"] == "sessions_spawn"
            receipt = self.fake.call("sessions_spawn", s["args"])
            self.spawned.append(s["args"])
            receipts.append(receipt)
        self.receipts += receipts
        return receipts

    def settle(self) -> list[DeliveredChild]:
        """Wait until every child ended; return each one as OpenClaw delivers it."""
        children = []
        for receipt in self.receipts:
            if receipt.get("status") != "accepted":
                continue
            run = self._wait(receipt["runId"])
            children.append(DeliveredChild(run["label"], run["status"], run["reply"],
                                           error=None if run["status"] == "done" else "boom",
                                           session_key=receipt["childSessionKey"],
                                           run_id=receipt["runId"]))
        self.receipts = []
        return children

    def _wait(self, run_id: str) -> dict:
        while True:
            run = next(r for r in self.fake.runs() if r["run_id"] == run_id)
            if run["status"] not in ("queued", "running"):
                return run
            self.fake.call("subagents", {"action": "wait", "taskIds": [run["task_id"]],
                                         "timeoutSeconds": 1})


def loop(host: Host, tasks_file: Path, *, deliver=settled_batch, max_rounds=10) -> dict:
    """plan, then spawn -> settle -> check until done; returns the last answer."""
    rc, out, err = cli("plan", "--tasks", tasks_file, "--json")
    assert rc == 0, err
    answer = json.loads(out)
    for _ in range(max_rounds):
        if answer["done"]:
            return answer
        host.spawn_all(answer["spawn"])
        children = host.settle()
        rc, out, err = cli("check", "--plan", answer["plan_id"], "--json", stdin=deliver(children))
        assert rc in (0, 1), err
        answer = json.loads(out)
    raise AssertionError(f"not done after {max_rounds} rounds: {answer}")


def test_plan_lists_short_spawns_that_point_at_prompt_files(pa_home):
    rc, out, err = cli("plan", "--agent", "code_reviewer", "--task", "Review it", "--json")
    assert rc == 0, err
    plan = json.loads(out)
    (spawn,) = plan["spawn"]
    args = spawn["args"]
    assert set(args) == {"task", "label", "model", "runTimeoutSeconds"}   # no taskName: the label is the title
    match = LABEL_RE.match(args["label"])
    assert match and match["task"] == spawn["task_id"] and match["n"] == "1"
    assert args["model"] == "kimi-coding/k2p5" and args["runTimeoutSeconds"] == 180
    path = Path(re.search(r"(/\S+\.md)", args["task"]).group(1))
    assert path.is_file() and pa_home in path.parents
    prompt = path.read_text()
    assert "Review it" in prompt and "score" in prompt and "Review it" not in args["task"]
    assert len(json.dumps(args)) - len(str(path)) < 200     # the host writes ~200 bytes + the path
    assert "sessions_yield" in plan["next"] and plan["plan_id"] in plan["next"]
    assert "tool_call" in plan["next"] and "--refused" in plan["next"]


def test_inline_prompts_put_the_whole_prompt_in_the_task():
    rc, out, _ = cli("plan", "--agent", "code_reviewer", "--task", "Review it", "--prompts", "inline", "--json")
    args = json.loads(out)["spawn"][0]["args"]
    assert "Review it" in args["task"] and "score" in args["task"]


def test_collect_adds_collector_fields():
    rc, out, _ = cli("plan", "--agent", "code_reviewer", "--task", "Review it", "--collect", "--json")
    args = json.loads(out)["spawn"][0]["args"]
    assert args["collect"] is True and args["groupId"].startswith("pa-")
    assert args["outputSchema"]["required"] == ["score", "summary", "findings", "strengths"]


@pytest.mark.parametrize("prompts", ["file", "inline"])
def test_full_loop_on_the_settled_batch_message(tmp_path, prompts):
    """review: valid at once. api: invalid on balanced, invalid again after the re-ask, valid on
    strongest. backend depends on api: spawned only after api completed, with api's output in
    its prompt. Every round, check gets the one message OpenClaw delivers after sessions_yield."""
    api = valid("api_designer")
    tasks = write_tasks(
        tmp_path / "tasks.yaml",
        {"id": "api", "agent": "api_designer",
         "sim": {"key": "api-" + prompts, "replies": ["Sure! {not json", "still not json", api]}},
        {"id": "backend", "agent": "backend_developer", "sim": {"reply": valid("backend_developer")},
         "depends_on": ["api"]},
        {"id": "review", "sim": {"reply": valid("code_reviewer")}, "input": {"code": "x = 1"}})
    host = Host()
    rc, out, err = cli("plan", "--tasks", tasks, "--prompts", prompts, "--json")
    answer = json.loads(out)
    assert sorted(s["task_id"] for s in answer["spawn"]) == ["api", "review"]
    for _ in range(8):
        if answer["done"]:
            break
        host.spawn_all(answer["spawn"])
        rc, out, err = cli("check", "--plan", answer["plan_id"], "--json", stdin=settled_batch(host.settle()))
        answer = json.loads(out)
    assert rc == 0 and answer["done"], answer
    by_id = {r["task_id"]: r for r in answer["results"]}
    assert all(r["status"] == "completed" for r in by_id.values())
    assert [(a["tier"], a["status"], a["reask"]) for a in by_id["api"]["attempts"]] == [
        ("balanced", "invalid", False), ("balanced", "invalid", True), ("strongest", "ok", False)]
    assert by_id["api"]["output"] == api
    labels = [LABEL_RE.match(a["label"]).group("task", "n") for a in host.spawned]
    assert labels.count(("api", "2")) == 1 and labels.index(("backend", "1")) > labels.index(("api", "3"))
    texts = {LABEL_RE.match(a["label"]).group("task", "n"): _as_child_sees(a["task"]) for a in host.spawned}
    assert "Your previous reply was rejected" in texts[("api", "2")]
    assert "Results of earlier tasks" in texts[("backend", "1")] and '"api"' in texts[("backend", "1")]
    rc, out, _ = cli("check", "--plan", answer["plan_id"], "--json")   # nothing open: no gateway needed
    assert json.loads(out)["done"] is True and json.loads(out)["spawn"] == []


def _as_child_sees(task: str) -> str:
    from parallel_agents.simulation.directives import child_reads
    return child_reads(task)


def test_failed_child_escalates_and_dependents_are_skipped(tmp_path):
    tasks = write_tasks(tmp_path / "t.yaml",
                        {"id": "a", "sim": {"fail": "provider overloaded"}, "tier": "strongest"},
                        {"id": "b", "task": "Review more", "depends_on": ["a"]})
    host = Host()
    plan = json.loads(cli("plan", "--tasks", tasks, "--json")[1])
    host.spawn_all(plan["spawn"])
    rc, out, _ = cli("check", "--plan", plan["plan_id"], "--json", stdin=settled_batch(host.settle()))
    answer = json.loads(out)
    assert rc == 1 and answer["done"] and answer["spawn"] == []
    status = {r["task_id"]: (r["status"], r["error"]) for r in answer["results"]}
    assert status["a"][0] == "failed" and "boom" in status["a"][1]
    assert status["b"] == ("skipped", "dependency a failed")


def test_one_child_at_a_time_keeps_every_owed_spawn_listed(tmp_path):
    """Issue 12 point 2: a host that checks children one by one must not lose the spawns an
    earlier answer listed. a's invalid reply asks for a#2; checking b alone next still lists it."""
    tasks = write_tasks(tmp_path / "t.yaml",
                        {"id": "a", "sim": {"key": "a1", "replies": ["nope", valid("code_reviewer")]}},
                        {"id": "b", "sim": {"reply": valid("code_reviewer", 2)}})
    host = Host()
    plan = json.loads(cli("plan", "--tasks", tasks, "--json")[1])
    host.spawn_all(plan["spawn"])
    a, b = sorted(host.settle(), key=lambda c: c.label)
    first = json.loads(cli("check", "--plan", plan["plan_id"], "--json", stdin=announce_event(a))[1])
    # no gateway to ask: b#1 may not have been spawned, so it is listed again, marked not new
    assert [(s["task_id"], s["new"]) for s in first["spawn"]] == [("b", False), ("a", True)]
    second = json.loads(cli("check", "--plan", plan["plan_id"], "--json", stdin=announce_event(b))[1])
    assert [(s["task_id"], s["new"]) for s in second["spawn"]] == [("a", False)]
    assert second["spawn"][0]["args"] == first["spawn"][1]["args"]        # the same spawn, again
    again = json.loads(cli("check", "--plan", plan["plan_id"], "--json", stdin=announce_event(b))[1])
    assert [c["step"] for c in again["checked"]] == ["ignored: task already final"]  # idempotent
    host.spawn_all(second["spawn"])
    host.spawn_all(second["spawn"])                                        # a duplicate is harmless
    children = host.settle()
    final = json.loads(cli("check", "--plan", plan["plan_id"], "--json", stdin=settled_batch(children))[1])
    assert final["done"] and {r["status"] for r in final["results"]} == {"completed"}
    assert sum(c["step"] == "complete" for c in final["checked"]) == 1


def test_every_delivered_form_is_read(tmp_path):
    """Per-child announces with the time stamp, the steering queue and a settled batch, all
    pasted together: each child is recorded once."""
    from parallel_agents.simulation.fake_deliveries import steering_queue
    tasks = write_tasks(tmp_path / "t.yaml", *({"id": f"t{i}", "sim": {"reply": valid("code_reviewer", i)}}
                                               for i in range(3)))
    host = Host()
    plan = json.loads(cli("plan", "--tasks", tasks, "--json")[1])
    host.spawn_all(plan["spawn"])
    c0, c1, c2 = sorted(host.settle(), key=lambda c: c.label)
    pasted = "\n\n".join([stamp() + announce_event(c0).split("\n", 1)[1].replace(
        "[Internal task completion event]", "A background task completed. Use this result to reply "
        "to the user in your normal assistant voice.\n", 1), steering_queue([c1]), settled_batch([c0, c1, c2])])
    answer = json.loads(cli("check", "--plan", plan["plan_id"], "--json", stdin=pasted)[1])
    assert answer["done"] and sorted(c["step"] for c in answer["checked"])[:3] == ["complete"] * 3
    assert all(r["status"] == "completed" for r in answer["results"])


def test_tool_search_history_json_is_unwrapped(tmp_path):
    """sessions_history as a host with Tool Search receives it: {tool, result: {content, details}}."""
    tasks = write_tasks(tmp_path / "t.yaml", {"id": "a", "sim": {"reply": valid("code_reviewer")}})
    host = Host()
    plan = json.loads(cli("plan", "--tasks", tasks, "--json")[1])
    (receipt,) = host.spawn_all(plan["spawn"])
    host.settle()
    history = host.fake.call("sessions_history", {"sessionKey": receipt["childSessionKey"]})
    wrapped = {"tool": {"id": "openclaw:core:sessions_history", "name": "sessions_history",
                        "source": "openclaw"},
               "result": {"content": [{"type": "text", "text": json.dumps(history)}], "details": history}}
    answer = json.loads(cli("check", "--plan", plan["plan_id"], "--task", "a", "--json",
                            stdin=json.dumps(wrapped))[1])
    assert answer["done"] and answer["results"][0]["status"] == "completed"


@pytest.mark.parametrize("text,fragment", [
    ("[Tue 2026-12-01 01:12 UTC] [Subagent Context] Every subagent spawned from this session has "
     "now settled.\n\nChild completion results:\n\n1. garbled", "no child result could be read"),
    ('{"unexpected": 1, "shape": true}', "unrecognised JSON object"),
    ("just some text", "does not say which task"),
])
def test_input_that_is_not_a_result_is_an_error_never_a_reply(text, fragment, pa_home):
    plan = json.loads(cli("plan", "--agent", "code_reviewer", "--task", "Review", "--json")[1])
    rc, out, err = cli("check", "--plan", plan["plan_id"], stdin=text)
    assert rc == 2 and fragment in err and len(err.strip().splitlines()) == 1
    journal = (pa_home / "runs" / f"{plan['plan_id']}.jsonl").read_text()
    assert "attempt_finished" not in journal                  # nothing was scored


def test_a_settled_notice_without_results_makes_check_read_the_gateway():
    """OpenClaw sends "(each child result was announced individually …)" when it announced the
    children one by one earlier: that message is news, not results."""
    plan = json.loads(cli("plan", "--agent", "code_reviewer", "--task", "Review", "--json")[1])
    rc, out, err = cli("check", "--plan", plan["plan_id"], stdin=settled_batch([]))
    assert rc == 3 and "cannot read the children's replies from the gateway" in err


def test_unusable_model_refusal_falls_back_to_the_gateway_default_said_once(tmp_path):
    tasks = write_tasks(tmp_path / "t.yaml", *({"id": f"t{i}", "sim": {"reply": valid("code_reviewer", i)}}
                                               for i in range(2)))
    host = Host()
    host.fake.models = ["other/model"]                         # knows none of our tiers' models
    plan = json.loads(cli("plan", "--tasks", tasks, "--json")[1])
    receipts = host.spawn_all(plan["spawn"])
    assert all(r["status"] == "error" and "is not usable" in r["error"] for r in receipts)
    label, error = plan["spawn"][0]["args"]["label"], receipts[0]["error"]
    rc, out, err = cli("check", "--plan", plan["plan_id"], "--refused", label, "--error", error, "--json")
    answer = json.loads(out)
    assert rc == 0 and len(answer["notes"]) == 1 and "kimi-coding/k2p5" in answer["notes"][0]
    assert [s["task_id"] for s in answer["spawn"]] == ["t0"]
    assert "model" not in answer["spawn"][0]["args"]
    # the second refusal of the same model needs no new note; its spawn falls back too
    rc, out, _ = cli("check", "--plan", plan["plan_id"], "--refused", plan["spawn"][1]["args"]["label"],
                     "--error", receipts[1]["error"], "--json")
    again = json.loads(out)
    assert "notes" not in again and [s["task_id"] for s in again["spawn"]] == ["t1"]
    assert "model" not in again["spawn"][0]["args"]
    host.spawn_all(answer["spawn"] + again["spawn"])
    final = json.loads(cli("check", "--plan", plan["plan_id"], "--json", stdin=settled_batch(host.settle()))[1])
    assert final["done"] and all(r["status"] == "completed" for r in final["results"])
    assert all(r["attempts"][-1]["model"] is None for r in final["results"])


def test_other_refusals_climb_the_ladder_and_back_pressure_waits(tmp_path):
    plan = json.loads(cli("plan", "--agent", "code_reviewer", "--task", "Review", "--json")[1])
    label = plan["spawn"][0]["args"]["label"]
    busy = "sessions_spawn has reached max active children for this session (5/5; agents.defaults.subagents.maxChildrenPerAgent)."
    answer = json.loads(cli("check", "--plan", plan["plan_id"], "--refused", label, "--error", busy, "--json")[1])
    assert [s["args"]["label"] for s in answer["spawn"]] == [label] and not answer["spawn"][0]["new"]
    answer = json.loads(cli("check", "--plan", plan["plan_id"], "--refused", label, "--error",
                            "sessions_spawn is not allowed at this depth", "--json")[1])
    (spawn,) = answer["spawn"]
    assert spawn["tier"] == "strongest" and spawn["args"]["label"] != label
    assert answer["results"][0]["attempts"][0]["status"] == "refused"


def test_window_keeps_spawns_within_max_children(tmp_path):
    tasks = write_tasks(tmp_path / "t.yaml", *({"id": f"t{i}", "sim": {"reply": valid("code_reviewer", i)}}
                                               for i in range(7)))
    host = Host(max_children=5)
    answer = loop_first = json.loads(cli("plan", "--tasks", tasks, "--json")[1])
    assert len(loop_first["spawn"]) == 5
    assert all(r["status"] == "accepted" for r in host.spawn_all(answer["spawn"]))
    answer = json.loads(cli("check", "--plan", answer["plan_id"], "--json", stdin=settled_batch(host.settle()))[1])
    assert len(answer["spawn"]) == 2
    host.spawn_all(answer["spawn"])
    answer = json.loads(cli("check", "--plan", answer["plan_id"], "--json", stdin=settled_batch(host.settle()))[1])
    assert answer["done"] and len(answer["results"]) == 7


def test_check_reads_the_children_from_the_gateway_itself(tmp_path, start_fake_gateway, monkeypatch):
    """No input: check finds the gateway the way an exec'd process does (OPENCLAW_CONFIG_PATH,
    OPENCLAW_GATEWAY_PORT, the token in openclaw.json) and reads each child there."""
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    gateway = start_fake_gateway("host-token")
    config = tmp_path / "openclaw.json"
    config.write_text(json.dumps({"gateway": {"port": gateway.port, "auth": {"mode": "token",
                                                                             "token": "host-token"}}}))
    env = {"OPENCLAW_CONFIG_PATH": str(config), "OPENCLAW_GATEWAY_PORT": str(gateway.port),
           "OPENCLAW_SHELL": "exec"}
    tasks = write_tasks(tmp_path / "t.yaml",
                        {"id": "a", "sim": {"key": "gw-a", "replies": ["nope", valid("code_reviewer")]}},
                        {"id": "b", "sim": {"reply": valid("code_reviewer", 1), "latency": 0.2},
                         "depends_on": ["a"]})
    host = GatewayToolCaller(gateway.url, "host-token")
    answer = json.loads(cli("plan", "--tasks", tasks, "--json", env=env)[1])
    rounds = 0
    while not answer["done"]:
        rounds += 1
        assert rounds < 8, answer
        for s in answer["spawn"]:
            assert host.call("sessions_spawn", s["args"])["status"] == "accepted"
        _wait_settled(host)
        rc, out, err = cli("check", "--plan", answer["plan_id"], "--json", env=env)
        assert rc in (0, 1), err
        answer = json.loads(out)
        assert all(c["source"] == "gateway" for c in answer["checked"])
    assert rc == 0 and [r["status"] for r in answer["results"]] == ["completed", "completed"]
    assert [a["status"] for a in answer["results"][0]["attempts"]] == ["invalid", "ok"]


def test_check_without_input_or_gateway_says_how_to_pass_the_message(tmp_path):
    plan = json.loads(cli("plan", "--agent", "code_reviewer", "--task", "Review", "--json")[1])
    rc, out, err = cli("check", "--plan", plan["plan_id"])
    assert rc == 3 and "cannot read the children's replies from the gateway" in err
    assert f"check --plan {plan['plan_id']} --json FILE" in err and len(err.strip().splitlines()) == 1


def _wait_settled(caller, timeout=20.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = caller.call("subagents", {"action": "list"})
        if not listing.get("active"):
            return
        time.sleep(0.05)
    raise AssertionError("children did not settle")


@pytest.mark.parametrize("args,fragment", [
    (["check", "--plan", "../../etc/passwd"], "invalid run id"),
    (["check", "--plan", "20260101-000000-abcdef"], "no journal"),
    (["plan", "--agent", "code_reviwer", "--task", "x"], "did you mean code_reviewer"),
    (["check", "--plan", "20260101-000000-abcdef", "--error", "x"], "no journal"),
])
def test_bad_plan_input_is_one_line(args, fragment):
    rc, out, err = cli(*args)
    assert rc == 2 and fragment in err and len(err.strip().splitlines()) == 1
