"""FakeOpenClaw's agents_wait: collecting swarm collector runs (`collect: true`), with the
structured_output check against each run's outputSchema.

Contract facts mirrored here (OpenClaw 2026.9.6, node_modules/openclaw/dist):
- agents_wait (agents-wait-tool-*.mjs): `{ids (1-1000), timeoutSeconds (number, default 30,
  clamped to tools.swarm.waitTimeoutSecondsMax 600)}` -> `{completed:[{runId, status:
  done|failed|killed|timeout, result, structured?, error?, schemaError?, sessionKey, label?,
  usage?:{inputTokens, outputTokens}}], pending:[runId], errors?:[{runId, error:
  not_found|not_owner}], success?:false}`; returns when any id is complete, none is pending, or
  the timeout passes. Non-collector ids are `not_found`. A schema miss turns "done" into
  "failed" with schemaError "structured_output was not called".
"""
from __future__ import annotations

import json
import math
import operator
import pickle
import time

from parallel_agents.openclaw.toolcaller import ToolError
from parallel_agents.simulation.fake_runs import Run

__all__ = ["CollectorTool"]

_ENDED_AT = operator.attrgetter("ended_at")
_COLLECTOR_STATUS = {"done": "done", "failed": "failed", "timeout": "timeout", "killed": "killed"}


class CollectorTool:
    """agents_wait, mixed into FakeOpenClaw (over its RunBoard; validate_structured,
    wait_timeout_seconds_max). FakeOpenClaw.call calls `answer_agents_wait` under the board's
    lock."""

    def answer_agents_wait(self, a: dict) -> dict:
        tool = "agents_wait"
        ids = a.get("ids")
        if not isinstance(ids, list) or len(ids) > 1000:
            raise ToolError("agents_wait supports at most 1000 ids." if isinstance(ids, list)
                            else "ids required", tool=tool)
        try:
            stripped = list(map(str.strip, ids))
        except TypeError:   # not all strings: those are dropped
            stripped = [i.strip() for i in ids if isinstance(i, str)]
        unique = dict.fromkeys(stripped)   # in order
        unique.pop("", None)
        ids = list(unique)
        if not ids:
            raise ToolError("agents_wait requires at least one non-empty run id.", tool=tool)
        timeout = a.get("timeoutSeconds")
        timeout = timeout if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) \
            and math.isfinite(timeout) else 30
        deadline = time.monotonic() + min(max(0.0, timeout), self.wait_timeout_seconds_max)
        while True:
            now = time.monotonic()
            self.advance(now)
            completed, pending, unknown = self.split_collectors(ids)
            errors = [{"runId": run_id, "error": "not_found"} for run_id in unknown]
            if completed or not pending or now >= deadline:
                completed.sort(key=_ENDED_AT)
                result = {"completed": [self._collector_item(r) for r in completed], "pending": pending}
                if errors:
                    result["errors"] = errors
                if not completed and not pending and errors:
                    result["success"] = False
                return result
            self.sleep_until(deadline)

    def _collector_item(self, run: Run) -> dict:
        status = _COLLECTOR_STATUS[run.status]
        result = run.reply.text if run.status == "done" else ""
        structured, schema_error = None, None
        if run.output_schema is not None and run.status == "done":
            structured, schema_error = _structured(run.reply.text, run.output_schema
                                                   if self.validate_structured else None)
            if schema_error:
                status = "failed"
        item = {"runId": run.run_id, "status": status, "result": result}
        if structured is not None:
            item["structured"] = structured
        if run.status == "failed":
            item["error"] = run.reply.fail
        if schema_error:
            item["schemaError"] = schema_error
        item["sessionKey"] = run.session_key
        if run.label:
            item["label"] = run.label
        usage = self.usage(run)
        if usage:
            item["usage"] = usage
        return item


_VALIDATORS: dict[int, tuple[dict, object]] = {}   # id(schema) -> (schema, its validator)


def _validator(schema: dict):
    """One validator per output schema (schemas are long-lived definition objects): building one
    resolves the schema's ids, which costs more than most validations."""
    hit = _VALIDATORS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    import jsonschema
    validator = jsonschema.validators.validator_for(schema)(schema)
    if len(_VALIDATORS) > 256:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


_PAYLOADS: dict[str, bytes | None] = {}   # reply text -> its JSON value pickled (None: not JSON)
_UNSEEN = object()


def _payload(text) -> object:
    """The JSON value of a reply text, a fresh copy on every call (the caller may keep and change
    it). A fan-out's collectors often reply the same text: it is parsed once and later copies come
    from its pickle, which costs less than parsing the text again. Raises ValueError when the
    text is not JSON."""
    if type(text) is not str:   # (a responder's odd reply: parsed as json.loads takes it)
        try:
            return json.loads(text)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc
    blob = _PAYLOADS.get(text, _UNSEEN)
    if blob is _UNSEEN:
        try:
            value = json.loads(text)
        except ValueError:
            blob = None
        else:
            try:
                blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except RecursionError:   # nested deeper than pickle goes: parse it every time
                return value
        if len(_PAYLOADS) >= 256:
            _PAYLOADS.clear()
        _PAYLOADS[text] = blob
        if blob is not None:
            return value
    if blob is None:
        raise ValueError("not JSON")
    return pickle.loads(blob)


def _structured(text: str, schema: dict) -> tuple[object | None, str | None]:
    """Stand-in for the child's structured_output tool call: the reply text is the payload."""
    try:
        value = _payload(text)
    except ValueError:
        return None, "structured_output was not called"
    if schema is None:      # not checked here (FakeOpenClaw(validate_structured=False))
        return value, None
    import jsonschema
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return None, f"structured_output rejected at {where}: {error.message}"
    return value, None
