"""The CLI commands that run agents: run, demo, runs, resume. Exit codes: 0 all completed,
1 some task did not, 2 bad usage or input (one line per problem), 3 no runtime."""
from __future__ import annotations

import json
import textwrap

import pytest

from test_engine import REVIEWER, WRITER, sim  # noqa: E402


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


@pytest.fixture
def no_gateway(monkeypatch):
    monkeypatch.delenv("OPENCLAW_GATEWAY_URL", raising=False)
    monkeypatch.delenv("OPENCLAW_GATEWAY_TOKEN", raising=False)


def test_run_one_agent_simulated_json(cli):
    code, out, err = cli("run", "--agent", WRITER, "--task", "Write about Mondays", "--simulate", "--json")

    assert code == 0, err
    report = json.loads(out)
    assert set(report) >= {"run_id", "counts", "cost_usd", "wall_seconds", "runtime_calls",
                           "peak_in_flight", "results"}
    assert report["counts"] == {"completed": 1}
    [result] = report["results"]
    assert result["agent_type"] == WRITER and result["status"] == "completed"
    assert set(result["output"]) == {"posts", "angle_notes"}
    assert result["attempts"] and result["attempts"][-1]["status"] == "ok"
    assert report["runtime_calls"]["sessions_spawn"] >= 1
    assert err == ""                                   # --json: no progress lines


def test_run_one_agent_with_an_input_file_and_a_table(cli, tmp_path):
    (tmp_path / "input.yaml").write_text("code: |\n  def f():\n      return 1\n")
    code, out, err = cli("run", "--agent", REVIEWER, "--task", "Review it", "--input",
                         tmp_path / "input.yaml", "--simulate")

    assert code == 0, err
    assert "completed" in out and "run " in out and "runtime calls" in out
    assert "[1/1] ok" in err                           # progress goes to stderr


def test_run_a_task_file_simulated(cli, tmp_path):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(textwrap.dedent(f"""\
        tasks:
          - id: post
            agent: {WRITER}
            task: Write about Mondays
            input: {{platform: bluesky}}
          - id: review
            agent: {REVIEWER}
            task: Review the post
            depends_on: [post]
            priority: 2
        """))
    code, out, err = cli("run", "--tasks", tasks, "--simulate", "--max-concurrent", "2", "--json")

    assert code == 0, err
    report = json.loads(out)
    assert [r["task_id"] for r in report["results"]] == ["post", "review"]
    assert report["counts"] == {"completed": 2}


def test_a_failing_task_exits_1(cli):
    code, out, err = cli("run", "--agent", WRITER, "--task", sim(fail="always"), "--simulate", "--json")

    assert code == 1
    [result] = json.loads(out)["results"]
    assert result["status"] == "failed" and "always" in result["error"]


BAD_FILES = {
    "unknown key": ("- agent: {w}\n  task: Write\n  colour: red\n",
                    ["tasks.yaml:3: tasks[0].colour: unknown key 'colour'"]),
    "wrong type": ("- agent: {w}\n  task: Write\n  priority: high\n",
                   ["tasks.yaml:3: tasks[0].priority: must be int, not str"]),
    "missing task": ("- agent: {w}\n  task: Write\n- agent: {w}\n",
                     ["tasks.yaml:3: tasks[1]: missing 'task'"]),
    "three at once": ("- agent: {w}\n  task: 5\n  colour: red\n- agent: {w}\n",
                      ["tasks.yaml:2: tasks[0].task: must be str, not int",
                       "tasks.yaml:3: tasks[0].colour: unknown key 'colour'",
                       "tasks.yaml:4: tasks[1]: missing 'task'"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_task_file_exits_2_with_one_line_per_problem(cli, tmp_path, case):
    text, expected = BAD_FILES[case]
    (tmp_path / "tasks.yaml").write_text(text.format(w=WRITER))

    code, out, err = cli("run", "--tasks", tmp_path / "tasks.yaml", "--simulate")

    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == len(expected), err
    for line, want in zip(sorted(lines), sorted(expected)):
        assert line.startswith("error: " + str(tmp_path / want.split(":")[0]) + ":" + want.split(":", 1)[1])
        assert "(fix: " in line
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "pa-home" / "runs").exists()   # nothing ran


def test_a_bad_task_file_in_a_real_process(run_cli, tmp_path):
    (tmp_path / "tasks.yaml").write_text(f"- agent: {WRITER}\n  task: [not, text]\n")

    code, out, err = run_cli("run", "--tasks", tmp_path / "tasks.yaml", "--simulate")

    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {tmp_path / 'tasks.yaml'}:2: tasks[0].task: must be str, not list (fix: write a str)"]
    assert "Traceback" not in err


def test_a_task_file_that_is_not_a_list(cli, tmp_path):
    (tmp_path / "tasks.yaml").write_text("just: a mapping\n")
    code, _, err = cli("run", "--tasks", tmp_path / "tasks.yaml", "--simulate")
    assert code == 2 and "non-empty list of tasks" in err and len(err.strip().splitlines()) == 1


def test_a_missing_task_file(cli, tmp_path):
    code, _, err = cli("run", "--tasks", tmp_path / "nope.yaml", "--simulate")
    assert code == 2 and "nope.yaml" in err and len(err.strip().splitlines()) == 1


def test_agent_without_task_is_a_usage_error(cli):
    code, _, err = cli("run", "--agent", WRITER, "--simulate")
    assert code == 2 and "--agent needs --task" in err


def test_unknown_agent_exits_2_with_suggestions(cli):
    code, _, err = cli("run", "--agent", "code_reviewr", "--task", "x", "--simulate")
    assert code == 2 and "code_reviewer" in err and len(err.strip().splitlines()) == 1


def test_demo_json_completes_every_task(cli):
    code, out, err = cli("demo", "--json", "--max-concurrent", "10")

    assert code == 0, err
    report = json.loads(out)
    assert report["counts"] == {"completed": 10}
    assert len({r["agent_type"] for r in report["results"]}) == 10
    assert report["peak_in_flight"] <= 10


def test_runs_lists_the_journaled_runs(cli):
    assert json.loads(cli("runs", "--json")[1]) == {"runs": []}
    first = json.loads(cli("run", "--agent", WRITER, "--task", "One", "--simulate", "--json")[1])
    second = json.loads(cli("run", "--agent", WRITER, "--task", sim(fail="no"), "--simulate", "--json")[1])

    code, out, _ = cli("runs", "--json")

    assert code == 0
    runs = {r["run_id"]: r for r in json.loads(out)["runs"]}
    assert set(runs) == {first["run_id"], second["run_id"]}
    assert runs[first["run_id"]]["statuses"] == {"completed": 1}
    assert runs[second["run_id"]]["statuses"] == {"failed": 1}
    assert all(r["done"] and r["tasks"] == 1 and r["finished_tasks"] == 1 for r in runs.values())
    code, table, _ = cli("runs")
    assert code == 0 and first["run_id"] in table and second["run_id"] in table


def test_runs_when_there_are_none(cli):
    assert cli("runs") == (0, "no runs yet\n", "")


def test_resume_of_an_unknown_run_exits_2_on_one_line(cli):
    code, out, err = cli("resume", "20260101-000000-abcdef")
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert "no journal for run '20260101-000000-abcdef'" in line and "runs" in line


def test_resume_of_a_bad_run_id_exits_2(cli):
    code, _, err = cli("resume", "../../etc/passwd")
    assert code == 2 and "invalid run id" in err and len(err.strip().splitlines()) == 1


def test_resume_of_a_finished_run_reports_it_again(cli):
    first = json.loads(cli("run", "--agent", WRITER, "--task", "One", "--simulate", "--json")[1])

    code, out, err = cli("resume", first["run_id"], "--simulate", "--json")

    assert code == 0, err
    again = json.loads(out)
    assert again["run_id"] == first["run_id"]
    assert again["results"] == first["results"]
    assert again["runtime_calls"] == {}                 # nothing spawned


def test_no_runtime_exits_3_naming_the_three_ways(run_cli, no_gateway):
    code, out, err = run_cli("run", "--agent", WRITER, "--task", "x")

    assert code == 3 and out == ""
    [line] = err.strip().splitlines()
    assert "no OpenClaw runtime" in line
    assert "(1)" in line and "`tools` module" in line
    assert "(2)" in line and "OPENCLAW_GATEWAY_URL" in line and "OPENCLAW_GATEWAY_TOKEN" in line
    assert "(3)" in line and "--simulate" in line
