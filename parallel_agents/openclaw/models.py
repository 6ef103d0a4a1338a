"""The models a local OpenClaw gateway knows, from `openclaw models list --all --json`, and
whether a spawn with one will be accepted (openclaw_local.py's docstring has the facts).

The CLI takes 3-30 s to start, so its rows are cached in cache_dir()/openclaw-models.json, keyed by
a fingerprint of what can change them (config files, the state dir's .env, the CLI path), for an
hour at most (a sign-in or `models list --refresh` changes the catalog, not the config).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallel_agents.core import paths

MODELS_CACHE = "openclaw-models.json"
MODELS_CACHE_MAX_AGE_S = 3600.0


def catalog_rows(cli: str, environ: Mapping[str, str], fingerprint: str, *, timeout_s: float,
                 cache: bool = True) -> tuple[tuple["ModelRow", ...] | None, str, str]:
    """(rows, source "cache" | "cli", why there are none) of `cli models list --all --json`."""
    store = paths.cache_dir() / MODELS_CACHE
    raw = _cache_get(store, fingerprint) if cache else None
    if raw is not None:
        return _rows(raw), "cache", ""
    raw, reason = _run_models_list(cli, environ, timeout_s)
    if raw is None:
        return None, "cli", reason
    if cache:
        _cache_put(store, fingerprint, raw)
    return _rows(raw), "cli", ""


@dataclass(frozen=True)
class ModelRow:
    """One row of `openclaw models list --all --json`."""

    key: str                      # provider/model
    available: bool | None        # the CLI's "available" (its Auth column)
    tags: tuple[str, ...] = ()    # "default", "configured", "alias:NAME", ...

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(t[6:] for t in self.tags if t.startswith("alias:"))


@dataclass(frozen=True)
class ModelCatalog:
    """The models the local gateway knows, and whether a spawn with one will be accepted."""

    rows: tuple[ModelRow, ...]
    allow: tuple[str, ...] = ()                       # modelPolicy.allow; () = any
    configured_providers: frozenset[str] = frozenset()  # models.providers keys
    source: str = "cli"                               # cli | cache

    @property
    def default_model(self) -> str | None:
        return next((row.key for row in self.rows if "default" in row.tags), None)

    def row(self, ref: str) -> ModelRow | None:
        """The row for a provider/model ref, an alias, or a bare model id that one row has."""
        ref = (ref or "").strip()
        for row in self.rows:
            if row.key == ref or ref in row.aliases:
                return row
        if "/" not in ref:
            matches = [row for row in self.rows if row.key.split("/", 1)[1:] == [ref]]
            return matches[0] if len(matches) == 1 else None
        return None

    def allowed(self, ref: str) -> bool:
        """modelPolicy.allow lets `ref` through (exact ref, alias, or a trailing `*` prefix)."""
        if not self.allow:
            return True
        row = self.row(ref)
        names = {ref, *(row.aliases if row else ()), *((row.key,) if row else ())}
        return any(entry in names or (entry.endswith("*") and any(n.startswith(entry[:-1]) for n in names))
                   for entry in self.allow)

    def usable(self, ref: str) -> bool | None:
        """Will `sessions_spawn` accept `model: ref`? True: listed as available and allowed.
        False: not allowed, listed as unavailable, or of a provider the gateway has no rows for
        (and does not configure). None: cannot tell (an unlisted model of a known provider, which
        the gateway accepted in our trials; or no ref)."""
        return {"usable": True, "unknown": None}.get(self.explain(ref)[0], False)

    def explain(self, ref: str) -> tuple[str, str]:
        """(verdict, reason): verdict is usable | not allowed | unavailable | unknown provider |
        unknown."""
        if not (ref or "").strip():
            return "unknown", "no model given"
        if not self.allowed(ref):
            return "not allowed", f"{ref} is not in modelPolicy.allow ({', '.join(self.allow)})"
        row = self.row(ref)
        if row is not None:
            if row.available:
                return "usable", f"{row.key} is listed as available"
            return "unavailable", f"{row.key} is listed without usable auth or runtime"
        provider = ref.split("/", 1)[0] if "/" in ref else None
        if provider and provider not in self.configured_providers and \
                not any(r.key.startswith(provider + "/") for r in self.rows):
            return "unknown provider", f"the gateway lists no {provider}/* model (unknown provider, or no auth)"
        return "unknown", f"{ref} is not in the gateway's catalog; a spawn may still be accepted"

    def usable_models(self) -> list[str]:
        return [row.key for row in self.rows if row.available and self.allowed(row.key)]

    def to_dict(self) -> dict:
        return {"source": self.source, "default_model": self.default_model, "allow": list(self.allow),
                "models": [{"key": r.key, "available": r.available, "tags": list(r.tags),
                            "usable": self.usable(r.key)} for r in self.rows]}


def _rows(raw: list) -> tuple[ModelRow, ...]:
    return tuple(ModelRow(item["key"], item.get("available") if isinstance(item.get("available"), bool) else None,
                          tuple(t for t in item.get("tags") or () if isinstance(t, str)))
                 for item in raw if isinstance(item, dict) and isinstance(item.get("key"), str))


def _run_models_list(cli: str, environ: Mapping[str, str], timeout_s: float) -> tuple[list | None, str]:
    """(the "models" rows, "") or (None, why not)."""
    command = [cli, "models", "list", "--all", "--json"]
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**environ, "NO_COLOR": "1"},
                                start_new_session=True)
    except OSError as exc:
        return None, f"could not run {cli}: {exc.strerror or exc}"
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)   # its own session: the CLI and anything it started
        except (ProcessLookupError, PermissionError):
            pass
        proc.communicate()
        return None, f"`openclaw models list` did not finish within {timeout_s:g}s"
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    payload = _first_json(stdout)
    if isinstance(payload, dict) and isinstance(payload.get("models"), list) and proc.returncode == 0:
        return payload["models"], ""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        reason = str(payload["error"].get("message") or payload["error"])
    else:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        reason = lines[0] if lines and proc.returncode else "it printed no model list"
    return None, f"`openclaw models list` failed (exit {proc.returncode}): {reason[:300]}"


def _first_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    match = re.search(r"^\{", text, re.M)
    if match:
        try:
            return json.JSONDecoder().raw_decode(text, match.start())[0]
        except ValueError:
            return None
    return None


def _cache_get(store: Path, key: str) -> list | None:
    try:
        entry = json.loads(store.read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("models"), list):
        return None
    if not 0 <= time.time() - float(entry.get("saved_at", 0)) <= MODELS_CACHE_MAX_AGE_S:
        return None
    return entry["models"]


def _cache_put(store: Path, key: str, rows: list) -> None:
    """Best effort: up to 8 fingerprints (a few gateways/configs), newest kept; written atomically."""
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[key] = {"saved_at": time.time(), "models": rows}
    data = dict(sorted(data.items(), key=lambda kv: _saved_at(kv[1]))[-8:])
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, store)
    except OSError:
        pass


def _saved_at(entry: Any) -> float:
    try:
        return float(entry.get("saved_at", 0))
    except (AttributeError, TypeError, ValueError):
        return 0.0
