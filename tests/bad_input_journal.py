"""Bad-input cases of damaged journals (tests/test_bad_input.py runs them): a line of a run's or
plan's journal that is not a record stops `resume`, `check` and `runs RUN_ID` with one line
naming the journal, the line and the field (parallel_agents/engine/journal.py), before anything is
written."""
from __future__ import annotations

import json

from bad_input_case import SIM, Case

RUN = "20260101-000000-aaaaaa"
PLAN = "abc123"
_TASK = {"agent_type": "code_reviewer", "task_description": "Review it", "input_data": {},
         "task_id": "a", "timeout_seconds": 120, "output_format": None, "priority": 0,
         "depends_on": [], "tier": None, "input_from": {}}
_STARTED = json.dumps({"t": 1767225600.0, "type": "run_started", "tasks": [_TASK], "max_concurrent": 5})
_PLANNED = json.dumps({"t": 1767225600.0, "type": "run_started", "mode": "host", "collect": False,
                       "prompts": "inline", "window": 5, "tasks": [_TASK]})


def _journal(second_line, start: str = _STARTED) -> dict:
    name = PLAN if start is _PLANNED else RUN
    if isinstance(second_line, bytes):
        return {f"~/runs/{name}.jsonl": start.encode() + b"\n" + second_line + b"\n"}
    return {f"~/runs/{name}.jsonl": f"{start}\n{second_line}\n"}


_FIX = "repair line 2 of the journal"

CASES = {
    "resume: journal line that is not JSON": Case(
        ("resume", RUN, SIM), 2, (f"{RUN}.jsonl:2:", "line", "journal line is not JSON", _FIX),
        _journal("spawn_intent a#1"), json=True),
    "resume: journal line that is a JSON list": Case(
        ("resume", RUN, SIM), 2, (f"{RUN}.jsonl:2:", "journal line is a list, not a record", _FIX),
        _journal("[1, 2, 3]")),
    "resume: journal record without a field it needs": Case(
        ("resume", RUN, SIM), 2,
        (f"{RUN}.jsonl:2:", "task_finished.result", "has no 'result'", _FIX),
        _journal('{"t": 1767225601.0, "type": "task_finished", "task_id": "a"}'), json=True),
    "resume: journal line not UTF-8": Case(
        ("resume", RUN, SIM), 2, (f"{RUN}.jsonl:2:", "not UTF-8", _FIX),
        _journal(b'{"t": 1767225601.0, "type": "escalated", "task_id": "caf\xe9", "tier_index": 1}')),
    "runs RUN_ID: damaged journal": Case(
        ("runs", RUN), 2, (f"{RUN}.jsonl:2:", "spawn_intent.label", "has no 'label'", _FIX),
        _journal('{"t": 1767225601.0, "type": "spawn_intent", "task_id": "a", "attempt": 1}')),
    "check: plan journal record without a field it needs": Case(
        ("check", "--plan", PLAN), 2,
        (f"{PLAN}.jsonl:2:", "attempt_finished", "no tier", _FIX),
        _journal('{"t": 1767225601.0, "type": "attempt_finished", "task_id": "a", '
                 '"attempt": {"number": 1}}', _PLANNED), json=True),
}
