"""Where things live. Shipped files sit beside this package; user data lives outside the skill
folder so that upgrades (which replace the folder) never touch it."""
from __future__ import annotations

import os
from pathlib import Path

SKILL_DIR = Path(__file__).resolve().parents[2]
SHIPPED_AGENTS = SKILL_DIR / "agents"
DEFINITION_SCHEMA = SHIPPED_AGENTS / "agent-definition.schema.json"
SHIPPED_CONFIG = SKILL_DIR / "config.yaml"


def openclaw_state_dir() -> Path:
    """`$OPENCLAW_STATE_DIR`, default `~/.openclaw` (OpenClaw's own rule)."""
    value = os.environ.get("OPENCLAW_STATE_DIR")
    return Path(value).expanduser() if value else Path.home() / ".openclaw"


def user_home() -> Path:
    """`$PARALLEL_AGENTS_HOME`, default `$OPENCLAW_STATE_DIR/parallel-agents`."""
    value = os.environ.get("PARALLEL_AGENTS_HOME")
    return Path(value).expanduser() if value else openclaw_state_dir() / "parallel-agents"


def overlay_agents() -> Path:
    return user_home() / "agents"


def user_config() -> Path:
    return user_home() / "config.yaml"


def runs_dir() -> Path:
    return user_home() / "runs"


def cache_dir() -> Path:
    return user_home() / "cache"


def display(path: Path | str) -> str:
    """A path as users should read it: relative to the skill folder when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(SKILL_DIR))
    except ValueError:
        return str(p)
