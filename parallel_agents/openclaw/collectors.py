"""Collector runs (OpenClaw Swarm): the outputSchema a collector spawn carries, and reading its
end from `agents_wait` - the full reply, the validated `structured` value and token usage.

Collectors do not count against maxChildrenPerAgent (5) but against
tools.swarm.maxChildrenPerGroup (50) (docs/DESIGN.md "OpenClaw facts").

Contract facts relied on (OpenClaw 2026.9.6, node_modules/openclaw; "code" = dist/*.mjs):
- agents_wait {ids (1-1000), timeoutSeconds (number, default 30, max 600)} -> {completed:[{runId,
  status: done|failed|killed|timeout, result, structured?, error?, schemaError?, sessionKey,
  label?, usage?:{inputTokens, outputTokens}}], pending, errors?:[{runId, error:
  not_found|not_owner}]}; returns as soon as one id is complete (code: agents-wait-tool-*.mjs).
"""
from __future__ import annotations

import json
import logging

from parallel_agents.openclaw.runs import RunOutcome, RunTable, TrackedRun
from parallel_agents.openclaw.toolcalls import ToolCalls

log = logging.getLogger(__name__)

__all__ = ["collector_schema", "collector_outcome", "wait_collectors", "known_collectors",
           "COLLECTOR_RESULT_MAX"]

_COLLECTOR_STATUS = {"done": "ok", "failed": "error", "timeout": "timeout", "killed": "cancelled"}

#: agents_wait cuts a collector's `result` text at 4096 characters, ending it with "…" (seen on
#: 2026.9.6); its `structured` value (an outputSchema run) comes back whole.
COLLECTOR_RESULT_MAX = 4096


def collector_schema(schema: dict | None, output_format: str) -> dict:
    """The outputSchema a collector spawn carries, so its answer comes back whole as `structured`:
    the agent's own schema for JSON (a plain object schema when it `$ref`s a document OpenClaw
    cannot resolve - our own validation still applies the real one), a string otherwise."""
    if output_format != "json" or not isinstance(schema, dict):
        return _STRING_SCHEMA
    hit = _REFS.get(id(schema))
    if hit is None or hit[0] is not schema:   # asked once per attempt: remember per schema
        hit = _REFS[id(schema)] = (schema, '"$ref"' in json.dumps(schema))
    return _OBJECT_SCHEMA if hit[1] else schema


_STRING_SCHEMA, _OBJECT_SCHEMA = {"type": "string"}, {"type": "object"}
_REFS: dict[int, tuple[dict, bool]] = {}


def wait_collectors(tools: ToolCalls, table: RunTable, runs: list[TrackedRun], budget: float) -> None:
    """One `agents_wait` on these collectors (at most `budget` seconds): the finished ones get
    their outcome; one agents_wait does not know or own is read like a plain run from now on."""
    by_id = {r.run_id: r for r in runs}
    result = tools.soft_call("agents_wait", {"ids": list(by_id)[:1000],
                                             "timeoutSeconds": round(max(0.0, budget), 3)})
    if result is None:
        return
    for item in result.get("completed") or []:
        run = by_id.get(item.get("runId"))
        if run is not None:
            table.finish(run, collector_outcome(run, item))
    for err in result.get("errors") or []:
        run = by_id.get(err.get("runId"))
        if run is not None:  # not_found / not_owner: read it like a plain run instead
            log.debug("agents_wait %s for %s; reading it through subagents/history",
                      err.get("error"), run.run_id)
            run.via_history = True


def collector_outcome(run: TrackedRun, item: dict) -> RunOutcome:
    """The outcome of an `agents_wait` completed item."""
    status = _COLLECTOR_STATUS.get(item.get("status"), "error")
    usage = item.get("usage") or {}
    result = item.get("result")
    if item.get("schemaError") and not (item.get("error") or "").strip() and status == "error":
        # the run finished; its answer missed the schema even after OpenClaw's nudge: an
        # invalid reply (our own validation names what is wrong, and the re-ask says so)
        status = "ok"
    error = None
    if status != "ok":
        error = (item.get("error") or "").strip() or item.get("schemaError") or \
            (result or "").strip() or f"run {item.get('status')}"
    cut = (item.get("structured") is None and isinstance(result, str)
           and len(result) >= COLLECTOR_RESULT_MAX and result.endswith("…"))
    return RunOutcome(run.run_id, status,
                      text=result if status == "ok" else (result or None),
                      structured=item.get("structured"), truncated=cut,
                      usage={"input_tokens": int(usage.get("inputTokens") or 0),
                             "output_tokens": int(usage.get("outputTokens") or 0)},
                      model=run.resolved_model, error=error)


def known_collectors(tools: ToolCalls, table: RunTable, run_ids: list[str],
                     verdict: dict[str, bool | None]) -> None:
    """Mark in `verdict` the collectors agents_wait knows (finished, pending, or not_owner: it
    is there); a finished one keeps its outcome, so the wait that follows returns it at once.
    Those it calls not_found stay None (the list may still show them)."""
    if not run_ids or not tools.can("agents_wait"):
        return
    result = tools.soft_call("agents_wait", {"ids": run_ids[:1000], "timeoutSeconds": 0})
    if result is None:
        return
    for item in result.get("completed") or []:
        if item.get("runId") in verdict:
            verdict[item["runId"]] = True
            run = table.track(item["runId"])
            run.collect = True
            table.finish(run, collector_outcome(run, item))
    for run_id in result.get("pending") or []:
        if run_id in verdict:
            verdict[run_id] = True
    for err in result.get("errors") or []:
        if err.get("runId") in verdict and err.get("error") == "not_owner":
            verdict[err["runId"]] = True
