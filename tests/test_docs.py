"""Docs are code: every fenced block in the user-facing docs runs here.

- python: executed from the skill folder in a fresh process, `{baseDir}` replaced, with a
  runtime-injected `tools` module on the path (tests/shim, PARALLEL_AGENTS_SHIM=agents) whose
  children play the agents (`# needs: attach`: with the attach environment below too);
- bash: executed with `set -euo pipefail`; a block containing `# needs: gateway` gets a fake
  OpenClaw gateway (tests/fake_gateway.py) and OPENCLAW_GATEWAY_URL/TOKEN; `# needs: attach`
  gets a fake gateway and a fake `openclaw` CLI on PATH (attached mode's grants); lines that run the
  test suite itself are checked against .ci/run instead of being run;
- json / yaml: parsed, and checked against the code they describe.
A block in any other language fails the test: nothing in the docs goes unchecked.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from gateway_process import fake_gateway

REPO = Path(__file__).resolve().parent.parent
DOCS = ["SKILL.md", "README.md", "USAGE-GUIDE.md", "examples/README.md", "agents/README.md"]
FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```\s*$", re.S | re.M)
SUITE_COMMAND = "python3 -m pytest -q"


def _blocks():
    for doc in DOCS:
        text = (REPO / doc).read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text[: match.start()].count("\n") + 1
            yield pytest.param(doc, line, match.group(1), match.group(2), id=f"{doc}:{line}")


BLOCKS = list(_blocks())


def _env(home: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_GATEWAY")}
    env["PARALLEL_AGENTS_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests" / "shim"), str(REPO)])
    env["PARALLEL_AGENTS_SHIM"] = "agents"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra or {})
    return env


def _python3_on_path_is_this_interpreter(env) -> bool:
    out = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], env=env,
                         capture_output=True, text=True)
    return Path(out.stdout.strip()).resolve() == Path(sys.executable).resolve()


def test_every_block_is_a_checked_language():
    assert len(BLOCKS) >= 20
    unknown = [p.id for p in BLOCKS if p.values[2] not in ("python", "bash", "json", "yaml")]
    assert not unknown, f"blocks in a language the docs test does not run: {unknown}"


@pytest.mark.parametrize("doc,line,lang,code", [p for p in BLOCKS if p.values[2] == "python"])
def test_python_block_runs(doc, line, lang, code, tmp_path, request):
    script = tmp_path / "block.py"
    script.write_text(code.replace("{baseDir}", str(REPO)), encoding="utf-8")
    extra = request.getfixturevalue("attach_env") if "# needs: attach" in code else {}
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, env=_env(tmp_path / "home", extra),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{doc}:{line} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture
def attach_env(tmp_path, start_fake_gateway):
    """A fake gateway whose grants' children play the agents, and a fake `openclaw` CLI on PATH
    that mints grants from it (tests/fake_openclaw_cli.py): what `--attach` needs."""
    from gateway_process import install_fake_cli
    gateway = start_fake_gateway("docs-token", "--agents")
    env = install_fake_cli(tmp_path / "openclaw-cli", gateway)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    return env


@pytest.fixture
def gateway_env(tmp_path):
    """A fake OpenClaw gateway process on loopback; yields the env that points at it."""
    with fake_gateway(tmp_path) as env:
        yield env


@pytest.mark.parametrize("doc,line,lang,code", [p for p in BLOCKS if p.values[2] == "bash"])
def test_bash_block_runs(doc, line, lang, code, tmp_path, request):
    if "# host loop" in code:
        return _run_host_loop_block(code, tmp_path, request)
    lines = code.replace("{baseDir}", str(REPO)).splitlines()
    suite = [ln for ln in lines if "pytest" in ln]
    for ln in suite:  # the suite is running now: check the line is the one CI runs
        assert SUITE_COMMAND in ln
        assert SUITE_COMMAND in (REPO / ".ci" / "run").read_text()
    script = "\n".join(["set -euo pipefail"] + [ln for ln in lines if ln not in suite])
    extra = request.getfixturevalue("gateway_env") if "# needs: gateway" in code else {}
    if "# needs: attach" in code:
        extra = request.getfixturevalue("attach_env")
    env = _env(tmp_path / "home", extra)
    assert _python3_on_path_is_this_interpreter(env)
    done = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{doc}:{line} failed:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr


def _run_host_loop_block(code, tmp_path, request):
    """SKILL.md's host-loop lines have CAPITALS the host fills in: play the host on a fake
    gateway, found the way an exec'd process finds OpenClaw's (openclaw.json + port), and run
    every line with real values: plan, a refusal, check reading the gateway, check on a file.
    (tests/integration/test_host_loop_live.py walks the same lines on a real OpenClaw.)"""
    from parallel_agents.simulation.fake_deliveries import DeliveredChild, settled_batch
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    lines = [ln for ln in code.replace("{baseDir}", str(REPO)).splitlines() if ln.startswith("python3")]
    find = {name: next(ln for ln in lines if test(ln)) for name, test in {
        "plan": lambda ln: "plan --tasks" in ln, "refused": lambda ln: "--refused" in ln,
        "file": lambda ln: "MESSAGE_FILE" in ln,
        "check": lambda ln: ln.endswith("check --plan PLAN_ID --json")}.items()}
    assert len(lines) == 4, lines
    gateway = request.getfixturevalue("start_fake_gateway")("docs-token")
    config = tmp_path / "openclaw.json"
    config.write_text(json.dumps({"gateway": {"port": gateway.port,
                                              "auth": {"mode": "token", "token": "docs-token"}}}))
    env = _env(tmp_path / "home", {"OPENCLAW_CONFIG_PATH": str(config), "OPENCLAW_STATE_DIR": str(tmp_path / "state"),
                                   "OPENCLAW_GATEWAY_PORT": str(gateway.port), "OPENCLAW_SHELL": "exec"})
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps({"tasks": [{"id": f"t{i}", "agent": "documentation_writer", "task": "SIM {\"reply\": \"# Fixed text.\"}"}
                                           for i in range(2)]}))

    def run(line, **values):
        for name, value in values.items():
            line = line.replace(name, value)
        done = subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, f"{line}\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)

    plan = run(find["plan"], TASKS_FILE=str(tasks))
    first, second = plan["spawn"]
    host = GatewayToolCaller(gateway.url, "docs-token")
    assert host.call("sessions_spawn", second["args"])["status"] == "accepted"
    refusal = 'sessions_spawn model \\"x/unknown\\" is not usable: Unknown model: x/unknown'
    answer = run(find["refused"], PLAN_ID=plan["plan_id"], LABEL=first["args"]["label"], ERROR=refusal)
    assert [s["args"]["label"] for s in answer["spawn"]] == [first["args"]["label"]]
    assert host.call("sessions_spawn", answer["spawn"][0]["args"])["status"] == "accepted"
    while host.call("subagents", {"action": "list"}).get("active"):
        pass
    answer = run(find["check"], PLAN_ID=plan["plan_id"])
    assert answer["done"] and [r["status"] for r in answer["results"]] == ["completed"] * 2
    message = tmp_path / "message.txt"
    message.write_text(settled_batch([DeliveredChild(second["args"]["label"], "done", "# Fixed text.")]))
    answer = run(find["file"], PLAN_ID=plan["plan_id"], MESSAGE_FILE=str(message))
    assert answer["done"] and answer["checked"][0]["step"].startswith("ignored")


@pytest.mark.parametrize("doc,line,lang,code", [p for p in BLOCKS if p.values[2] == "json"])
def test_json_block_matches_the_code(doc, line, lang, code):
    from parallel_agents.engine.tasks import AgentResult, Attempt
    value = json.loads(code)
    if "task_id" in value and "attempts" in value:  # an AgentResult as documented
        assert set(value) == {f.name for f in fields(AgentResult)}
        for attempt in value["attempts"]:
            assert set(attempt) == {f.name for f in fields(Attempt)}


@pytest.mark.parametrize("doc,line,lang,code", [p for p in BLOCKS if p.values[2] == "yaml"])
def test_yaml_block_is_a_valid_config(doc, line, lang, code, tmp_path):
    from parallel_agents.core.config import load_config
    assert code.startswith("# ~/.openclaw/parallel-agents/config.yaml")
    user = tmp_path / "config.yaml"
    user.write_text(code)
    config = load_config(user=user)
    assert yaml.safe_load(code)["tiers"] == [t.__dict__ for t in config.tiers]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert f"python3 -m pip install -r requirements-dev.txt && {SUITE_COMMAND}" in readme
    assert f"\n{SUITE_COMMAND}\n" in (REPO / ".ci" / "run").read_text()


def test_examples_folder_scripts_run(tmp_path):
    """examples/*.py are documented as runnable; each runs on the simulated runtime."""
    scripts = sorted((REPO / "examples").glob("*.py"))
    assert scripts
    for script in scripts:
        done = subprocess.run([sys.executable, str(script), "--simulate"], cwd=REPO,
                              env=_env(tmp_path / "home"), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{script.name}:\n{done.stdout}\n{done.stderr}"


def test_skill_md_is_short_and_uses_basedir():
    text = (REPO / "SKILL.md").read_text()
    assert len(text.splitlines()) <= 250
    for line in text.splitlines():
        if "ai_orchestrator.py" in line and line.lstrip().startswith("python3"):
            assert "{baseDir}/ai_orchestrator.py" in line
