"""Attached mode on a real OpenClaw 2026.9.6: a whole fan-out is one command, through an attach
grant, on a gateway whose config has NO `gateway.tools` (sessions_spawn stays off its HTTP API).

The CLI runs with the gateway's environment (as an exec'd process does) and the real `openclaw`
CLI on PATH - behind a thin spy (written by this test) that notes the grant token the real CLI
hands to our program, so the test can check that the grant dies with the run and that no token
reaches any output, journal or file. Tiers are the scripted models, with prices, so costs come
from the usage agents_wait reports.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import openclaw_gateway as og
from parallel_agents.core import yamlio
from parallel_agents.definitions.model import schema_registry
from parallel_agents.definitions.registry import Registry
from parallel_agents.definitions.samples import sample

pytestmark = pytest.mark.gateway
REPO = Path(__file__).resolve().parents[2]

SPY = """#!{python}
# the real openclaw CLI, with `attach --bin PROG` run through a spy that notes the grant
import os, sys
spy_dir, node, cli = {spy_dir!r}, {node!r}, {cli!r}
args = sys.argv[1:]
if args[:1] == ["attach"] and "--bin" in args:
    i = args.index("--bin")
    open(os.path.join(spy_dir, "prog"), "w").write(args[i + 1])
    args = args[:i] + args[i + 2:] + ["--bin", os.path.join(spy_dir, "spy-bin")]
os.execv(node, [node, cli, *args])
"""
SPY_BIN = """#!{python}
import os, sys
spy_dir = {spy_dir!r}
with open(os.path.join(spy_dir, "tokens"), "a") as fh:
    fh.write(os.environ.get("OPENCLAW_MCP_TOKEN", "") + "\\n")
with open(os.path.join(spy_dir, "args"), "a") as fh:
    fh.write("\\n".join(sys.argv[1:]) + "\\n")
config = sys.argv[sys.argv.index("--mcp-config") + 1]
with open(config) as src, open(os.path.join(spy_dir, "mcp.json"), "w") as dst:
    dst.write(src.read())      # OpenClaw deletes its copy when the grant is revoked
prog = open(os.path.join(spy_dir, "prog")).read()
os.execv(prog, [prog, *sys.argv[1:]])
"""


@pytest.fixture(scope="module")
def attach_gateway(openclaw_pkg, model_server, live_dir):
    gateway = og.Gateway.start(openclaw_pkg.pkg, openclaw_pkg.node, live_dir / "attach-gateway",
                               model_server.url, allow_spawn=False)
    try:
        assert "tools" not in gateway.config["gateway"]
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def attached_env(attach_gateway, openclaw_pkg, tmp_path):
    """The environment of an exec'd process on this gateway, our scripted tiers, and the spy."""
    spy_dir = tmp_path / "spy"
    bin_dir = tmp_path / "bin"
    spy_dir.mkdir()
    bin_dir.mkdir()
    cli = openclaw_pkg.pkg / "openclaw.mjs"
    (bin_dir / "openclaw").write_text(SPY.format(python=sys.executable, spy_dir=str(spy_dir),
                                                 node=openclaw_pkg.node, cli=str(cli)))
    (spy_dir / "spy-bin").write_text(SPY_BIN.format(python=sys.executable, spy_dir=str(spy_dir)))
    for path in (bin_dir / "openclaw", spy_dir / "spy-bin"):
        path.chmod(0o755)
    home = tmp_path / "pa-home"
    home.mkdir()
    config = og.scripted_config()
    (home / "config.yaml").write_text(yamlio.dump({"tiers": config.data["tiers"],
                                                   "prices": config.data["prices"]}))
    env = dict(attach_gateway.env)
    env.update(PARALLEL_AGENTS_HOME=str(home), OPENCLAW_SHELL="exec",
               PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    env.pop("PARALLEL_AGENTS_DEBUG", None)
    return {"env": env, "home": home, "spy": spy_dir}


def valid(agent: str, seed: int = 0) -> dict:
    return sample(Registry.load(overlay=None).get(agent).output_schema, schema_registry(), seed=seed)


def task_file(folder: Path, nonce: str, latency: float = 0.05) -> Path:
    """examples/tasks.yaml's three tasks, scripted: api answers invalid JSON first."""
    sim = lambda **d: "SIM " + json.dumps({"tag": nonce, "latency": latency, **d})  # noqa: E731
    tasks = [
        {"id": "api", "agent": "api_designer", "task": "Design the REST API.\n"
         + sim(key=f"api-{nonce}", replies=["Here it is: {oops", valid("api_designer")])},
        {"id": "backend", "agent": "backend_developer", "depends_on": ["api"],
         "task": "Implement the backend.\n" + sim(reply=valid("backend_developer"))},
        {"id": "review", "agent": "security_reviewer", "input": {"code": "def login(): ..."},
         "task": "Review this login handler.\n" + sim(reply=valid("security_reviewer"))},
    ]
    path = folder / f"tasks-{nonce}.json"
    path.write_text(json.dumps({"tasks": tasks}))
    return path


def cli(env: dict, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "ai_orchestrator.py"), *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def mcp_url(spy: Path) -> str:
    config = json.loads((spy / "mcp.json").read_text())
    return next(iter(config["mcpServers"].values()))["url"]


def grant_answers(url: str, token: str) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_attached_run_completes_on_a_gateway_without_http_spawn(attached_env, attach_gateway,
                                                                tmp_path, nonce, model_server):
    env, spy = attached_env["env"], attached_env["spy"]
    done = cli(env, "run", "--tasks", task_file(tmp_path, nonce), "--attach", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    results = {r["task_id"]: r for r in report["results"]}
    assert {k: r["status"] for k, r in results.items()} == dict.fromkeys(("api", "backend", "review"), "completed")
    assert [(a["status"], a["reask"]) for a in results["api"]["attempts"]] == [("invalid", False), ("ok", True)]
    assert results["api"]["output"] == valid("api_designer")
    assert all(r["usage"]["input_tokens"] > 0 and r["usage"]["output_tokens"] > 0 for r in results.values())
    assert report["cost_usd"] > 0
    # the children are the bound (main) session's own: its subagents list shows them
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    listing = GatewayToolCaller(attach_gateway.url, attach_gateway.token).call("subagents", {"action": "list"})
    assert listing["requesterSessionKey"] == "agent:main:main"
    listed = {v.get("runId") for v in (listing.get("recent") or []) + (listing.get("active") or [])}
    ours = [a for r in results.values() for a in r["attempts"] if a["run_id"]]
    assert all(a["session_key"].startswith("agent:main:subagent:") for a in ours)
    assert {a["run_id"] for a in ours} <= listed
    # the grant died with the run
    token = (spy / "tokens").read_text().split()[-1]
    assert grant_answers(mcp_url(spy), token) in (401, 403)
    # no secret anywhere the user can see
    secrets = [attach_gateway.token, token]
    seen = [done.stdout, done.stderr] + [p.read_text(errors="replace")
                                         for p in attached_env["home"].rglob("*") if p.is_file()]
    assert not [s for s in secrets for text in seen if s in text]


def test_kill_mid_run_then_resume_attach_spawns_nothing_twice(attached_env, tmp_path, nonce, model_server):
    env, home = attached_env["env"], attached_env["home"]
    tasks = task_file(tmp_path, nonce, latency=6.0)
    proc = subprocess.Popen([sys.executable, str(REPO / "ai_orchestrator.py"), "run", "--tasks", str(tasks),
                             "--attach", "--json"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    runs = home / "runs"
    deadline = time.monotonic() + 120
    journal = None
    while time.monotonic() < deadline:   # wait until the first children were accepted
        journals = [p for p in runs.glob("*.jsonl")] if runs.is_dir() else []
        if journals and "spawn_accepted" in journals[0].read_text():
            journal = journals[0]
            break
        time.sleep(0.2)
    assert journal is not None, proc.communicate(timeout=5)
    child = _attached_child(proc.pid)
    assert child, "the attached child process was not found"
    os.kill(child, signal.SIGKILL)          # the process doing the work dies mid-run
    proc.wait(timeout=120)
    run_id = journal.stem
    done = cli(env, "resume", run_id, "--attach", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert [r["status"] for r in report["results"]] == ["completed"] * 3
    spawned = [json.loads(line) for line in journal.read_text().splitlines() if '"spawn_intent"' in line]
    labels = [r["label"] for r in spawned]
    assert len(labels) == len(set(labels)), labels
    firsts = [r for r in model_server.requests() if r.get("tag") == nonce and r.get("kind") in ("reply", "tool_call")
              and r.get("attempt")]
    per_key = {}
    for r in firsts:
        per_key.setdefault((r["sim"] or "")[:80], set()).add(r["attempt"])
    assert all(len(v) <= 2 for v in per_key.values()), per_key   # api: 2 attempts; others: 1


def _attached_child(root: int) -> int | None:
    """The pid of our `ai_orchestrator.py _attached` process below `root`."""
    for pid, _ in og.descendants(root):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"_attached" in cmdline:
            return pid
    return None


def test_python_api_attached_runtime_on_the_real_cli(attached_env, monkeypatch, tmp_path, nonce):
    from ai_orchestrator import AgentTask, RealAIParallelOrchestrator, attached_runtime
    for name, value in attached_env["env"].items():
        monkeypatch.setenv(name, value)
    task = AgentTask("security_reviewer", "Review it.\nSIM " + json.dumps({"tag": nonce,
                     "reply": valid("security_reviewer")}), {"code": "x = 1"})
    with attached_runtime() as runtime:
        orch = RealAIParallelOrchestrator(2, runtime=runtime)
        (result,) = orch.run_parallel([task])
    assert result.status == "completed" and result.cost_usd > 0
    spy = attached_env["spy"]
    token = (spy / "tokens").read_text().split()[-1]
    assert grant_answers(mcp_url(spy), token) in (401, 403)       # revoked when the block ended
