"""The tool-caller seam: `call(tool, args) -> dict` and `has(tool) -> bool`.

Everything above this seam (runtime, scheduler, orchestrator) talks to OpenClaw only through a
`ToolCaller`. Four implementations exist: `ModuleToolCaller` (a runtime-injected Python module
named `tools`), the Gateway HTTP caller (`POST /tools/invoke`, gateway.py), an attach grant's
MCP endpoint (mcp.py), and `parallel_agents.simulation.fake_openclaw.FakeOpenClaw` (an in-process contract
double).

Contract facts relied on (OpenClaw 2026.9.6, node_modules/openclaw):
- Every built-in tool returns `jsonResult(payload)` = `{"content": [{"type": "text", "text":
  JSON.stringify(payload, null, 2)}], "details": payload}` (dist/tool-results-*.mjs). So the
  tool's JSON result is `details`; the first text block carries the same JSON as a string.
- Tools reject bad arguments by *throwing* `ToolInputError` (dist/tool-input-error-*.mjs, status
  400; `ToolAuthorizationError` 403). Over HTTP that is `400 {ok:false, error:{type:"tool_error",
  message}}`; any other throw is `500 {ok:false, error:{type:"tool_error", message:"tool execution
  failed"}}` (dist/tools-invoke-shared-*.mjs). A caller maps throws to `ToolError`: input errors
  are not retryable, transport/5xx errors are.
- Refusals that are *not* throws come back as ordinary results with `status: "forbidden" |
  "error"` and an `error` text; interpreting those is the runtime's job, not the caller's.
- OpenClaw itself injects no Python `tools` module (docs/DESIGN.md "OpenClaw facts"); the module
  form exists for hosts that do, and for tests (tests/shim/tools.py).
"""
from __future__ import annotations

import importlib
import inspect
import json
import logging
import sys
from typing import Any, Protocol, runtime_checkable

from parallel_agents.core.errors import ToolError

log = logging.getLogger(__name__)

__all__ = ["ToolError", "ToolCaller", "ModuleToolCaller", "find_tools_module", "unwrap_result"]


@runtime_checkable
class ToolCaller(Protocol):
    """Calls one OpenClaw tool and returns its JSON result (the `details` of the tool result)."""

    def call(self, tool: str, args: dict) -> dict: ...

    def has(self, tool: str) -> bool: ...


def unwrap_result(tool: str, raw: Any) -> dict:
    """Return the tool's JSON result from whatever shape a runtime handed back.

    Accepts OpenClaw's `{content, details}` wrapper (returns `details`; when `details` is absent,
    parses JSON from the first text content block), a JSON string, or an already-plain dict.
    """
    if isinstance(raw, (str, bytes)):
        return _parse_json(tool, raw)
    if not isinstance(raw, dict):
        raise ToolError(f"returned {type(raw).__name__}, expected a JSON object", tool=tool,
                        fix="the runtime's tool function must return the tool result dict")
    content = raw.get("content")
    if isinstance(content, list) and ("details" in raw or
                                      all(isinstance(b, dict) and "type" in b for b in content)):
        details = raw.get("details")
        if isinstance(details, dict):
            return details
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                return _parse_json(tool, block["text"])
        raise ToolError("result has neither details nor a text content block", tool=tool)
    return raw


def _parse_json(tool: str, text) -> dict:
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ToolError(f"result is not JSON: {str(text)[:120]!r}", tool=tool) from exc
    if not isinstance(value, dict):
        raise ToolError(f"result is JSON {type(value).__name__}, expected an object", tool=tool)
    return value


class ModuleToolCaller:
    """A ToolCaller over a module whose functions take the tool arguments as keyword arguments.

    `tools.sessions_spawn(task=..., label=...)` etc. Async functions are awaited (only when no
    event loop is running in this thread). Exceptions become `ToolError`.
    """

    def __init__(self, module: Any):
        self.module = module

    def has(self, tool: str) -> bool:
        return callable(getattr(self.module, tool, None))

    def call(self, tool: str, args: dict) -> dict:
        fn = getattr(self.module, tool, None)
        if not callable(fn):
            raise ToolError(f"the tools module has no function {tool!r}", tool=tool,
                            fix=f"use a runtime that offers the {tool} tool")
        try:
            raw = fn(**(args or {}))
            if inspect.isawaitable(raw):
                import asyncio   # only for a module with async tools (~20 ms to import)
                raw = asyncio.run(_await(raw))
        except ToolError:
            raise
        except TypeError as exc:  # wrong keyword for this runtime's signature
            raise ToolError(str(exc), tool=tool, fix="check the tool's parameters") from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise ToolError(str(exc) or type(exc).__name__, tool=tool, retryable=True) from exc
        except Exception as exc:  # a runtime-specific error we cannot classify
            raise ToolError(f"{type(exc).__name__}: {exc}", tool=tool) from exc
        return unwrap_result(tool, raw)


async def _await(awaitable):
    return await awaitable


def find_tools_module():
    """Return the importable module named `tools` if it exposes a callable `sessions_spawn`.

    Returns None when there is no such module, when importing it fails in any way, or when
    `tools` is some unrelated module (e.g. a project's own tools/ package).
    """
    module = sys.modules.get("tools")
    if module is None:
        try:
            module = importlib.import_module("tools")
        except Exception as exc:  # ImportError, or anything the unrelated module raises
            log.debug("no usable `tools` module: %s", exc)
            return None
    try:
        return module if callable(getattr(module, "sessions_spawn", None)) else None
    except Exception:  # a module with a hostile __getattr__
        return None
