"""Task checks said clearly, the same from a task file and from Python, and task files read in
one pass whatever their size.

- What was accepted silently (tests/bad_input_tasks.py runs each through the CLI): the checks
  that concern AgentTask itself (ids with control, bidi or zero-width characters, ids that are
  one id in Unicode NFKC, a task text over max_input_bytes, timeout_seconds over 24 h) raise an
  InputError from Python with the very message the CLI prints after `tasks.yaml:LINE: FIELD:`;
  those only a file can have (a key written twice, `agent` and `agent_type`, a key beside
  `tasks:`) do the same from taskfile.load_tasks.
- Linearity, without timing anything: the number of times the task file's YAML is parsed or
  composed does not grow with the number of tasks, for a valid file, a file with a problem in
  every task, and files whose problem is found later (pre-flight, registry) and located then.
"""
from __future__ import annotations

import json

import pytest

from parallel_agents.core.errors import InputError
from parallel_agents.orchestrator import RealAIParallelOrchestrator
from parallel_agents.engine.taskcheck import MAX_TIMEOUT_SECONDS
from parallel_agents.engine.taskfile import load_tasks, task_lines
from parallel_agents.engine.tasks import AgentTask

AGENT = "code_reviewer"


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def _cli_problem(cli, tmp_path, text: str) -> dict:
    """The one problem `plan --tasks FILE --json` reports for a task file with this text."""
    path = tmp_path / "tasks.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("plan", "--tasks", path, "--json")
    assert code == 2, (out, err)
    (problem,) = json.loads(out)["problems"]
    assert err.strip() == f"error: {path}:{problem['line']}: {problem['field']}: {problem['message']} " \
                          f"(fix: {problem['fix']})"
    return problem


def _python_error(tmp_path, tasks: list[AgentTask]) -> InputError:
    orch = RealAIParallelOrchestrator(runtime="simulated", runs_folder=tmp_path / "runs")
    with pytest.raises(InputError) as caught:
        orch.run_parallel(tasks)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    return caught.value


def _file(*tasks: dict) -> str:
    return "".join("- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in t.items()) + "\n"
                   for t in tasks)


# (what, tasks as AgentTask keyword arguments, field in the file, line in the file, in the message)
PYTHON_CASES = {
    "bidi override in an id": (
        [{"task_id": "a\u202eb"}], "tasks[0].id", 1, "U+202E RIGHT-TO-LEFT OVERRIDE"),
    "zero-width joiner in an id": (
        [{"task_id": "a\u200db"}], "tasks[0].id", 1, "U+200D ZERO WIDTH JOINER"),
    "byte order mark in an id": ([{"task_id": "\ufeffa"}], "tasks[0].id", 1, "U+FEFF"),
    "line separator in an id": ([{"task_id": "a\u2028b"}], "tasks[0].id", 1, "U+2028"),
    "escape character in an id": ([{"task_id": "a\x1b[31mb"}], "tasks[0].id", 1, "U+001B"),
    "ids one in NFKC (accent)": (
        [{"task_id": "caf\u00e9"}, {"task_id": "cafe\u0301"}], "tasks[1].id", 4,
        r"'caf\xe9' and 'cafe\u0301' are the same id in Unicode normal form NFKC"),
    "ids one in NFKC (ligature)": (
        [{"task_id": "\ufb01x"}, {"task_id": "fix"}], "tasks[1].id", 4, "NFKC"),
    "task text of 4 MB": (
        [{"task_id": "a", "task_description": "x" * 4_000_000}], "tasks[0].task", 3,
        "task text of task a is 4000000 bytes, over the 200000-byte limit"),
    "timeout_seconds 10^20": (
        [{"task_id": "a", "timeout_seconds": 10 ** 20}], "tasks[0].timeout_seconds", 4,
        f"is {10 ** 20}, over the maximum of {MAX_TIMEOUT_SECONDS} (24 h)"),
}


@pytest.mark.parametrize("name", list(PYTHON_CASES))
def test_python_and_the_task_file_get_the_same_error(name, cli, tmp_path):
    given, field, line, says = PYTHON_CASES[name]
    tasks = [{"task_id": "t", "task_description": "Review it", **t} for t in given]
    error = _python_error(tmp_path, [AgentTask(AGENT, **t) for t in tasks])

    short = {"task_id": "id", "task_description": "task"}
    problem = _cli_problem(cli, tmp_path, _file(*[
        {short.get(k, k): v for k, v in {"task_id": t["task_id"], "agent": AGENT, **t}.items()}
        for t in tasks]))
    (from_python,) = error.problems
    assert says in from_python.message
    assert from_python.message == problem["message"] and from_python.fix == problem["fix"]
    assert (problem["field"], problem["line"]) == (field, line)


def test_the_limits_are_said_in_the_fix(tmp_path):
    error = _python_error(tmp_path, [AgentTask(AGENT, "x" * 300_000, task_id="a")])
    assert "max_input_bytes in config.yaml" in error.problems[0].fix
    assert "the task text and the input" in error.problems[0].fix
    error = _python_error(tmp_path, [AgentTask(AGENT, "Review it", task_id="a",
                                               timeout_seconds=MAX_TIMEOUT_SECONDS + 1)])
    assert f"at most {MAX_TIMEOUT_SECONDS}, i.e. 24 h" in error.problems[0].fix


@pytest.mark.parametrize("value", [MAX_TIMEOUT_SECONDS, 0, None])
def test_timeouts_up_to_a_day_are_accepted(value, tmp_path):
    orch = RealAIParallelOrchestrator(runtime="simulated", runs_folder=tmp_path / "runs")
    [result] = orch.run_parallel([AgentTask(AGENT, "Review it", task_id="a", timeout_seconds=value)])
    assert result.ok


def test_a_huge_timeout_from_python_is_said_without_printing_it(tmp_path):
    error = _python_error(tmp_path, [AgentTask(AGENT, "Review it", task_id="a",
                                               timeout_seconds=10 ** 5000)])
    assert "-bit number, over the maximum of 86400" in error.problems[0].message


def test_ids_that_merely_look_unusual_are_kept_as_written(tmp_path):
    ids = ["caf\u00e9", "\u00fcber-review", "\u30ec\u30d3\u30e5\u30fc", "a b", "e\u0301t\u00e9"]
    orch = RealAIParallelOrchestrator(runtime="simulated", runs_folder=tmp_path / "runs")
    results = orch.run_parallel([AgentTask(AGENT, "Review it", task_id=i) for i in ids])
    assert [r.task_id for r in results] == ids and all(r.ok for r in results)


# -- what only a task file can say: from taskfile.load_tasks, the CLI's message --------------------

FILE_CASES = {
    "a key written twice": ("- id: a\n  agent: code_reviewer\n  task: x\n  task: y\n",
                            "tasks[0].task", 4, "key written twice (first on line 3)"),
    "agent and agent_type": ("- agent: code_reviewer\n  task: x\n  agent_type: code_reviewer\n",
                             "tasks[0].agent_type", 3, "both 'agent' and 'agent_type' are given"),
    "input and input_data": ("- agent: code_reviewer\n  input_data: {}\n  task: x\n  input: {}\n",
                             "tasks[0].input", 4, "both 'input' and 'input_data' are given"),
    "a key beside tasks": ("defaults: {tier: fast}\ntasks:\n  - {agent: code_reviewer, task: x}\n",
                           "defaults", 1, "unknown key 'defaults' beside tasks"),
}


@pytest.mark.parametrize("name", list(FILE_CASES))
def test_load_tasks_says_what_the_cli_says(name, cli, tmp_path):
    text, field, line, says = FILE_CASES[name]
    problem = _cli_problem(cli, tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_tasks(tmp_path / "tasks.yaml")
    (from_python,) = caught.value.problems
    assert says in from_python.message
    assert from_python.to_dict() == {**problem, "file": str(tmp_path / "tasks.yaml")}
    assert (problem["field"], problem["line"]) == (field, line)


def test_what_is_not_a_repeated_key(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text("- &first {id: a, agent: code_reviewer, task: x, input: {1: one, '1': text}}\n"
                    "- <<: *first\n  id: b\n  task: y\n", encoding="utf-8")
    assert [(t.task_id, t.task_description) for t in load_tasks(path)] == [("a", "x"), ("b", "y")]


def test_a_repeated_task_item_is_said_once(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text("- &t {id: a, agent: code_reviewer, task: x, task: y}\n- *t\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_tasks(path)
    assert [(p.field, p.line) for p in caught.value.problems] == [("tasks[0].task", 1)]


def test_task_lines_follow_the_file_when_it_changes(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text("- {id: a, agent: code_reviewer, task: x}\n", encoding="utf-8")
    load_tasks(path)
    assert task_lines(path).line(0, "task") == 1
    path.write_text("\n\n- id: a\n  agent: code_reviewer\n  task: x\n", encoding="utf-8")
    assert (task_lines(path).line(0), task_lines(path).line(0, "task"), task_lines(path).keys(0)) \
        == (3, 5, ["id", "agent", "task"])
    assert task_lines(path).line(1) is None and task_lines(tmp_path / "gone.yaml").line(0) is None


# -- one pass, whatever the size ------------------------------------------------------------------

MARK = "# one-pass-marker\n"


@pytest.fixture
def passes(monkeypatch):
    """A list that gets one entry for every YAML loader made over a text with MARK in it: each
    parse, load or compose of the task file is one."""
    import yaml
    seen: list[str] = []
    for cls in {yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)}:
        def counting(self, stream, _original=cls.__init__):
            if isinstance(stream, str) and MARK in stream:
                seen.append(type(self).__name__)
            _original(self, stream)
        monkeypatch.setattr(cls, "__init__", counting)
    return seen


def _tasks(n: int, *, every: str = "", last: str | None = None) -> str:
    # flow style: more than 50 `{` and `-` already at the smaller size, so yamlio.parse checks
    # the nesting depth at both sizes alike
    rows = [f"  - {{id: t{i}, agent: {AGENT}, task: Review part {i}{every}}}\n" for i in range(n)]
    if last is not None:
        rows[-1] = f"  - {{{last}}}\n"
    return MARK + "tasks:\n" + "".join(rows)


SCENARIOS = {  # what the file has, and the exit code
    "valid": ({}, 0),
    "a problem in every task (load_tasks)": ({"every": ", colour: red"}, 2),
    "unknown dependency in the last task (pre-flight)": (
        {"last": f"id: last, agent: {AGENT}, task: x, depends_on: [nope]"}, 2),
    "id used twice (pre-flight)": ({"last": f"id: t0, agent: {AGENT}, task: x"}, 2),
    "unknown agent in the last task (registry)": ({"last": "id: last, agent: nobody, task: x"}, 2),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_task_file_is_read_in_a_fixed_number_of_passes(name, passes, cli, tmp_path):
    shape, code = SCENARIOS[name]
    counts = {}
    for n in (50, 500):
        path = tmp_path / f"tasks-{n}.yaml"
        path.write_text(_tasks(n, **shape), encoding="utf-8")
        passes.clear()
        got, out, err = cli("plan", "--tasks", path, "--json")
        assert got == code, (out, err)
        if code:
            lines = err.strip().splitlines()
            assert len(lines) == (n if "every" in shape else 1)
            # the last task is on line n + 2 (after the marker and `tasks:`)
            assert lines[-1].startswith(f"error: {path}:{n + 2}: tasks[{n - 1}]"), lines[-1]
        counts[n] = len(passes)
    assert counts[50] == counts[500] <= 3, counts


# -- the bench (bench/taskfile_bench.py): it runs, and bench/run.py has its section --------------

def test_taskfile_bench_runs_and_has_a_section_in_benchmarks_md():
    import sys
    from pathlib import Path
    bench = Path(__file__).resolve().parent.parent / "bench"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    import run
    import taskfile_bench
    rows = taskfile_bench.measure([10, 30], repeat=1)
    assert [(r["n"], r["runs"], r["spawns"]) for r in rows] == [(10, 1, 5), (30, 1, 5)]
    assert all(r["plan_s"] > r["load_s"] > 0 for r in rows)
    (line,) = taskfile_bench.goals(rows)
    assert "not measured" in line
    (line,) = taskfile_bench.goals(rows + [{**rows[-1], "n": 5000, "plan_s": 2.5}])
    assert line.startswith("`plan --tasks` of a 5000-task file: 2.50 s wall") and line.endswith(": met")
    assert "taskfile" in run.BENCHMARKS
    text = run.render_markdown({"taskfile": {"rows": rows, "goals": [line]}}, run.machine(),
                               "python3 bench/run.py", "today", None)
    assert "## Task files at scale" in text and "| 30 |" in text and f"- {line}" in text
    assert text.index("## Task files at scale") < text.index(run.NOTES_MARKER)
