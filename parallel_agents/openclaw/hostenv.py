"""What `plan` and `check` learn from the OpenClaw install they run under (openclaw_local.py).

- prompts: children read their prompt from a file (`file`) unless they cannot read host files:
  `tools.fs.workspaceOnly` or sandboxed agents -> `inline` (said once, in plan's notes);
- window: at most min(max_concurrent, agents.defaults.subagents.maxChildrenPerAgent) spawns open
  at once: OpenClaw refuses a host's children past maxChildrenPerAgent (default 5);
- unusable models: a tier model that `openclaw models list` does not offer would be refused at
  spawn ("model … is not usable"): its spawns go to the gateway's default model instead;
- the gateway caller `check` reads the children with.
Nothing here is required: without an OpenClaw install, plan uses the defaults and check needs the
children's results passed to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from parallel_agents.core.errors import EnvironmentProblem, ParallelAgentsError

DEFAULT_WINDOW = 5


@dataclass
class PlanSettings:
    prompts: str
    window: int
    unusable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def local_openclaw():
    """The local OpenClaw as this process sees it, or None when nothing can be read."""
    try:
        from parallel_agents.openclaw.local import discover
        return discover()
    except ParallelAgentsError:
        return None


def plan_settings(config, *, prompts: str | None = None, local=None) -> PlanSettings:
    local = local if local is not None else local_openclaw()
    notes = []
    if prompts is None:
        prompts = "file"
        if local is not None and (local.workspace_only or local.sandboxed):
            prompts = "inline"
            why = "tools.fs.workspaceOnly is on" if local.workspace_only else \
                "agents run sandboxed"
            notes.append(f"prompts are inline in each spawn: {why}, so children cannot read "
                         "prompt files on this host")
    limit = getattr(local, "max_children_per_agent", None) or DEFAULT_WINDOW
    window = max(1, min(int(config.max_concurrent), int(limit)))
    unusable: dict[str, str] = {}
    models = sorted({t.model for t in config.tiers if t.model})
    if models and local is not None:
        catalog = local.available_models()
        if catalog is not None:
            for model in models:
                if catalog.usable(model) is False:
                    unusable[model] = catalog.explain(model)[1]
    return PlanSettings(prompts, window, unusable, notes)


def gateway_caller(local=None):
    """A tool caller for the local gateway, or EnvironmentProblem saying why there is none."""
    local = local if local is not None else local_openclaw()
    if local is None:
        raise EnvironmentProblem("no OpenClaw install found from this process", field="gateway",
                                 fix="run check from the host agent's exec, or pass it the "
                                     "message that reported the children")
    return local.caller()
