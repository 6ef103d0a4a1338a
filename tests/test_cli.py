"""The command line: exit codes (0 ok, 1 invalid, 2 bad usage, 3 missing dependency), --json
shapes, and one-line errors without tracebacks."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from parallel_agents import __version__

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("warm_cache")


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- list -------------------------------------------------------------------------------------------

def test_list_json(cli):
    code, out, err = cli("list", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["count"] == 25 == len(data["agents"])
    assert data["categories"] == ["content", "development", "documentation", "meta", "personal", "qa"]
    for item in data["agents"]:
        assert {"name", "category", "description", "aliases"} <= set(item)
        assert isinstance(item["aliases"], list)
        assert item["origin"] == "shipped"
    by_name = {a["name"]: a for a in data["agents"]}
    assert by_name["donut_care_coordinator"]["aliases"] == ["pet_care_coordinator"]
    assert by_name["documentation_writer"]["output_format"] == "markdown"


def test_list_table(cli):
    code, out, _ = cli("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "CATEGORY", "ALIASES", "DESCRIPTION"]
    assert lines[-1] == "25 agent types. `show NAME` for one."
    assert any(l.startswith("donut_care_coordinator") and "pet_care_coordinator" in l for l in lines)


def test_list_category(cli):
    code, out, _ = cli("list", "--category", "qa", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["count"] == 5
    assert {a["name"] for a in data["agents"]} == {
        "code_reviewer", "security_reviewer", "performance_reviewer", "accessibility_reviewer",
        "test_engineer"}
    assert {a["category"] for a in data["agents"]} == {"qa"}


def test_list_unknown_category_exits_2(cli):
    code, out, err = cli("list", "--category", "nope")
    assert code == 2
    assert out == ""
    line = _one_error_line(err)
    assert "unknown category 'nope'" in line and "qa" in line
    code, out, err = cli("list", "--category", "nope", "--json")
    assert code == 2
    data = json.loads(out)
    assert data["error"] == "InputError" and data["exit_code"] == 2
    assert data["problems"][0]["field"] == "--category"


def test_list_includes_overlay_agents(cli, overlay_dir, write_definition):
    write_definition(overlay_dir, "my_helper")
    code, out, _ = cli("list", "--json")
    data = json.loads(out)
    assert data["count"] == 26
    assert {a["name"]: a["origin"] for a in data["agents"]}["my_helper"] == "overlay"


# -- show -------------------------------------------------------------------------------------------

def test_show_json(cli):
    code, out, err = cli("show", "code_reviewer", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert set(data) == {"definition", "source", "origin", "prompt"}
    assert data["definition"]["name"] == "code_reviewer"
    assert data["definition"]["output_schema"]["properties"]["score"]["maximum"] == 10
    assert data["origin"] == "shipped"
    assert data["source"] == str(REPO / "agents" / "qa" / "code_reviewer.yaml")
    assert data["prompt"].startswith("You are a senior software engineer")
    assert "## Task\nSample task:" in data["prompt"]
    assert "## Output\n" in data["prompt"]


def test_show_with_an_alias(cli):
    code, out, _ = cli("show", "pet_care_coordinator", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["definition"]["name"] == "donut_care_coordinator"
    assert data["definition"]["aliases"] == ["pet_care_coordinator"]


def test_show_text(cli):
    code, out, _ = cli("show", "documentation_writer", "--task", "Write the README.")
    assert code == 0
    assert out.startswith("# documentation_writer (shipped: ")
    assert "name: documentation_writer\n" in out
    assert "# Prompt for the task given:" in out
    assert "## Task\nWrite the README.\n" in out


def test_show_with_input_file(cli, tmp_path):
    data_file = tmp_path / "input.yaml"
    data_file.write_text("topic: sourdough\nlevels: [beginner, expert]\n", encoding="utf-8")
    code, out, _ = cli("show", "code_reviewer", "--json", "--task", "Review.", "--input", data_file)
    assert code == 0
    prompt = json.loads(out)["prompt"]
    assert '"topic": "sourdough"' in prompt and '"expert"' in prompt
    json_file = tmp_path / "input.json"
    json_file.write_text('{"topic": "bread"}', encoding="utf-8")
    code, out, _ = cli("show", "code_reviewer", "--json", "--input", json_file)
    assert code == 0 and '"topic": "bread"' in json.loads(out)["prompt"]


@pytest.mark.parametrize("content,expected", [
    ("- a\n- b\n", "must be a mapping"),
    ("topic: [unclosed\n", "YAML syntax error"),
])
def test_show_with_bad_input_file_exits_2(cli, tmp_path, content, expected):
    data_file = tmp_path / "input.yaml"
    data_file.write_text(content, encoding="utf-8")
    code, out, err = cli("show", "code_reviewer", "--input", data_file)
    assert code == 2 and out == ""
    line = _one_error_line(err)
    assert expected in line and str(data_file) in line


def test_show_with_missing_input_file_exits_2(cli, tmp_path):
    code, _, err = cli("show", "code_reviewer", "--input", tmp_path / "nope.yaml")
    assert code == 2
    assert "file not found" in _one_error_line(err)


def test_show_unknown_agent_exits_2_with_suggestions(cli):
    code, out, err = cli("show", "code_reviwer")
    assert code == 2
    assert out == ""
    line = _one_error_line(err)
    assert line.startswith("error: agent_type: unknown agent type 'code_reviwer'")
    assert "did you mean code_reviewer" in line


def test_show_unknown_agent_json(cli):
    code, out, err = cli("show", "code_reviwer", "--json")
    assert code == 2
    data = json.loads(out)
    assert data["error"] == "UnknownAgentError"
    assert "code_reviewer" in data["problems"][0]["fix"]
    _one_error_line(err)


# -- validate ---------------------------------------------------------------------------------------

def test_validate_shipped_tree_exits_0(cli):
    code, out, err = cli("validate")
    assert code == 0, out
    # 25 definition files + the config (shipped + user)
    assert out.strip().splitlines()[-1] == "ok: 26 file(s) valid"


def test_validate_json_on_shipped_tree(cli):
    code, out, _ = cli("validate", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True and report["problems"] == []
    assert sum(c.startswith("agents/") for c in report["checked"]) == 25
    assert any(c.startswith("config.yaml") for c in report["checked"])


def test_validate_includes_the_overlay(cli, overlay_dir, write_definition):
    write_definition(overlay_dir, "code_reviewer", category="qa")  # a replacement: no clash
    code, out, _ = cli("validate")
    assert code == 0, out
    bad = write_definition(overlay_dir, "bad_helper", output_format="json")
    code, out, _ = cli("validate")
    assert code == 1
    assert f"{bad}:" in out and "output_schema: is required when output_format is json" in out


def test_validate_reports_a_bad_user_config(cli, pa_home):
    pa_home.mkdir(parents=True, exist_ok=True)
    (pa_home / "config.yaml").write_text("max_concurrent: 0\n", encoding="utf-8")
    code, out, _ = cli("validate")
    assert code == 1
    assert f"{pa_home / 'config.yaml'}:1: max_concurrent: 0 is less than the minimum of 1" in out


def test_validate_subprocess_exits_0(run_cli):
    code, out, err = run_cli("validate")
    assert code == 0, out + err
    assert out.strip().endswith("ok: 26 file(s) valid")
    assert err == ""


# -- usage, version, environment ------------------------------------------------------------------

def test_version(cli, run_cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"parallel-agents {__version__}"
    code, out, err = run_cli("--version")
    assert code == 0 and out.strip() == f"parallel-agents {__version__}", err


@pytest.mark.parametrize("argv,expected", [
    ((), "required: COMMAND"),
    (("bogus",), "invalid choice: 'bogus'"),
    (("list", "--bogus"), "unrecognized arguments: --bogus"),
    (("show",), "required: name"),
])
def test_bad_usage_exits_2_on_one_line(cli, argv, expected):
    code, out, err = cli(*argv)
    assert code == 2
    assert out == ""
    line = _one_error_line(err)
    assert expected in line and line.endswith("(see --help)")


def test_bad_usage_in_a_subprocess(run_cli):
    code, out, err = run_cli("frobnicate")
    assert code == 2 and out == ""
    assert "invalid choice" in _one_error_line(err)


def test_unknown_agent_in_a_subprocess(run_cli):
    code, out, err = run_cli("show", "security_reviwer")
    assert code == 2 and out == ""
    assert "did you mean security_reviewer" in _one_error_line(err)


def test_internal_error_is_one_line_exit_70(cli, monkeypatch):
    from parallel_agents.definitions import registry

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(registry.Registry, "load", classmethod(broken))
    code, out, err = cli("list")
    assert code == 70
    line = _one_error_line(err)
    assert "internal error: RuntimeError: boom" in line and "PARALLEL_AGENTS_DEBUG" in line


@pytest.fixture
def no_yaml_path(tmp_path):
    """A PYTHONPATH entry whose yaml.py fails to import, as if pyyaml were not installed."""
    folder = tmp_path / "no-yaml"
    folder.mkdir()
    (folder / "yaml.py").write_text('raise ImportError("No module named \'yaml\'")\n')
    return folder


@pytest.mark.parametrize("argv", [("list",), ("validate",), ("show", "code_reviewer"),
                                  ("list", "--json")])
def test_missing_pyyaml_exits_3_with_the_fix(run_cli, no_yaml_path, argv):
    import os
    pythonpath = os.pathsep.join(filter(None, [str(no_yaml_path), os.environ.get("PYTHONPATH")]))
    code, out, err = run_cli(*argv, env={"PYTHONPATH": pythonpath})
    assert code == 3
    line = _one_error_line(err)
    assert "pyyaml" in line
    assert line.endswith(f"(fix: {sys.executable} {REPO / 'ai_orchestrator.py'} setup)")
    assert "Traceback" not in out
    if "--json" in argv:
        assert json.loads(out)["error"] == "MissingDependency"
    else:
        assert out == ""
