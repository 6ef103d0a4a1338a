"""`package`: the release zip, `parallel-agents-<version>.zip`.

It holds one folder, `parallel-agents/`, with only what a user needs (SKILL.md, docs, config, the
code, agents, examples; manifest.py: the shipped file set) and its `MANIFEST.json`. Same tree,
same bytes: entries are sorted and get a fixed timestamp and fixed permissions. A zip is read
back by zipread.py.
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

from parallel_agents.core.errors import EnvironmentProblem, PackageError
from parallel_agents.core.paths import SKILL_DIR, display
from parallel_agents.release.checks import check_changelog, check_release
from parallel_agents.release.manifest import (MANIFEST, NAME, build_manifest, manifest_bytes,
                                              read_version, sha256, shipped_files, version_key)

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o644


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(f"{NAME}/{name}", date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so the permission bits below are honoured
    info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
    return info


def zip_bytes(tree: Path, files: list[str], manifest: dict) -> bytes:
    contents = {rel: (tree / rel).read_bytes() for rel in files}
    contents[MANIFEST] = manifest_bytes(manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for rel in sorted(contents):
            archive.writestr(_entry(rel), contents[rel], compresslevel=9)
    return buffer.getvalue()


def zip_name(version: str) -> str:
    return f"{NAME}-{version}.zip"


def build_package(tree: Path = SKILL_DIR, out: Path | None = None) -> dict:
    """Check the skill folder, then write dist/parallel-agents-<version>.zip (atomically).
    Returns {path, version, files, size, sha256}."""
    tree = Path(tree).resolve()
    files = shipped_files(tree)
    version = read_version(tree)
    version_key(version)
    problems = check_changelog(tree, version)
    if problems:
        raise PackageError("the skill folder cannot be packaged", problems=problems)
    check_release(tree, display(tree))
    data = zip_bytes(tree, files, build_manifest(tree, files))
    out = Path(out) if out else tree / "dist"
    path = out / zip_name(version)
    tmp = out / f".{path.name}.{os.getpid()}.tmp"
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EnvironmentProblem(f"cannot write the package: {exc.strerror or exc}", file=str(out),
                                 fix="choose a writable folder with --out") from None
    return {"path": str(path), "version": version, "files": len(files) + 1, "size": len(data),
            "sha256": sha256(data)}
