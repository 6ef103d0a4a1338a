"""How FakeOpenClaw finds and reads a task's `SIM {...}` directive (simulation/directives.py).

directive_source tries only the lines that hold "SIM" instead of running DIRECTIVE_RE over the
whole task, and the responder reuses one parse per directive text; both must give what the
plain regex search and a fresh json.loads gave."""
from __future__ import annotations

import json
import random

import pytest

from parallel_agents.simulation.directives import (DIRECTIVE_RE, SpawnView, attempt_key, child_reads,
                                                  directive_responder, directive_source, parse_directive)
from parallel_agents.simulation.simulated import AgentPlayer

CASES = [
    "",
    "no directive here",
    'SIM {"a": 1}',
    'text\nSIM {"a": 1}\nmore',
    '  > SIM\t{"a": 1}  \t',
    'SIMULATED {"a": 1}\nSIM {"b": 2}',
    'x SIM {"a": 1}\nSIM {"b": 2}',
    'SIM {"a": 1} trailing\nSIM {"b": 2}',
    'SIM SIM {"a": 1}\n>>SIM {"c": 3}',
    'SIM {"a": 1}\r\nSIM {"b": 2}\n',
    'SIM {"a": {"b": 1}} } \nnext',
    'SIM{"a": 1}\nSIM  {"ok": true}',
    "SIM",
    "\nSIM\n",
    'line\n\t SIM {} ',
    'SIM {"a": 1}SIM {"b": 2}}',
]


def regex_source(task: str) -> str | None:
    match = DIRECTIVE_RE.search(task or "")
    return match.group(1) if match else None


@pytest.mark.parametrize("task", CASES)
def test_source_is_what_the_regex_search_finds(task):
    assert directive_source(task) == regex_source(task)


def test_source_matches_the_regex_on_random_texts():
    rng = random.Random(7)
    parts = ["SIM", "SIM ", " ", "\t", ">", "{", "}", '"k"', ":", "1", "\n", "\r", "x", "SIMX", "\n> "]
    for _ in range(3000):
        task = "".join(rng.choice(parts) for _ in range(rng.randint(0, 14)))
        assert directive_source(task) == regex_source(task), repr(task)


def test_the_last_answer_is_only_reused_for_the_same_text():
    first = 'a\nSIM {"reply": "one"}'
    second = "".join(['a\nSIM {"reply": ', '"two"}'])   # another string object
    assert directive_source(first) == '{"reply": "one"}'
    assert directive_source(second) == '{"reply": "two"}'
    assert directive_source(first) == '{"reply": "one"}'
    assert directive_source(None) is None


def view(task: str, model: str = "prov/model-a", attempt: int = 1) -> SpawnView:
    return SpawnView(task=task, model=model, label="t", task_name=None, attempt=attempt)


def test_parse_directive_hands_out_a_dict_of_its_own():
    task = 'do it\nSIM {"reply": {"items": [1, 2]}, "key": "k1"}'
    spec = parse_directive(task)
    spec["reply"]["items"].append(3)
    spec["key"] = "changed"
    assert parse_directive(task) == {"reply": {"items": [1, 2]}, "key": "k1"}
    assert directive_responder(view(task)).text == json.dumps({"items": [1, 2]})
    assert attempt_key(task) == "k1"


def test_the_responder_reads_each_task_as_before():
    directive = {"reply": {"v": 1}, "replies": ["first", {"v": 2}], "latency": 0.2,
                 "by_model": {"model-b": {"reply": "b-only", "replies": None, "fail_first": 1}}}
    task = f"go\nSIM {json.dumps(directive)}"
    assert directive_responder(view(task, attempt=1)).text == "first"
    assert directive_responder(view(task, attempt=2)).text == json.dumps({"v": 2})
    assert directive_responder(view(task, attempt=5)).text == json.dumps({"v": 2})
    b1 = directive_responder(view(task, model="other/model-b", attempt=1))
    assert (b1.text, b1.fail, b1.latency_s) == ("b-only", "simulated failure", 0.2)
    b2 = directive_responder(view(task, model="other/model-b", attempt=2))
    assert (b2.text, b2.fail) == ("b-only", None)
    assert directive_responder(view("no directive")).text == "OK"
    assert directive_responder(view('x\nSIM {"reply": 1')).text == "OK"   # not a directive line
    bad = directive_responder(view("x\nSIM {not json}"))
    assert bad.spawn_error.startswith("SIM directive is not valid JSON:")
    assert directive_responder(view("x\nSIM [1]")).text == "OK"   # not an object: no directive
    assert child_reads(task) is task


def test_a_directive_with_bad_json_raises_each_time_and_has_no_key():
    for _ in range(2):   # failures are not remembered as directives
        with pytest.raises(ValueError):
            parse_directive("SIM {1: 2}")
        assert attempt_key("SIM {1: 2}") is None


def test_the_simulated_agents_leave_a_scripted_task_to_its_directive():
    player = AgentPlayer(registry=None)   # a scripted task never looks up its agent
    assert player(view('p\nSIM {"reply": "scripted"}')).text == "scripted"
    assert player(view("p\nSIM {broken}")).spawn_error.startswith("SIM directive is not valid JSON")
