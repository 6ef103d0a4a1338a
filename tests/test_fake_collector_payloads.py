"""agents_wait's `structured` value (FakeOpenClaw's stand-in for structured_output): one parse
per reply text, then copies. Every completed item must still get a value of its own, equal to
json.loads of the reply, and a reply that is not JSON must still read as a schema miss."""
from __future__ import annotations

import json
import math
import time

from parallel_agents.simulation.fake_openclaw import FakeOpenClaw

REPLY = {"posts": [{"text": "a", "tags": ["x", "y"], "score": 1.5, "ok": True, "none": None}],
         "big": 2 ** 70, "zero": -0.0}


def collect(fake: FakeOpenClaw, reply_text: str, n: int = 3) -> list[dict]:
    directive = json.dumps({"latency": 0, "reply": reply_text})
    ids = [fake.call("sessions_spawn", {"task": f"t{i}\nSIM {directive}", "label": f"l{i}", "collect": True,
                                        "groupId": "g", "outputSchema": {"type": "object"}})["runId"]
           for i in range(n)]
    items: list[dict] = []
    deadline = time.monotonic() + 5
    while len(items) < n and time.monotonic() < deadline:
        items += fake.call("agents_wait", {"ids": ids, "timeoutSeconds": 1})["completed"]
        ids = [i for i in ids if i not in {c["runId"] for c in items}]
    return items


def test_every_item_gets_its_own_copy_of_the_value():
    fake = FakeOpenClaw(validate_structured=False)
    items = collect(fake, json.dumps(REPLY))
    values = [item["structured"] for item in items]
    assert len(values) == 3 and all(v == REPLY for v in values)
    assert all(type(v["big"]) is int and type(v["posts"][0]["score"]) is float for v in values)
    assert all(math.copysign(1, v["zero"]) == -1 for v in values)
    for value in values[:2]:   # a caller changing its own results
        value["posts"][0]["tags"].append("changed")
        value["big"] = 0
    assert values[2] == REPLY
    assert collect(fake, json.dumps(REPLY), n=1)[0]["structured"] == REPLY


def test_a_reply_that_is_not_json_is_a_schema_miss_each_time():
    fake = FakeOpenClaw(validate_structured=False)
    for _ in range(2):
        items = collect(fake, "Here is my answer: {", n=2)
        assert [(i["status"], i["schemaError"]) for i in items] == \
            [("failed", "structured_output was not called")] * 2
        assert all("structured" not in i for i in items)
