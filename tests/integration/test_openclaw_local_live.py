"""openclaw_local against a real gateway and the real `openclaw` CLI (openclaw 2026.9.6).

discover() runs with the environment an exec'd process gets from that gateway (HOME,
OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH, OPENCLAW_GATEWAY_PORT, OPENCLAW_SHELL=exec, and PATH
starting with the gateway's `$OPENCLAW_STATE_DIR/tmp/agent-cli` shim, then the system folders)
and must find the gateway, its token and its model catalog from that alone.
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

import openclaw_gateway as og
from parallel_agents.core.errors import ToolError
from parallel_agents.openclaw.gateway import GatewayToolCaller
from parallel_agents.openclaw.local import discover


def exec_environ(gateway: og.Gateway, **extra: str) -> dict:
    state = gateway.folder / "state"
    return {"HOME": str(gateway.folder / "home"), "OPENCLAW_STATE_DIR": str(state),
            "OPENCLAW_CONFIG_PATH": str(gateway.folder / "openclaw.json"),
            "OPENCLAW_GATEWAY_PORT": str(gateway.port), "OPENCLAW_SHELL": "exec", "NO_COLOR": "1",
            "PATH": os.pathsep.join([str(state / "tmp" / "agent-cli"), "/usr/local/bin", "/usr/bin", "/bin"]),
            **extra}


def test_discover_finds_the_live_gateway_and_its_token(gateway):
    local = discover(exec_environ(gateway))

    assert local.problems == ()
    assert (local.gateway_url, local.port_source) == (gateway.url, "OPENCLAW_GATEWAY_PORT")
    assert (local.auth_mode, local.secret_source) == ("token", "gateway.auth.token")
    assert local.secret() == gateway.token and gateway.token not in repr(local)
    assert local.in_exec and local.spawn_over_http
    assert (local.default_model, local.max_children_per_agent, local.max_concurrent) == ("scripted/fast", 20, 8)
    assert not local.sandboxed
    listing = local.caller(timeout_s=60).call("subagents", {"action": "list"})
    assert listing["status"] == "ok" and listing["requesterSessionKey"] == "agent:main:main"


def test_available_models_from_the_real_cli(gateway):
    local = discover(exec_environ(gateway))
    shim = gateway.folder / "state" / "tmp" / "agent-cli" / "openclaw"
    assert local.openclaw_cli == str(shim)      # the gateway's own CLI shim, first on an exec's PATH

    started = time.monotonic()
    catalog = local.available_models()
    first_s = time.monotonic() - started
    assert catalog is not None, local.models_problem
    assert catalog.source == "cli" and catalog.default_model == "scripted/fast"
    assert sorted(catalog.usable_models()) == sorted(og.SCRIPTED_MODELS)
    assert all(catalog.usable(ref) is True for ref in og.SCRIPTED_MODELS)
    assert catalog.usable("kimi-coding/k2p5") is False

    started = time.monotonic()
    again = discover(exec_environ(gateway)).available_models()
    assert again.source == "cache" and again.rows == catalog.rows
    assert time.monotonic() - started < min(0.5, first_s)

    # the verdicts are about sessions_spawn: a usable model is accepted, an unusable one refused
    caller = local.caller(timeout_s=60)
    for ref in ("scripted/fast", "kimi-coding/k2p5"):
        receipt = caller.call("sessions_spawn", {"task": 'Say ok.\nSIM {"reply": "ok"}', "model": ref,
                                                 "label": f"local-live-{ref.replace('/', '-')}-{time.time_ns()}",
                                                 "runTimeoutSeconds": 60, "expectsCompletionMessage": False})
        assert (receipt.get("status") == "accepted") is catalog.usable(ref), (ref, receipt)


def test_the_config_token_wins_over_the_environment_token(openclaw_pkg, model_server, live_dir):
    """A gateway started with gateway.auth.token A in its file and OPENCLAW_GATEWAY_TOKEN B in its
    environment accepts A and refuses B; discover(), seeing both, must pick A."""
    folder = live_dir / "gateway-env-token"
    (folder / "home").mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(exist_ok=True)
    port, file_token, env_token = og.free_port(), "file-token-0123456789", "env-token-9876543210"
    config = og.gateway_config(port=port, token=file_token, model_base_url=model_server.url,
                               log_file=folder / "openclaw.log")
    (folder / "openclaw.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update(HOME=str(folder / "home"), OPENCLAW_STATE_DIR=str(folder / "state"),
               OPENCLAW_CONFIG_PATH=str(folder / "openclaw.json"), OPENCLAW_GATEWAY_TOKEN=env_token,
               PATH=os.path.dirname(openclaw_pkg.node) + os.pathsep + env.get("PATH", ""), NO_COLOR="1")
    with open(folder / "gateway.out", "ab") as out:
        proc = subprocess.Popen([openclaw_pkg.node, str(openclaw_pkg.pkg / "openclaw.mjs"), "gateway", "run"],
                                cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    gateway = og.Gateway(proc, folder, port, file_token, config)
    try:
        gateway.wait_ready(og.READY_TIMEOUT_S)
        local = discover(exec_environ(gateway, OPENCLAW_GATEWAY_TOKEN=env_token))
        assert local.secret_source == "gateway.auth.token"
        assert local.caller(timeout_s=60).call("subagents", {"action": "list"})["status"] == "ok"
        with pytest.raises(ToolError, match="refused the token"):
            GatewayToolCaller(gateway.url, env_token, retries=1).call("subagents", {"action": "list"})
    finally:
        gateway.stop()
