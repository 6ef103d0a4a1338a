"""Journals that are not quite what Journal.write made (issue 14): torn lines a killed process
left, and damaged lines (not UTF-8, not JSON, JSON that is not a record, a record without a
field). What each command does with them is in parallel_agents/engine/journal.py's docstring:

- a torn line is skipped wherever it is, and the next writer starts a new line after it;
- `runs` lists every run and names the damaged lines of a damaged one;
- `resume` and `check` stop with one line naming the file, the line and the field (exit 2)
  when a line they rebuild their state from is damaged, and carry on when the damaged line is
  one they do without.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from parallel_agents.core.errors import InputError, RunAborted
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw
from parallel_agents.engine.journal import Journal, read_records
from parallel_agents.engine.tasks import AgentTask

from test_engine import MODELS, WRITER, FailingCaller, sim, valid_output  # noqa: E402
from test_resume import fatal_error, orchestrator  # noqa: E402


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def _insert(path: Path, index: int, raw: bytes) -> None:
    """Put `raw` in as line `index + 1` of the journal."""
    lines = _lines(path)
    path.write_bytes(b"\n".join(lines[:index] + [raw] + lines[index:]))


# -- torn lines: a process killed mid-write --------------------------------------------------------

def test_the_next_writer_starts_a_new_line_after_a_torn_one(tmp_path):
    journal = Journal("torn-run", tmp_path)
    journal.write("run_started", tasks=[])
    journal.close()
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write('{"t": 1.0, "type": "spawn_intent", "task_id": "a", "lab')   # killed here

    again = Journal("torn-run", tmp_path)
    again.write("run_resumed", finished=0)
    again.close()

    assert '"lab\n{"t": ' in journal.path.read_text()       # a line of its own, after the torn one
    records = read_records(journal.path)
    assert [r["type"] for r in records] == ["run_started", "run_resumed"]
    assert records.torn == 1 and records.damaged == []


def test_a_run_killed_mid_write_is_resumed_and_resumed_again(fast_config, tmp_path):
    """The torn line stays in the middle of the journal once resume has written after it: it is
    still a torn line (skipped), not damage that stops the next resume."""
    fake = FakeOpenClaw(models=MODELS)
    tasks = [AgentTask(WRITER, sim(latency=0.01, reply=valid_output(WRITER, seed=i)), task_id=f"w{i}")
             for i in range(3)]
    with pytest.raises(RunAborted):
        orchestrator(FailingCaller(fake, "sessions_spawn", 1, fatal_error()), fast_config,
                     tmp_path).run_parallel(tasks, run_id="killed-mid-write")
    path = tmp_path / "runs" / "killed-mid-write.jsonl"
    with open(path, "ab") as fh:   # the write the kill cut off, inside a two-byte character
        fh.write('{"t": 2.0, "type": "spawn_intent", "task_id": "w0", "label": "caf\u00e9'.encode()[:-1])

    results = orchestrator(fake, fast_config, tmp_path).resume("killed-mid-write")

    assert [r.status for r in results] == ["completed"] * 3
    records = read_records(path)
    assert [r["type"] for r in records].count("run_resumed") == 1     # not glued onto the torn line
    assert records[-1]["type"] == "run_finished" and records.torn == 1 and records.damaged == []
    again = orchestrator(fake, fast_config, tmp_path).resume("killed-mid-write")
    assert [r.to_dict() for r in again] == [r.to_dict() for r in results]


def test_a_record_an_older_version_wrote_onto_a_torn_line_is_read(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"t": 1.0, "type": "run_started", "tasks": []}\n'
                    '{"t": 2.0, "type": "spawn_int{"t": 3.0, "type": "run_resumed", "finished": 0}\n'
                    '{"t": 4.0, "type": "run_finished", "counts": {}}\n')
    records = read_records(path)
    assert [r["type"] for r in records] == ["run_started", "run_resumed", "run_finished"]
    assert records.torn == 1 and records.damaged == []


# -- damaged lines ------------------------------------------------------------------------------------

DAMAGE = {
    "a JSON list": (b"[1, 2]", "line", "journal line is a list, not a record"),
    "JSON text": (b'"hello"', "line", "journal line is text, not a record"),
    "not JSON": (b"this is not JSON", "line", "journal line is not JSON"),
    "not UTF-8": (b'{"t": 1.0, "type": "task_finished", "task_id": "caf\xe9"}', "line", "not UTF-8"),
    "no type": (b'{"t": 1.0, "task_id": "x"}', "type", "no record type"),
    "no time": (b'{"type": "spawn_intent", "task_id": "x", "attempt": 1, "label": "x#1", '
                b'"tier": "fast", "model": null}', "spawn_intent.t", "no time"),
    "a result missing": (b'{"t": 1.0, "type": "task_finished", "task_id": "x"}',
                         "task_finished.result", "has no 'result'"),
    "a receipt without its timeout": (
        b'{"t": 1.0, "type": "spawn_accepted", "task_id": "x", "attempt": {"number": 1}, '
        b'"tier_index": 0}', "spawn_accepted.timeout", "has no 'timeout'"),
    "a task id that is a list": (b'{"t": 1.0, "type": "escalated", "task_id": ["x"], "tier_index": 1}',
                                 "escalated.task_id", "task_id is not text"),
    "an attempt without its number": (
        b'{"t": 1.0, "type": "attempt_finished", "task_id": "x", "attempt": {}, "tier_index": 0}',
        "attempt_finished.attempt", "whole `number`"),
}


def _run(cli, text: str) -> str:
    code, out, err = cli("run", "--agent", WRITER, "--task", text, "--simulate", "--json")
    assert code == 0, err
    return json.loads(out)["run_id"]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_runs_lists_every_run_and_resume_names_the_damaged_line(damage, cli, pa_home):
    raw, field, words = DAMAGE[damage]
    good, bad = _run(cli, "One"), _run(cli, "Two")
    path = pa_home / "runs" / f"{bad}.jsonl"
    _insert(path, 1, raw)

    code, out, err = cli("runs", "--json")
    assert code == 0 and err == "", err
    runs = {r["run_id"]: r for r in json.loads(out)["runs"]}
    assert set(runs) == {good, bad}
    assert runs[bad]["damaged_lines"] == [2] and "damaged_lines" not in runs[good]
    assert runs[bad]["done"] and runs[bad]["statuses"] == {"completed": 1}   # the rest is read
    code, table, err = cli("runs")
    assert code == 0 and good in table and bad in table

    code, out, err = cli("resume", bad, "--simulate")
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {path}:2: {field}: line 2 is damaged: ") and words in line
    assert "(fix: repair line 2 of the journal, or delete it" in line
    code, out, err = cli("resume", good, "--simulate", "--json")    # the other run is fine
    assert code == 0 and json.loads(out)["runtime_calls"] == {}


def test_a_damaged_line_resume_does_without_is_skipped(cli, pa_home):
    """run_aborted and run_resumed lines are history: resume rebuilds nothing from them."""
    run_id = _run(cli, "One")
    path = pa_home / "runs" / f"{run_id}.jsonl"
    _insert(path, 1, b'{"type": "run_aborted", "error": "no time stamp"}')
    _insert(path, 2, b'{"t": 1.0, "type": "a_record_of_a_later_version", "task_id": "x"}')

    code, out, err = cli("resume", run_id, "--simulate", "--json")

    assert code == 0, err
    assert json.loads(out)["counts"] == {"completed": 1}
    records = read_records(path)
    assert [b.line for b in records.damaged] == [2]
    assert "a_record_of_a_later_version" in [r["type"] for r in records]   # kept, for its reader
    assert json.loads(cli("runs", "--json")[1])["runs"][0]["damaged_lines"] == [2]


def test_an_unreadable_journal_is_listed_not_fatal(cli, pa_home):
    run_id = _run(cli, "One")
    (pa_home / "runs" / "a-folder.jsonl").mkdir()
    code, out, err = cli("runs", "--json")
    assert code == 0, err
    runs = {r["run_id"]: r for r in json.loads(out)["runs"]}
    assert set(runs) == {run_id, "a-folder"} and runs["a-folder"]["unreadable"]


def test_check_of_a_damaged_plan_names_the_line(cli, pa_home):
    code, out, err = cli("plan", "--agent", "code_reviewer", "--task", "Review", "--json")
    assert code == 0, err
    plan_id = json.loads(out)["plan_id"]
    path = pa_home / "runs" / f"{plan_id}.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"t": 1.0, "type": "model_unusable", "model": "x"}\n')

    code, out, err = cli("check", "--plan", plan_id, "--refused", "x", "--error", "no")

    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert f"{path}:" in line and "model_unusable.reason" in line and "has no 'reason'" in line
    assert not (pa_home / "runs" / f"{plan_id}.lock").exists()


def test_read_records_of_a_missing_journal_still_says_so(tmp_path):
    with pytest.raises(InputError, match="no journal for run 'nope'"):
        read_records(tmp_path / "nope.jsonl")
