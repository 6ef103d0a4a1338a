"""The runtime's calls to its ToolCaller: counted per tool and per action (`calls`, which tests
and benchmarks read), logged without the task text, a read tool disabled after a non-retryable
failure so its fallback is used from then on, and several calls at once where the caller serves
them (its `parallel_calls`: a gateway over HTTP does; an injected module may not be thread-safe).
"""
from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from parallel_agents.openclaw.toolcaller import ToolCaller, ToolError

log = logging.getLogger(__name__)

__all__ = ["ToolCalls"]


class ToolCalls:
    """Counted, capability-aware calls to one ToolCaller (see the module docstring)."""

    def __init__(self, caller: ToolCaller):
        self.caller = caller
        self.calls: Counter = Counter()
        self.disabled: set[str] = set()  # tools that failed non-retryably; use fallbacks
        self.lock = threading.RLock()

    def can(self, tool: str) -> bool:
        """The caller offers `tool` and it has not been disabled."""
        return tool not in self.disabled and self.caller.has(tool)

    def call(self, tool: str, args: dict) -> dict:
        """Call `tool`; ToolError when it fails or answers with something that is no object."""
        with self.lock:
            self.calls[tool] += 1
            if "action" in args:
                self.calls[f"{tool}.{args['action']}"] += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("call %s %s", tool, {k: v for k, v in args.items() if k != "task"})
        result = self.caller.call(tool, args)
        if not isinstance(result, dict):
            raise ToolError(f"returned {type(result).__name__}, expected an object", tool=tool)
        return result

    def soft_call(self, tool: str, args: dict) -> dict | None:
        """Call a read tool; None on failure. A non-retryable failure disables the tool."""
        try:
            return self.call(tool, args)
        except ToolError as exc:
            if exc.fatal:  # bad token, unreachable gateway: nothing works until fixed
                raise
            if not exc.retryable:
                log.debug("disabling %s after %s", tool, exc)
                with self.lock:
                    self.disabled.add(tool)
            else:
                log.debug("%s failed (retryable): %s", tool, exc)
            return None

    @property
    def concurrency(self) -> int:
        """How many calls go out at once: the caller's `parallel_calls`, else 1."""
        return max(1, int(getattr(self.caller, "parallel_calls", 1) or 1))

    def map(self, fn, items: list) -> list:
        """`fn(item)` for each item, up to `concurrency` at a time; in order, each its result or
        the exception it raised (handed back: the caller decides)."""
        def one(item):
            try:
                return fn(item)
            except Exception as exc:  # handed back to the caller, who decides
                return exc
        width = min(self.concurrency, len(items))
        if width <= 1:
            return [one(item) for item in items]
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="openclaw-call") as pool:
            return list(pool.map(one, items))
