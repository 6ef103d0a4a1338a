"""Start tests/fake_gateway.py (FakeOpenClaw behind /tools/invoke and /mcp) as a process of its own.

One starter for every test that needs the fake gateway over real HTTP: the `start_fake_gateway`
fixture (tests/conftest.py) and the `fake_gateway` context manager both use start().
`install_fake_cli(folder, gateway)` puts a fake `openclaw` (tests/fake_openclaw_cli.py: `attach`
against that gateway, `models list`) on a PATH of its own and returns the environment to run it."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG_MODELS = ("anthropic/claude-haiku-4-5", "kimi-coding/k2p5", "anthropic/claude-opus-4-5")


class FakeGatewayProcess:
    """tests/fake_gateway.py running in its own process group."""

    def __init__(self, proc, port: int, token: str):
        self.proc, self.port, self.token = proc, port, token
        self.url = f"http://127.0.0.1:{port}"

    def runs(self) -> list[dict]:
        """Every run the fake accepted (GET /debug/runs)."""
        with urllib.request.urlopen(self.url + "/debug/runs", timeout=10) as response:
            return json.loads(response.read())["runs"]

    def env(self, **extra) -> dict:
        """Environment for a CLI subprocess that drives this gateway."""
        return {"OPENCLAW_GATEWAY_URL": self.url, "OPENCLAW_GATEWAY_TOKEN": self.token, **extra}

    def _post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def grant(self, session_key: str | None = None, ttl_ms: int | None = None) -> dict:
        """An attach grant, as attach.grant answers: {sessionKey, token, expiresAtMs, mcpConfig,
        env, url}."""
        return self._post("/debug/grant", {"sessionKey": session_key, "ttlMs": ttl_ms})

    def revoke(self, token: str) -> bool:
        return self._post("/debug/revoke", {"token": token})["revoked"]

    def live_grants(self) -> list[str]:
        """The bound session of every grant still live (GET /debug/grants)."""
        with urllib.request.urlopen(self.url + "/debug/grants", timeout=10) as response:
            return json.loads(response.read())["live"]

    def grant_runs(self) -> dict[str, list[dict]]:
        """Every run spawned through grants, by the session the grant was bound to."""
        with urllib.request.urlopen(self.url + "/debug/grant-runs", timeout=10) as response:
            return json.loads(response.read())["sessions"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


def start(folder: Path, token: str = "test-token", *extra: str) -> FakeGatewayProcess:
    """A fake gateway, ready for requests; its output goes to a log file in `folder`."""
    stamp = time.monotonic_ns()
    port_file, log = folder / f"gateway-port-{stamp}", folder / f"gateway-{stamp}.log"
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_gateway.py"),
                                 "--token", token, "--port-file", str(port_file), *extra],
                                stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        if port_file.exists():
            return FakeGatewayProcess(proc, int(port_file.read_text()), token)
        time.sleep(0.01)
    FakeGatewayProcess(proc, 0, token).stop()
    raise RuntimeError("fake gateway did not start: " + log.read_text()[-500:])


def model_rows(models=CONFIG_MODELS) -> list[dict]:
    """`openclaw models list --all --json` rows (keys as the 2026.9.6 CLI prints them) for
    `models`, the first one the default."""
    return [{"key": ref, "name": ref.split("/", 1)[-1], "input": "text", "contextWindow": 128000,
             "local": False, "available": True, "tags": ["default", "configured"] if i == 0 else []}
            for i, ref in enumerate(models)]


def install_fake_cli(folder: Path, gateway: FakeGatewayProcess | None = None, *,
                     models: list[dict] | None = None) -> dict:
    """Write `folder/bin/openclaw` (a launcher of tests/fake_openclaw_cli.py) and return the
    environment entries that run it against `gateway`: PATH with that bin first, the fake
    gateway's URL and token, and the catalog `models list` prints (default: model_rows())."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    launcher = bin_dir / "openclaw"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO / "tests" / "fake_openclaw_cli.py"}" "$@"\n',
                        encoding="utf-8")
    launcher.chmod(0o755)
    catalog = folder / "openclaw-models.json"
    rows = model_rows() if models is None else models
    catalog.write_text(json.dumps({"count": len(rows), "models": rows}, indent=2) + "\n", encoding="utf-8")
    env = {"PATH": str(bin_dir) + os.pathsep + os.environ.get("PATH", ""), "FAKE_OPENCLAW_MODELS": str(catalog)}
    if gateway is not None:
        env.update(FAKE_OPENCLAW_GATEWAY_URL=gateway.url, FAKE_OPENCLAW_GATEWAY_TOKEN=gateway.token)
    return env


ATTACH_PROBE = """#!{python}
# A program for `openclaw attach --bin`: reports what it was given, proves the grant works, exits.
import json, os, sys
sys.path.insert(0, {repo!r})
from parallel_agents.openclaw.mcp import McpToolCaller
config = sys.argv[sys.argv.index("--mcp-config") + 1]
listed = McpToolCaller.from_grant(config).call("subagents", {{"action": "list"}})
report = {{"argv": sys.argv[1:], "token": os.environ.get("OPENCLAW_MCP_TOKEN"),
          "openclaw_cli": os.environ.get("OPENCLAW_CLI"), "config": json.load(open(config)),
          "requester": listed["requesterSessionKey"]}}
with open(os.environ["ATTACH_PROBE_REPORT"], "w") as fh:
    json.dump(report, fh)
print("probe ran", flush=True)
if os.environ.get("ATTACH_PROBE_KILL"):  # stop the gateway before the CLI revokes the grant
    os.killpg(int(os.environ["ATTACH_PROBE_KILL"]), 9)
sys.exit(int(os.environ.get("ATTACH_PROBE_EXIT", "7")))
"""


def write_attach_probe(folder: Path) -> Path:
    """`folder/attach-probe`: run by `openclaw attach --bin`, it writes {argv, token, openclaw_cli,
    config, requester} to $ATTACH_PROBE_REPORT (after one subagents list through the grant),
    prints "probe ran", SIGKILLs process group $ATTACH_PROBE_KILL when set, and exits with
    $ATTACH_PROBE_EXIT (default 7)."""
    path = folder / "attach-probe"
    path.write_text(ATTACH_PROBE.format(python=sys.executable, repo=str(REPO)), encoding="utf-8")
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def fake_gateway(folder: Path, *extra: str, token: str = "test-token", models=CONFIG_MODELS):
    """Yields {"OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN"} for a running fake gateway that
    serves `models` (the shipped config's tiers by default)."""
    gateway = start(folder, token, "--models", ",".join(models), *extra)
    try:
        yield gateway.env()
    finally:
        gateway.stop()
