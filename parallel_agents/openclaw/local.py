"""The local OpenClaw install as an exec'd process sees it: where its config is, how to reach its
gateway, what the sub-agent settings are, and which models a spawn will accept.

Facts relied on (openclaw 2026.9.6: its docs under node_modules/openclaw/docs, and what was seen
on a live gateway):

- Processes run by the `exec` tool inherit the gateway's environment plus OPENCLAW_SHELL=exec:
  OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH when the gateway has them, OPENCLAW_GATEWAY_PORT,
  and a PATH that starts with `$OPENCLAW_STATE_DIR/tmp/agent-cli` (an `openclaw` CLI shim).
- Paths (help/environment.md): home = OPENCLAW_HOME > HOME; state dir = OPENCLAW_STATE_DIR, else
  `~/.openclaw`; config = OPENCLAW_CONFIG_PATH, else the first existing of `openclaw.json` (or the
  legacy `clawdbot.json`) in the state dir, `~/.openclaw`, `~/.clawdbot`; else
  `<state dir>/openclaw.json`. The file is JSON5; `$include` pulls in other files.
- Port (gateway/config-gateway.md): OPENCLAW_GATEWAY_PORT > gateway.port > 18789. Whatever
  gateway.bind says, same-host clients reach it on 127.0.0.1.
- Secret: `gateway.auth.mode` token -> gateway.auth.token, password (and trusted-proxy's local
  fallback) -> gateway.auth.password, none -> any bearer is accepted (seen). The FILE wins over
  OPENCLAW_GATEWAY_TOKEN / OPENCLAW_GATEWAY_PASSWORD, which count only when the file has no
  value (gateway/remote.md "local mode defaults"; seen: a gateway with token A in the file and
  B in its environment accepts A and answers 401 to B). How a value is resolved ("${VAR}",
  SecretRefs): localconfig.py.
- Settings (agents.entries.main overrides agents.defaults): subagents.maxChildrenPerAgent
  (default 5, 1-20), subagents.maxConcurrent (default 8), sandbox.mode (off | non-main | all;
  anything but "off" sandboxes sub-agent sessions, which then cannot read host files),
  model (string or {primary}), modelPolicy.allow; tools.fs.workspaceOnly (default false);
  gateway.tools.allow (tools let through the HTTP deny list, e.g. sessions_spawn).
- Agents: who sub-agents may run as, read from the config by roster.py.
- `openclaw models list --all --json` (3-5 s; reads the running gateway's catalog, else the local
  cached one) prints `{"count", "models": [{"key", "name", "input", "contextWindow", "local",
  "available", "tags"}]}` on stdout (warnings go to stderr), tags such as "default",
  "configured", "alias:NAME". On failure it exits 1 with `{"ok": false, "error": {"type",
  "message"}}`. What a spawn did with a model (see ModelCatalog.usable):
  listed, available -> accepted; listed, available false (e.g. claude-cli/* without a login) ->
  "is not usable: The selected account or native runtime is unavailable"; not allowed by
  modelPolicy.allow -> "model not allowed" (even though `--all` lists it as available; plain
  `models list` shows only the allowed ones); provider unknown (kimi-coding/k2p5) -> "Unknown
  model"; an unlisted model of a provider that has rows -> accepted.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from parallel_agents.core.errors import EnvironmentProblem, ParallelAgentsError, Problem
from parallel_agents.openclaw.localconfig import (MAIN_AGENT, ConfigVars, agent_setting, load_config,
                                                  secret_from, setting, substitute, whole_setting)

if TYPE_CHECKING:   # imported where used: discover() (what `plan` asks) needs neither
    from parallel_agents.openclaw.models import ModelCatalog
    from parallel_agents.openclaw.roster import AgentRoster

DEFAULT_PORT = 18789
TOKEN_ENV, PASSWORD_ENV, PORT_ENV = "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD", "OPENCLAW_GATEWAY_PORT"
NO_AUTH_BEARER = "openclaw-auth-mode-none"  # gateway.auth.mode "none" accepts any bearer
_CONFIG_NAMES = ("openclaw.json", "clawdbot.json")


def _user_path(value: str | None, home: Path) -> Path | None:
    value = (value or "").strip()
    if not value or value in ("undefined", "null"):
        return None
    if value == "~" or value.startswith("~/"):
        return home / value[2:]
    return Path(value)


class _Hidden:
    """A value that never shows in repr/str/asdict output (a secret, an environment)."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def reveal(self):
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    def __deepcopy__(self, memo):  # dataclasses.asdict copies fields: keep the wrapper
        return self


# -- what an exec'd process sees ----------------------------------------------------------------
@dataclass(frozen=True)
class LocalOpenClaw:
    """The local OpenClaw install (see the module docstring). Made by `discover()`. The gateway
    secret is only ever returned by `secret()`: it is not in repr, str or to_dict."""

    state_dir: Path
    config_path: Path
    config_found: bool
    gateway_url: str
    port_source: str                   # OPENCLAW_GATEWAY_PORT | gateway.port | default
    auth_mode: str                     # token | password | trusted-proxy | none
    secret_source: str | None          # where the secret came from (a config field or env name)
    default_model: str | None          # agents.defaults.model(.primary), None = OpenClaw picks
    model_allow: tuple[str, ...]       # modelPolicy.allow; () = any model
    max_children_per_agent: int
    max_concurrent: int
    workspace_only: bool
    sandbox_mode: str
    http_tools_allow: tuple[str, ...]  # gateway.tools.allow
    in_exec: bool
    openclaw_cli: str | None
    problems: tuple[Problem, ...] = ()
    config_files: tuple[Path, ...] = field(default=(), repr=False, compare=False)
    _config: _Hidden = field(default_factory=lambda: _Hidden({}), repr=False, compare=False)
    _secret: _Hidden = field(default_factory=lambda: _Hidden(None), repr=False, compare=False)
    _environ: _Hidden = field(default_factory=lambda: _Hidden({}), repr=False, compare=False)
    _last: dict = field(default_factory=dict, repr=False, compare=False)  # available_models' reason

    @property
    def config(self) -> dict:
        """The config as read ($include merged; {} when missing or broken). It holds secrets:
        read settings from it, never print it."""
        return self._config.reveal()

    @property
    def sandboxed(self) -> bool:
        """Sub-agents may run in a sandbox (mode non-main or all) and then cannot read host files."""
        return self.sandbox_mode != "off"

    @property
    def spawn_over_http(self) -> bool:
        """sessions_spawn is let through the HTTP deny list (gateway.tools.allow)."""
        return "sessions_spawn" in self.http_tools_allow

    def agent_roster(self) -> AgentRoster:
        """The configured agents and who sub-agents may run as (agentId), from the config."""
        from parallel_agents.openclaw.roster import agent_roster
        return agent_roster(self.config)

    def secret(self) -> str | None:
        """The gateway token or password (a placeholder for auth mode "none"); None if unknown."""
        return self._secret.reveal()

    def caller(self, *, session_key: str | None = None, **kwargs):
        """A GatewayToolCaller for the local gateway; EnvironmentProblem (with the fix) when the
        secret is unknown."""
        from parallel_agents.openclaw.gateway import GatewayToolCaller
        if not self.secret():
            env_name = PASSWORD_ENV if self.auth_mode in ("password", "trusted-proxy") else TOKEN_ENV
            key = "password" if env_name == PASSWORD_ENV else "token"
            if not self.config_found:
                why = f"{self.config_path} does not exist and {env_name} is not set"
                fix = f"set {env_name}, or run this from an OpenClaw exec"
            else:
                unresolved = [p for p in self.problems if p.field == f"gateway.auth.{key}"]
                why = unresolved[0].message if unresolved else \
                    f"{self.config_path} could not be read ({self.problems[0]})" if not self.config and self.problems \
                    else f"{self.config_path} has no gateway.auth.{key} and {env_name} is not set"
                fix = f"set {env_name} to the gateway's {key}, or gateway.auth.{key} in {self.config_path}"
            raise EnvironmentProblem(f"no secret for the local OpenClaw gateway: {why}", field=env_name,
                                     fix=fix)
        return GatewayToolCaller(self.gateway_url, self.secret(), session_key=session_key, **kwargs)

    @property
    def models_problem(self) -> Problem | None:
        """Why the last available_models() call returned None."""
        return self._last.get("models_problem")

    def available_models(self, *, timeout_s: float = 45, cache: bool = True) -> ModelCatalog | None:
        """The gateway's model catalog from `openclaw models list --all --json` (the CLI on PATH,
        this environment), cached in cache_dir()/openclaw-models.json by the config files, the
        state dir's .env and the CLI path (and for an hour at most). None when it cannot be had;
        `models_problem` then says why."""
        self._last["models_problem"] = None
        if not self.openclaw_cli:
            return self._no_models("the `openclaw` CLI is not on PATH", "run this from an OpenClaw exec, or "
                                   "put the openclaw CLI on PATH")
        from parallel_agents.openclaw.models import ModelCatalog, catalog_rows
        rows, source, reason = catalog_rows(self.openclaw_cli, self._environ.reveal(), self._fingerprint(),
                                            timeout_s=timeout_s, cache=cache)
        if rows is None:
            return self._no_models(reason, "run `openclaw models list --all --json` to see the error")
        providers = frozenset(setting(self.config, "models", "providers", default={}) or ())
        return ModelCatalog(rows, self.model_allow, providers, source)

    def _no_models(self, reason: str, fix: str) -> None:
        self._last["models_problem"] = Problem(reason, field="openclaw models list", fix=fix)
        return None

    def _fingerprint(self) -> str:
        parts: list = [str(self.openclaw_cli), str(self.state_dir)]
        for path in (*self.config_files, self.state_dir / ".env"):
            try:
                stat = path.stat()
                parts.append([str(path), stat.st_mtime_ns, stat.st_size])
            except OSError:
                parts.append([str(path), None])
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def to_dict(self) -> dict:
        """Everything but the secret, the environment and the raw config, for --json output."""
        return {"state_dir": str(self.state_dir), "config_path": str(self.config_path),
                "config_found": self.config_found, "gateway_url": self.gateway_url,
                "port_source": self.port_source, "auth_mode": self.auth_mode,
                "has_secret": bool(self.secret()), "secret_source": self.secret_source,
                "default_model": self.default_model, "model_allow": list(self.model_allow),
                "max_children_per_agent": self.max_children_per_agent,
                "max_concurrent": self.max_concurrent, "workspace_only": self.workspace_only,
                "sandboxed": self.sandboxed, "sandbox_mode": self.sandbox_mode,
                "http_tools_allow": list(self.http_tools_allow), "in_exec": self.in_exec,
                "openclaw_cli": self.openclaw_cli, "problems": [p.to_dict() for p in self.problems]}


def discover(environ: Mapping[str, str] | None = None) -> LocalOpenClaw:
    """What OpenClaw's own CLI would find from `environ` (default os.environ). Never raises for a
    missing or broken config: `problems` says what could not be read, defaults fill in."""
    env = dict(os.environ if environ is None else environ)
    problems: list[Problem] = []
    home = _user_path(env.get("OPENCLAW_HOME"), Path(env.get("HOME") or Path.home())) \
        or Path(env.get("HOME") or Path.home())
    state_dir = _user_path(env.get("OPENCLAW_STATE_DIR"), home) or home / ".openclaw"
    config_path = _user_path(env.get("OPENCLAW_CONFIG_PATH"), home)
    if config_path is None:
        folders = ([state_dir] if env.get("OPENCLAW_STATE_DIR", "").strip() else []) + \
            [home / ".openclaw", home / ".clawdbot"]
        candidates = [folder / name for folder in folders for name in _CONFIG_NAMES]
        config_path = next((c for c in candidates if c.is_file()), state_dir / _CONFIG_NAMES[0])
    config: dict = {}
    files: list[Path] = []
    if config_path.is_file():
        try:
            config, files = load_config(config_path)
        except ParallelAgentsError as exc:
            problems.extend(exc.problems)
            files = [config_path]
    elif config_path.exists():
        problems.append(Problem("the OpenClaw config is not a regular file", str(config_path),
                                fix="point OPENCLAW_CONFIG_PATH at the real file"))
    where = config_path
    lookup = ConfigVars(env, state_dir, config)

    port, port_source = DEFAULT_PORT, "default"
    raw_port = env.get(PORT_ENV, "").strip()
    if raw_port.isdigit() and 0 < int(raw_port) < 65536:
        port, port_source = int(raw_port), PORT_ENV
    else:
        if raw_port:
            problems.append(Problem(f"{PORT_ENV}={raw_port!r} is not a port number", field=PORT_ENV,
                                    fix="unset it or give a number from 1 to 65535"))
        if setting(config, "gateway", "port") is not None:
            port = whole_setting(setting(config, "gateway", "port"), DEFAULT_PORT, 1, 65535, "gateway.port",
                                 problems, where)
            port_source = "gateway.port"
    scheme = "https" if setting(config, "gateway", "tls", "enabled") is True else "http"
    if scheme == "https":
        problems.append(Problem("gateway.tls.enabled: the gateway speaks HTTPS, maybe with a self-signed "
                                "certificate Python does not trust", str(where), field="gateway.tls",
                                fix="trust its certificate (SSL_CERT_FILE) or reach it another way"))
    if setting(config, "gateway", "mode") == "remote":
        problems.append(Problem("gateway.mode is \"remote\": this config is a client of another machine's "
                                "gateway, not one running here", str(where), field="gateway.mode",
                                fix="set OPENCLAW_GATEWAY_URL and OPENCLAW_GATEWAY_TOKEN for that gateway"))

    auth_mode, secret, secret_source = _auth(config, env, lookup, problems, where)

    model = agent_setting(config, "model")
    if isinstance(model, dict):
        model = model.get("primary")
    default_model = substitute(model, lookup)[0] if isinstance(model, str) and model.strip() else None
    allow = agent_setting(config, "modelPolicy", "allow")
    sandbox_mode = agent_setting(config, "sandbox", "mode")
    if sandbox_mode is not None and sandbox_mode not in ("off", "non-main", "all"):
        problems.append(Problem(f"agents.defaults.sandbox.mode is {sandbox_mode!r}, not off, non-main or all",
                                str(where), field="agents.defaults.sandbox.mode",
                                fix="use off, non-main or all"))
    workspace_only = setting(config, "agents", "entries", MAIN_AGENT, "tools", "fs", "workspaceOnly")
    if workspace_only is None:
        workspace_only = setting(config, "tools", "fs", "workspaceOnly", default=False)
    http_allow = setting(config, "gateway", "tools", "allow", default=[])
    return LocalOpenClaw(
        state_dir=state_dir, config_path=config_path, config_found=bool(files),
        gateway_url=f"{scheme}://127.0.0.1:{port}", port_source=port_source,
        auth_mode=auth_mode, secret_source=secret_source, default_model=default_model,
        model_allow=tuple(a for a in allow if isinstance(a, str)) if isinstance(allow, list) else (),
        max_children_per_agent=whole_setting(
            agent_setting(config, "subagents", "maxChildrenPerAgent"), 5, 1, 20,
            "agents.defaults.subagents.maxChildrenPerAgent", problems, where),
        max_concurrent=whole_setting(agent_setting(config, "subagents", "maxConcurrent"), 8, 1, 10_000,
                                     "agents.defaults.subagents.maxConcurrent", problems, where),
        workspace_only=workspace_only is True, sandbox_mode=str(sandbox_mode or "off"),
        http_tools_allow=tuple(t for t in http_allow if isinstance(t, str)) if isinstance(http_allow, list) else (),
        in_exec=env.get("OPENCLAW_SHELL") == "exec",
        openclaw_cli=shutil.which("openclaw", path=env.get("PATH", os.defpath)),
        problems=tuple(problems), config_files=tuple(files), _config=_Hidden(config),
        _secret=_Hidden(secret), _environ=_Hidden(env))


def _auth(config: dict, env: Mapping[str, str], lookup: ConfigVars, problems: list[Problem],
          where: Path) -> tuple[str, str | None, str | None]:
    """(auth mode, secret, its source): the config's value first, then the environment variable."""
    auth = setting(config, "gateway", "auth", default={})
    auth = auth if isinstance(auth, dict) else {}
    mode = auth.get("mode")
    if mode is None:
        if auth.get("token") is not None and auth.get("password") is not None:
            problems.append(Problem("gateway.auth has both token and password but no mode; OpenClaw "
                                    "refuses to start like that (token assumed)", str(where),
                                    field="gateway.auth.mode", fix='set gateway.auth.mode to "token" or "password"'))
        mode = "token" if auth.get("token") is not None else "password" if auth.get("password") is not None \
            else "password" if env.get(PASSWORD_ENV) and not env.get(TOKEN_ENV) else "token"
    if mode == "none":
        return mode, NO_AUTH_BEARER, "gateway.auth.mode none"
    if mode not in ("token", "password", "trusted-proxy"):
        problems.append(Problem(f"gateway.auth.mode is {mode!r}, not none, token, password or trusted-proxy",
                                str(where), field="gateway.auth.mode", fix="use one of those"))
        mode = "token"
    key, env_name = ("token", TOKEN_ENV) if mode == "token" else ("password", PASSWORD_ENV)
    secret, source = secret_from(auth.get(key), f"gateway.auth.{key}", lookup, problems, where, env_name)
    if not secret and env.get(env_name):
        secret, source = env[env_name], env_name
    return mode, secret, source
