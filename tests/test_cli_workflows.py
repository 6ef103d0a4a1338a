"""CLI workflows: run --team / --goal, refine, create-agents, install-agent, and the refinement
loop in demo. Exit codes: 0 done, 1 something did not complete or reach its target, 2 bad usage
or input (one line per problem)."""
from __future__ import annotations

import json
import textwrap

import pytest

from parallel_agents.simulation import simulated
from parallel_agents.core import yamlio
from parallel_agents.definitions.registry import load_registry


@pytest.fixture(autouse=True)
def _fast(warm_cache, monkeypatch):
    """Shipped definitions from the validation cache, and the simulated runtime at test speed."""
    real = simulated.simulated_runtime

    def quick(registry=None, **kwargs):
        return real(registry, **{**kwargs, "latency": (0.001, 0.02)})

    monkeypatch.setattr(simulated, "simulated_runtime", quick)


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- run --team / --goal ----------------------------------------------------------------------------

def test_run_content_team(cli):
    code, out, err = cli("run", "--team", "content", "--topic", "Monday motivation", "--simulate", "--json")

    assert code == 0, err
    report = json.loads(out)
    assert [r["task_id"] for r in report["results"]] == [
        "content-creative", "content-funny", "content-educational", "content-trendy",
        "content-controversial"]
    assert report["counts"] == {"completed": 5}


def test_run_dev_team_table(cli):
    code, out, err = cli("run", "--team", "dev", "--app", "TaskManager", "--features", "auth,tasks",
                         "--simulate")

    assert code == 0, err
    for task in ("dev-api", "dev-database", "dev-backend", "dev-frontend", "dev-devops"):
        assert task in out
    assert "[5/5] ok" in err


def test_run_review_team_reads_the_code_file(cli, tmp_path):
    source = tmp_path / "app.py"
    source.write_text("import os\nos.system(input())\n")

    code, out, err = cli("run", "--team", "review", "--code", source, "--simulate", "--json")

    assert code == 0, err
    assert {r["agent_type"] for r in json.loads(out)["results"]} == {
        "code_reviewer", "security_reviewer", "performance_reviewer", "accessibility_reviewer",
        "test_engineer"}


@pytest.mark.parametrize("args,expected", [
    (["--team", "content"], "--topic: --team content needs --topic"),
    (["--team", "dev", "--app", "X"], "--app: --team dev needs --app and --features"),
    (["--team", "review", "--code", "no/such/file.py"], "no/such/file.py: file not found"),
    (["--team", "content", "--topic", "x", "--task", "y"], "--task/--input go with --agent"),
])
def test_run_team_usage_errors_are_one_line(cli, args, expected):
    code, out, err = cli("run", *args, "--simulate")

    assert code == 2
    assert expected in one_line_error(err)


def test_run_goal_json(cli):
    code, out, err = cli("run", "--goal", "Write a launch post and review the login code for security",
                         "--max-tasks", "3", "--simulate", "--json")

    assert code == 0, err
    done = json.loads(out)
    assert set(done) == {"goal", "ok", "error", "plan", "results", "synthesis", "refinements",
                         "rejected_designs", "installed"}
    assert done["ok"] and len(done["plan"]["tasks"]) <= 3
    assert [r["task_id"] for r in done["results"]] == [t["id"] for t in done["plan"]["tasks"]]
    assert done["synthesis"].startswith("[simulated] documentation_writer")


def test_run_goal_creates_refines_and_installs(cli):
    code, out, err = cli("run", "--goal", "Create 2 new agents and ensure all score 8.5+",
                         "--install", "--simulate")

    assert code == 0, err
    assert "target reached" in out and "installed new_agent_1:" in out and "# Synthesis" in out
    assert "plan: 2 tasks" in err and "refine new_agent_2: round 1" in err
    listed = json.loads(cli("list", "--json")[1])["agents"]
    assert {"new_agent_1", "new_agent_2"} <= {a["name"] for a in listed}


# -- refine -----------------------------------------------------------------------------------------

def test_refine_installed_agent_json(cli):
    code, out, err = cli("refine", "code_reviewer", "--simulate", "--json")

    assert code == 0, err
    report = json.loads(out)
    [agent] = report["agents"]
    assert agent["name"] == "code_reviewer" and agent["reason"] == "target reached"
    assert agent["scores"] == sorted(agent["scores"]) and agent["score"] >= 8.5
    assert (report["target"], report["max_rounds"]) == (8.5, 3)


def test_refine_files_writes_the_best_versions_and_says_why_it_stopped(cli, tmp_path, write_definition):
    source = write_definition(tmp_path / "src", "haiku_helper")

    code, out, err = cli("refine", source, "--max-rounds", "1", "--out", tmp_path / "best", "--simulate")

    assert code == 1                                   # one round is not enough to reach 8.5
    assert "haiku_helper" in out and "max rounds" in out
    best = yamlio.parse((tmp_path / "best" / "haiku_helper.yaml").read_text(), shown="x")[0]
    assert best["name"] == "haiku_helper"


def test_refine_install_replaces_the_agent_with_its_refined_version(cli, overlay_dir):
    code, out, err = cli("refine", "code_reviewer", "--install", "--simulate")

    assert code == 0, err
    assert f"installed {overlay_dir / 'code_reviewer.yaml'}" in out
    refined = load_registry(reload=True).get("code_reviewer")
    assert refined.origin == "overlay" and "[simulated revision" in refined.description


@pytest.mark.parametrize("args,expected", [
    (["code_reviewr"], "unknown agent type 'code_reviewr' (fix: did you mean code_reviewer"),
    (["code_reviewer", "--target", "12"], "--target: must be from 0 to 10"),
    (["no_such.yaml"], "no_such.yaml: file not found"),
])
def test_refine_usage_errors(cli, args, expected):
    code, out, err = cli("refine", *args, "--simulate")

    assert code == 2
    assert expected in (one_line_error(err) if err.startswith("error") else err)


# -- create-agents / install-agent ------------------------------------------------------------------

REQUESTS = textwrap.dedent("""\
    - name: bug_hunter
      purpose: Find bugs in code
      domain: software QA
      capabilities: [static analysis, edge case detection]
    - purpose: Generate API docs
    """)


def test_create_agents_designs_reviews_and_installs(cli, tmp_path, overlay_dir):
    requests = tmp_path / "agents.yaml"
    requests.write_text(REQUESTS)

    code, out, err = cli("create-agents", requests, "--install", "--simulate", "--json")

    assert code == 0, err
    report = json.loads(out)
    assert [a["name"] for a in report["agents"]] == ["bug_hunter", "generate_api_docs"]
    assert all(a["valid"] and a["score"] is not None for a in report["agents"])
    assert sorted(p.name for p in overlay_dir.iterdir()) == ["bug_hunter.yaml", "generate_api_docs.yaml"]
    assert report["run"]["counts"] == {"completed": 4}

    again, out, err = cli("create-agents", requests, "--install", "--simulate")   # names taken now
    assert again == 1 and "already exists" in out


def test_create_agents_out_then_install_agent(cli, tmp_path):
    requests = tmp_path / "agents.yaml"
    requests.write_text(REQUESTS)

    code, out, err = cli("create-agents", requests, "--out", tmp_path / "designs", "--simulate")
    assert code == 0, err
    assert "valid" in out and "install-agent" in out

    code, out, err = cli("install-agent", tmp_path / "designs" / "bug_hunter.yaml")
    assert code == 0, err
    assert "installed bug_hunter" in out
    code, out, err = cli("run", "--agent", "bug_hunter", "--task", "Find bugs in x = 1/0", "--simulate", "--json")
    assert code == 0, err
    assert json.loads(out)["counts"] == {"completed": 1}


def test_create_agents_bad_file_names_file_and_field(cli, tmp_path):
    requests = tmp_path / "agents.yaml"
    requests.write_text("- name: fine_agent\n- domain: qa\n")

    code, out, err = cli("create-agents", requests, "--simulate")

    assert code == 2
    line = one_line_error(err)
    assert str(requests) in line and "new_agents[1]" in line and "neither a name nor a purpose" in line


def test_install_agent_refuses_clashes_unless_forced_and_invalid_files(cli, tmp_path, write_definition):
    mine = write_definition(tmp_path, "code_reviewer", filename="mine.yaml")

    code, out, err = cli("install-agent", mine)
    assert code == 2 and "already exists" in one_line_error(err) and "--force" in err

    code, out, err = cli("install-agent", mine, "--force", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "code_reviewer"
    assert load_registry(reload=True).get("code_reviewer").origin == "overlay"

    broken = write_definition(tmp_path, "broken_one", output_format="json")
    code, out, err = cli("install-agent", broken)
    assert code == 1 and "output_schema" in err and "Traceback" not in err


# -- demo -------------------------------------------------------------------------------------------

def test_demo_shows_a_refinement_loop(cli):
    code, out, err = cli("demo", "--json")

    assert code == 0, err
    report = json.loads(out)
    assert report["counts"] == {"completed": 10}
    [loop] = report["refinement"]
    assert loop["name"] == "crypto_analyst" and loop["reason"] == "target reached"
    assert loop["rounds"] >= 2 and loop["scores"] == sorted(loop["scores"])


def test_demo_text_has_both_tables(cli):
    code, out, err = cli("demo")

    assert code == 0, err
    assert "Refinement loop" in out and "crypto_analyst" in out and "target reached" in out
    assert "refine crypto_analyst: round 1" in err
