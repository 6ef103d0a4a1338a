"""The shipped validation index: the shipped agent definitions known to pass full validation,
so that the first command after an install or upgrade does not validate them again (importing
jsonschema and checking an output schema costs more than the rest of a first `plan`).

shipped-valid.json, beside this module (so it ships in the release zip with the code), holds the
schema tag - what "valid" was decided under: the definition schema and CHECKS_VERSION - and, per
shipped file, its key: the key the user folder's validation cache uses (registry.py), a hash of
the file's name and content. The registry takes a shipped file whose key is listed under the
current tag as validated (it still parses the file); a file changed since the index was built
(edited in place, tampered with, a new definition) has another key and is validated like any
other, and so is every file when the schema or the checks changed. Overlay files never are.

The same command keeps the shipped config.yaml's record (core/config.py SHIPPED_DIGEST: the
digest of the shipped settings, which then need no jsonschema either), so that one command
regenerates everything shipped as known-valid. After changing a shipped definition, the
definition schema, CHECKS_VERSION, config.yaml or config.schema.json:

    python3 -m parallel_agents.definitions.shipped_index

It validates every shipped definition and the shipped settings fully first, and writes nothing
when one is invalid; `--check` only says whether both records are current.
tests/test_shipped_index.py (and tests/test_config.py for the settings) fail, naming the
command, when they are not.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from pathlib import Path

from parallel_agents.core.errors import ConfigError, DefinitionError, ParallelAgentsError, Problem
from parallel_agents.core.paths import DEFINITION_SCHEMA, SHIPPED_AGENTS, SHIPPED_CONFIG, display
from parallel_agents.definitions.model import CHECKS_VERSION, check_definition, read_definition_file, \
    read_definition_text

INDEX = Path(__file__).resolve().with_name("shipped-valid.json")
REGENERATE = "python3 -m parallel_agents.definitions.shipped_index"


@functools.lru_cache(maxsize=1)
def schema_tag() -> str:
    """What a recorded "valid" stands for: this definition schema, checked by these checks
    (CHECKS_VERSION). A key recorded under another tag is not trusted."""
    return hashlib.sha256(DEFINITION_SCHEMA.read_bytes()
                          + f"checks {CHECKS_VERSION}".encode()).hexdigest()[:16]


def content_key(path: Path, text: str) -> str:
    """The key of a definition file: its name (which must equal the definition's `name`) and
    its text. Validity depends on nothing else, wherever the file is."""
    return hashlib.sha256(f"{path.stem}\0{text}".encode()).hexdigest()[:32]


def shipped_keys(index: Path | None = None) -> frozenset[str]:
    """The keys the index (default: INDEX) lists as valid under the current schema tag (none
    when the index is missing, unreadable, or was built under another schema or other checks)."""
    index = INDEX if index is None else index
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
        if data.get("schema") != schema_tag() or not isinstance(data.get("files"), dict):
            return frozenset()
        return frozenset(k for k in data["files"].values() if isinstance(k, str))
    except (OSError, ValueError, AttributeError):
        return frozenset()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml") if p.is_file())


def _name(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def current_index(folder: Path | None = None) -> dict:
    """The index the files in `folder` (default: the shipped agents) would get, unvalidated."""
    folder = SHIPPED_AGENTS if folder is None else folder
    files = {}
    for path in _files(folder):
        text, problems = read_definition_text(path)
        files[_name(path, folder)] = None if problems else content_key(path, text)
    return {"schema": schema_tag(), "files": files}


def build_index(folder: Path | None = None) -> dict:
    """The index of `folder` (default: the shipped agents) after validating every file fully;
    DefinitionError listing every problem when one is invalid (an invalid file is never
    indexed)."""
    folder = SHIPPED_AGENTS if folder is None else folder
    problems: list[Problem] = []
    files = {}
    for path in _files(folder):
        data, text, file_problems = read_definition_file(path)
        if not file_problems:
            file_problems = check_definition(data, file=path, text=text, expected_name=path.stem)
        problems += file_problems
        files[_name(path, folder)] = content_key(path, text)
    if problems:
        raise DefinitionError("shipped agent definitions are invalid", problems=problems)
    return {"schema": schema_tag(), "files": files}


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` at once (a reader sees the old file or the new one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_index(data: dict, index: Path | None = None) -> None:
    """Write the index (default: INDEX; sorted: the same files give the same bytes)."""
    _replace(INDEX if index is None else index, json.dumps(data, indent=1, sort_keys=True) + "\n")


def shipped_config_digest() -> str:
    """The digest core/config.py trusts for the shipped settings (its SHIPPED_DIGEST file),
    after validating them fully against config.schema.json; ConfigError when they fail."""
    from parallel_agents.core import config   # here: the registry imports this module, not this
    settings = config.shipped_settings()
    errors = config.schema_errors(settings)
    digest = config.settings_digest(settings)
    if errors or digest is None:
        raise ConfigError("the shipped config.yaml is invalid", file=display(SHIPPED_CONFIG),
                          problems=[Problem(e.message[:160], display(SHIPPED_CONFIG), None,
                                            "/".join(map(str, e.absolute_path)) or None)
                                    for e in errors] or None)
    return digest


def stale_config() -> list[str]:
    """What is out of date in the shipped settings' record (empty: current), unvalidated."""
    from parallel_agents.core import config
    try:
        recorded = config.SHIPPED_DIGEST.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        recorded = None
    if recorded != config.settings_digest(config.shipped_settings()):
        return [f"{display(SHIPPED_CONFIG)} or config.schema.json changed since "
                f"{display(config.SHIPPED_DIGEST)} was written"]
    return []


def stale(folder: Path | None = None, index: Path | None = None) -> list[str]:
    """What differs between the index (default: INDEX) and the files in `folder` (default: the
    shipped agents), one line each; empty when the index is current."""
    index = INDEX if index is None else index
    want = current_index(folder)
    try:
        have = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{display(index)} is missing or not JSON"]
    if not isinstance(have, dict) or not isinstance(have.get("files"), dict):
        return [f"{display(index)} is not an index"]
    found = []
    if have.get("schema") != want["schema"]:
        found.append(f"{display(DEFINITION_SCHEMA)} or CHECKS_VERSION changed")
    for name in sorted(set(want["files"]) | set(have["files"])):
        if name not in have["files"]:
            found.append(f"{name} is not indexed")
        elif name not in want["files"]:
            found.append(f"{name} is indexed but gone")
        elif have["files"][name] != want["files"][name]:
            found.append(f"{name} changed")
    return found


def main(argv: list[str] | None = None) -> int:
    """Regenerate the index of the shipped definitions and the shipped settings' digest (exit
    1, writing nothing, when one of them is invalid), or with --check say whether both are
    current (exit 1 when not)."""
    from parallel_agents.core import config
    from parallel_agents.core.deps import use_user_packages
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--check"]):
        print(f"usage: {REGENERATE} [--check]", file=sys.stderr)
        return 2
    use_user_packages()   # jsonschema and pyyaml where `setup` put them, as the CLI does
    if argv == ["--check"]:
        differences = stale() + stale_config()
        for line in differences:
            print(f"stale: {line}")
        print("the shipped records are current" if not differences else f"regenerate: {REGENERATE}")
        return 1 if differences else 0
    try:   # everything is validated before anything is written
        data, digest = build_index(), shipped_config_digest()
    except ParallelAgentsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return exc.exit_code
    write_index(data)
    _replace(config.SHIPPED_DIGEST, digest + "\n")
    print(f"wrote {display(INDEX)} ({len(data['files'])} definition(s) valid) and "
          f"{display(config.SHIPPED_DIGEST)} (config.yaml valid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
