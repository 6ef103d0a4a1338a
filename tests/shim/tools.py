"""A `tools` module backed by a FakeOpenClaw: what a runtime-injected tools module looks like.

Tests put tests/shim on sys.path, then `import tools`. Each function takes the tool arguments as
keyword arguments and returns the result wrapped the way OpenClaw's tools return it
(`{"content": [{"type": "text", "text": <json>}], "details": <json>}`), so callers must unwrap.
Set `tools.INCLUDE_DETAILS = False` to return only the text block (the other unwrap path).
`tools.reset(**kwargs)` replaces `tools.FAKE` with a fresh `FakeOpenClaw(**kwargs)`.
"""
from __future__ import annotations

import json

from parallel_agents.fake_openclaw import FakeOpenClaw

FAKE = FakeOpenClaw()
INCLUDE_DETAILS = True


def reset(**kwargs) -> FakeOpenClaw:
    """Start over with a fresh fake (and details included again)."""
    global FAKE, INCLUDE_DETAILS
    FAKE = FakeOpenClaw(**kwargs)
    INCLUDE_DETAILS = True
    return FAKE


def _wrap(details: dict) -> dict:
    result = {"content": [{"type": "text", "text": json.dumps(details, indent=2)}]}
    if INCLUDE_DETAILS:
        result["details"] = details
    return result


def sessions_spawn(**kwargs) -> dict:
    return _wrap(FAKE.call("sessions_spawn", kwargs))


def subagents(**kwargs) -> dict:
    return _wrap(FAKE.call("subagents", kwargs))


def sessions_history(**kwargs) -> dict:
    return _wrap(FAKE.call("sessions_history", kwargs))


def agents_wait(**kwargs) -> dict:
    return _wrap(FAKE.call("agents_wait", kwargs))
