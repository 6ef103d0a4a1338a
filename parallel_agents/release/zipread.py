"""Reading a release zip back safely: every entry checked and inflated under caps (entries,
bytes, no zip bombs, no unsafe names or links), then checked against its MANIFEST.json (every
file listed, every sha256 right, the version the code's own).
"""
from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from parallel_agents.core import yamlio
from parallel_agents.core.errors import InputError, PackageError, Problem
from parallel_agents.release.manifest import (MANIFEST, MAX_INIT_BYTES, NAME, VERSION_LINE, sha256,
                                              version_key)

MAX_ENTRIES = 5000
MAX_UNPACKED_BYTES = 64 << 20   # all entries together, inflated
MAX_ZIP_BYTES = 64 << 20        # the zip file itself
_CHUNK = 1 << 16                # entries inflate this much at a time, never more
_EOCD = b"PK\x05\x06"          # the end-of-central-directory record


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
        match = VERSION_LINE.search(init.decode("utf-8", errors="replace"))
    if not match:
        raise _bad(zip_path, f"no __version__ in {_INIT}: not a parallel-agents release",
                   _FIX_DOWNLOAD, "version")
    if match.group(1) != manifest["version"]:
        raise _bad(zip_path, f"{MANIFEST} says version {manifest['version']} but the code in it "
                   f"is version {match.group(1)} ({_INIT})",
                   "use a release zip built by `python3 ai_orchestrator.py package`, whose "
                   "manifest is written from the code's own version", "version")
