"""`package`: the release zip, its MANIFEST.json, and reading a zip back safely.

A release is `parallel-agents-<version>.zip` holding one folder, `parallel-agents/`, with only
what a user needs (SKILL.md, docs, config, the code, agents, examples) and `MANIFEST.json`:
the version, the shipped config's values, and every file with its sha256. Same tree, same bytes:
entries are sorted and get a fixed timestamp and fixed permissions; the manifest has no dates.

The manifest is also how `upgrade` tells the user's in-place edits from shipped files: it stays
in the installed folder, and `local_edits` compares it with the files on disk.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from parallel_agents.core import yamlio
from parallel_agents.core.errors import EnvironmentProblem, InputError, PackageError, ParallelAgentsError, Problem
from parallel_agents.core.paths import SKILL_DIR, display

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
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o644
MAX_ENTRIES = 5000
MAX_UNPACKED_BYTES = 64 << 20   # all entries together, inflated
MAX_ZIP_BYTES = 64 << 20        # the zip file itself
MAX_MANIFEST_BYTES = 8 << 20    # an installed folder's MANIFEST.json
MAX_INIT_BYTES = 1 << 20        # parallel_agents/__init__.py, where the version is read
_CHUNK = 1 << 16                # entries inflate this much at a time, never more
_EOCD = b"PK\x05\x06"          # the end-of-central-directory record
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-.]?([0-9A-Za-z][0-9A-Za-z.]*))?$")
_VERSION_LINE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


# -- versions -----------------------------------------------------------------------------------

def read_version(tree: Path) -> str:
    """`__version__` of the skill folder `tree` (read from the file, not imported)."""
    init = tree / "parallel_agents" / "__init__.py"
    try:
        match = _VERSION_LINE.search(yamlio.read_text(init, max_bytes=MAX_INIT_BYTES))
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


# -- checks shared by `package` (before building) and `upgrade` (before installing) ------------

def frontmatter(text: str) -> dict | None:
    """SKILL.md's YAML frontmatter as a mapping, or None when it has none or it does not load."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            data, problem = yamlio.parse("\n".join(lines[1:index]), shown="SKILL.md")
            return data if not problem and isinstance(data, dict) else None
    return None


def check_skill_md(tree: Path, shown: str) -> list[Problem]:
    path = tree / "SKILL.md"
    try:
        meta = frontmatter(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        meta = None
    if meta is None:
        return [Problem("SKILL.md has no YAML frontmatter that loads", f"{shown}/SKILL.md", 1,
                        fix="start it with ---, name: parallel-agents, description: ..., ---")]
    if meta.get("name") != NAME:
        return [Problem(f"SKILL.md names the skill {meta.get('name')!r}, not {NAME!r}",
                        f"{shown}/SKILL.md", None, "name", f"set name: {NAME}")]
    if not isinstance(meta.get("description"), str) or not meta["description"].strip():
        return [Problem("SKILL.md has no description", f"{shown}/SKILL.md", None, "description",
                        "add a description: what the skill does and when to use it")]
    return []


def check_changelog(tree: Path, version: str) -> list[Problem]:
    try:
        text = (tree / "CHANGELOG.md").read_text(encoding="utf-8")
    except OSError:
        text = ""
    if re.search(rf"^## {re.escape(version)}(\s|$)", text, re.M):
        return []
    return [Problem(f"CHANGELOG.md has no entry for version {version}",
                    display(tree / "CHANGELOG.md"), None, "version",
                    f"add a `## {version}` section listing what changed")]


def run_validate(skill: Path, *args: str, home: Path | None = None) -> dict:
    """`validate --json` run by the skill folder's own code (a subprocess: a new version checks
    itself with its own schema, and proves it starts on this Python)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if home is not None:
        env["PARALLEL_AGENTS_HOME"] = str(home)
    script = skill / "ai_orchestrator.py"
    try:
        done = subprocess.run([sys.executable, str(script), "validate", *args, "--json"],
                              capture_output=True, text=True, env=env, timeout=300, cwd=skill)
        if done.returncode not in (0, 1):
            lines = done.stderr.strip().splitlines()
            raise ValueError(lines[-1] if lines else f"exit code {done.returncode}")
        return json.loads(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise PackageError(f"it does not run here: {exc}", file=str(script),
                           fix=f"see what is wrong: {sys.executable} {script} doctor") from None


def report_problems(report: dict) -> list[Problem]:
    keys = Problem.__dataclass_fields__
    return [Problem(**{k: v for k, v in p.items() if k in keys})
            for p in report.get("problems", [])]


def check_release(skill: Path, shown: str) -> None:
    """A skill folder is a working release: SKILL.md loads with our name, and its own code
    finds every shipped agent definition and its config.yaml valid (in an empty user folder)."""
    problems = check_skill_md(skill, shown)
    if not problems:
        with tempfile.TemporaryDirectory(prefix="pa-check-") as empty_home:
            problems = report_problems(run_validate(skill, home=Path(empty_home)))
    if problems:
        raise PackageError(f"{shown} is not a working parallel-agents release", problems=problems)


# -- writing the zip ------------------------------------------------------------------------------

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


# -- reading a zip back ---------------------------------------------------------------------------

@dataclass
class Package:
    """A release zip whose every file matched its manifest hash, held in memory."""

    path: Path
    manifest: dict
    contents: dict[str, bytes] = field(repr=False)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def write_to(self, folder: Path) -> None:
        """Unpack into `folder` (which must not exist yet)."""
        folder.mkdir(parents=True)
        for rel, data in sorted(self.contents.items()):
            dest = folder / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)


def _bad(zip_path: Path, message: str, fix: str, field: str | None = None) -> PackageError:
    return PackageError(message, file=str(zip_path), field=field, fix=fix)


_FIX_DOWNLOAD = "download the zip again, or build it with `python3 ai_orchestrator.py package`"


def _safe_name(name: str) -> bool:
    rel = PurePosixPath(name)
    return bool(name) and "\\" not in name and not rel.is_absolute() and ".." not in rel.parts \
        and ":" not in rel.parts[0]


def _open_zip(zip_path: Path):
    """The open file of a zip: a regular file (a FIFO would block, a device never end) of at
    most MAX_ZIP_BYTES whose end record lists at most MAX_ENTRIES entries (counted before
    zipfile reads its central directory). The caller closes it."""
    shown = str(zip_path)
    try:
        fd = os.open(zip_path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise _bad(zip_path, "file not found", "check the path") from None
    except IsADirectoryError:  # Windows: folders do not open
        raise InputError("is a folder, not a file", file=shown, fix="name a release zip file")
    except (OSError, ValueError) as exc:
        raise _bad(zip_path, f"cannot read it ({getattr(exc, 'strerror', None) or exc})",
                   "check the path") from None
    fh = os.fdopen(fd, "rb")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # bad usage, as for every other file argument
            error = yamlio.not_regular(info.st_mode, shown)
            raise InputError(error.problems[0].message, file=shown, fix="name a release zip "
                             "file (parallel-agents-X.Y.Z.zip), not a folder, pipe or device")
        if info.st_size > MAX_ZIP_BYTES:
            raise _bad(zip_path, f"the zip is {info.st_size} bytes, larger than the "
                       f"{MAX_ZIP_BYTES}-byte limit for a skill package", _FIX_DOWNLOAD)
        fh.seek(max(0, info.st_size - (22 + 0xFFFF)))
        tail = fh.read()
        end = tail.rfind(_EOCD)
        if end >= 0 and len(tail) >= end + 22:
            entries = int.from_bytes(tail[end + 10:end + 12], "little")
            if entries > MAX_ENTRIES:  # 0xFFFF: a zip64 count, which no skill package needs
                raise _bad(zip_path, f"the zip lists {entries} entries, more than the "
                           f"{MAX_ENTRIES} a skill package may have", _FIX_DOWNLOAD)
        fh.seek(0)
        return fh
    except OSError as exc:
        fh.close()
        raise _bad(zip_path, f"not a readable zip file ({exc})", _FIX_DOWNLOAD) from None
    except BaseException:
        fh.close()
        raise


def _most_deflate_needs(size: int) -> int:
    """The most compressed bytes deflate may take for `size` bytes (stored blocks of at most
    65535 bytes with a 5-byte header each, plus some slack): an entry with more compressed data
    than that inflates to more than it declares."""
    return size + 5 * (size // 65535 + 1) + 64


def _inflate(zip_path: Path, archive, info, budget: int) -> bytes:
    """One entry's bytes, inflated _CHUNK at a time: never more than its declared size (an entry
    that inflates past it lies about its size: a zip bomb) nor than `budget` (what is left of
    MAX_UNPACKED_BYTES for the whole zip)."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise _bad(zip_path, f"entry {name!r} is encrypted", _FIX_DOWNLOAD)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _bad(zip_path, f"entry {name!r} uses compression method {info.compress_type}; "
                   "a skill package uses deflate only", _FIX_DOWNLOAD)
    if info.compress_size > _most_deflate_needs(info.file_size) or \
            (info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size):
        raise _bad(zip_path, f"entry {name!r} is refused: its {info.compress_size} compressed "
                   f"bytes cannot inflate to the {info.file_size} bytes it declares (a zip bomb "
                   "lies about its size)", _FIX_DOWNLOAD)
    limit = min(info.file_size, budget)
    parts, size = [], 0
    with archive.open(info) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                why = (f"it inflates to more than its declared {info.file_size} bytes"
                       if size > info.file_size else
                       f"the entries inflate to more than {MAX_UNPACKED_BYTES} bytes in all")
                raise _bad(zip_path, f"entry {name!r} is refused: {why} (a zip bomb?)",
                           _FIX_DOWNLOAD)
            parts.append(chunk)
    return b"".join(parts)


def _read_entries(zip_path: Path) -> dict[str, bytes]:
    with _open_zip(zip_path) as fh:
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
            raise _bad(zip_path, f"not a readable zip file ({exc})", _FIX_DOWNLOAD) from None
        with archive:
            return _read_archive(zip_path, archive)


def _read_archive(zip_path: Path, archive) -> dict[str, bytes]:
    """Every file entry of an open zip, checked and inflated under the caps."""
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise _bad(zip_path, "too many or too large entries for a skill package", _FIX_DOWNLOAD)
    entries: dict[str, bytes] = {}
    total = 0
    for info in infos:
        if not _safe_name(info.filename):
            raise _bad(zip_path, f"unsafe entry name {info.filename!r}", _FIX_DOWNLOAD)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _bad(zip_path, f"entry {info.filename!r} is a symbolic link", _FIX_DOWNLOAD)
        if info.filename in entries:
            raise _bad(zip_path, f"entry {info.filename!r} appears twice", _FIX_DOWNLOAD)
        try:
            data = _inflate(zip_path, archive, info, MAX_UNPACKED_BYTES - total)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
                NotImplementedError, RuntimeError) as exc:  # bad CRC, truncated, odd flags
            raise _bad(zip_path, f"entry {info.filename!r} is damaged ({exc})",
                       _FIX_DOWNLOAD) from None
        entries[info.filename] = data
        total += len(data)
    return entries


def _root(zip_path: Path, entries: dict[str, bytes]) -> str:
    """The folder prefix holding MANIFEST.json: "" or "<folder>/" when everything is in one."""
    if MANIFEST in entries:
        return ""
    tops = {name.split("/", 1)[0] for name in entries}
    if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST}" in entries:
        return f"{next(iter(tops))}/"
    raise _bad(zip_path, f"no {MANIFEST} in the zip: not a parallel-agents release", _FIX_DOWNLOAD,
               MANIFEST)


def _manifest(zip_path: Path, raw: bytes) -> dict:
    try:
        manifest, problem = yamlio.load_json(raw.decode("utf-8"), shown=f"{zip_path}: {MANIFEST}")
    except UnicodeDecodeError:
        manifest, problem = None, None
    if problem:
        raise PackageError(problem.message, problems=[Problem(
            problem.message, str(zip_path), None,
            f"{MANIFEST} line {problem.line}" if problem.line else MANIFEST, _FIX_DOWNLOAD)])
    try:
        files = manifest["files"]
        ok = manifest.get("name") == NAME and isinstance(manifest.get("version"), str) and \
            isinstance(files, list) and all(isinstance(f, dict) and isinstance(f.get("path"), str)
                                            and isinstance(f.get("sha256"), str) for f in files)
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise _bad(zip_path, f"{MANIFEST} is not a {NAME} manifest", _FIX_DOWNLOAD, MANIFEST)
    version_key(manifest["version"])
    return manifest


def read_package(zip_path: Path) -> Package:
    """Open a release zip and check it: safe entries, a manifest that lists exactly the files
    there, every sha256 right. Raises PackageError naming the first kind of problem found."""
    zip_path = Path(zip_path)
    entries = _read_entries(zip_path)
    root = _root(zip_path, entries)
    manifest = _manifest(zip_path, entries[root + MANIFEST])
    contents = {name[len(root):]: data for name, data in entries.items()
                if name.startswith(root) and name != root + MANIFEST}
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    problems = [Problem("listed in the manifest but missing from the zip", str(zip_path), None,
                        path, _FIX_DOWNLOAD) for path in sorted(set(listed) - set(contents))]
    problems += [Problem("in the zip but not in the manifest", str(zip_path), None, path,
                         _FIX_DOWNLOAD) for path in sorted(set(contents) - set(listed))]
    problems += [Problem("sha256 differs from the manifest: the file was changed or damaged",
                         str(zip_path), None, path, _FIX_DOWNLOAD)
                 for path in sorted(set(listed) & set(contents))
                 if sha256(contents[path]) != listed[path]]
    if problems:
        raise PackageError(f"{zip_path} does not match its manifest", problems=problems)
    _check_code_version(zip_path, manifest, contents.get(_INIT))
    contents[MANIFEST] = entries[root + MANIFEST]
    return Package(zip_path, manifest, contents)


_INIT = "parallel_agents/__init__.py"


def _check_code_version(zip_path: Path, manifest: dict, init: bytes | None) -> None:
    """The version is the code's own (`__version__` in parallel_agents/__init__.py): a manifest
    that says otherwise would install as a version it is not, and then block real upgrades."""
    match = None
    if init is not None and len(init) <= MAX_INIT_BYTES:
        match = _VERSION_LINE.search(init.decode("utf-8", errors="replace"))
    if not match:
        raise _bad(zip_path, f"no __version__ in {_INIT}: not a parallel-agents release",
                   _FIX_DOWNLOAD, "version")
    if match.group(1) != manifest["version"]:
        raise _bad(zip_path, f"{MANIFEST} says version {manifest['version']} but the code in it "
                   f"is version {match.group(1)} ({_INIT})",
                   "use a release zip built by `python3 ai_orchestrator.py package`, whose "
                   "manifest is written from the code's own version", "version")


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
