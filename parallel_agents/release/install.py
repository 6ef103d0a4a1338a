"""`install`, `upgrade` and `upgrade --rollback` of the skill folder.

The skill folder (default `$OPENCLAW_STATE_DIR/skills/parallel-agents`) is replaced whole; user
data lives outside it (`user_home()`: config.yaml, agents/, runs/). A new version is unpacked and
checked in a hidden sibling folder, then swapped in with renames; the version before stays as the
hidden sibling `.parallel-agents.previous` for `upgrade --rollback`. Hidden, because OpenClaw
loads every non-hidden folder in its skills directory and would find two `parallel-agents`.

Before replacing, `upgrade` compares the installed files with the installed MANIFEST.json and
keeps the user's in-place edits: edited or added agent definitions move to the overlay folder,
keys changed in the skill's config.yaml move to the user's config.yaml (see `_migrate_agent`
and `_migrate_config`). Nothing here prints; every function returns a report for the CLI.

`upgrade` may run from the very folder it replaces (the installed copy's ai_orchestrator.py):
everything it needs after the swap is imported before it, and the new version is only ever run
in a subprocess.
"""
from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.definitions.model import check_definition
from parallel_agents.core.errors import EnvironmentProblem, InputError
from parallel_agents.release.packaging import (MANIFEST, NAME, Package, PackageError, agent_hashes, build_manifest,
                        build_package, check_release, local_edits, read_manifest, read_package,
                        read_version, report_problems, run_validate, shipped_files, version_key)
from parallel_agents.core.paths import SKILL_DIR, openclaw_state_dir, overlay_agents, user_config, user_home

_HEADER = """\
# Your parallel-agents settings (created by `install`, parallel-agents {version}).
# Every key is commented out, so the shipped defaults apply. To change a setting, uncomment its
# line (and the line of the section it belongs to, e.g. `retry:`) and edit the value. Keys set
# here replace the shipped ones; sections merge key by key; lists (tiers) are replaced whole.
# Upgrades never replace this file. Check it with: python3 ai_orchestrator.py validate
"""


def default_target() -> Path:
    return openclaw_state_dir() / "skills" / NAME


def _sibling(target: Path, what: str) -> Path:
    return target.with_name(f".{target.name}.{what}")


def previous_folder(target: Path) -> Path:
    return _sibling(target, "previous")


def _resolve(target) -> Path:
    return Path(target).expanduser().absolute() if target else default_target()


def _os_error(exc: OSError, path: Path, doing: str) -> EnvironmentProblem:
    return EnvironmentProblem(f"cannot {doing}: {exc.strerror or exc}", file=str(path),
                              fix="check that the folder exists and is writable")


# -- the user folder -------------------------------------------------------------------------

def commented_config(shipped_text: str, version: str) -> str:
    """The shipped config.yaml with every key commented out and its explanations kept."""
    lines = shipped_text.splitlines()
    while lines and lines[0].startswith("#"):  # the shipped file's own header
        lines.pop(0)
    body = [ln if not ln.strip() or ln.startswith("#") else f"# {ln}" for ln in lines]
    return _HEADER.format(version=version) + "\n".join(body).rstrip() + "\n"


def ensure_user_home(skill: Path) -> list[str]:
    """Create the user folder, its agents/ and a commented config.yaml where missing; never
    change what exists. Returns the paths created."""
    home, created = user_home(), []
    try:
        for folder in (home, overlay_agents()):
            if not folder.exists():
                folder.mkdir(parents=True)
                created.append(str(folder))
        config = user_config()
        if not config.exists():
            text = commented_config((skill / "config.yaml").read_text(encoding="utf-8"),
                                    read_version(skill))
            with open(config, "x", encoding="utf-8") as fh:
                fh.write(text)
            created.append(str(config))
    except OSError as exc:
        raise _os_error(exc, home, "create the user folder") from None
    return created


def _has_user_data() -> bool:
    try:
        config, _ = yamlio.parse(user_config().read_text(encoding="utf-8"), shown="config.yaml")
    except (OSError, UnicodeDecodeError):
        config = None
    return config is not None or any(overlay_agents().rglob("*.yaml"))


def _user_data_warnings(skill: Path) -> list[str]:
    """Problems the installed version finds in the user's overlay agents and config (none to
    find without any: the version's own files were checked before it was installed)."""
    if not _has_user_data():
        return []
    try:
        report = run_validate(skill)
    except PackageError as exc:
        return [str(p) for p in exc.problems]
    return [str(problem) for problem in report_problems(report)]


# -- staging -------------------------------------------------------------------------------------

def _stage(package: Package, target: Path, *, checked: bool = False) -> Path:
    """Unpack next to `target` and check it (unless `checked`: built and checked just now)."""
    stage = _sibling(target, f"staging-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        package.write_to(stage)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise _os_error(exc, target.parent, "unpack the new version") from None
    try:
        if not checked:
            check_release(stage, str(package.path))
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return stage


def _checkout_package(tmp: Path) -> Package:
    built = build_package(SKILL_DIR, tmp)
    return read_package(Path(built["path"]))


# -- install -------------------------------------------------------------------------------------

def install(target=None, from_zip=None) -> dict:
    """Install this checkout (or a release zip) into `target`, then create the user folder."""
    target = _resolve(target)
    if target.exists() and target.resolve() == SKILL_DIR and from_zip is None:
        return {"action": "install", "target": str(target), "version": read_version(target),
                "source": "in place", "user_home": str(user_home()),
                "created": ensure_user_home(target)}
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        installed = read_manifest(target)
        raise InputError(f"{target} already exists" + (
            f" (parallel-agents {installed['version']})" if installed else ""), field="--target",
            fix="replace it with `python3 ai_orchestrator.py upgrade ZIP`, or remove it first")
    with tempfile.TemporaryDirectory(prefix="pa-package-") as tmp:
        package = read_package(Path(from_zip)) if from_zip else _checkout_package(Path(tmp))
        stage = _stage(package, target, checked=not from_zip)
    try:
        if target.exists():
            target.rmdir()
        os.rename(stage, target)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise _os_error(exc, target, "install the skill folder") from None
    return {"action": "install", "target": str(target), "version": package.version,
            "source": str(from_zip) if from_zip else f"checkout {SKILL_DIR}",
            "files": len(package.manifest["files"]) + 1, "user_home": str(user_home()),
            "created": ensure_user_home(target)}


# -- upgrade -------------------------------------------------------------------------------------

def _installed(target: Path) -> None:
    if not (target / "SKILL.md").is_file():
        raise InputError(f"no parallel-agents installed at {target}", field="--target",
                         fix="install it first: python3 ai_orchestrator.py install --from ZIP")


def _swap(target: Path, stage: Path) -> Path:
    """stage becomes target; target becomes the previous folder (replacing an older one)."""
    previous = previous_folder(target)
    discard = _sibling(target, f"discard-{os.getpid()}")
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
        raise _os_error(exc, target, "replace the skill folder") from None
    shutil.rmtree(discard, ignore_errors=True)
    return previous


def _flatten(data, prefix=()) -> dict[tuple, object]:
    """{key path: value} for the leaves of nested mappings (lists are leaves). Without
    recursion: a manifest's shipped_config comes from a zip."""
    out, stack = {}, [(prefix, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict) and value:
            stack.extend((path + (str(k),), v) for k, v in reversed(list(value.items())))
        elif path:
            out[path] = value
    return out


def changes(old: dict, new: dict) -> dict:
    """Agents added/removed/changed and config keys added/removed/changed between manifests."""
    old_agents, new_agents = agent_hashes(old), agent_hashes(new)
    old_keys = _flatten(old.get("shipped_config") or {})
    new_keys = _flatten(new.get("shipped_config") or {})
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


def _unused(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`... whichever does not exist yet."""
    candidate, n = path, 2
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}-{n}"), n + 1
    return candidate


def _keep_name(folder: Path, name: str, version: str) -> Path:
    """NAME.edited-in-VERSION: a name the registry does not load (it reads *.yaml only)."""
    return _unused(folder / f"{name}.edited-in-{version}")


def _migrate_agent(target: Path, rel: str, version: str) -> dict:
    """An agent definition edited or added inside the skill folder goes to the overlay as
    NAME.yaml; if the overlay has a different NAME.yaml, or the file is not valid, it is saved
    beside it under a name that is not loaded, and the report says so."""
    source = target / rel
    text = source.read_text(encoding="utf-8", errors="replace")
    stem = Path(rel).stem
    dest = overlay_agents() / f"{stem}.yaml"
    data, problem = yamlio.parse(text, shown=rel)
    invalid = [problem] if problem else check_definition(data, file=source, text=text,
                                                         expected_name=stem)
    overlay_agents().mkdir(parents=True, exist_ok=True)
    if not invalid and dest.exists() and dest.read_text(encoding="utf-8", errors="replace") == text:
        return {"file": rel, "to": str(dest), "note": "already in your overlay"}
    if invalid or dest.exists():
        keep = _keep_name(overlay_agents(), dest.name, version)
        keep.write_text(text, encoding="utf-8")
        why = (f"it is not a valid definition ({invalid[0]})" if invalid else
               f"your overlay already has {dest.name}, which stays in use")
        return {"file": rel, "to": str(keep), "note": f"kept, not in use: {why}; compare it "
                f"with {dest.name} and merge by hand"}
    with open(dest, "x", encoding="utf-8") as fh:
        fh.write(text)
    return {"file": rel, "to": str(dest), "note": "moved to your overlay, in use"}


def _set_path(data: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def _taken(data, path: tuple) -> bool:
    """The user config already decides this key (it or a non-mapping parent is set)."""
    for key in path:
        if not isinstance(data, dict):
            return True
        if key not in data:
            return False
        data = data[key]
    return True


def _migrate_config(target: Path, old_manifest: dict, new_version: str) -> list[dict]:
    """Keys of the skill's config.yaml edited in place go to the user's config.yaml where it
    does not set them already. New top-level keys are appended (comments kept); keys inside a
    section the user already has make us rewrite the file (the old one is kept beside it)."""
    edited_path, user_path = target / "config.yaml", user_config()
    edited, problem = yamlio.parse(edited_path.read_text(encoding="utf-8", errors="replace"),
                                   shown="config.yaml")
    user_text = user_path.read_text(encoding="utf-8") if user_path.exists() else ""
    user, user_problem = yamlio.parse(user_text, shown=str(user_path))
    original = old_manifest.get("shipped_config")
    if problem or user_problem or not isinstance(edited or {}, dict) or \
            not isinstance(user or {}, dict) or not isinstance(original, dict):
        keep = _keep_name(user_home(), "config.yaml", old_manifest["version"])
        user_home().mkdir(parents=True, exist_ok=True)
        shutil.copyfile(edited_path, keep)
        return [{"file": "config.yaml", "to": str(keep),
                 "note": "kept, not in use: the edited or your config does not load as a "
                         "mapping; copy the keys you need into " + str(user_path)}]
    user = user or {}
    before, after = _flatten(original), _flatten(edited or {})
    report, additions = [], {}
    for path in sorted(set(before) | set(after)):
        key = ".".join(path)
        if path not in after:
            report.append({"file": "config.yaml", "key": key, "note": "removed in place; not "
                           "carried over (the shipped value applies)"})
        elif path in before and before[path] == after[path]:
            continue
        elif _taken(user, path):
            report.append({"file": "config.yaml", "key": key, "to": str(user_path),
                           "note": "your config.yaml already sets it; yours is kept"})
        else:
            additions[path] = after[path]
    if not additions:
        return report
    needs_rewrite = any(_taken(user, path[:1]) for path in additions)
    merged = copy.deepcopy(user)
    for path, value in additions.items():
        _set_path(merged, path, value)
    note = f"# Moved here by `upgrade` to {new_version}: edited in the skill's own config.yaml.\n"
    user_home().mkdir(parents=True, exist_ok=True)
    if needs_rewrite:
        backup = _unused(user_home() / f"config.yaml.before-upgrade-to-{new_version}")
        if user_path.exists():
            shutil.copyfile(user_path, backup)
        user_path.write_text(note + yamlio.dump(merged), encoding="utf-8")
        how = f"added to your config.yaml, in use (file rewritten; the old one is {backup.name})"
    else:
        new_top = {k: merged[k] for k in merged if k not in user}
        sep = "" if not user_text or user_text.endswith("\n") else "\n"
        user_path.write_text(user_text + sep + "\n" + note + yamlio.dump(new_top), encoding="utf-8")
        how = "added to your config.yaml, in use"
    report += [{"file": "config.yaml", "key": ".".join(p), "to": str(user_path), "note": how}
               for p in sorted(additions)]
    return report


def _migrate(target: Path, old_manifest: dict, new_version: str) -> tuple[list, list]:
    """Keep in-place edits: returns (kept, not carried over)."""
    edits = local_edits(target, old_manifest)
    kept, left = [], []
    version = old_manifest["version"]
    for rel in edits.modified + edits.added:
        if rel.startswith("agents/") and rel.endswith(".yaml"):
            kept.append(_migrate_agent(target, rel, version))
        elif rel == "config.yaml":
            kept += _migrate_config(target, old_manifest, new_version)
        else:
            left.append({"file": rel, "note": ("edited" if rel in edits.modified else "added")
                         + " in place; not carried over (it stays in the previous version)"})
    left += [{"file": rel, "note": "deleted in place; the new version ships it"}
             for rel in edits.missing]
    return kept, left


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
    target = _resolve(target)
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
    stage = _stage(package, target)
    try:
        kept, left = _migrate(target, old_manifest, package.version) if old_manifest else ([], [])
        origin = target / ".openclaw"  # OpenClaw's install record stays with the skill
        if origin.is_dir():
            shutil.copytree(origin, stage / ".openclaw")
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise _os_error(exc, user_home(), "keep your in-place edits") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    previous = _swap(target, stage)
    baseline = old_manifest or _manifest_of(previous)
    return {"action": "upgrade", "target": str(target), "from": old_version,
            "to": package.version, "previous": str(previous),
            "edits_checked": old_manifest is not None, **changes(baseline, package.manifest),
            "kept": kept, "not_carried_over": left,
            "warnings": _user_data_warnings(target)}


def rollback(target=None) -> dict:
    """Swap the installed folder and the previous one (so a second rollback undoes the first).
    With no installed folder (an upgrade stopped between its two renames), the previous one
    simply moves back."""
    target = _resolve(target)
    previous = previous_folder(target)
    if not target.exists() and (previous / "SKILL.md").is_file():
        try:
            os.rename(previous, target)
        except OSError as exc:
            raise _os_error(exc, target, "move the previous version back") from None
        return {"action": "rollback", "target": str(target), "from": None,
                "to": read_version(target), "previous": None,
                "warnings": _user_data_warnings(target)}
    _installed(target)
    if not (previous / "SKILL.md").is_file():
        raise InputError(f"no previous version kept at {previous}", field="--rollback",
                         fix="rollback works after an upgrade; install the version you want "
                             "with `upgrade ZIP --force`")
    current, before = read_version(target), read_version(previous)
    swap = _sibling(target, f"rollback-{os.getpid()}")
    try:
        os.rename(target, swap)
        try:
            os.rename(previous, target)
        except OSError:
            os.rename(swap, target)
            raise
        os.rename(swap, previous)
    except OSError as exc:
        raise _os_error(exc, target, "swap the skill folders") from None
    return {"action": "rollback", "target": str(target), "from": current, "to": before,
            "previous": str(previous), "warnings": _user_data_warnings(target)}
