"""Seed-compatible conveniences over the registry and the prompt builder."""
from __future__ import annotations

from parallel_agents.prompts.build import build_prompt
from parallel_agents.definitions.registry import load_registry

__all__ = ["load_registry", "list_available_agents", "validate_agent_type", "get_agent_prompt"]


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
