"""Third-party imports with a one-line fix instead of a traceback when they are missing."""
from __future__ import annotations

import importlib
import sys

from .errors import EnvironmentProblem
from .paths import SKILL_DIR

_PIP_NAMES = {"yaml": "pyyaml", "jsonschema": "jsonschema", "referencing": "jsonschema"}


def require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        package = _PIP_NAMES.get(module, module)
        raise EnvironmentProblem(
            f"the Python package {package!r} is not installed",
            fix=f"{sys.executable} -m pip install -r {SKILL_DIR / 'requirements.txt'}") from None
