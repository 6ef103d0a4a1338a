"""`doctor` against a real OpenClaw gateway: without `gateway.tools.allow: [sessions_spawn]` it
names that fix; with it, and with the tiers pointed at models the gateway serves, every check
passes, including `--probe`, which spawns one tiny run per tier."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

import openclaw_gateway as og

REPO = Path(__file__).resolve().parents[2]


def doctor(gateway, home: Path, *args):
    env = {**os.environ, "PARALLEL_AGENTS_HOME": str(home),
           "OPENCLAW_GATEWAY_URL": gateway.url, "OPENCLAW_GATEWAY_TOKEN": gateway.token}
    done = subprocess.run([sys.executable, str(REPO / "ai_orchestrator.py"), "doctor", "--json", *args],
                          env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr and gateway.token not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def test_doctor_names_the_allow_fix_on_a_stock_gateway(gateway_factory, tmp_path):
    rc, report = doctor(gateway_factory(allow_spawn=False), tmp_path / "home")
    assert rc == 1
    (check,) = [c for c in report["checks"] if c["name"] == "sessions_spawn allowed"]
    assert check["state"] == "fail" and "gateway.tools.allow" in check["fix"]


def test_doctor_is_all_green_on_a_configured_gateway(gateway, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    tiers = [{"name": t.name, "model": t.model} for t in og.scripted_config().tiers]
    (home / "config.yaml").write_text(yaml.safe_dump({"tiers": tiers}))
    rc, report = doctor(gateway, home, "--probe")
    failed = [c for c in report["checks"] if c["state"] == "fail"]
    assert rc == 0 and not failed, failed
    names = {c["name"] for c in report["checks"] if c["state"] == "ok"}
    assert {"token accepted", "sessions_spawn allowed", "tier fast", "tier balanced",
            "tier strongest"} <= names
