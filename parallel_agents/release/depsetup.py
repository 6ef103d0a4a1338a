"""`setup`: install the skill's own Python packages (requirements.txt) for the interpreter that
runs it, into `<user folder>/python/<tag>/` (parallel_agents.core.deps says why and where).

- Only our folder is written: `pip install --target` works for Debian's and Ubuntu's system
  python3, whose pip refuses to touch the system (PEP 668); nothing is asked of the system, and
  the skill folder stays as shipped (upgrades replace it).
- An interrupted setup never leaves a folder that looks complete: pip installs into a hidden
  temp folder beside the target, the `.complete` marker (with the hash of requirements.txt) is
  written last, and the folder is renamed into place; entry points use a folder only with it.
- Running it again is a quick no-op while the folder is complete and requirements.txt is the
  same; nothing is installed when this interpreter has the requirements already (a venv).
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from parallel_agents.core import deps
from parallel_agents.core.errors import EnvironmentProblem

INSTALLED, ALREADY, NOT_NEEDED = "installed", "already set up", "not needed"
DEBIAN = Path("/etc/debian_version")  # Debian and Ubuntu: pip comes as the python3-pip package


@dataclass
class SetupReport:
    """What `setup` did: `status` is installed, already set up, or not needed."""

    status: str
    python: str
    folder: str
    requirements: list[str]
    packages: dict[str, str] = field(default_factory=dict)  # name -> version, in the folder
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def requirement_lines(path: Path | None = None) -> list[str]:
    text = (path or deps.REQUIREMENTS).read_text(encoding="utf-8")
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]


def requirements_hash(path: Path | None = None) -> str:
    return hashlib.sha256((path or deps.REQUIREMENTS).read_bytes()).hexdigest()


def read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / deps.COMPLETE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _has_modules(folder: Path) -> bool:
    return all(importlib.machinery.PathFinder.find_spec(m, [str(folder)]) is not None
               for m in deps.CHECKED_MODULES)


def is_current(folder: Path) -> bool:
    """Complete, for this requirements.txt, and nothing of it deleted since."""
    marker = read_marker(folder)
    return bool(marker) and marker.get("requirements_sha256") == requirements_hash() \
        and _has_modules(folder)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(m.group()) if (m := re.match(r"\d+", part)) else 0
                 for part in text.split("."))


def interpreter_satisfies(requirements: list[str], exclude: Path) -> bool:
    """True when this interpreter, without our folder, has every requirement (`name>=X` or a
    bare name; anything else counts as not satisfied) and every module they bring."""
    paths = [p for p in sys.path if Path(p or ".").resolve() != exclude.resolve()]
    for line in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(?:>=\s*([0-9][0-9.]*))?", line)
        if not match:
            return False
        found = list(importlib.metadata.distributions(name=match.group(1), path=paths))
        if not found or (match.group(2) and
                         _version(found[0].version) < _version(match.group(2))):
            return False
    return all(importlib.machinery.PathFinder.find_spec(m, paths) is not None
               for m in deps.CHECKED_MODULES)


def pip_command() -> list[str]:
    """How pip is run: the interpreter's own pip, so the wheels match its ABI."""
    return [sys.executable, "-m", "pip"]


def _pip_missing_fix(python: str) -> str:
    version = "%d.%d" % sys.version_info[:2]
    if sys.prefix != sys.base_prefix:  # a venv made without pip
        return f"{python} -m ensurepip, then run setup again"
    if DEBIAN.exists():
        return f"sudo apt install python3-pip, then run setup again (or run setup with a " \
               f"python{version} that has pip)"
    return f"install pip for {python} ({python} -m ensurepip --user), then run setup again"


def _pip_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    text = (errors[0] if errors else lines[-1] if lines else "no output")
    return text.removeprefix("ERROR:").strip()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    if os.name != "posix":
        return True  # cannot tell cheaply: leave it (hidden, never used)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_leftovers(root: Path, tag: str) -> None:
    """Temp folders of setups that were killed (never used: they have a leading dot)."""
    for path in root.glob(f".{tag}.*-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _install(folder: Path, requirements: list[str], progress: Callable[[str], None]) -> dict:
    """pip into a temp folder beside `folder`, marker last, rename into place."""
    python = sys.executable
    root, tag = folder.parent, folder.name
    root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(root, tag)
    temp = root / f".{tag}.partial-{os.getpid()}"
    old = root / f".{tag}.old-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    argv = [*pip_command(), "install", "--target", str(temp), "--disable-pip-version-check",
            "--no-warn-script-location", "--no-input", "--quiet", "-r", str(deps.REQUIREMENTS)]
    progress(f"setup: installing {', '.join(requirements)} for {python} into {folder} "
             "(pip, from the package index) ...")
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        if done.returncode != 0:
            if "No module named pip" in done.stdout:
                raise EnvironmentProblem(f"pip is not installed for {python}", field="setup",
                                         fix=_pip_missing_fix(python))
            reason = _pip_error(done.stdout) if done.returncode > 0 else \
                f"pip was stopped by signal {-done.returncode}"
            raise EnvironmentProblem(
                f"pip could not install {', '.join(requirements)} for {python}: {reason}",
                field="setup", fix=f"check that this machine reaches the package index (pip's "
                                   f"settings apply: pip.conf, PIP_INDEX_URL), then run "
                                   f"{deps.setup_command()} again")
        if not _has_modules(temp):
            raise EnvironmentProblem(
                f"pip finished but {temp} lacks some of {', '.join(deps.CHECKED_MODULES)}",
                field="setup", fix=f"run {deps.setup_command()} --force")
        found = sorted(importlib.metadata.distributions(path=[str(temp)]),
                       key=lambda d: d.metadata["Name"].lower())
        marker = {"requirements_sha256": requirements_hash(), "python": python,
                  "version": sys.version.split()[0],
                  "packages": {d.metadata["Name"]: d.version for d in found},
                  "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (temp / deps.COMPLETE_MARKER).write_text(json.dumps(marker, indent=1) + "\n",
                                                 encoding="utf-8")
        if folder.exists():
            folder.rename(old)
        try:
            temp.rename(folder)
        except OSError:
            if old.exists() and not folder.exists():
                old.rename(folder)
            raise
        return marker["packages"]
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def setup(*, force: bool = False, progress: Callable[[str], None] = lambda line: None) \
        -> SetupReport:
    """Make this interpreter able to run the skill: install requirements.txt into its package
    folder unless that is done already (or the interpreter has them itself); `force` installs
    anyway. Raises EnvironmentProblem (exit 3) when pip is missing or fails."""
    started = time.monotonic()
    folder = deps.packages_dir()
    requirements = requirement_lines()
    report = SetupReport(ALREADY, sys.executable, str(folder), requirements)
    if not force and is_current(folder):
        report.packages = read_marker(folder).get("packages", {})
    elif not force and not folder.exists() and interpreter_satisfies(requirements, folder):
        report.status = NOT_NEEDED
    else:
        if importlib.util.find_spec("pip") is None:
            raise EnvironmentProblem(f"pip is not installed for {sys.executable}", field="setup",
                                     fix=_pip_missing_fix(sys.executable))
        report.status, report.packages = INSTALLED, _install(folder, requirements, progress)
    report.seconds = round(time.monotonic() - started, 2)
    return report
