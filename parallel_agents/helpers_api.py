"""The helpers of the skill we replace, made real: thin wrappers over the orchestrator.

Argument names of the old helpers are accepted (`max_retries`, `timeout`, `models`,
`use_hierarchy`). A task may be an AgentTask, a dict of its fields, or plain text
(sent as-is with a text reply; give `agent_type=` to use an agent instead).
"""
from __future__ import annotations

from dataclasses import replace

from parallel_agents.core.config import Tier, load_config
from parallel_agents.definitions.model import AgentDefinition
from parallel_agents.core.errors import InputError
from parallel_agents.engine.tasks import AgentResult, AgentTask

#: Model refs of the ladder, cheapest first (from config.yaml `tiers`).
MODEL_HIERARCHY: list[str] = [t.model for t in load_config(user=False).tiers if t.model]

#: Plain-text tasks have no agent definition: the text is the whole prompt.
RAW_TEXT = AgentDefinition(name="raw_text", category="raw", description="A plain-text task.",
                           system_prompt="", output_format="text")


def _as_task(task, agent_type: str | None, timeout: int | None) -> AgentTask:
    if isinstance(task, AgentTask):
        t = task
    elif isinstance(task, dict):
        t = AgentTask(**task)
    elif isinstance(task, str):
        t = AgentTask(agent_type or RAW_TEXT.name, task)
    else:
        raise InputError(f"a task must be an AgentTask, a dict or text, not {type(task).__name__}",
                         field="task", fix="pass AgentTask(agent_type, task_description, ...)")
    if timeout:
        t.timeout_seconds = int(timeout)
    return t


def _orchestrator(runtime, max_concurrent, models, use_hierarchy, retries, **kwargs):
    from parallel_agents.orchestrator import RealAIParallelOrchestrator
    config = load_config()
    data = dict(config.data)
    if models:
        data["tiers"] = [{"name": f"tier{i + 1}", "model": m} for i, m in enumerate(models)]
    if not use_hierarchy:
        data["tiers"] = data["tiers"][:1]
    if retries is not None:
        data["retry"] = {**data["retry"], "transient_attempts": max(1, int(retries))}
    from parallel_agents.definitions.registry import load_registry
    registry = _RawAware(load_registry())
    return RealAIParallelOrchestrator(max_concurrent, runtime=runtime, config=type(config)(data),
                                      registry=registry, **kwargs)


class _RawAware:
    """The registry plus the raw-text pseudo-agent for plain-text tasks."""

    def __init__(self, registry):
        self._registry = registry

    def get(self, name):
        return RAW_TEXT if name == RAW_TEXT.name else self._registry.get(name)

    def __getattr__(self, item):
        return getattr(self._registry, item)

    def __iter__(self):
        return iter(self._registry)

    def __contains__(self, name):
        return name == RAW_TEXT.name or name in self._registry


def spawn_parallel_with_retry(tasks, *, max_retries: int | None = None, timeout: int | None = None,
                              max_concurrent: int | None = None, use_hierarchy: bool = True,
                              models: list[str] | None = None, agent_type: str | None = None,
                              runtime=None, **kwargs) -> list[AgentResult]:
    """Run many tasks with retries and escalation; one AgentResult per task, in order."""
    prepared = [_as_task(t, agent_type, timeout) for t in tasks]
    orch = _orchestrator(runtime, max_concurrent, models, use_hierarchy, max_retries, **kwargs)
    if models or not use_hierarchy:  # a ladder of our own: agents' tier names are not on it
        names = orch.config.tier_names
        prepared = [t if t.tier in names else replace(t, tier=names[0]) for t in prepared]
    return orch.run_parallel(prepared)


def spawn_with_retry(task, *, max_retries: int | None = None, timeout: int | None = None,
                     use_hierarchy: bool = True, models: list[str] | None = None,
                     agent_type: str | None = None, runtime=None, **kwargs):
    """Run one task with retries (and escalation unless use_hierarchy=False); return its
    validated output. Raises TaskFailed (with the AgentResult) when every attempt failed."""
    result = spawn_parallel_with_retry([task], max_retries=max_retries, timeout=timeout,
                                       use_hierarchy=use_hierarchy, models=models,
                                       agent_type=agent_type, runtime=runtime, **kwargs)[0]
    return _output_or_raise(result)


def spawn_with_model_hierarchy(task, models: list[str] | None = None, *, timeout: int | None = None,
                               agent_type: str | None = None, runtime=None, **kwargs):
    """Try the models in order (default MODEL_HIERARCHY), cheapest first, until one returns a
    valid output; return that output."""
    return spawn_with_retry(task, models=models or MODEL_HIERARCHY, timeout=timeout,
                            agent_type=agent_type, runtime=runtime, **kwargs)


def collect_agent_results(results: list[AgentResult], *, include_failed: bool = False) -> dict:
    """{task_id: output} of completed results (and {task_id: error} of the others when
    include_failed)."""
    out = {}
    for r in results:
        if r.ok:
            out[r.task_id] = r.output
        elif include_failed:
            out[r.task_id] = {"status": r.status, "error": r.error}
    return out


class TaskFailed(InputError):
    exit_code = 1

    def __init__(self, result: AgentResult):
        super().__init__(f"task {result.task_id} {result.status}: {result.error}",
                         field=result.task_id, fix="see result.attempts for each try")
        self.result = result


def _output_or_raise(result: AgentResult):
    if result.ok:
        return result.output
    raise TaskFailed(result)


__all__ = ["MODEL_HIERARCHY", "Tier", "spawn_with_retry", "spawn_parallel_with_retry",
           "spawn_with_model_hierarchy", "collect_agent_results", "TaskFailed"]
