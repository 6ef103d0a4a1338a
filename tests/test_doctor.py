"""`doctor` says what is ready and names the fix for what is not."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from gateway_process import REPO, fake_gateway


def doctor(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_GATEWAY")}
    env.update(env_extra or {})
    done = subprocess.run([sys.executable, str(REPO / "ai_orchestrator.py"), "doctor", "--json", *args],
                          env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def states(report):
    return {c["name"]: c["state"] for c in report["checks"]}


def test_without_gateway_the_local_checks_pass():
    rc, report = doctor()
    assert rc == 0 and report["ok"]
    assert states(report)["agents"] == "ok" and states(report)["gateway"] == "skip"


def test_gateway_without_http_allow_names_the_fix(tmp_path):
    with fake_gateway(tmp_path, "--deny", "sessions_spawn") as env:
        rc, report = doctor(env_extra=env)
    assert rc == 1 and not report["ok"]
    (check,) = [c for c in report["checks"] if c["name"] == "sessions_spawn allowed"]
    assert check["state"] == "fail" and "gateway.tools.allow" in check["fix"]
    assert "security audit" in check["fix"]


def test_gateway_with_allow_is_all_green(tmp_path):
    with fake_gateway(tmp_path) as env:
        rc, report = doctor(env_extra=env)
    assert rc == 0, report
    assert all(c["state"] in ("ok", "skip") for c in report["checks"])
    assert states(report)["token accepted"] == "ok"
    assert states(report)["tier models"] == "skip"          # nothing spawned without --probe


def test_wrong_token_fails_and_is_never_printed(tmp_path):
    with fake_gateway(tmp_path, token="right-token") as env:
        rc, report = doctor(env_extra={**env, "OPENCLAW_GATEWAY_TOKEN": "tok-SECRET-4242"})
    assert rc == 1 and states(report)["token accepted"] == "fail"
    assert "tok-SECRET-4242" not in json.dumps(report)


def test_probe_spawns_one_run_per_tier_and_names_a_disallowed_model(tmp_path):
    with fake_gateway(tmp_path, models=("anthropic/claude-haiku-4-5", "kimi-coding/k2p5")) as env:
        rc, report = doctor("--probe", env_extra=env)
    assert rc == 1
    got = states(report)
    assert got["tier fast"] == "ok" and got["tier balanced"] == "ok" and got["tier strongest"] == "fail"
    (bad,) = [c for c in report["checks"] if c["name"] == "tier strongest"]
    assert "not usable" in bad["detail"] and "config.yaml" in bad["fix"]


def test_unreachable_gateway(tmp_path):
    rc, report = doctor(env_extra={"OPENCLAW_GATEWAY_URL": "http://127.0.0.1:9",
                                   "OPENCLAW_GATEWAY_TOKEN": "t"})
    assert rc == 1 and states(report)["gateway reachable"] == "fail"


# -- host-agent and attached mode (the OpenClaw this process runs under) -------------------------
def _exec_env(tmp_path, gateway, models):
    """An exec'd process's environment: openclaw.json with the gateway's port and token, and the
    fake `openclaw` CLI (grants from `gateway`, `models list` printing `models`) on PATH."""
    from gateway_process import install_fake_cli, model_rows
    config = tmp_path / "openclaw.json"
    config.write_text(json.dumps({"gateway": {"port": gateway.port,
                                              "auth": {"mode": "token", "token": gateway.token}}}))
    env = install_fake_cli(tmp_path / "cli", gateway, models=model_rows(models))
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env["PATH"]])
    env.update(OPENCLAW_CONFIG_PATH=str(config), OPENCLAW_GATEWAY_PORT=str(gateway.port),
               OPENCLAW_SHELL="exec")
    return env


def checks_named(report, prefix):
    return {c["name"]: c for c in report["checks"] if c["name"].startswith(prefix)}


def test_host_mode_and_attach_are_checked_where_openclaw_runs(tmp_path, start_fake_gateway):
    gateway = start_fake_gateway("doctor-token")
    rc, report = doctor(env_extra=_exec_env(tmp_path, gateway, ["scripted/fast"]))
    host = checks_named(report, "host mode")
    assert host["host mode: check reads the gateway"]["state"] == "ok"
    tiers = [c for name, c in host.items() if name.startswith("host mode: tier")]
    assert len(tiers) == 3 and all("gateway's default model, scripted/fast" in c["detail"] for c in tiers)
    assert all("scripted/fast" in c["fix"] for c in tiers)       # what to set instead
    attach = checks_named(report, "attached mode")["attached mode"]
    assert attach["state"] == "ok" and "revoked" in attach["detail"]
    assert gateway.live_grants() == []                            # the probe's grant is gone
    assert "doctor-token" not in json.dumps(report)


def test_attach_that_cannot_mint_says_why(tmp_path, start_fake_gateway):
    gateway = start_fake_gateway("doctor-token")
    env = _exec_env(tmp_path, gateway, ["scripted/fast"])
    env["FAKE_OPENCLAW_GATEWAY_TOKEN"] = "wrong"                   # the CLI's token is refused
    rc, report = doctor(env_extra=env)
    attach = checks_named(report, "attached mode")["attached mode"]
    assert rc == 1 and attach["state"] == "fail" and "operator.admin" in attach["fix"]


def test_without_openclaw_attach_and_host_reads_are_skipped_with_the_alternative():
    rc, report = doctor(env_extra={"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"})
    attach = checks_named(report, "attached mode")["attached mode"]
    assert attach["state"] == "skip" and "plan/check" in attach["detail"]
    assert checks_named(report, "host mode")["host mode"]["state"] == "skip"
