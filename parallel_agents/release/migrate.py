"""Keeping the user's in-place edits when `upgrade` replaces the skill folder.

`upgrade` compares the installed files with the installed MANIFEST.json (manifest.local_edits):
edited or added agent definitions move to the overlay folder (`_migrate_agent`), keys changed
in the skill's config.yaml move to the user's config.yaml (`_migrate_config`); any other edit
stays in the previous version, and the report says so.
"""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.core.paths import overlay_agents, user_config, user_home
from parallel_agents.definitions.model import check_definition
from parallel_agents.release.manifest import local_edits


def flatten(data, prefix=()) -> dict[tuple, object]:
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
    before, after = flatten(original), flatten(edited or {})
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


def keep_edits(target: Path, old_manifest: dict, new_version: str) -> tuple[list, list]:
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
