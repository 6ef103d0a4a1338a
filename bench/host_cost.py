#!/usr/bin/env python3
"""Host cost: the bytes a host agent must write, per task, to run tasks through SKILL.md's loop.

    python3 bench/host_cost.py [--json]

A host agent's own output is the most expensive token in the loop: whatever the skill asks it to
write (commands, spawn arguments, pasted messages) it writes with the host's model. This plays a
host that follows SKILL.md exactly (its commands are the SKILL.md lines, filled in by
tests/integration/host_player.py's Commands) on the fake gateway (tests/fake_gateway.py, found
by check through an openclaw.json as on a real install), and counts the UTF-8 bytes of every tool
call it makes for the skill: the plan and check execs, each sessions_spawn as Tool Search's
`tool_call {"id": "sessions_spawn", "args": …}` (OpenClaw's default), the sessions_yields, and in
the old loop the `write` of the completion message it must hand to check. Arguments are counted
as compact JSON, the form function-calling models emit. Not counted: reading SKILL.md, and the
host's answer to its user - the same with or without the skill. Paths are counted as on a real
install: the temp folders stand in for /root/.openclaw.

- before: the loop as it was - every spawn carries the whole prompt as its `task` (plan
  --prompts inline), and the host passes check the message OpenClaw delivered when the children
  settled (it writes it to a file: check --plan P --json FILE). The scripting directive the fake
  children answer by is left out of the counted prompts.
- after: spawns point each child at its prompt file, and check reads the children from the
  gateway itself.
Workloads: examples/tasks.yaml (api, then backend built on it; review beside them: two rounds)
and a five-agent review team (one round). Every child answers valid output at once.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for path in (REPO, REPO / "tests", REPO / "tests" / "integration"):
    sys.path.insert(0, str(path))

GOAL_BYTES_PER_TASK = 300
REAL_STATE = "/root/.openclaw"
TOKEN = "bench-token"


def workloads() -> dict[str, list[dict]]:
    from parallel_agents.core import yamlio
    from parallel_agents.workflows.teams import REVIEWERS
    path = REPO / "examples" / "tasks.yaml"
    example = yamlio.parse(yamlio.read_text(path), shown=str(path))[0]["tasks"]
    code = (REPO / "examples" / "simple_parallel_research.py").read_text(encoding="utf-8")[:3000]
    team = [{"id": f"review-{agent}", "agent": agent, "input": {"code": code},
             "task": f"Review this code for {agent.split('_')[0]} problems."} for agent in REVIEWERS]
    return {"examples/tasks.yaml": example, "5-agent review team": team}


def scripted(tasks: list[dict]) -> tuple[list[dict], list[str]]:
    """The tasks with a SIM directive appended (a valid sample of the agent's schema), and the
    directive lines (left out of the counted bytes)."""
    from parallel_agents.definitions.registry import load_registry
    from parallel_agents.definitions.model import schema_registry
    from parallel_agents.definitions.samples import sample
    registry = load_registry()
    out, lines = [], []
    for i, task in enumerate(tasks):
        reply = sample(registry.get(task["agent"]).output_schema, schema_registry(), seed=i)
        line = "SIM " + json.dumps({"reply": reply})
        out.append({**task, "task": f"{task['task']}\n{line}"})
        lines.append(line)
    return out, lines


class Loop:
    """One host following SKILL.md on a fake gateway, counting what it writes."""

    def __init__(self, folder: Path, mode: str):
        from gateway_process import start
        from host_player import Commands
        self.folder, self.mode = folder, mode
        self.gateway = start(folder, TOKEN)
        state = folder / "state"
        state.mkdir()
        config = state / "openclaw.json"
        config.write_text(json.dumps({"gateway": {"port": self.gateway.port,
                                                  "auth": {"mode": "token", "token": TOKEN}}}))
        self.state = str(state)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OPENCLAW_", "PARALLEL_AGENTS_"))}
        self.env.update(OPENCLAW_STATE_DIR=self.state, OPENCLAW_CONFIG_PATH=str(config),
                        OPENCLAW_GATEWAY_PORT=str(self.gateway.port), OPENCLAW_SHELL="exec")
        skill = (REPO / "SKILL.md").read_text(encoding="utf-8")
        self.commands = Commands(skill, str(REPO))
        self.bytes = 0
        self.rounds = 0

    def close(self) -> None:
        self.gateway.stop()

    def count(self, arguments: dict, minus: int = 0) -> None:
        text = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        text = text.replace(self.state, REAL_STATE)
        self.bytes += len(text.encode("utf-8")) - minus

    def exec(self, command: str) -> dict:
        # the skill's folder stands at ~/.openclaw/skills/parallel-agents on a real install
        self.count({"command": command.replace(str(REPO), f"{REAL_STATE}/skills/parallel-agents")})
        done = subprocess.run(["bash", "-c", command], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=300)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr[-800:]}")
        return json.loads(done.stdout)

    def run(self, tasks: list[dict], directives: list[str]) -> dict:
        from parallel_agents.simulation.fake_deliveries import DeliveredChild, settled_batch
        from parallel_agents.openclaw.gateway import GatewayToolCaller
        host = GatewayToolCaller(self.gateway.url, TOKEN)
        task_file = self.folder / "tasks.json"
        task_file.write_text(json.dumps({"tasks": tasks}))
        plan = self.commands.fill("plan", tasks=task_file)
        if self.mode == "before":
            plan = plan.replace(" --json", " --prompts inline --json")
        answer = self.exec(plan)
        plan_id = answer["plan_id"]
        while not answer["done"]:
            self.rounds += 1
            spawned = []
            for spawn in answer["spawn"]:
                minus = sum(len(json.dumps(line).encode()) - 2 for line in directives
                            if line in spawn["args"]["task"])
                self.count({"id": "sessions_spawn", "args": spawn["args"]}, minus)
                receipt = host.call("sessions_spawn", spawn["args"])
                assert receipt["status"] == "accepted", receipt
                spawned.append(receipt["runId"])
            self.count({})                                   # sessions_yield
            runs = self._settle(spawned)
            if self.mode == "after":
                answer = self.exec(self.commands.fill("check", plan=plan_id))
            else:
                message = settled_batch([DeliveredChild(r["label"], r["status"], r["reply"])
                                         for r in runs])
                path = self.folder / f"completion-{self.rounds}.txt"
                path.write_text(message, encoding="utf-8")
                self.count({"path": str(path), "content": message})
                answer = self.exec(self.commands.fill("message", plan=plan_id, message_file=path))
        statuses = [r["status"] for r in answer["results"]]
        return {"tasks": len(tasks), "rounds": self.rounds, "bytes": self.bytes,
                "per_task": self.bytes / len(tasks), "completed": statuses.count("completed")}

    def _settle(self, run_ids: list[str], timeout_s: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            runs = [r for r in self.gateway.runs() if r["run_id"] in run_ids]
            if all(r["status"] not in ("queued", "running") for r in runs):
                return runs
            time.sleep(0.05)
        raise RuntimeError("children did not settle")


def measure() -> list[dict]:
    rows = []
    for name, tasks in workloads().items():
        scripted_tasks, directives = scripted(tasks)
        for mode in ("before", "after"):
            with tempfile.TemporaryDirectory(prefix="pa-bench-host-") as tmp:
                loop = Loop(Path(tmp), mode)
                try:
                    result = loop.run(scripted_tasks, directives)
                finally:
                    loop.close()
            rows.append({"workload": name, "mode": mode, **result})
    return rows


def table(rows: list[dict]) -> list[list[str]]:
    out = [["workload", "loop", "tasks", "rounds", "host bytes", "bytes/task", "completed"]]
    for r in rows:
        out.append([r["workload"], r["mode"], str(r["tasks"]), str(r["rounds"]), str(r["bytes"]),
                    str(round(r["per_task"])), f"{r['completed']}/{r['tasks']}"])
    return out


def goals(rows: list[dict]) -> list[str]:
    lines = []
    for name in dict.fromkeys(r["workload"] for r in rows):
        before = next(r for r in rows if r["workload"] == name and r["mode"] == "before")
        after = next(r for r in rows if r["workload"] == name and r["mode"] == "after")
        met = "met" if after["per_task"] <= GOAL_BYTES_PER_TASK else "MISSED"
        lines.append(f"host bytes per task, {name}: {round(after['per_task'])} "
                     f"(before: {round(before['per_task'])}, {before['per_task'] / after['per_task']:.0f}x "
                     f"more; goal <= {GOAL_BYTES_PER_TASK}): {met}")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("PARALLEL_AGENTS_HOME", tempfile.mkdtemp(prefix="pa-bench-host-home-"))
    rows = measure()
    if args.json:
        print(json.dumps({"rows": rows, "goals": goals(rows)}))
    else:
        from tables import report
        print(report(table(rows), goals(rows)))
    return 0 if all(r["completed"] == r["tasks"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
