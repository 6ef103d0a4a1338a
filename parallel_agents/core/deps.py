"""The skill's third-party packages (requirements.txt: jsonschema, pyyaml): where `setup` puts
them, putting that folder on sys.path, and one line with the fix instead of a traceback when
they are missing.

Why a folder of our own: OpenClaw's `exec` runs the system python3 first (/usr/bin), and
Debian's and Ubuntu's refuse `pip install` (PEP 668, "externally-managed-environment"). So
`setup` (parallel_agents.release.depsetup) installs the requirements with `pip install --target` into
`<user folder>/python/<tag>/`, one folder per interpreter ABI (rpds-py and PyYAML ship compiled
code), outside the skill folder so that upgrades keep it. The entry points (ai_orchestrator.py,
helpers.py) call use_user_packages() before anything imports those packages.

Stdlib only and cheap: this runs on every CLI start (no subprocess, no pip, no import of the
packages themselves; find_spec only looks for them).
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from parallel_agents.core.paths import SKILL_DIR, user_home  # errors (dataclasses) only when one is raised

REQUIREMENTS = SKILL_DIR / "requirements.txt"
COMPLETE_MARKER = ".complete"  # written last, inside the folder, before it is renamed into place

# Top-level modules of the requirements and of what they pull in -> the requirement to name.
_PACKAGE_OF = {"jsonschema": "jsonschema", "referencing": "jsonschema",
               "jsonschema_specifications": "jsonschema", "rpds": "jsonschema",
               "attrs": "jsonschema", "attr": "jsonschema", "typing_extensions": "jsonschema",
               "yaml": "pyyaml", "_yaml": "pyyaml"}
_OWN_MODULE = {"jsonschema": "jsonschema", "pyyaml": "yaml"}
# What check_installed() looks for before a command runs (what an old jsonschema lacks too).
CHECKED_MODULES = ("jsonschema", "referencing", "jsonschema_specifications", "rpds", "attrs",
                   "yaml")


def python_tag() -> str:
    """The interpreter's ABI as its extension modules are named, e.g. `cpython-311-x86_64-linux-gnu`
    (`cp311-win_amd64` on Windows); the machine is added when the name lacks it (macOS).
    Interpreters with the same tag can share compiled wheels, so they share a folder."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]  # '.cpython-311-x86_64-linux-gnu.so'
    tag = suffix[1:].rsplit(".", 1)[0] if suffix.count(".") >= 2 else \
        f"{sys.implementation.cache_tag}-{sys.platform}"
    machine = os.uname().machine if hasattr(os, "uname") else ""
    return f"{tag}-{machine}" if machine and machine not in tag else tag


def packages_dir() -> Path:
    """Where `setup` installs the requirements for this interpreter."""
    return user_home() / "python" / python_tag()


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE_MARKER).is_file()


def use_user_packages() -> Path | None:
    """Put this interpreter's package folder on sys.path, right after the skill folder and
    before the interpreter's own site-packages (an old system jsonschema without `referencing`
    must not win), when `setup` completed it. Returns the folder, or None when there is none."""
    folder = packages_dir()
    if not is_complete(folder):
        return None
    entry = str(folder)
    if entry not in sys.path:
        skill = str(SKILL_DIR)
        sys.path.insert(sys.path.index(skill) + 1 if skill in sys.path else 0, entry)
    return folder


def setup_command() -> str:
    """The command that fixes a missing dependency for THIS interpreter."""
    import shlex
    return " ".join(shlex.quote(part) for part in
                    (sys.executable or "python3", str(SKILL_DIR / "ai_orchestrator.py"), "setup"))


def missing_dependency(modules: list[str], detail: str | None = None):
    """MissingDependency for top-level modules that cannot be imported, naming the requirements
    that bring them (jsonschema, pyyaml) and, as the fix, the setup command."""
    from parallel_agents.core.errors import MissingDependency
    packages = sorted({_PACKAGE_OF.get(m, m) for m in modules})
    own = all(_OWN_MODULE.get(p) in modules for p in packages)
    names = " and ".join(packages)
    plural = len(packages) > 1
    where = f"for {sys.executable or 'this Python'}"
    if own and not detail:
        message = f"the Python package{'s' if plural else ''} {names} " \
                  f"{'are' if plural else 'is'} not installed {where}"
    else:
        others = ", ".join(m for m in modules if m not in _OWN_MODULE.values())
        detail = detail or f"no module named {others!r}"
        message = f"the Python package{'s' if plural else ''} {names} " \
                  f"{'are' if plural else 'is'} missing or too old {where} ({detail})"
    return MissingDependency(message, module=modules[0], fix=setup_command())


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses it; a half-imported module
        return False


def missing_modules(modules=CHECKED_MODULES) -> list[str]:
    """The modules of `modules` that this interpreter cannot find (nothing is imported)."""
    return [m for m in modules if not _findable(m)]


def check_installed() -> None:
    """Raise MissingDependency unless every dependency module can be found: called before a
    command runs, so that a missing package is one line and exit 3 wherever it is first used
    (even in a worker thread), not a failed task or an internal error."""
    missing = missing_modules()
    if missing:
        raise missing_dependency(missing)


def as_missing_dependency(exc: ImportError):
    """MissingDependency for an ImportError of one of our dependencies (also a broken or too
    old one: `cannot import name ... from 'jsonschema'`); None for any other ImportError, which
    is a bug of ours."""
    from parallel_agents.core.errors import MissingDependency
    if isinstance(exc, MissingDependency):
        return exc
    module = (exc.name or "").partition(".")[0]
    if module not in _PACKAGE_OF:
        return None
    if isinstance(exc, ModuleNotFoundError) and exc.name == module:
        return missing_dependency([module])
    return missing_dependency([module], detail=str(exc))


@contextmanager
def dependencies_required():
    """Check the dependencies, then turn an ImportError of one of them inside the block into
    MissingDependency (an ImportError too) with the setup command as the fix."""
    check_installed()
    try:
        yield
    except ImportError as exc:
        problem = as_missing_dependency(exc)
        if problem is None or problem is exc:
            raise
        raise problem from None


def import_attr(module: str, name: str):
    """`module.name` for the API facade (ai_orchestrator's lazy names): errors need nothing, the
    rest needs the dependencies."""
    if module == "parallel_agents.core.errors":
        return getattr(importlib.import_module(module), name)
    with dependencies_required():
        return getattr(importlib.import_module(module), name)


def require(module: str):
    """Import a dependency module, or raise MissingDependency naming the setup command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise (as_missing_dependency(exc) or missing_dependency([module], detail=str(exc))) \
            from None
