"""`upgrade` and `upgrade --rollback` of the skill folder.

A new version is staged beside the installed folder (install.py), the user's in-place edits are
kept (migrate.py), then it is swapped in with renames; the version before stays as the hidden
sibling `.parallel-agents.previous`, and a rollback swaps the two back. Nothing here prints;
every function returns a report for the CLI.

`upgrade` may run from the very folder it replaces (the installed copy's ai_orchestrator.py):
everything it needs after the swap is imported before it, and the new version is only ever run
in a subprocess.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from parallel_agents.core.errors import InputError, PackageError
from parallel_agents.core.paths import user_home
from parallel_agents.release.install import (os_error, previous_folder, resolve_target, sibling,
                                             stage_package, user_data_warnings)
from parallel_agents.release.manifest import (MANIFEST, agent_hashes, build_manifest, read_manifest,
                                              read_version, shipped_files, version_key)
from parallel_agents.release.migrate import flatten, keep_edits
from parallel_agents.release.zipread import read_package


def _installed(target: Path) -> None:
    if not (target / "SKILL.md").is_file():
        raise InputError(f"no parallel-agents installed at {target}", field="--target",
                         fix="install it first: python3 ai_orchestrator.py install --from ZIP")


def _swap(target: Path, stage: Path) -> Path:
    """stage becomes target; target becomes the previous folder (replacing an older one)."""
    previous = previous_folder(target)
    discard = sibling(target, f"discard-{os.getpid()}")
    try:
        if previous.exists():
            os.rename(previous, discard)
        os.rename(target, previous)
        try:
            os.rename(stage, target)
        except OSError:
            os.rename(previous, target)
            if discard.exists():
                os.rename(discard, previous)
            raise
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise os_error(exc, target, "replace the skill folder") from None
    shutil.rmtree(discard, ignore_errors=True)
    return previous


def changes(old: dict, new: dict) -> dict:
    """Agents added/removed/changed and config keys added/removed/changed between manifests."""
    old_agents, new_agents = agent_hashes(old), agent_hashes(new)
    old_keys = flatten(old.get("shipped_config") or {})
    new_keys = flatten(new.get("shipped_config") or {})
    dotted = lambda keys: sorted(".".join(k) for k in keys)  # noqa: E731
    return {
        "agents_added": sorted(set(new_agents) - set(old_agents)),
        "agents_removed": sorted(set(old_agents) - set(new_agents)),
        "agents_changed": sorted(n for n in set(old_agents) & set(new_agents)
                                 if old_agents[n] != new_agents[n]),
        "config_keys_added": dotted(set(new_keys) - set(old_keys)),
        "config_keys_removed": dotted(set(old_keys) - set(new_keys)),
        "config_keys_changed": dotted(k for k in set(old_keys) & set(new_keys)
                                      if old_keys[k] != new_keys[k]),
    }


def _manifest_of(folder: Path) -> dict:
    """What a folder without MANIFEST.json ships, for reporting changes."""
    try:
        return build_manifest(folder, shipped_files(folder))
    except (PackageError, OSError):
        return {"files": [], "shipped_config": {}}


def _installed_version(target: Path, manifest: dict | None) -> str:
    """The installed code's own version; its manifest's only when the code has none."""
    try:
        return read_version(target)
    except PackageError:
        if manifest is None:
            raise
        return manifest["version"]


def upgrade(zip_path, target=None, force: bool = False) -> dict:
    """Replace the installed skill with the release in `zip_path`, keeping in-place edits."""
    target = resolve_target(target)
    _installed(target)
    old_manifest = read_manifest(target)
    old_version = _installed_version(target, old_manifest)
    package = read_package(Path(zip_path))
    if version_key(package.version) < version_key(old_version) and not force:
        raise InputError(f"{package.version} is older than the installed {old_version}",
                         field="version", fix="pass --force to downgrade, or `upgrade --rollback` "
                         "to return to the version kept before the last upgrade")
    if package.version == old_version and not force:  # it would replace the rollback copy
        raise InputError(f"{old_version} is already installed", field="version",
                         fix="pass --force to reinstall it (the copy kept for --rollback is then "
                             "this version)")
    if old_manifest is None and not force:
        raise PackageError(f"{target} has no {MANIFEST}: in-place edits cannot be told apart",
                           file=str(target), fix="pass --force to replace it anyway (the current "
                           "folder is kept as the previous version; copy edits from there)")
    stage = stage_package(package, target)
    try:
        kept, left = keep_edits(target, old_manifest, package.version) if old_manifest else ([], [])
        origin = target / ".openclaw"  # OpenClaw's install record stays with the skill
        if origin.is_dir():
            shutil.copytree(origin, stage / ".openclaw")
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise os_error(exc, user_home(), "keep your in-place edits") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    previous = _swap(target, stage)
    baseline = old_manifest or _manifest_of(previous)
    return {"action": "upgrade", "target": str(target), "from": old_version,
            "to": package.version, "previous": str(previous),
            "edits_checked": old_manifest is not None, **changes(baseline, package.manifest),
            "kept": kept, "not_carried_over": left,
            "warnings": user_data_warnings(target)}


def rollback(target=None) -> dict:
    """Swap the installed folder and the previous one (so a second rollback undoes the first).
    With no installed folder (an upgrade stopped between its two renames), the previous one
    simply moves back."""
    target = resolve_target(target)
    previous = previous_folder(target)
    if not target.exists() and (previous / "SKILL.md").is_file():
        try:
            os.rename(previous, target)
        except OSError as exc:
            raise os_error(exc, target, "move the previous version back") from None
        return {"action": "rollback", "target": str(target), "from": None,
                "to": read_version(target), "previous": None,
                "warnings": user_data_warnings(target)}
    _installed(target)
    if not (previous / "SKILL.md").is_file():
        raise InputError(f"no previous version kept at {previous}", field="--rollback",
                         fix="rollback works after an upgrade; install the version you want "
                             "with `upgrade ZIP --force`")
    current, before = read_version(target), read_version(previous)
    swap = sibling(target, f"rollback-{os.getpid()}")
    try:
        os.rename(target, swap)
        try:
            os.rename(previous, target)
        except OSError:
            os.rename(swap, target)
            raise
        os.rename(swap, previous)
    except OSError as exc:
        raise os_error(exc, target, "swap the skill folders") from None
    return {"action": "rollback", "target": str(target), "from": current, "to": before,
            "previous": str(previous), "warnings": user_data_warnings(target)}
