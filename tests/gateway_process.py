"""Start tests/fake_gateway.py (FakeOpenClaw behind /tools/invoke) as a process of its own.

One starter for every test that needs the fake gateway over real HTTP: the `start_fake_gateway`
fixture (tests/conftest.py) and the `fake_gateway` context manager both use start()."""
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


@contextlib.contextmanager
def fake_gateway(folder: Path, *extra: str, token: str = "test-token", models=CONFIG_MODELS):
    """Yields {"OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN"} for a running fake gateway that
    serves `models` (the shipped config's tiers by default)."""
    gateway = start(folder, token, "--models", ",".join(models), *extra)
    try:
        yield gateway.env()
    finally:
        gateway.stop()
