"""Shared fixtures: every test runs against throw-away user folders, never ~/.openclaw.

- `_isolated_home` (autouse) points PARALLEL_AGENTS_HOME and OPENCLAW_STATE_DIR at tmp_path folders
  and forgets the registry cached by parallel_agents.api.
- `run_cli(*args, env=None)` runs `python ai_orchestrator.py ...` in a subprocess from the repo
  root and returns (returncode, stdout, stderr).
- `cli(*args)` is the in-process variant (parallel_agents.cli.main.main + capsys): same triple, faster.
- `write_definition(folder, name, **fields)` writes a valid definition file (fields override).
- `warm_cache` (opt-in) seeds the home with the validation cache of the shipped definitions.
- `fast_config` is the shipped config with retry back-off in milliseconds (engine tests).
- `start_fake_gateway(token, *args)` starts tests/fake_gateway.py in its own process group and
  kills it when the test ends; the handle has `url`, `token`, `env()` and `runs()`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import definition_text, run_cli as _run_cli  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))



@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test reads or writes the real user folders, and no test sees another's registry."""
    home = tmp_path / "pa-home"
    state = tmp_path / "openclaw-state"
    monkeypatch.setenv("PARALLEL_AGENTS_HOME", str(home))
    monkeypatch.setenv("OPENCLAW_STATE_DIR", str(state))
    monkeypatch.delenv("PARALLEL_AGENTS_DEBUG", raising=False)
    for name in ("OPENCLAW_CONFIG_PATH", "OPENCLAW_GATEWAY_PORT", "OPENCLAW_GATEWAY_URL",
                 "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "OPENCLAW_SHELL"):
        monkeypatch.delenv(name, raising=False)  # an OpenClaw exec's environment, when run there
    from parallel_agents.definitions import registry
    monkeypatch.setattr(registry, "_shared", None)
    yield home


@pytest.fixture
def pa_home(_isolated_home) -> Path:
    """$PARALLEL_AGENTS_HOME of this test (not created yet)."""
    return _isolated_home


@pytest.fixture
def overlay_dir(pa_home) -> Path:
    """$PARALLEL_AGENTS_HOME/agents, created."""
    folder = pa_home / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def _validated_cache_file(tmp_path_factory) -> Path:
    """The registry's validation cache after one full load of the shipped definitions."""
    home = tmp_path_factory.mktemp("warm-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PARALLEL_AGENTS_HOME", str(home))
        from parallel_agents.definitions.registry import Registry
        Registry.load(overlay=None)
    path = home / "cache" / "validated-definitions.json"
    assert path.is_file()
    return path


@pytest.fixture
def warm_cache(pa_home, _validated_cache_file) -> Path:
    """Seed this test's home with a validation cache for the shipped definitions, so loading
    the registry skips their (slow) full validation. Opt-in: tests of the cache do not use it."""
    target = pa_home / "cache" / "validated-definitions.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_validated_cache_file, target)
    return target


@pytest.fixture
def run_cli():
    """run_cli(*args, env=None) -> (returncode, stdout, stderr) of a real subprocess."""
    return _run_cli


@pytest.fixture
def cli(capsys):
    """cli(*args) -> (returncode, stdout, stderr) of parallel_agents.cli.main.main in this process."""
    from parallel_agents.cli.main import main

    def run(*args):
        capsys.readouterr()  # drop anything printed before
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: usage errors, --help, --version
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def write_definition():
    """write_definition(folder, name, filename=None, **fields) -> Path of the written file."""
    def write(folder: Path, name: str, *, filename: str | None = None, **fields) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (filename or f"{name}.yaml")
        path.write_text(definition_text(name, **fields), encoding="utf-8")
        return path
    return write


# -- engine tests: a quick config and the fake gateway in a process of its own ------------------

@pytest.fixture
def fast_config():
    """The shipped config with retry back-off in milliseconds, so retries never sleep seconds."""
    from parallel_agents.core.config import Config, load_config
    shipped = load_config(user=False)
    return Config({**shipped.data, "retry": {**shipped.data["retry"], "backoff_seconds": 0.005,
                                             "backoff_max_seconds": 0.02}})


@pytest.fixture
def start_fake_gateway(tmp_path):
    """start_fake_gateway(token="tok", *extra_args) -> FakeGatewayProcess, ready for requests.
    Every gateway started is killed (its whole process group) when the test ends."""
    from gateway_process import start
    started = []

    def start_one(token: str = "test-token", *extra: str):
        started.append(start(tmp_path, token, *extra))
        return started[-1]

    try:
        yield start_one
    finally:
        for gateway in started:
            gateway.stop()
