"""The host-agent loop on a real OpenClaw 2026.9.6, walked the way a user meets it.

A stock-like gateway (no `gateway.tools`, no model policy: an unknown model is refused as
unknown), the packaged skill installed with `openclaw skills install`, and a host turn started
with `openclaw agent --agent main --message …`. The scripted model plays the host
(tests/integration/host_player.py: it does only what SKILL.md says - the commands come from the
SKILL.md it reads) and the children (reading their prompt file, writing their answer file). The
skill runs with OpenClaw's exec environment: /usr/bin first on PATH, i.e. the system python3
(on Debian: PyYAML but no jsonschema, PEP 668), and our shipped config.yaml, whose tier models
this gateway does not have.

Done when the host ends `PARALLEL-AGENTS DONE` with every task completed and valid: api answers
invalid JSON first (re-asked), backend depends on api (spawned only after it), review runs
beside them. Variants: Tool Search on (OpenClaw's default; sessions_spawn through `tool_call`)
with check reading the gateway itself, and Tool Search off with the completion message pasted
through a file.
"""
from __future__ import annotations

import json
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

import openclaw_gateway as og
from parallel_agents.definitions.model import schema_registry
from parallel_agents.release.manifest import NAME
from parallel_agents.release.packaging import build_package
from parallel_agents.definitions.registry import Registry
from parallel_agents.definitions.samples import sample

pytestmark = pytest.mark.gateway
REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
HOST_DONE_TIMEOUT_S = 360
BYTES_PER_TASK_GOAL = 300


def system_python_lacks_jsonschema() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    done = subprocess.run([str(SYSTEM_PYTHON), "-c", "import jsonschema"], capture_output=True)
    return done.returncode != 0


@pytest.fixture(scope="module")
def skill_dir(tmp_path_factory) -> Path:
    """The release zip, unpacked (OpenClaw installs folders, not zips)."""
    work = tmp_path_factory.mktemp("host-loop-release")
    zip_path = Path(build_package(REPO, work / "dist")["path"])
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(work / "unpacked")
    return work / "unpacked" / NAME


@pytest.fixture(scope="module")
def host_gateway(openclaw_pkg, model_server, live_dir, skill_dir):
    """host_gateway(tool_search) -> a stock-like gateway with the skill installed."""
    started: dict = {}

    def start(tool_search: bool | None):
        if tool_search not in started:
            folder = live_dir / f"host-gateway-{'default' if tool_search is None else tool_search}"
            gateway = og.Gateway.start(openclaw_pkg.pkg, openclaw_pkg.node, folder, model_server.url,
                                       allow_spawn=False, model_policy=False, tool_search=tool_search)
            started[tool_search] = gateway
            done = gateway.openclaw("skills", "install", str(skill_dir), "--global")
            assert done.returncode == 0, done.stdout + done.stderr
        return started[tool_search]

    try:
        yield start
    finally:
        for gateway in started.values():
            gateway.stop()


def valid(agent: str, seed: int = 0) -> dict:
    registry = Registry.load(overlay=None)
    return sample(registry.get(agent).output_schema, schema_registry(), seed=seed)


def sim(**directive) -> str:
    return "SIM " + json.dumps(directive)


def task_file(folder: Path, nonce: str) -> Path:
    """examples/tasks.yaml's three tasks, each child scripted: api invalid first."""
    tasks = [
        {"id": "api", "agent": "api_designer", "input": {"features": ["auth", "tasks", "teams"]},
         "task": "Design the REST API of a small task manager.\n"
                 + sim(key=f"api-{nonce}", tag=nonce, replies=["Here is the design: {oops", valid("api_designer")])},
        {"id": "backend", "agent": "backend_developer", "depends_on": ["api"],
         "task": "Implement the backend for the API design.\n" + sim(tag=nonce, reply=valid("backend_developer"))},
        {"id": "review", "agent": "security_reviewer", "input": {"code": "def login(db, user, pw): ..."},
         "task": "Review this login handler.\n" + sim(tag=nonce, reply=valid("security_reviewer"))},
    ]
    path = folder / f"tasks-{nonce}.json"
    path.write_text(json.dumps({"tasks": tasks}, indent=1), encoding="utf-8")
    return path


def run_host(gateway, model_server, tasks: Path, nonce: str, *, paste: bool, scratch: Path) -> list[dict]:
    """Start the host turn as a user does; return the host's logged moves once it has finished."""
    directive = {"tasks": str(tasks), "paste": paste, "dir": str(scratch), "tag": nonce}
    message = f"HOST {json.dumps(directive)}\nUse the parallel-agents skill to run the tasks in {tasks}."
    mark = model_server.mark()
    done = gateway.openclaw("agent", "--agent", "main", "--message", message, timeout_s=HOST_DONE_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    deadline = time.monotonic() + HOST_DONE_TIMEOUT_S
    while time.monotonic() < deadline:   # the turns after sessions_yield run on their own
        moves = [r for r in model_server.requests(mark) if r.get("player") == "host" and r.get("tag") == nonce]
        if moves and moves[-1].get("action") == "final":
            return moves
        if gateway.proc.poll() is not None:
            pytest.fail(f"the gateway died:\n{gateway.log_tail()}", pytrace=False)
        time.sleep(0.5)
    pytest.fail(f"the host did not finish in {HOST_DONE_TIMEOUT_S}s; its moves: "
                f"{[(m['action'], m.get('calls')) for m in moves]}\n{gateway.log_tail()}", pytrace=False)


def journal(gateway, plan_id: str) -> list[dict]:
    path = gateway.folder / "state" / "parallel-agents" / "runs" / f"{plan_id}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("tool_search,paste", [(None, False), (False, True)],
                         ids=["tool-search-on+check-reads-gateway", "tool-search-off+pasted-message"])
def test_host_following_skill_md_gets_every_task_done(host_gateway, model_server, tmp_path, nonce,
                                                       tool_search, paste, record_property):
    gateway = host_gateway(tool_search)
    needs_setup = system_python_lacks_jsonschema() and not (
        gateway.folder / "state" / "parallel-agents" / "python").exists()
    tasks = task_file(tmp_path, nonce)
    moves = run_host(gateway, model_server, tasks, nonce, paste=paste, scratch=tmp_path)

    final = moves[-1]["text"]
    assert final.startswith("PARALLEL-AGENTS DONE"), final
    plan_id = final.split()[2]
    assert sorted(final.splitlines()[1:]) == ["api completed", "backend completed", "review completed"]

    records = journal(gateway, plan_id)
    results = {r["task_id"]: r["result"] for r in records if r["type"] == "task_finished"}
    assert {k: v["status"] for k, v in results.items()} == dict.fromkeys(("api", "backend", "review"), "completed")
    assert [(a["status"], a["reask"]) for a in results["api"]["attempts"]] == [("invalid", False), ("ok", True)]
    assert results["api"]["output"] == valid("api_designer")
    spawned = [r["label"].split("#")[0] for r in records if r["type"] == "spawn_intent"]
    assert spawned.index("backend") > [i for i, t in enumerate(spawned) if t == "api"][-1]

    # the shipped tiers' models are unknown here: every spawn went to the gateway's default model
    calls = [c for m in moves for c in m.get("calls") or []]
    spawns = [json.loads(args) for name, args in calls if name in ("sessions_spawn", "tool_call")]
    spawn_args = [s.get("args", s) for s in spawns]
    unusable = {r["model"] for r in records if r["type"] == "model_unusable"}
    assert unusable, "the shipped tier models were not found unusable on this gateway"
    assert not any(a.get("model") in unusable for a in spawn_args if not _refused(a["label"], calls))

    # how the host got there: Tool Search's tool_call when it is on; setup when python lacks jsonschema
    used = {name for name, _ in calls}
    assert ("tool_call" in used) == (tool_search is None) and ("sessions_spawn" in used) == (tool_search is False)
    commands = [json.loads(args)["command"] for name, args in calls if name == "exec"]
    assert any(" setup" in c for c in commands) == needs_setup, commands
    if paste:
        assert any("completion-" in c for c in commands) and any(name == "write" for name, _ in calls)

    # what the skill makes the host write, with the paths of a real install (~/.openclaw)
    cost = host_bytes(moves, str(gateway.folder / "state"))
    record_property("host_bytes_per_task", round(cost / 3))
    record_property("host_bytes_per_spawn", round(cost / len(spawn_args)))
    if not paste:   # pasting the message is the expensive path it replaces
        assert cost / len(spawn_args) <= BYTES_PER_TASK_GOAL, (cost, len(spawn_args), commands)


def host_bytes(moves: list[dict], state_dir: str) -> int:
    """UTF-8 bytes of the tool calls the host makes for the skill once it is set up (after any
    `setup`; not reading SKILL.md or the final answer), as compact JSON, with this test's state
    folder written as /root/.openclaw (the paths appear in every command and prompt pointer)."""
    setup = max((i for i, m in enumerate(moves) for name, args in m.get("calls") or []
                 if name == "exec" and " setup" in args), default=-1)
    steady = [m for m in moves[setup + 1:] if m["action"] in ("exec", "spawn", "yield", "write")]
    return sum(len(_compact(args).replace(state_dir, "/root/.openclaw").encode())
               for m in steady for _, args in m["calls"])


def _compact(arguments: str) -> str:
    """Arguments as compact JSON (bench/host_cost.py counts the same way)."""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False, separators=(",", ":"))
    except ValueError:   # cut by the model server's log (a long pasted message)
        return arguments


def _refused(label: str, calls) -> bool:
    return any(name == "exec" and "--refused" in args and label in args for name, args in calls)
