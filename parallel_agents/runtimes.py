"""Choosing the runtime: explicit argument (a runtime, a tool caller, a `tools` module,
"simulated" or a gateway URL) > injected `tools` module > the gateway named by
OPENCLAW_GATEWAY_URL, else config.yaml's gateway.url (token: OPENCLAW_GATEWAY_TOKEN) > an error
naming the ways to get one.

The OpenClaw runtime is the same for every path; only the tool caller under it differs.
"""
from __future__ import annotations

import os
import types

from parallel_agents.core.errors import EnvironmentProblem
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.openclaw.toolcaller import ModuleToolCaller, find_tools_module

NO_RUNTIME_FIX = (
    "use one of: (1) run inside a runtime that provides a Python `tools` module with "
    "sessions_spawn; (2) set OPENCLAW_GATEWAY_URL (or --gateway URL, or gateway.url in config.yaml) "
    "and OPENCLAW_GATEWAY_TOKEN to drive an OpenClaw gateway over HTTP (its gateway.tools.allow "
    "must list sessions_spawn); (3) the simulated "
    "runtime: RealAIParallelOrchestrator(runtime=\"simulated\"), `run --simulate`, or `demo`. "
    "A host agent can also make the spawns itself: `plan`, then `check` (see SKILL.md)")


def gateway_caller(url: str | None = None, *, gateway: dict | None = None, **kwargs):
    """A GatewayToolCaller for `url`, else OPENCLAW_GATEWAY_URL, else gateway["url"] (config),
    with the token from OPENCLAW_GATEWAY_TOKEN; None when no URL is set anywhere."""
    from parallel_agents.openclaw.gateway import TOKEN_ENV, URL_ENV, GatewayToolCaller
    gateway = gateway or {}
    url = url or os.environ.get(URL_ENV) or gateway.get("url")
    if not url:
        return None
    return GatewayToolCaller(url, os.environ.get(TOKEN_ENV),
                             allow_insecure_http=bool(gateway.get("allow_insecure_http")), **kwargs)


def select_runtime(spec=None, *, registry=None, gateway: dict | None = None):
    """An OpenClawRuntime for `spec` (see RealAIParallelOrchestrator's `runtime` argument);
    `gateway` is config.yaml's gateway section."""
    if spec is None:
        module = find_tools_module()
        if module is not None:
            return OpenClawRuntime(ModuleToolCaller(module))
        caller = gateway_caller(gateway=gateway)
        if caller is not None:
            return OpenClawRuntime(caller)
        raise EnvironmentProblem("no OpenClaw runtime is available to this Python process "
                                 "(OpenClaw injects no `tools` module into exec'd scripts)",
                                 fix=NO_RUNTIME_FIX)
    if spec == "simulated":
        from parallel_agents.simulation.simulated import simulated_runtime
        return simulated_runtime(registry)
    if isinstance(spec, str) and spec.startswith(("http://", "https://")):
        return OpenClawRuntime(gateway_caller(spec, gateway=gateway))
    if isinstance(spec, str):
        raise EnvironmentProblem(f"unknown runtime {spec!r}", field="runtime",
                                 fix='pass "simulated", a gateway URL, a tool caller, a tools module or None')
    if all(hasattr(spec, name) for name in ("spawn", "wait", "cancel")):
        return spec
    if isinstance(spec, types.ModuleType) or hasattr(spec, "sessions_spawn"):
        return OpenClawRuntime(ModuleToolCaller(spec))
    if hasattr(spec, "call"):
        return OpenClawRuntime(spec)
    raise EnvironmentProblem(f"cannot use {type(spec).__name__} as a runtime", field="runtime",
                             fix="pass a tool caller with call(tool, args) -> dict, or a tools module")
