"""The registry: shipped definitions plus the user's overlay folder; the overlay wins by name.

Loading is fast: YAML through libyaml, and full JSON Schema validation only for files whose
content has not been validated before (a small cache in the user folder keyed by content hash
and schema version). `Registry.load(strict=False)` keeps going past invalid overlay files and
reports them in `problems`; shipped files must always be valid.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path

from parallel_agents.definitions.model import AgentDefinition, check_definition, read_definition_file
from parallel_agents.core.errors import DefinitionError, EnvironmentProblem, Problem, UnknownAgentError
from parallel_agents.core.paths import DEFINITION_SCHEMA, SHIPPED_AGENTS, cache_dir, display, overlay_agents


class _ValidationCache:
    """Content hashes of definitions that passed full validation under this schema."""

    def __init__(self, path: Path):
        self.path = path
        # what a cached "valid" stands for: this definition schema, checked by these checks
        from parallel_agents.definitions.model import CHECKS_VERSION
        self.schema_tag = hashlib.sha256(DEFINITION_SCHEMA.read_bytes()
                                         + f"checks {CHECKS_VERSION}".encode()).hexdigest()[:16]
        self.known: set[str] = set()
        self.dirty = False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("schema") == self.schema_tag:
                self.known = set(data.get("valid", []))
        except (OSError, ValueError, AttributeError):
            pass

    def key(self, path: Path, text: str) -> str:
        return hashlib.sha256(f"{path.stem}\0{text}".encode()).hexdigest()[:32]

    def add(self, key: str) -> None:
        if key not in self.known:
            self.known.add(key)
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:  # a cache that cannot be written only costs speed
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"schema": self.schema_tag, "valid": sorted(self.known)}))
            os.replace(tmp, self.path)
        except OSError:
            pass


def _definition_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml") if p.is_file())


class Registry:
    def __init__(self, definitions: dict[str, AgentDefinition], problems: list[Problem],
                 overlay: Path | None):
        self._by_name = definitions
        self.problems = problems
        self.overlay = overlay
        self._aliases = {a: d.name for d in definitions.values() for a in d.aliases}

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, *, overlay: Path | None | bool = True, shipped: Path = SHIPPED_AGENTS,
             strict: bool = True) -> "Registry":
        """Load shipped + overlay definitions. `overlay=True` means the user's folder,
        `None`/`False` none. strict: raise DefinitionError on any problem."""
        folder = overlay_agents() if overlay is True else (overlay or None)
        cache = _ValidationCache(cache_dir() / "validated-definitions.json")
        problems: list[Problem] = []
        shipped_defs = cls._load_folder(shipped, "shipped", cache, problems)
        overlay_defs: dict[str, AgentDefinition] = {}
        if folder is not None:
            if folder.exists():
                if not folder.is_dir():
                    raise EnvironmentProblem("the overlay folder cannot be read: it is a file",
                                             file=display(folder),
                                             fix="move the file away: your agent definitions go "
                                                 "in a folder of that name")
                if not os.access(folder, os.R_OK | os.X_OK):
                    raise EnvironmentProblem("the overlay folder cannot be read", file=display(folder),
                                             fix=f"fix its permissions: chmod u+rx {folder}")
                overlay_defs = cls._load_folder(folder, "overlay", cache, problems)
        cache.save()
        merged = dict(shipped_defs)
        merged.update(overlay_defs)  # the overlay wins by name
        problems += cls._alias_problems(merged)
        if strict and problems:
            raise DefinitionError("agent definitions are invalid", problems=problems)
        return cls(merged, problems, folder)

    @staticmethod
    def _load_folder(folder: Path, origin: str, cache: _ValidationCache,
                     problems: list[Problem]) -> dict[str, AgentDefinition]:
        found: dict[str, AgentDefinition] = {}
        for path in _definition_files(folder):
            data, text, file_problems = read_definition_file(path)
            key = cache.key(path, text) if text else None
            if not file_problems and key not in cache.known:
                file_problems = check_definition(data, file=path, text=text, expected_name=path.stem)
                if not file_problems:
                    cache.add(key)
            if file_problems:
                problems.extend(file_problems)
                continue
            definition = AgentDefinition.from_dict(data, source=str(path), origin=origin)
            if definition.name in found:
                problems.append(Problem(
                    f"agent {definition.name!r} is defined twice in {origin} definitions "
                    f"(also in {display(found[definition.name].source)})",
                    display(path), 1, "name", "delete or rename one of the two files"))
                continue
            found[definition.name] = definition
        return found

    @staticmethod
    def _alias_problems(merged: dict[str, AgentDefinition]) -> list[Problem]:
        problems, owner = [], {}
        for d in merged.values():
            for alias in d.aliases:
                clash = alias if alias in merged else None
                if clash or alias in owner:
                    other = clash or owner[alias]
                    problems.append(Problem(
                        f"alias {alias!r} is already taken by agent {other!r}",
                        display(d.source) if d.source else None, None, "aliases",
                        "choose another alias or remove it"))
                owner.setdefault(alias, d.name)
        return problems

    # -- lookup ------------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self._by_name or name in self._aliases

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda d: (d.category, d.name)))

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def categories(self) -> list[str]:
        return sorted({d.category for d in self._by_name.values()})

    def in_category(self, category: str | None) -> list[AgentDefinition]:
        return [d for d in self if category is None or d.category == category]

    def resolve(self, name: str) -> str:
        """The canonical name for a name or alias (raises UnknownAgentError)."""
        if name in self._by_name:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownAgentError(name, self.suggest(name))

    def get(self, name: str) -> AgentDefinition:
        return self._by_name[self.resolve(name)]

    def suggest(self, name: str) -> list[str]:
        candidates = list(self._by_name) + list(self._aliases)
        close = difflib.get_close_matches(str(name), candidates, n=3, cutoff=0.6)
        if not close:  # also match on a shared word: "reviewer" -> code_reviewer, ...
            close = sorted(c for c in candidates if str(name) and str(name) in c)[:3]
        return close


_shared: Registry | None = None


def load_registry(*, reload: bool = False) -> Registry:
    """The shipped + overlay registry, loaded once per process (reload=True to re-read: after
    install_agent writes a new definition)."""
    global _shared
    if _shared is None or reload:
        _shared = Registry.load()
    return _shared
