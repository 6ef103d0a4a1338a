"""Attached mode through the CLI, on the fake gateway's grant surface and the fake `openclaw` CLI
(tests/fake_openclaw_cli.py; both checked against a live OpenClaw in tests/integration/
test_mcp_live.py). The live walk of the same paths: tests/integration/test_attached_live.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway_process import install_fake_cli
from parallel_agents.openclaw.attach import GRANT_TTL_MAX_MS, GRANT_TTL_MIN_MS, child_argv, grant_ttl_ms
from support import run_cli

REPO = Path(__file__).resolve().parent.parent
TOKEN = "gw-secret-token-1234"


@pytest.fixture
def attached(tmp_path, start_fake_gateway, pa_home):
    """The environment of an exec'd process with a fake `openclaw` on PATH and a fake gateway
    whose grants' children play the registry's agents."""
    gateway = start_fake_gateway(TOKEN, "--agents")
    env = install_fake_cli(tmp_path / "openclaw-cli", gateway)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    return {"env": env, "gateway": gateway, "home": pa_home}


def scripted_tasks(folder: Path, **sims) -> Path:
    """code_reviewer tasks a..: directive per id (the gateway's agent player answers the rest)."""
    tasks = [{"id": tid, "agent": "code_reviewer", "input": {"code": "x = 1"},
              "task": "Review it." + (("\nSIM " + json.dumps(sim)) if sim else "")}
             for tid, sim in sims.items()]
    path = folder / "tasks.json"
    path.write_text(json.dumps({"tasks": tasks}))
    return path


def test_a_fan_out_is_one_command_with_real_usage_and_a_grant_that_dies_with_it(attached, tmp_path):
    gateway = attached["gateway"]
    before = set(gateway.grant_runs())
    rc, out, err = run_cli("run", "--tasks", REPO / "examples" / "tasks.yaml", "--attach", "--json",
                           env=attached["env"])
    assert rc == 0, out + err
    report = json.loads(out)
    assert [r["status"] for r in report["results"]] == ["completed"] * 3
    assert report["cost_usd"] > 0 and all(r["usage"]["input_tokens"] > 0 for r in report["results"])
    sessions = gateway.grant_runs()
    assert set(sessions) - before == {"agent:main:main"} or "agent:main:main" in sessions
    runs = sessions["agent:main:main"]
    assert all(r["collect"] for r in runs) and len(runs) == 3      # collectors, one per task
    assert "Attaching Claude Code" not in out + err                  # OpenClaw's banner is not ours
    # every grant minted for the run is revoked (the fake CLI revokes when our child exits)
    assert gateway.live_grants() == []
    seen = out + err + "".join(p.read_text(errors="replace") for p in attached["home"].rglob("*") if p.is_file())
    assert TOKEN not in seen and "grant-" not in seen


def test_bound_session_and_no_secret_in_argv(attached):
    rc, out, err = run_cli("run", "--agent", "code_reviewer", "--task", "Review it", "--input",
                           REPO / "examples" / "review_input.yaml", "--attach", "agent:main:work", "--json",
                           env=attached["env"])
    assert rc == 0, out + err
    assert "agent:main:work" in attached["gateway"].grant_runs()
    wrapper = (attached["home"] / "bin" / "attached-run").read_text()
    assert "_attached" in wrapper and TOKEN not in wrapper


def test_detach_returns_at_once_and_runs_wait_collects(attached, tmp_path):
    tasks = scripted_tasks(tmp_path, a={"latency": 1.0, "reply": _review()}, b={"latency": 1.0, "reply": _review(1)})
    rc, out, err = run_cli("run", "--tasks", tasks, "--attach", "--detach", "--json", env=attached["env"])
    assert rc == 0, out + err
    started = json.loads(out)
    assert started["status"] == "running" and "runs " + started["run_id"] + " --wait" in started["next"]
    rc, out, err = run_cli("runs", started["run_id"], "--wait", "--timeout", "60", "--json", env=attached["env"])
    assert rc == 0, out + err
    done = json.loads(out)
    assert done["state"] == "done" and done["counts"] == {"completed": 2}
    rc, out, err = run_cli("runs", started["run_id"], env=attached["env"])
    assert rc == 0 and "done" in out


def test_killed_mid_run_resume_attach_finishes_without_spawning_twice(attached, tmp_path):
    tasks = scripted_tasks(tmp_path, a={"latency": 3.0, "reply": _review()}, b={"latency": 3.0, "reply": _review(1)})
    proc = subprocess.Popen([sys.executable, str(REPO / "ai_orchestrator.py"), "run", "--tasks", str(tasks),
                             "--attach", "--json"], cwd=REPO, env={**os.environ, **attached["env"]},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    journal = _wait_for(lambda: next((p for p in (attached["home"] / "runs").glob("*.jsonl")
                                      if p.read_text().count("spawn_accepted") >= 2), None))
    os.killpg(proc.pid, signal.SIGKILL)           # the whole command dies, OpenClaw's CLI too
    proc.wait(timeout=10)
    rc, out, err = run_cli("resume", journal.stem, "--attach", "--json", env=attached["env"])
    assert rc == 0, out + err
    assert [r["status"] for r in json.loads(out)["results"]] == ["completed", "completed"]
    runs = attached["gateway"].grant_runs()["agent:main:main"]
    assert sorted(r["label"] for r in runs) == sorted(set(r["label"] for r in runs))   # none twice
    assert len(runs) == 2


def test_without_an_openclaw_cli_attach_says_what_to_do(pa_home, tmp_path):
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    rc, out, err = run_cli("run", "--tasks", REPO / "examples" / "tasks.yaml", "--attach", env=env)
    assert rc == 3 and len(err.strip().splitlines()) == 1
    assert "`openclaw` CLI" in err and "plan/check" in err


def test_a_failed_grant_is_one_line_and_bad_tasks_fail_before_openclaw_starts(tmp_path, pa_home):
    env = install_fake_cli(tmp_path / "cli", None)      # no gateway to mint a grant from
    env["FAKE_OPENCLAW_GATEWAY_URL"] = "http://127.0.0.1:9"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    rc, out, err = run_cli("run", "--tasks", REPO / "examples" / "tasks.yaml", "--attach", env=env)
    assert rc == 3 and "openclaw attach failed" in err and "doctor" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: a, agent: code_reviwer, task: x}\n")
    rc, out, err = run_cli("run", "--tasks", bad, "--attach", env=env)
    assert rc == 2 and "did you mean code_reviewer" in err and "openclaw" not in err


def test_child_argv_drops_only_our_options():
    assert child_argv(["run", "--tasks", "t.yaml", "--attach", "--json"], "main") == \
        ["run", "--tasks", "t.yaml", "--json"]
    assert child_argv(["run", "--attach", "agent:main:x", "--detach", "--tasks", "t"], "agent:main:x") == \
        ["run", "--tasks", "t"]
    assert child_argv(["resume", "r1", "--attach=agent:main:x"], "agent:main:x") == ["resume", "r1"]


def test_grant_lifetime_covers_the_worst_case_within_openclaws_bounds():
    assert grant_ttl_ms([60], tiers=3, max_concurrent=5) == GRANT_TTL_MIN_MS
    assert grant_ttl_ms([600] * 100, tiers=3, max_concurrent=2) == GRANT_TTL_MAX_MS
    middle = grant_ttl_ms([900] * 10, tiers=3, max_concurrent=5)
    assert GRANT_TTL_MIN_MS < middle == 900 * 2 * 3 * 2 * 1000 < GRANT_TTL_MAX_MS


def _review(seed: int = 0) -> dict:
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.definitions.model import schema_registry
    from parallel_agents.definitions.samples import sample
    return sample(load_registry().get("code_reviewer").output_schema, schema_registry(), seed=seed)


def _wait_for(find, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_run_whose_child_dies_says_how_to_finish_it(attached, tmp_path):
    tasks = scripted_tasks(tmp_path, a={"latency": 3.0, "reply": _review()})
    proc = subprocess.Popen([sys.executable, str(REPO / "ai_orchestrator.py"), "run", "--tasks", str(tasks),
                             "--attach"], cwd=REPO, env={**os.environ, **attached["env"]},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = _wait_for(lambda: next((p for p in (attached["home"] / "runs").glob("*.jsonl")
                                      if "spawn_accepted" in p.read_text()), None))
    child = _wait_for(lambda: _child_of(proc.pid))
    os.kill(child, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, out + err
    assert f"run {journal.stem} stopped before it finished" in err and f"resume {journal.stem} --attach" in err
    assert attached["gateway"].live_grants() == []        # OpenClaw's CLI revoked it all the same


def _child_of(root: int) -> int | None:
    """Our `_attached` process below `root` (OpenClaw's CLI started it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"_attached" in cmdline and _descends(int(entry.name), root):
            return int(entry.name)
    return None


def _descends(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat[stat.rfind(")") + 2:].split()[1])
    return False


def test_python_api_holds_one_grant_for_a_with_block(attached, monkeypatch):
    from ai_orchestrator import AgentTask, RealAIParallelOrchestrator, attached_runtime
    for name, value in attached["env"].items():
        monkeypatch.setenv(name, value)
    gateway = attached["gateway"]
    with attached_runtime() as runtime:
        assert gateway.live_grants() == ["agent:main:main"]
        orch = RealAIParallelOrchestrator(3, runtime=runtime)
        results = orch.run_parallel([AgentTask("code_reviewer", "Review it", {"code": "x = 1"}),
                                     AgentTask("security_reviewer", "Review it", {"code": "x = 1"})])
    assert [r.status for r in results] == ["completed", "completed"] and orch.last_run.cost_usd > 0
    assert gateway.live_grants() == []
    assert not list((attached["home"] / "runs" / ".attach").glob("*.grant"))


def test_runs_and_resume_know_a_host_plan_and_an_attached_run(attached, tmp_path):
    rc, out, _ = run_cli("plan", "--agent", "code_reviewer", "--task", "Review it", "--json")
    plan_id = json.loads(out)["plan_id"]
    rc, out, err = run_cli("runs", plan_id, "--json")
    assert rc == 1 and json.loads(out)["mode"] == "host" and "check --plan" in json.loads(out)["next"]
    rc, out, err = run_cli("resume", plan_id)
    assert rc == 2 and f"check --plan {plan_id}" in err and len(err.strip().splitlines()) == 1
    rc, out, err = run_cli("run", "--agent", "code_reviewer", "--task", "Review it", "--attach", "--json",
                           env=attached["env"])
    run_id = json.loads(out)["run_id"]
    rc, out, err = run_cli("resume", run_id, env=attached["env"])      # without --attach
    assert rc == 2 and f"resume {run_id} --attach" in err
