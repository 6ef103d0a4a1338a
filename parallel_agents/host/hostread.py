"""`check` with no input: read the host's children straight from the local gateway.

An exec'd process inherits the gateway's environment (OPENCLAW_STATE_DIR, OPENCLAW_CONFIG_PATH,
OPENCLAW_GATEWAY_PORT), so `check` finds the gateway and its token the way OpenClaw's own CLI
does (openclaw_local.py) and asks it over `POST /tools/invoke` - tools that are NOT on the HTTP
deny list, so no `gateway.tools` change is needed:

- `subagents {action: "list"}` without a sessionKey answers for the main session
  (`agent:main:main`), where a host turn started by `openclaw agent` or a direct message runs:
  its children's views carry `label`, `status` (queued | running | done | failed | timeout |
  killed, maybe suffixed " (waiting on N children)"), `sessionKey`, `model`, `totalTokens`;
- a label it does not show (a host in another session) is looked up with
  `sessions_list {label}` (rows carry `key`, `label`, `status`);
- a finished child's reply is the last assistant message of `sessions_history {sessionKey}`
  (extract.extract_reply reads it through openclaw/history.py: truncation, failed model calls).

Seen on openclaw 2026.9.6 (tests/integration/test_host_loop_live.py walks it).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from parallel_agents.core.errors import InputError, ToolError
from parallel_agents.replies.extract import Reply, extract_reply

RUNNING, FINISHED, MISSING = "running", "finished", "missing"
_END = {"done": "ok", "failed": "failed", "error": "failed", "timeout": "timeout",
        "timed_out": "timeout", "killed": "killed", "cancelled": "killed"}
_LIVE = {"queued", "running", "accepted", "pending", "waiting"}


@dataclass(frozen=True)
class Seen:
    """What the gateway shows of one spawn label."""

    state: str                     # running | finished | missing
    reply: Reply | None = None     # for finished children
    total_tokens: int | None = None
    model: str | None = None


def read_children(caller, labels: list[str], *, recent_minutes: int | None = None) -> dict[str, Seen]:
    """Seen for every label: one `subagents list`, `sessions_list` for labels it lacks, and one
    `sessions_history` per finished child (several at once)."""
    wanted = [label.strip() for label in labels]
    args = {"action": "list"}
    if recent_minutes:
        args["recentMinutes"] = int(recent_minutes)
    listing = caller.call("subagents", args)
    views = {}
    for view in (listing.get("recent") or []) + (listing.get("active") or []):
        if isinstance(view, dict) and isinstance(view.get("label"), str):
            views.setdefault(view["label"].strip(), view)   # newest first: keep the first seen
    errors = {row["label"].strip(): row.get("error") for row in listing.get("tasks") or []
              if isinstance(row, dict) and isinstance(row.get("label"), str)}
    for label in wanted:
        if label not in views:
            row = _session_row(caller, label)
            if row is not None:
                views[label] = {"status": row.get("status"), "sessionKey": row.get("key"),
                                "model": row.get("model"), "totalTokens": row.get("totalTokens")}
    seen: dict[str, Seen] = {}
    to_read = []
    for label in wanted:
        view = views.get(label)
        if view is None:
            seen[label] = Seen(MISSING)
            continue
        status = str(view.get("status") or "").split(" (")[0].strip().lower()
        tokens = view.get("totalTokens") if isinstance(view.get("totalTokens"), int) else None
        if status in _LIVE or status not in _END:
            seen[label] = Seen(RUNNING, total_tokens=tokens, model=view.get("model"))
        elif _END[status] == "ok" and view.get("sessionKey"):
            to_read.append((label, view, tokens))
        else:
            error = errors.get(label) or f"run {status}"
            seen[label] = Seen(FINISHED, Reply(None, source="sessions_history", status=_END[status],
                                               error=error, label=label,
                                               session_key=view.get("sessionKey")),
                               tokens, view.get("model"))
    if to_read:
        with ThreadPoolExecutor(max_workers=min(8, len(to_read))) as pool:
            histories = list(pool.map(
                lambda item: caller.call("sessions_history", {"sessionKey": item[1]["sessionKey"],
                                                              "limit": 20}), to_read))
        for (label, view, tokens), history in zip(to_read, histories):
            seen[label] = Seen(FINISHED, _reply(history, label, view), tokens, view.get("model"))
    return seen


def _reply(history: dict, label: str, view: dict) -> Reply:
    try:
        reply = extract_reply(history, kind="sessions_history")
    except InputError as exc:
        return Reply(None, source="sessions_history", status="failed", label=label,
                     error=f"its transcript could not be read: {exc.problems[0].message}",
                     session_key=view.get("sessionKey"))
    return Reply(reply.text, reply.structured, reply.truncated, reply.source, reply.status,
                 reply.error, reply.notes, label, view.get("sessionKey"), reply.run_id)


def _session_row(caller, label: str) -> dict | None:
    """The session spawned with `label`, from `sessions_list` (any requester session)."""
    try:
        listing = caller.call("sessions_list", {"label": label})
    except ToolError as exc:  # e.g. a gateway without the filter: the label stays missing
        if exc.fatal:
            raise
        return None
    rows = [r for r in listing.get("sessions") or []
            if isinstance(r, dict) and (r.get("label") or "").strip() == label]
    return rows[0] if len(rows) == 1 else None
