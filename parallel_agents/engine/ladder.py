"""The model ladder: named tiers from cheapest to strongest, each mapped to an OpenClaw model ref."""
from __future__ import annotations

from parallel_agents.core.config import Tier
from parallel_agents.core.errors import InputError


class Ladder:
    def __init__(self, tiers: list[Tier]):
        self.tiers = list(tiers)
        self._index = {t.name: i for i, t in enumerate(self.tiers)}

    def start(self, *, task_tier: str | None, agent_tier: str | None, field: str = "tier") -> int:
        """Index of the tier a task starts on: the task's, else its agent's, else the cheapest."""
        name = task_tier or agent_tier
        if name is None:
            return 0
        if name not in self._index:
            raise InputError(f"unknown tier {name!r}", field=field,
                             fix="use one of: " + ", ".join(self._index) + " (tiers in config.yaml)")
        return self._index[name]

    def tier(self, index: int) -> Tier:
        return self.tiers[index]

    def has_next(self, index: int) -> bool:
        return index + 1 < len(self.tiers)
