"""Is a skill folder a working release: checks shared by `package` (before building) and
`upgrade` (before installing). SKILL.md's frontmatter names the skill, CHANGELOG.md has the
version's entry, and the folder's own code validates its agents and config.yaml (a subprocess).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.core.errors import PackageError, Problem
from parallel_agents.core.paths import display
from parallel_agents.release.manifest import NAME


def frontmatter(text: str) -> dict | None:
    """SKILL.md's YAML frontmatter as a mapping, or None when it has none or it does not load."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            data, problem = yamlio.parse("\n".join(lines[1:index]), shown="SKILL.md")
            return data if not problem and isinstance(data, dict) else None
    return None


def check_skill_md(tree: Path, shown: str) -> list[Problem]:
    path = tree / "SKILL.md"
    try:
        meta = frontmatter(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        meta = None
    if meta is None:
        return [Problem("SKILL.md has no YAML frontmatter that loads", f"{shown}/SKILL.md", 1,
                        fix="start it with ---, name: parallel-agents, description: ..., ---")]
    if meta.get("name") != NAME:
        return [Problem(f"SKILL.md names the skill {meta.get('name')!r}, not {NAME!r}",
                        f"{shown}/SKILL.md", None, "name", f"set name: {NAME}")]
    if not isinstance(meta.get("description"), str) or not meta["description"].strip():
        return [Problem("SKILL.md has no description", f"{shown}/SKILL.md", None, "description",
                        "add a description: what the skill does and when to use it")]
    return []


def check_changelog(tree: Path, version: str) -> list[Problem]:
    try:
        text = (tree / "CHANGELOG.md").read_text(encoding="utf-8")
    except OSError:
        text = ""
    if re.search(rf"^## {re.escape(version)}(\s|$)", text, re.M):
        return []
    return [Problem(f"CHANGELOG.md has no entry for version {version}",
                    display(tree / "CHANGELOG.md"), None, "version",
                    f"add a `## {version}` section listing what changed")]


def run_validate(skill: Path, *args: str, home: Path | None = None) -> dict:
    """`validate --json` run by the skill folder's own code (a subprocess: a new version checks
    itself with its own schema, and proves it starts on this Python)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if home is not None:
        env["PARALLEL_AGENTS_HOME"] = str(home)
    script = skill / "ai_orchestrator.py"
    try:
        done = subprocess.run([sys.executable, str(script), "validate", *args, "--json"],
                              capture_output=True, text=True, env=env, timeout=300, cwd=skill)
        if done.returncode not in (0, 1):
            lines = done.stderr.strip().splitlines()
            raise ValueError(lines[-1] if lines else f"exit code {done.returncode}")
        return json.loads(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise PackageError(f"it does not run here: {exc}", file=str(script),
                           fix=f"see what is wrong: {sys.executable} {script} doctor") from None


def report_problems(report: dict) -> list[Problem]:
    keys = Problem.__dataclass_fields__
    return [Problem(**{k: v for k, v in p.items() if k in keys})
            for p in report.get("problems", [])]


def check_release(skill: Path, shown: str) -> None:
    """A skill folder is a working release: SKILL.md loads with our name, and its own code
    finds every shipped agent definition and its config.yaml valid (in an empty user folder)."""
    problems = check_skill_md(skill, shown)
    if not problems:
        with tempfile.TemporaryDirectory(prefix="pa-check-") as empty_home:
            problems = report_problems(run_validate(skill, home=Path(empty_home)))
    if problems:
        raise PackageError(f"{shown} is not a working parallel-agents release", problems=problems)
