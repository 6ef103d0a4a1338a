"""Seed-compatible conveniences over the registry and the prompt builder."""
from __future__ import annotations

from .prompts import build_prompt
from .registry import Registry

_registry: Registry | None = None


def load_registry(*, reload: bool = False) -> Registry:
    """The shipped + overlay registry, loaded once per process (reload=True to re-read)."""
    global _registry
    if _registry is None or reload:
        _registry = Registry.load()
    return _registry


def list_available_agents(category: str | None = None) -> list[str]:
    """Agent type names, optionally of one category."""
    return [d.name for d in load_registry().in_category(category)]


def validate_agent_type(name: str) -> bool:
    """True when `name` is an agent type or alias."""
    return name in load_registry()


def get_agent_prompt(name: str, task_description: str | None = None, input_data=None) -> str:
    """The agent's system prompt; with a task, the full prompt that would be sent."""
    definition = load_registry().get(name)
    if task_description is None:
        return definition.system_prompt
    return build_prompt(definition, task_description, input_data)
