"""OpenClaw's own tools accept the skill. Needs the openclaw npm package (installed by
.ci/install-openclaw into ~/.cache/parallel-agents); in CI (PARALLEL_AGENTS_REQUIRE_OPENCLAW=1)
a missing package fails instead of skipping."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openclaw_package import package_dir

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.openclaw


@pytest.fixture(scope="module")
def openclaw_dir() -> Path:
    return package_dir()


def test_quick_validate_accepts_the_skill(openclaw_dir):
    script = openclaw_dir / "skills" / "skill-creator" / "scripts" / "quick_validate.py"
    done = subprocess.run([sys.executable, str(script), str(REPO)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "Skill is valid!"


def test_quick_validate_rejects_a_skill_md_without_frontmatter(openclaw_dir, tmp_path):
    """The check can fail: the seed's SKILL.md had no frontmatter, and this is what it got."""
    (tmp_path / "SKILL.md").write_text("# Parallel Agents Skill - REAL AI Edition\n")
    script = openclaw_dir / "skills" / "skill-creator" / "scripts" / "quick_validate.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "frontmatter" in done.stdout
