"""openclaw.json as OpenClaw reads it: the JSON5 file with its `$include`s merged, settings looked
up (agents.entries.main over agents.defaults), and the values that stand for something else -
"${VAR}", "$VAR" and SecretRefs - resolved the way OpenClaw resolves them.

Facts relied on (openclaw 2026.9.6: its docs under node_modules/openclaw/docs):
- `$include` (gateway/config-secrets-env.md): one file replaces the containing object, a list is
  deep-merged in order, sibling keys override; at most 10 levels, never itself.
- A value may be "${VAR}" (any config string; upper-case names; `$${VAR}` is a literal), "$VAR",
  or a SecretRef `{source, provider, id}`: env refs and placeholders are resolved from the
  process environment, then `$OPENCLAW_STATE_DIR/.env`, then the config's `env.vars` (OpenClaw's
  own precedence); file/exec/store refs are not resolved here (only the gateway can).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parallel_agents.core.errors import Problem
from parallel_agents.openclaw.json5 import OpenClawConfigError, read_json5

__all__ = ["MAIN_AGENT", "load_config", "setting", "agent_setting", "ConfigVars", "substitute",
           "secret_from", "whole_setting"]

MAIN_AGENT = "main"


def load_config(path: Path, depth: int = 0, seen: tuple = ()) -> tuple[dict, list[Path]]:
    """The config with `$include`s merged (gateway/config-secrets-env.md: one file replaces the
    containing object, a list is deep-merged in order, sibling keys override), and every file read."""
    data, files = read_json5(path), [path]
    return _expand(data, path.parent, depth, seen + (path.resolve(),), files, path), files


def _expand(node: Any, base: Path, depth: int, seen: tuple, files: list, where: Path) -> Any:
    if isinstance(node, list):
        return [_expand(item, base, depth, seen, files, where) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict = {}
    if "$include" in node:
        targets = node["$include"] if isinstance(node["$include"], list) else [node["$include"]]
        if depth >= 10 or not all(isinstance(t, str) for t in targets):
            raise OpenClawConfigError("$include is not a file name, a list of them, or is nested more than "
                                      "10 levels", file=where, field="$include")
        for target in targets:
            included = (base / Path(target).expanduser()).resolve()
            if included in seen:
                raise OpenClawConfigError(f"$include {target!r} includes itself", file=where, field="$include")
            data, more = load_config(included, depth + 1, seen)
            files.extend(more)
            out = _merge(out, data)
    for key, value in node.items():
        if key != "$include":
            out[key] = _merge(out.get(key), _expand(value, base, depth, seen, files, where))
    return out


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: _merge(old.get(k), v) for k, v in new.items()}}
    return new


def setting(node: Any, *keys: str, default: Any = None) -> Any:
    """node.<keys>, or `default` where the path stops."""
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def agent_setting(config: dict, *keys: str) -> Any:
    """agents.entries.main.<keys>, else agents.defaults.<keys>."""
    value = setting(config, "agents", "entries", MAIN_AGENT, *keys)
    return value if value is not None else setting(config, "agents", "defaults", *keys)


class ConfigVars:
    """Variable lookup for "${VAR}" and env SecretRefs: the process environment, then
    `$OPENCLAW_STATE_DIR/.env`, then the config's env.vars (none of them overrides the one before)."""

    def __init__(self, environ: Mapping[str, str], state_dir: Path, config: dict):
        self.layers = [environ, _read_dotenv(state_dir / ".env"), setting(config, "env", "vars", default={})]

    def __call__(self, name: str) -> str | None:
        for layer in self.layers:
            value = layer.get(name) if isinstance(layer, Mapping) else None
            if isinstance(value, str) and value:
                return value
        return None


def _read_dotenv(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    out = {}
    for line in lines:
        line = line.strip()
        if line.startswith("export "):
            line = line[7:].lstrip()
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[name.strip()] = value
    return out


_PLACEHOLDER = re.compile(r"\$(\$?)\{([A-Z_][A-Z0-9_]*)\}")


def substitute(text: str, lookup: ConfigVars) -> tuple[str, list[str]]:
    """`text` with ${VAR} replaced (OpenClaw's rule: upper-case names; `$${VAR}` is a literal;
    unset or empty ones stay as they are) and the names that stayed."""
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        value = lookup(match.group(2))
        if value is None:
            missing.append(match.group(2))
            return match.group(0)
        return value
    return _PLACEHOLDER.sub(replace, text), missing


def secret_from(raw: Any, where: str, lookup: ConfigVars, problems: list[Problem],
                 config_path: Path, env_name: str) -> tuple[str | None, str | None]:
    """(secret, where it came from) for a config SecretInput; problems say what was not resolved
    (never the value)."""
    fix = f"set {env_name} in the environment this runs in, to the gateway's secret"
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, str):
        short = re.fullmatch(r"\$([A-Z][A-Z0-9_]{0,127})", raw)   # the "$VAR" shorthand
        if short:
            value = lookup(short.group(1))
            missing = [] if value else [short.group(1)]
        else:
            value, missing = substitute(raw, lookup)
        if not missing:
            return value, where if value == raw else f"{where} (from the environment)"
        problems.append(Problem(f"{where} refers to ${{{missing[0]}}}, which is not set here (not in the "
                                "environment, the state dir's .env or env.vars)", str(config_path),
                                field=where, fix=fix))
        return None, None
    if isinstance(raw, dict) and isinstance(raw.get("source"), str):
        source, ident = raw["source"], raw.get("id")
        if source == "env" and isinstance(ident, str):
            value = lookup(ident)
            if value is not None:
                return value, f"{where} (env {ident})"
            problems.append(Problem(f"{where} is an env SecretRef to {ident}, which is not set here",
                                    str(config_path), field=where, fix=fix))
            return None, None
        problems.append(Problem(f"{where} is a {source!r} SecretRef, which this skill cannot resolve "
                                "(only the gateway can)", str(config_path), field=where, fix=fix))
        return None, None
    problems.append(Problem(f"{where} is neither text nor a SecretRef", str(config_path), field=where,
                            fix="see docs/gateway/secrets/secretref-contract.md"))
    return None, None


def whole_setting(value: Any, default: int, lo: int, hi: int, where: str, problems: list[Problem],
                  config_path: Path) -> int:
    """`value` when it is a whole number from lo to hi; else `default`, with a problem (unset: quietly)."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
        return value
    problems.append(Problem(f"{where} is {value!r}, not a whole number from {lo} to {hi}; OpenClaw "
                            f"would refuse it, {default} is assumed", str(config_path), field=where,
                            fix=f"use a whole number from {lo} to {hi}"))
    return default
