"""Settings: the shipped config.yaml with the user's $PARALLEL_AGENTS_HOME/config.yaml on top.

Mappings merge key by key; any other value (lists included) is replaced whole. The merged result
is validated; an error names the file the bad value came from.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.core.deps import require
from parallel_agents.core.errors import ConfigError, Problem, schema_fix
from parallel_agents.core.paths import SHIPPED_CONFIG, cache_dir, display, user_config

_SCHEMA = Path(__file__).with_name("config.schema.json")
#: The digest (settings_digest) of the shipped config.yaml alone, validated when it was written:
#: the first command after an install needs no jsonschema for settings nobody changed.
#: Regenerated with the shipped definitions' index (definitions/shipped_index.py).
SHIPPED_DIGEST = Path(__file__).with_name("config-valid.txt")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read(path: Path) -> tuple[dict, str]:
    text = yamlio.read_text(path, shown=display(path))
    data, problem = yamlio.parse(text, shown=display(path))
    if problem:
        raise ConfigError(problem.message, problems=[problem])
    if data is None:
        return {}, text
    if not isinstance(data, dict):
        raise ConfigError("config must be a YAML mapping of keys to values", file=display(path),
                          line=1, fix="write `key: value` lines, e.g. max_concurrent: 5")
    return data, text


@dataclass(frozen=True)
class Tier:
    name: str
    model: str | None


@dataclass(frozen=True)
class Config:
    data: dict

    @property
    def max_concurrent(self) -> int:
        return self.data["max_concurrent"]

    @property
    def default_timeout_seconds(self) -> int:
        return self.data["default_timeout_seconds"]

    @property
    def tiers(self) -> list[Tier]:
        return [Tier(t["name"], t["model"]) for t in self.data["tiers"]]

    @property
    def tier_names(self) -> list[str]:
        return [t["name"] for t in self.data["tiers"]]

    @property
    def prices(self) -> dict:
        return self.data["prices"]

    @property
    def retry(self) -> dict:
        return self.data["retry"]

    @property
    def budget_usd(self) -> float | None:
        return self.data.get("budget_usd")

    @property
    def max_input_bytes(self) -> int:
        return self.data["max_input_bytes"]

    @property
    def max_map_items(self) -> int:
        """The most items a for_each group may have (a task's max_items overrides it)."""
        return self.data.get("max_map_items", 1000)

    @property
    def gateway(self) -> dict:
        """{"url": str | None, "allow_insecure_http": bool} (the token is never in config)."""
        return {"url": None, "allow_insecure_http": False, **(self.data.get("gateway") or {})}

    @property
    def reuse(self) -> dict:
        """{"store": bool, "max_mb": number, "max_age_days": number} (parallel_agents/engine/reuse.py)."""
        return {"store": True, "max_mb": 100, "max_age_days": 30, **(self.data.get("reuse") or {})}

    def with_gateway(self, *, url: str | None = None, allow_insecure_http: bool = False) -> "Config":
        """This config with command-line gateway options on top (unset ones change nothing)."""
        gateway = dict(self.gateway)
        if url:
            gateway["url"] = url
        if allow_insecure_http:
            gateway["allow_insecure_http"] = True
        return Config({**self.data, "gateway": gateway})


def _blame(sources, path) -> tuple[str | None, int | None]:
    """The last file that contains the whole key path, and the line there."""
    for src_path, text, src_data in reversed(sources):
        node = src_data
        try:
            for key in path:
                node = node[key]
        except (KeyError, IndexError, TypeError):
            continue
        return display(src_path), yamlio.node_at(text, path)
    return None, None


def settings_digest(data: dict) -> str | None:
    """sha256 of these settings under this config.schema.json (None when they are not JSON)."""
    schema_text = _SCHEMA.read_text(encoding="utf-8")
    try:
        canonical = json.dumps(data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):   # not JSON (a date, NaN, ...): jsonschema says what
        return None
    return hashlib.sha256((schema_text + "\0" + canonical).encode()).hexdigest()


def schema_errors(data: dict) -> list:
    """jsonschema's errors of the settings against config.schema.json (all of them)."""
    jsonschema = require("jsonschema")
    schema = json.loads(_SCHEMA.read_text(encoding="utf-8"))
    return list(jsonschema.Draft202012Validator(schema).iter_errors(data))


def shipped_settings() -> dict:
    """The shipped config.yaml's settings, as read."""
    return _read(SHIPPED_CONFIG)[0]


def _schema_errors(data: dict) -> list:
    """jsonschema's errors of the merged settings against config.schema.json, or [] at once when
    these very settings passed under this very schema before: the shipped settings as shipped
    (SHIPPED_DIGEST), or a hash in the user folder's cache (every command reads the settings,
    and importing jsonschema alone costs tens of ms)."""
    digest = settings_digest(data)
    try:
        if digest and SHIPPED_DIGEST.read_text(encoding="ascii").strip() == digest:
            return []
    except (OSError, UnicodeDecodeError):
        pass
    marker = cache_dir() / "config-valid"
    try:
        if digest and marker.read_text(encoding="ascii") == digest:
            return []
    except (OSError, UnicodeDecodeError):
        pass
    errors = schema_errors(data)
    if not errors and digest:
        try:   # best effort: a read-only folder only means validating again next time
            marker.parent.mkdir(parents=True, exist_ok=True)
            temp = marker.with_name(f"config-valid.{os.getpid()}.tmp")
            temp.write_text(digest, encoding="ascii")
            os.replace(temp, marker)
        except OSError:
            pass
    return errors


def validate(data: dict, sources: list[tuple[Path, str, dict]]) -> list[Problem]:
    problems = []
    for error in sorted(_schema_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            fix = "remove it; allowed keys are: " + ", ".join(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(error.schema.get("properties", {}))):
                shown, line = _blame(sources, path + [key])
                problems.append(Problem(f"unknown key {key!r}", shown, line,
                                        "/".join(map(str, path + [key])), fix))
            continue
        shown, line = _blame(sources, path)
        problems.append(Problem(error.message[:160], shown, line, "/".join(map(str, path)) or None,
                                schema_fix(error) or "see the comments in the shipped config.yaml"))
    tiers = [t.get("name") for t in data.get("tiers", []) if isinstance(t, dict)]
    for index, name in enumerate(tiers):
        if name in tiers[:index]:
            shown, line = _blame(sources, ["tiers", index, "name"])
            problems.append(Problem(f"tier name {name!r} is used twice", shown, line,
                                    f"tiers/{index}/name", "rename one of the tiers"))
    return problems


def load_config(*, user: Path | None | bool = True, shipped: Path = SHIPPED_CONFIG) -> Config:
    """The effective settings (raises ConfigError naming the file, line and key)."""
    base, base_text = _read(shipped)
    sources = [(shipped, base_text, base)]
    data = base
    path = user_config() if user is True else (user or None)
    if path is not None and path.exists():
        over, over_text = _read(path)
        sources.append((path, over_text, over))
        data = _merge(base, over)
    problems = validate(data, sources)
    if problems:
        raise ConfigError("invalid configuration", problems=problems)
    return Config(data)
