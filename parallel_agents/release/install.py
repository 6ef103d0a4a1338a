"""`install` of the skill folder, and what `install` and `upgrade` share: the folder's place,
the user folder, and staging a new version beside the folder.

The skill folder (default `$OPENCLAW_STATE_DIR/skills/parallel-agents`) is replaced whole; user
data lives outside it (`user_home()`: config.yaml, agents/, runs/). A new version is unpacked and
checked in a hidden sibling folder, then moved in with a rename (upgrade.py: swapped in, the
version before kept as the hidden sibling `.parallel-agents.previous` for `upgrade --rollback`).
Hidden, because OpenClaw loads every non-hidden folder in its skills directory and would find
two `parallel-agents`. Nothing here prints; every function returns a report for the CLI.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.core.errors import EnvironmentProblem, InputError, PackageError
from parallel_agents.core.paths import SKILL_DIR, openclaw_state_dir, overlay_agents, user_config, user_home
from parallel_agents.release.checks import check_release, report_problems, run_validate
from parallel_agents.release.manifest import NAME, read_manifest, read_version
from parallel_agents.release.packaging import build_package
from parallel_agents.release.zipread import Package, read_package

_HEADER = """\
# Your parallel-agents settings (created by `install`, parallel-agents {version}).
# Every key is commented out, so the shipped defaults apply. To change a setting, uncomment its
# line (and the line of the section it belongs to, e.g. `retry:`) and edit the value. Keys set
# here replace the shipped ones; sections merge key by key; lists (tiers) are replaced whole.
# Upgrades never replace this file. Check it with: python3 ai_orchestrator.py validate
"""


def default_target() -> Path:
    return openclaw_state_dir() / "skills" / NAME


def sibling(target: Path, what: str) -> Path:
    """The hidden folder `.NAME.WHAT` beside `target` (OpenClaw loads no hidden folder)."""
    return target.with_name(f".{target.name}.{what}")


def previous_folder(target: Path) -> Path:
    return sibling(target, "previous")


def resolve_target(target) -> Path:
    """The skill folder a command acts on: `target` (absolute), else default_target()."""
    return Path(target).expanduser().absolute() if target else default_target()


def os_error(exc: OSError, path: Path, doing: str) -> EnvironmentProblem:
    """The typed error of an OSError met while `doing` something to `path`."""
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
        raise os_error(exc, home, "create the user folder") from None
    return created


def _has_user_data() -> bool:
    try:
        config, _ = yamlio.parse(user_config().read_text(encoding="utf-8"), shown="config.yaml")
    except (OSError, UnicodeDecodeError):
        config = None
    return config is not None or any(overlay_agents().rglob("*.yaml"))


def user_data_warnings(skill: Path) -> list[str]:
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

def stage_package(package: Package, target: Path, *, checked: bool = False) -> Path:
    """Unpack next to `target` and check it (unless `checked`: built and checked just now)."""
    stage = sibling(target, f"staging-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        package.write_to(stage)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise os_error(exc, target.parent, "unpack the new version") from None
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
    target = resolve_target(target)
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
        stage = stage_package(package, target, checked=not from_zip)
    try:
        if target.exists():
            target.rmdir()
        os.rename(stage, target)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise os_error(exc, target, "install the skill folder") from None
    return {"action": "install", "target": str(target), "version": package.version,
            "source": str(from_zip) if from_zip else f"checkout {SKILL_DIR}",
            "files": len(package.manifest["files"]) + 1, "user_home": str(user_home()),
            "created": ensure_user_home(target)}
