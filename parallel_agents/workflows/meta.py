"""Agents that create agents: the creator/reviewer workflow, turning a design into a definition,
and installing it into the user's overlay folder.

    tasks = create_meta_agent_workflow([{"name": "bug_hunter", "purpose": "Find bugs in code"}])
    results = orch.run_parallel(tasks)              # creators in parallel, each reviewer after
    for design in collect_designs(tasks, results):  # its creator, fed its design as `definition`
        if design.installable:
            install_agent(design.definition)         # $PARALLEL_AGENTS_HOME/agents/NAME.yaml
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from parallel_agents.definitions.model import FIELDS, AgentDefinition, check_definition, read_definition_file
from parallel_agents.core.errors import DefinitionError, InputError, Problem
from parallel_agents.core.paths import display, overlay_agents
from parallel_agents.engine.tasks import AgentResult, AgentTask

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
DEFAULT_CATEGORY = "custom"
DEFAULT_TIER = "balanced"
DEFAULT_TIMEOUT = 180
REQUEST_KEYS = ("name", "purpose", "domain", "capabilities")


# -- names ---------------------------------------------------------------------------------------

def snake_name(text, *, limit: int = 64, prefix: str = "agent") -> str | None:
    """`text` in lower snake case (`Bug Hunter!` -> `bug_hunter`), or None when nothing is left."""
    if not isinstance(text, str):
        return None
    words = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    if not words:
        return None
    if not words[0].isalpha():
        words = f"{prefix}_{words}"
    words = words[:limit].rstrip("_")
    return words if len(words) >= 2 else None


# -- the workflow ----------------------------------------------------------------------------------

def agent_request(spec, index: int = 0) -> dict:
    """A creation request from the seed's dict (name/purpose, optional domain/capabilities; any
    may be missing, other keys are passed on) or a bare name."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise InputError(f"agent request {index} must be a mapping like {{'name': ..., 'purpose': ...}}",
                         field=f"new_agents[{index}]", fix="give at least a name or a purpose")
    request = {k: v for k, v in spec.items() if v not in (None, "", [], {})}
    if not request.get("name") and not request.get("purpose"):
        raise InputError(f"agent request {index} has neither a name nor a purpose",
                         field=f"new_agents[{index}]", fix="add `name` or `purpose`")
    return request


def request_name(request: dict, index: int = 0) -> str:
    """The agent name a request asks for (derived from the purpose when no name is given)."""
    name = snake_name(request.get("name")) or snake_name(request.get("purpose"), limit=40)
    return name or f"new_agent_{index + 1}"


def create_meta_agent_workflow(new_agents, *, review: bool = True, registry=None) -> list[AgentTask]:
    """For each requested agent, an agent_creator task (`create-NAME`) and an
    agent_design_reviewer task (`review-NAME`) that runs after it and gets its design as
    `definition` (and the request as `requirements`). Creators are independent, so they all
    run at once."""
    from parallel_agents.workflows.teams import agent_task
    if isinstance(new_agents, (str, dict)) or not new_agents:
        raise InputError("new_agents must be a non-empty list of requests", field="new_agents",
                         fix="pass e.g. [{'name': 'bug_hunter', 'purpose': 'Find bugs in code'}]")
    tasks, seen = [], {}
    for i, spec in enumerate(new_agents):
        request = agent_request(spec, i)
        name = request_name(request, i)
        if name in seen:
            raise InputError(f"agent {name!r} is requested twice (requests {seen[name]} and {i})",
                             field=f"new_agents[{i}].name", fix="give each new agent its own name")
        seen[name] = i
        purpose = f": {request['purpose']}" if request.get("purpose") else ""
        creator = agent_task("agent_creator", f"Design a new agent type named {name}{purpose}",
                             request, registry=registry, task_id=f"create-{name}")
        tasks.append(creator)
        if review:
            tasks.append(agent_task(
                "agent_design_reviewer",
                f"Review the design of the agent {name} against its request (requirements).",
                {"requirements": request}, registry=registry, task_id=f"review-{name}",
                input_from={"definition": creator.task_id}))
    return tasks


# -- design -> definition ----------------------------------------------------------------------------

def _tier_names() -> list[str]:
    from parallel_agents.core.config import load_config
    return [t.name for t in load_config().tiers]


def normalise_design(design, *, name: str | None = None, tiers: list[str] | None = None) -> dict:
    """A created design in our definition format: unknown keys dropped, name (the requested one
    when given) and category in lower snake case, aliases cleaned, tier set to a configured one,
    timeout filled and clamped. The result still needs `check_definition`."""
    if isinstance(design, AgentDefinition):
        design = design.to_dict()
    if not isinstance(design, dict):
        return {}
    out = {k: design[k] for k in FIELDS if k in design and design[k] is not None}
    out["name"] = snake_name(name) or snake_name(out.get("name")) or out.get("name")
    out["category"] = snake_name(out.get("category"), limit=32) or DEFAULT_CATEGORY
    aliases = [a for a in (snake_name(x) for x in out.get("aliases") or [] if isinstance(x, str))
               if a and a != out["name"]]
    if aliases:
        out["aliases"] = list(dict.fromkeys(aliases))
    else:
        out.pop("aliases", None)
    if isinstance(out.get("description"), str):
        out["description"] = " ".join(out["description"].split())[:300]
    tiers = tiers if tiers is not None else _tier_names()
    if out.get("tier") not in tiers:
        out["tier"] = DEFAULT_TIER if DEFAULT_TIER in tiers or not tiers else tiers[0]
    timeout = out.get("timeout_seconds")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        timeout = DEFAULT_TIMEOUT
    out["timeout_seconds"] = int(min(3600, max(10, timeout)))
    if out.get("output_format") != "json":
        out.pop("output_schema", None)
    # which OpenClaw agent (tool policy, workspace) children run as is the operator's call, never
    # a model's: a designed agent must not pick a more privileged one. `sandbox` only restricts.
    out.pop("agent_id", None)
    return {k: out[k] for k in FIELDS if k in out}


@dataclass
class CreatedAgent:
    """One requested agent after the workflow: its design as a definition, and its review."""

    name: str
    request: dict
    definition: dict | None = None
    problems: list[Problem] = field(default_factory=list)
    review: dict | None = None
    error: str | None = None      # the creator or reviewer did not complete

    @property
    def valid(self) -> bool:
        return self.definition is not None and not self.problems

    @property
    def score(self) -> float | None:
        return self.review.get("score") if isinstance(self.review, dict) else None

    @property
    def installable(self) -> bool:
        return self.valid

    def to_dict(self) -> dict:
        return {"name": self.name, "valid": self.valid, "score": self.score,
                "verdict": (self.review or {}).get("verdict"), "error": self.error,
                "problems": [str(p) for p in self.problems], "definition": self.definition,
                "review": self.review, "request": self.request}


def collect_designs(tasks: list[AgentTask], results: list[AgentResult]) -> list[CreatedAgent]:
    """Pair each creator's design (normalised and validated) with its reviewer's verdict."""
    by_id = {r.task_id: r for r in results}
    reviews = {t.input_from.get("definition"): by_id.get(t.task_id) for t in tasks
               if t.agent_type == "agent_design_reviewer" and t.input_from.get("definition")}
    tiers = _tier_names()
    found = []
    for task in tasks:
        if task.agent_type != "agent_creator":
            continue
        name = task.task_id.removeprefix("create-") if task.task_id.startswith("create-") \
            else request_name(task.input_data)
        created = CreatedAgent(name, dict(task.input_data))
        result = by_id.get(task.task_id)
        if result is None or not result.ok:
            created.error = f"agent_creator {result.status if result else 'missing'}: " \
                            f"{result.error if result else 'no result'}"
            found.append(created)
            continue
        created.definition = normalise_design(result.output, name=name, tiers=tiers)
        created.problems = check_definition(created.definition, file=f"design of {name}")
        review = reviews.get(task.task_id)
        if review is not None:
            if review.ok:
                created.review = review.output
            else:
                created.error = f"agent_design_reviewer {review.status}: {review.error}"
        found.append(created)
    return found


# -- install ---------------------------------------------------------------------------------------

def _as_definition_data(definition) -> tuple[dict, str]:
    if isinstance(definition, AgentDefinition):
        return definition.to_dict(), definition.source or f"definition of {definition.name}"
    if isinstance(definition, (str, Path)):
        from parallel_agents.core import yamlio
        path = Path(definition)
        yamlio.read_text(path, shown=str(path))  # missing or unreadable: an InputError naming it
        data, _text, problems = read_definition_file(path)
        if problems:
            raise DefinitionError(f"{display(path)} cannot be read", problems=problems)
        if not isinstance(data, dict):
            raise DefinitionError("not an agent definition", file=display(path), line=1,
                                  fix="start the file with `name: your_agent`")
        return data, display(path)
    if isinstance(definition, dict):
        return dict(definition), f"definition of {definition.get('name', '?')}"
    raise InputError(f"cannot install a {type(definition).__name__}", field="definition",
                     fix="pass a definition dict, an AgentDefinition or a YAML file path")


def install_agent(definition, *, force: bool = False) -> Path:
    """Write a valid definition to the user's overlay folder ($PARALLEL_AGENTS_HOME/agents/
    NAME.yaml), atomically, and reload the registry so it is usable by name at once.

    Refused (DefinitionError / InputError, nothing written): an invalid definition, a tier that
    config.yaml does not define, a name that is already an agent (unless `force`: the overlay
    copy then replaces it) or an alias of another agent, an alias that is already taken.
    """
    from parallel_agents.core import yamlio
    from parallel_agents.definitions.registry import load_registry
    data, shown = _as_definition_data(definition)
    problems = check_definition(data, file=shown)
    if problems:
        raise DefinitionError(f"{shown} is not a valid agent definition", problems=problems)
    tiers = _tier_names()
    if data.get("tier") is not None and data["tier"] not in tiers:
        raise DefinitionError(f"unknown tier {data['tier']!r}", file=shown, field="tier",
                              fix="use one of: " + ", ".join(tiers))
    name = data["name"]
    registry = load_registry(reload=True)
    target = overlay_agents() / f"{name}.yaml"
    if name in registry:
        owner = registry.resolve(name)
        if owner != name:
            raise InputError(f"{name!r} is already an alias of agent {owner!r}", file=shown,
                             field="name", fix="choose another name")
        if not force:
            existing = registry.get(name)
            raise InputError(f"agent {name!r} already exists ({existing.origin}: "
                             f"{display(existing.source) if existing.source else '?'})",
                             file=shown, field="name",
                             fix="choose another name, or pass force=True (--force) to replace it")
        existing = registry.get(name)
        if existing.origin == "overlay" and existing.source:
            target = Path(existing.source)  # replace that file, never leave two copies
    for alias in data.get("aliases") or []:
        if alias in registry and registry.resolve(alias) != name:
            raise InputError(f"alias {alias!r} is already taken by agent {registry.resolve(alias)!r}",
                             file=shown, field="aliases", fix="remove that alias or choose another")
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = target.read_bytes() if target.exists() else None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(yamlio.dump(data), encoding="utf-8")
    os.replace(tmp, target)
    try:
        load_registry(reload=True)
    except Exception:  # the overlay must stay loadable: undo the write
        if previous is None:
            target.unlink()
        else:
            target.write_bytes(previous)
        load_registry(reload=True)
        raise
    return target
