"""Plain helpers the tests import by name (conftest.py is for fixtures: `from conftest import`
can land on tests/integration/conftest.py when the whole suite runs, so nothing imports it)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

VALID_PROMPT = ("You are a careful assistant. Read the input data, work through it step by step, "
                "and reply with exactly what the task asks for, nothing more.")


def run_cli(*args, env=None, cwd=None, timeout=60):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run([sys.executable, str(REPO / "ai_orchestrator.py"), *map(str, args)],
                          cwd=cwd or REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def definition_text(name: str, **fields) -> str:
    """YAML of a valid definition; keyword arguments replace or add fields (None removes)."""
    from parallel_agents.core import yamlio
    data = {"name": name, "category": "testing",
            "description": f"Test agent {name} used by the test suite only.",
            "output_format": "text", "system_prompt": VALID_PROMPT}
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return yamlio.dump(data)


def free_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def count_full_validations(monkeypatch) -> list:
    """The names the registry fully validates (check_definition) from now on, in order."""
    from parallel_agents.definitions import registry
    calls = []
    real = registry.check_definition

    def counting(data, **kwargs):
        calls.append(kwargs.get("expected_name"))
        return real(data, **kwargs)

    monkeypatch.setattr(registry, "check_definition", counting)
    return calls
