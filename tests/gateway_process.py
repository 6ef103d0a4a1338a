"""Start tests/fake_gateway.py (FakeOpenClaw behind /tools/invoke) as a process of its own."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG_MODELS = ("anthropic/claude-haiku-4-5", "kimi-coding/k2p5", "anthropic/claude-opus-4-5")


@contextlib.contextmanager
def fake_gateway(folder: Path, *extra: str, token: str = "test-token", models=CONFIG_MODELS):
    """Yields {"OPENCLAW_GATEWAY_URL", "OPENCLAW_GATEWAY_TOKEN"} for a running fake gateway."""
    port_file = folder / f"gateway-port-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_gateway.py"), "--token", token,
                             "--port-file", str(port_file), "--models", ",".join(models), *extra],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake gateway did not start")
            time.sleep(0.02)
        yield {"OPENCLAW_GATEWAY_URL": f"http://127.0.0.1:{port_file.read_text()}",
               "OPENCLAW_GATEWAY_TOKEN": token}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
