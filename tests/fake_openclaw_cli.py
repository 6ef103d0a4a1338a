"""A fake `openclaw` CLI for tests without Node (tests/gateway_process.py install_fake_cli puts
it on PATH as `openclaw`).

    openclaw attach [--session KEY] [--ttl MS] [--bin PROG] [--print-config]
    openclaw models list [--all] [--json]

`attach` mints a grant on tests/fake_gateway.py (POST /debug/grant with the gateway token, as the
real CLI calls `attach.grant` with the configured token) found from FAKE_OPENCLAW_GATEWAY_URL and
FAKE_OPENCLAW_GATEWAY_TOKEN (the real one reads openclaw.json). `models list` prints the JSON file
named by FAKE_OPENCLAW_MODELS.

What it does is what OpenClaw 2026.9.6 does (dist/attach-cli-*.mjs; the texts as printed on a
live gateway, tests/integration/test_mcp_live.py checks both):
- writes the grant's mcpConfig, indented, without a final newline, to `.mcp.json` (mode 0600) in a
  fresh `$TMPDIR/openclaw-attach-XXXXXX/`;
- `--print-config`: prints `{sessionKey, expiresAt, env, configPath, launch}` (indented) and
  "Grant is live until <expiresAt> and auto-expires; it is not revoked here. Launch with the env
  above, then delete <configPath> when done."; leaves grant and file;
- otherwise prints "Attaching Claude Code to session <key> (grant expires <expiresAt>)…", runs
  `PROG --strict-mcp-config --mcp-config <path>` (PROG default `claude`) with its own
  environment plus the grant's env (and OPENCLAW_CLI=1, which the real CLI sets for itself),
  stdio inherited; SIGTERM is passed on to PROG, SIGINT ignored; when PROG ends it revokes the
  grant (on failure: "Warning: failed to revoke attach grant; it remains live until <expiresAt>.
  <error>"), deletes the folder and exits with PROG's code (128+n for signal n). A PROG that
  cannot start: "Failed to launch '<PROG>': Error: spawn <PROG> ENOENT", revoke, exit 1;
- `--ttl` that is not a positive integer: "--ttl must be a positive integer of milliseconds. Got:
  "<value>"", exit 1. A gateway that does not answer: "[openclaw] The CLI command failed." and
  "[openclaw] Reason: Gateway not reachable at <url> (<reason>)." (the real text goes on with
  hints), exit 1.
expiresAt is the ISO time with milliseconds (JavaScript's toISOString).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path


class GatewayUnreachable(Exception):
    pass


def gateway_call(path: str, body: dict) -> dict:
    url = os.environ.get("FAKE_OPENCLAW_GATEWAY_URL", "")
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {os.environ.get('FAKE_OPENCLAW_GATEWAY_TOKEN', '')}",
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise GatewayUnreachable(f"gateway answered {exc.code} at {url}") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GatewayUnreachable(f"Gateway not reachable at {url} ({reason})") from None


def iso(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def attach(opts) -> int:
    ttl = None
    if opts.ttl is not None:
        if not re.fullmatch(r"\d+", opts.ttl) or int(opts.ttl) <= 0:
            print(f"--ttl must be a positive integer of milliseconds. Got: {json.dumps(opts.ttl)}", file=sys.stderr)
            return 1
        ttl = int(opts.ttl)
    try:
        grant = gateway_call("/debug/grant", {"sessionKey": opts.session, "ttlMs": ttl})
    except GatewayUnreachable as exc:
        print(f"[openclaw] The CLI command failed.\n[openclaw] Reason: {exc}.", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="openclaw-attach-"))
    config_path = folder / ".mcp.json"
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(grant["mcpConfig"], indent=2, ensure_ascii=False))
    expires_at = iso(grant["expiresAtMs"])
    launch = [opts.bin, "--strict-mcp-config", "--mcp-config", str(config_path)]
    if opts.print_config:
        print(json.dumps({"sessionKey": grant["sessionKey"], "expiresAt": expires_at, "env": grant["env"],
                          "configPath": str(config_path), "launch": launch}, indent=2, ensure_ascii=False))
        print(f"Grant is live until {expires_at} and auto-expires; it is not revoked here. Launch with the "
              f"env above, then delete {config_path} when done.")
        return 0

    def revoke() -> None:
        try:
            gateway_call("/debug/revoke", {"token": grant["token"]})
        except GatewayUnreachable as exc:
            print(f"Warning: failed to revoke attach grant; it remains live until {expires_at}. Error: {exc}.",
                  file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)

    print(f"Attaching Claude Code to session {grant['sessionKey']} (grant expires {expires_at})…", flush=True)
    try:
        child = subprocess.Popen(launch, env={**os.environ, **grant["env"]})
    except OSError as exc:
        code = {2: "ENOENT", 13: "EACCES"}.get(exc.errno, "EIO")
        print(f"Failed to launch '{opts.bin}': Error: spawn {opts.bin} {code}", file=sys.stderr)
        revoke()
        return 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    code = child.wait()
    revoke()
    return 128 - code if code < 0 else code


def models(opts) -> int:
    sys.stdout.write(Path(os.environ["FAKE_OPENCLAW_MODELS"]).read_text(encoding="utf-8"))
    return 0


def main(argv: list[str]) -> int:
    os.environ["OPENCLAW_CLI"] = "1"
    parser = argparse.ArgumentParser(prog="openclaw")
    commands = parser.add_subparsers(dest="command", required=True)
    attach_cmd = commands.add_parser("attach")
    attach_cmd.add_argument("--session")
    attach_cmd.add_argument("--ttl")
    attach_cmd.add_argument("--bin", default="claude")
    attach_cmd.add_argument("--print-config", action="store_true")
    attach_cmd.set_defaults(run=attach)
    models_cmd = commands.add_parser("models").add_subparsers(dest="action", required=True).add_parser("list")
    models_cmd.add_argument("--all", action="store_true")
    models_cmd.add_argument("--json", action="store_true")
    models_cmd.set_defaults(run=models)
    opts = parser.parse_args(argv)
    return opts.run(opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
