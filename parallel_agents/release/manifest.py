"""What a release is: its name and version, the set of files it ships, and MANIFEST.json.

The manifest holds the version, the shipped config's values, and every file with its sha256;
it has no dates (same tree, same bytes). It is written into every release zip (packaging.py)
and stays in the installed folder, where it is how `upgrade` tells the user's in-place edits
from shipped files: `local_edits` compares it with the files on disk.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from parallel_agents.core import yamlio
from parallel_agents.core.errors import PackageError, ParallelAgentsError
from parallel_agents.core.paths import display

NAME = "parallel-agents"
MANIFEST = "MANIFEST.json"
MANIFEST_FORMAT = 1
SHIPPED_FILES = ("SKILL.md", "README.md", "USAGE-GUIDE.md", "CHANGELOG.md", "config.yaml",
                 "ai_orchestrator.py", "helpers.py")
SHIPPED_GLOBS = ("requirements*.txt",)
SHIPPED_DIRS = ("parallel_agents", "agents", "examples")
SKIPPED_NAMES = {"__pycache__"}
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# Not part of the shipped set when found in an installed folder: OpenClaw's install record
# (`openclaw skills install` writes .openclaw/source-origin.json) and Python's caches.
LOCAL_ONLY = (".openclaw",)
MAX_MANIFEST_BYTES = 8 << 20    # an installed folder's MANIFEST.json
MAX_INIT_BYTES = 1 << 20        # parallel_agents/__init__.py, where the version is read
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-.]?([0-9A-Za-z][0-9A-Za-z.]*))?$")
VERSION_LINE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


# -- versions -----------------------------------------------------------------------------------

def read_version(tree: Path) -> str:
    """`__version__` of the skill folder `tree` (read from the file, not imported)."""
    init = tree / "parallel_agents" / "__init__.py"
    try:
        match = VERSION_LINE.search(yamlio.read_text(init, max_bytes=MAX_INIT_BYTES))
    except ParallelAgentsError:  # missing, not a regular file, too large, not UTF-8
        match = None
    if not match:
        raise PackageError("no __version__ found", file=display(init), field="__version__",
                           fix='write `__version__ = "X.Y.Z"` in parallel_agents/__init__.py')
    return match.group(1)


def version_key(version: str) -> tuple:
    """Sort key: 0.2.0rc1 < 0.2.0 < 0.2.1 < 0.10.0."""
    match = _VERSION.match(version or "")
    if not match:
        raise PackageError(f"version {version!r} is not X.Y.Z", field="version",
                           fix='use a version like "0.2.0" (optionally with a suffix: "0.2.0rc1")')
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), 0 if pre else 1, pre or ""


# -- the shipped file set -----------------------------------------------------------------------

def _skipped(rel: PurePosixPath) -> bool:
    return any(part in SKIPPED_NAMES or part.startswith(".") for part in rel.parts) or \
        rel.name.endswith(SKIPPED_SUFFIXES)


def shipped_files(tree: Path) -> list[str]:
    """The files a user needs, as sorted POSIX paths relative to `tree`."""
    found = [name for name in SHIPPED_FILES if (tree / name).is_file()]
    for pattern in SHIPPED_GLOBS:
        found += [p.name for p in tree.glob(pattern) if p.is_file()]
    for folder in SHIPPED_DIRS:
        for path in (tree / folder).rglob("*"):
            rel = PurePosixPath(path.relative_to(tree).as_posix())
            if _skipped(rel):
                continue
            if path.is_symlink():
                raise PackageError("symbolic links are not shipped", file=display(path),
                                   fix="replace the link with the file it points to")
            if path.is_file():
                found.append(str(rel))
    missing = [name for name in ("SKILL.md", "config.yaml", "ai_orchestrator.py")
               if name not in found]
    if missing or not any(f.startswith("parallel_agents/") for f in found):
        raise PackageError(f"{display(tree)} is not a parallel-agents skill folder",
                           file=display(tree), fix="run this from the skill's folder "
                           f"(missing: {', '.join(missing) or 'parallel_agents/'})")
    return sorted(set(found))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shipped_config(text: str, shown: str) -> dict:
    data, problem = yamlio.parse(text, shown=shown)
    if problem:
        raise PackageError(problem.message, problems=[problem])
    return data if isinstance(data, dict) else {}


def build_manifest(tree: Path, files: list[str]) -> dict:
    """MANIFEST.json of `files` in `tree`: version, shipped config values, sha256 per file."""
    entries = []
    for rel in files:
        data = (tree / rel).read_bytes()
        entries.append({"path": rel, "sha256": sha256(data), "size": len(data)})
    config_text = (tree / "config.yaml").read_text(encoding="utf-8")
    return {"format": MANIFEST_FORMAT, "name": NAME, "version": read_version(tree),
            "shipped_config": _shipped_config(config_text, display(tree / "config.yaml")),
            "files": entries}


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# -- an installed folder against its manifest -----------------------------------------------------

def read_manifest(folder: Path) -> dict | None:
    """The MANIFEST.json of an installed folder, or None when it has none (or it is unreadable)."""
    try:
        text = yamlio.read_text(folder / MANIFEST, max_bytes=MAX_MANIFEST_BYTES)
    except ParallelAgentsError:  # missing, not a regular file, too large, not UTF-8
        return None
    manifest, problem = yamlio.load_json(text, shown=MANIFEST)
    if problem:
        return None
    if not isinstance(manifest, dict) or manifest.get("name") != NAME or \
            not isinstance(manifest.get("files"), list):
        return None
    return manifest


@dataclass
class Edits:
    """Shipped files changed in place (modified or missing) and files added beside them."""

    modified: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.modified or self.missing or self.added)


def local_edits(folder: Path, manifest: dict) -> Edits:
    """Compare the files in `folder` with `manifest`."""
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    edits = Edits()
    for rel, digest in sorted(listed.items()):
        path = folder / rel
        if not path.is_file():
            edits.missing.append(rel)
        elif sha256(path.read_bytes()) != digest:
            edits.modified.append(rel)
    for path in sorted(folder.rglob("*")):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        if rel.parts[0] in LOCAL_ONLY or str(rel) == MANIFEST or _skipped(rel) or \
                not path.is_file() or str(rel) in listed:
            continue
        edits.added.append(str(rel))
    return edits


def agent_hashes(manifest: dict) -> dict[str, str]:
    """{agent name: sha256} of the agent definitions a manifest lists."""
    return {PurePosixPath(f["path"]).stem: f["sha256"] for f in manifest["files"]
            if f["path"].startswith("agents/") and f["path"].endswith(".yaml")}
