"""`validate`: check definition files, folders, the overlay and the config, collecting every
problem rather than stopping at the first."""
from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.definitions.model import AgentDefinition, check_definition, read_definition_file
from parallel_agents.core.errors import ParallelAgentsError, Problem
from parallel_agents.core.paths import SHIPPED_AGENTS, display, overlay_agents, user_config


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # valid definitions that run as a configured OpenClaw agent or require a sandbox
    privileges: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def notes(self) -> list[str]:
        """One line per definition with least-privilege settings (doctor checks them)."""
        return [f"{p['file']}: {p['name']} runs as OpenClaw agent "
                f"{p['agent_id'] or '(the requesting agent)'}"
                + (f", sandbox: {p['sandbox']}" if p["sandbox"] else "") for p in self.privileges]

    def summary(self) -> str:
        files = len(self.checked)
        if self.ok:
            return f"ok: {files} file(s) valid"
        return f"{len(self.problems)} problem(s) in {files} file(s) checked"

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked,
                "problems": [p.to_dict() for p in self.problems], "privileges": self.privileges}


def _expand(paths: list[Path], report: Report) -> list[Path]:
    """The files to check: each file named, and the *.yaml regular files in each folder named.
    A path that is neither a folder nor a regular file (a FIFO, a device, a socket) is a usage
    error: InputError, exit 2 (reading it could block or never end)."""
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.yaml") if p.is_file())
        elif path.exists():
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):
                raise yamlio.not_regular(mode, str(path))
            files.append(path)
        else:
            report.problems.append(Problem("no such file or folder", str(path),
                                           fix="check the path"))
    return files


def _check_names(defs: list[AgentDefinition], report: Report) -> None:
    """Names and aliases must be unique across everything checked together."""
    owner: dict[str, AgentDefinition] = {}
    for d in defs:
        for key in (d.name, *d.aliases):
            if key in owner and owner[key] is not d:
                problem = Problem(
                    f"{key!r} is already used by {display(owner[key].source)}",
                    display(d.source), None, "name" if key == d.name else "aliases",
                    "rename one of them")
                if problem not in report.problems:  # shipped ones are checked twice
                    report.problems.append(problem)
            owner.setdefault(key, d)


def validate_paths(paths: list[Path]) -> Report:
    report = Report()
    include_config = not paths
    if not paths:
        paths = [SHIPPED_AGENTS] + ([overlay_agents()] if overlay_agents().is_dir() else [])
    shipped, overlay = [], []
    for path in _expand(paths, report):
        if path.name == "config.yaml":
            _check_config(path, report)
            continue
        report.checked.append(display(path))
        data, text, problems = read_definition_file(path)
        if not problems:
            problems = check_definition(data, file=path, text=text, expected_name=path.stem)
        report.problems += problems
        if not problems:
            origin = "overlay" if overlay_agents() in path.parents else "shipped"
            d = AgentDefinition.from_dict(data, source=str(path), origin=origin)
            (overlay if origin == "overlay" else shipped).append(d)
            if d.agent_id or d.sandbox:
                report.privileges.append({"name": d.name, "file": display(path),
                                          "agent_id": d.agent_id, "sandbox": d.sandbox})
    _check_names(shipped, report)
    overlay_names = {d.name for d in overlay}
    # an overlay definition replaces a shipped one of the same name: that is not a clash
    _check_names([d for d in shipped if d.name not in overlay_names] + overlay, report)
    if include_config:
        _check_config(None, report)
    return report


def _check_config(path: Path | None, report: Report) -> None:
    from parallel_agents.core.config import load_config
    report.checked.append(display(path) if path else "config.yaml (+ " + display(user_config()) + ")")
    try:
        load_config(user=path if path else True) if path is None or path.name == "config.yaml" else None
    except ParallelAgentsError as exc:
        report.problems += exc.problems
