"""The registry: shipped definitions plus the user's overlay folder; the overlay wins by name.

Loading is fast: YAML through libyaml, and full JSON Schema validation only for files whose
content has not been validated before (a small cache in the user folder keyed by content hash
and schema version, which also keeps what a valid file parsed to, so it is not parsed again;
and for shipped files the index shipped with the code, shipped_index.py, so that the first use
after an install or upgrade does not validate them either).
`Registry.load(strict=False)` keeps going past invalid overlay files and reports them in
`problems`; shipped files must always be valid. The shared registry (load_registry) is lazy: a
command that uses one agent reads and validates that one definition (found by its file name,
which is its name; an alias or an unknown name reads every file's aliases, unvalidated, to
resolve it or suggest names); listing or iterating loads and validates them all, failing as an
eager load does.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from parallel_agents.definitions.model import (AgentDefinition, check_definition,
                                               parse_definition_text, read_definition_text)
from parallel_agents.core.deps import require
from parallel_agents.core.errors import DefinitionError, EnvironmentProblem, Problem, UnknownAgentError
from parallel_agents.core.paths import SHIPPED_AGENTS, cache_dir, display, overlay_agents
from parallel_agents.definitions.shipped_index import content_key, schema_tag, shipped_keys


class _ValidationCache:
    """Content hashes of definitions that passed full validation under this schema, and what
    each one's YAML parsed to (as JSON text): a file read again with the same content is
    neither validated nor parsed again (listing every definition costs a file read each)."""

    def __init__(self, path: Path):
        self.path = path
        self.schema_tag = schema_tag()   # what a cached "valid" stands for: schema and checks
        self.known: set[str] = set()
        self.parsed: dict[str, str] = {}
        self.dirty = False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("schema") == self.schema_tag:
                self.known = set(data.get("valid", []))
                parsed = data.get("parsed")
                if isinstance(parsed, dict):
                    self.parsed = {k: v for k, v in parsed.items()
                                   if k in self.known and isinstance(v, str)}
        except (OSError, ValueError, AttributeError):
            pass

    def data(self, key: str) -> dict | None:
        """The parsed content of a valid definition with this key (a fresh copy), or None."""
        text = self.parsed.get(key)
        try:
            value = json.loads(text) if text is not None else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def add(self, key: str, data: dict | None = None) -> None:
        if key not in self.known:
            self.known.add(key)
            self.dirty = True
        if data is not None and key not in self.parsed:
            try:
                text = json.dumps(data, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError, RecursionError):   # YAML-only values: parse again
                return
            if json.loads(text) == data:
                self.parsed[key] = text
                self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:  # a cache that cannot be written only costs speed
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            valid = sorted(self.known)
            tmp.write_text(json.dumps({"schema": self.schema_tag, "valid": valid, "parsed": {
                k: self.parsed[k] for k in valid if k in self.parsed}}))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass


def _definition_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml") if p.is_file())


def _overlay_folder(folder: Path | None) -> Path | None:
    """The overlay folder to read (None: none there); an unusable one is an EnvironmentProblem."""
    if folder is None or not folder.exists():
        return None
    if not folder.is_dir():
        raise EnvironmentProblem("the overlay folder cannot be read: it is a file",
                                 file=display(folder),
                                 fix="move the file away: your agent definitions go "
                                     "in a folder of that name")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise EnvironmentProblem("the overlay folder cannot be read", file=display(folder),
                                 fix=f"fix its permissions: chmod u+rx {folder}")
    return folder


class _Files:
    """The definition files of a registry, read and validated when first needed: the shipped
    folder and the overlay's, each file read once (lazy loading looks them up by file name,
    which a valid definition's name equals)."""

    def __init__(self, shipped: Path, overlay: Path | None, cache: _ValidationCache):
        require("yaml")   # a dependency even when every file is cached: missing, it says so now
        self.cache = cache
        self.folders = [(shipped, "shipped")] + ([(overlay, "overlay")] if overlay else [])
        self.paths = {origin: _definition_files(folder) for folder, origin in self.folders}
        self._read: dict[Path, tuple] = {}     # path -> (data, text, problems) as read
        self._shipped_valid: frozenset[str] | None = None   # read when first needed

    def validated(self, key: str, origin: str) -> bool:
        """Whether the file with this key is known to be valid: by the user folder's cache, or
        (a shipped file only) by the index shipped with the code."""
        if key in self.cache.known:
            return True
        if origin != "shipped":
            return False
        if self._shipped_valid is None:
            self._shipped_valid = shipped_keys()
        return key in self._shipped_valid

    def read(self, path: Path) -> tuple:
        """(data, text, problems, cache key) of one file; its YAML parsed unless cached."""
        if path not in self._read:
            text, problems = read_definition_text(path)
            key = content_key(path, text) if text else None
            data = self.cache.data(key) if key in self.cache.known else None
            if data is None and not problems:
                data, problems = parse_definition_text(text, path)
            self._read[path] = (data, text, problems, key)
        return self._read[path]

    def load(self, path: Path, origin: str, problems: list[Problem]) -> AgentDefinition | None:
        """The definition in one file, fully validated unless its content is known to be valid
        (None, with its problems added, when it is not valid)."""
        data, text, file_problems, key = self.read(path)
        if not file_problems and not self.validated(key, origin):
            file_problems = check_definition(data, file=path, text=text, expected_name=path.stem)
        if not file_problems:
            self.cache.add(key, data)
        if file_problems:
            problems.extend(file_problems)
            return None
        return AgentDefinition.from_dict(data, source=str(path), origin=origin)

    def named(self, name: str) -> dict[str, list[Path]]:
        """{origin: the files named NAME.yaml in its folder}."""
        return {origin: [p for p in paths if p.stem == name] for origin, paths in self.paths.items()}

    def stems(self) -> set[str]:
        return {p.stem for paths in self.paths.values() for p in paths}

    def aliases(self) -> dict[str, str]:
        """{alias: the name of the file that declares it}, from each name's winning file (the
        overlay's), as read: no validation (the owner is validated when it is loaded)."""
        winners: dict[str, Path] = {}
        for origin in ("shipped", "overlay"):
            for path in self.paths.get(origin, []):
                winners[path.stem] = path
        found: dict[str, str] = {}
        for name, path in sorted(winners.items()):
            data = self.read(path)[0]
            aliases = data.get("aliases") if isinstance(data, dict) else None
            for alias in aliases if isinstance(aliases, list) else []:
                if isinstance(alias, str):
                    found.setdefault(alias, name)
        return found


class Registry:
    def __init__(self, definitions: dict[str, AgentDefinition], problems: list[Problem],
                 overlay: Path | None, *, files: _Files | None = None, strict: bool = True):
        self._by_name = definitions
        self.problems = problems
        self.overlay = overlay
        self._aliases = {a: d.name for d in definitions.values() for a in d.aliases}
        self._files = files          # lazy: the files not all loaded yet (None: all are)
        self._strict = strict
        self._alias_owners: dict[str, str] | None = None

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, *, overlay: Path | None | bool = True, shipped: Path = SHIPPED_AGENTS,
             strict: bool = True, lazy: bool = False) -> "Registry":
        """Load shipped + overlay definitions. `overlay=True` means the user's folder,
        `None`/`False` none. strict: raise DefinitionError on any problem.
        lazy: read and validate each definition only when it is first looked up by name or
        alias (a command that uses one agent validates one); listing or iterating loads them
        all, as a load without `lazy` does. Strict, a definition that is used and invalid
        raises DefinitionError then."""
        folder = overlay_agents() if overlay is True else (overlay or None)
        files = _Files(shipped, _overlay_folder(folder),
                       _ValidationCache(cache_dir() / "validated-definitions.json"))
        registry = cls({}, [], folder, files=files, strict=strict)
        if not lazy:
            registry._load_all()
        return registry

    def _load_all(self) -> None:
        files, problems = self._files, []
        merged: dict[str, AgentDefinition] = {}
        for folder, origin in files.folders:
            found: dict[str, AgentDefinition] = {}
            for path in files.paths[origin]:
                definition = self._by_name.get(path.stem)   # loaded by name already
                if definition is None or definition.source != str(path):
                    definition = files.load(path, origin, problems)
                if definition is None:
                    continue
                if definition.name in found:
                    problems.append(_twice(definition, path, found[definition.name], origin))
                    continue
                found[definition.name] = definition
            merged.update(found)  # the overlay wins by name
        files.cache.save()
        problems += self._alias_problems(merged)
        self._files = None
        self._by_name = merged
        self._aliases = {a: d.name for d in merged.values() for a in d.aliases}
        self.problems = problems
        if self._strict and problems:
            raise DefinitionError("agent definitions are invalid", problems=problems)

    def _load_name(self, name: str) -> AgentDefinition | None:
        """Lazy: the definition of this name (the overlay's, else the shipped one), validated;
        None when no file has the name (or, lax, when its file is invalid)."""
        if name in self._by_name:
            return self._by_name[name]
        problems: list[Problem] = []
        definition = None
        for origin, paths in self._files.named(name).items():
            loaded = [d for d in (self._files.load(p, origin, problems) for p in paths) if d]
            if len(loaded) > 1:
                problems.append(_twice(loaded[1], Path(loaded[1].source), loaded[0], origin))
            elif loaded:
                definition = loaded[0]   # the overlay comes last: it wins by name
        self._files.cache.save()
        self.problems += problems
        if problems and self._strict:
            raise DefinitionError("agent definitions are invalid", problems=problems)
        if definition is not None:
            self._by_name[name] = definition
            for alias in definition.aliases:
                self._aliases.setdefault(alias, name)
        return definition

    def _everything(self) -> None:
        if self._files is not None:
            self._load_all()

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
        if self._files is not None:
            return self._find(name) is not None
        return name in self._by_name or name in self._aliases

    def __iter__(self):
        self._everything()
        return iter(sorted(self._by_name.values(), key=lambda d: (d.category, d.name)))

    def __len__(self) -> int:
        self._everything()
        return len(self._by_name)

    def names(self) -> list[str]:
        self._everything()
        return sorted(self._by_name)

    def categories(self) -> list[str]:
        self._everything()
        return sorted({d.category for d in self._by_name.values()})

    def in_category(self, category: str | None) -> list[AgentDefinition]:
        return [d for d in self if category is None or d.category == category]

    def _find(self, name: str) -> str | None:
        """Lazy: the canonical name for a name or alias, its definition loaded; None if none."""
        if not isinstance(name, str):
            return None
        if name in self._by_name or self._load_name(name) is not None:
            return name
        if self._alias_owners is None:
            self._alias_owners = self._files.aliases()
        owner = self._alias_owners.get(name)
        if owner is None or self._load_name(owner) is None:
            return None
        return owner if name in self._by_name[owner].aliases else None

    def resolve(self, name: str) -> str:
        """The canonical name for a name or alias (raises UnknownAgentError)."""
        if self._files is not None:
            found = self._find(name)
            if found is not None:
                return found
            raise UnknownAgentError(name, self.suggest(name))
        if name in self._by_name:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownAgentError(name, self.suggest(name))

    def get(self, name: str) -> AgentDefinition:
        return self._by_name[self.resolve(name)]

    def suggest(self, name: str) -> list[str]:
        import difflib   # only when a name is unknown: not on every command's path
        if self._files is not None:   # lazy: every file's name and alias, as read
            if self._alias_owners is None:
                self._alias_owners = self._files.aliases()
            candidates = sorted(self._files.stems()) + list(self._alias_owners)
        else:
            candidates = list(self._by_name) + list(self._aliases)
        close = difflib.get_close_matches(str(name), candidates, n=3, cutoff=0.6)
        if not close:  # also match on a shared word: "reviewer" -> code_reviewer, ...
            close = sorted(c for c in candidates if str(name) and str(name) in c)[:3]
        return close


def _twice(definition: AgentDefinition, path: Path, first: AgentDefinition, origin: str) -> Problem:
    return Problem(f"agent {definition.name!r} is defined twice in {origin} definitions "
                   f"(also in {display(first.source)})",
                   display(path), 1, "name", "delete or rename one of the two files")


_shared: Registry | None = None


def load_registry(*, reload: bool = False) -> Registry:
    """The shipped + overlay registry, made once per process (reload=True to re-read: after
    install_agent writes a new definition). Lazy: a definition is read and validated when it is
    first used (listing loads them all)."""
    global _shared
    if _shared is None or reload:
        _shared = Registry.load(lazy=True)
    return _shared
