"""The SIM directive language: how a FakeOpenClaw child is scripted.

Behaviour is scripted by `responder(view: SpawnView) -> Reply`. The default,
`directive_responder`, reads one directive line in the task text:

    SIM {"latency": 0.05, "reply": {"ok": true}}

keys (all optional; unknown keys are ignored):
    latency      seconds from run start to its end (default 0.01)
    reply        the child's final text; an object/array is sent as JSON (default "OK")
    fail         the run fails with this error text
    hang         true: the run never answers (ends only by runTimeoutSeconds or cancel)
    spawn_error  sessions_spawn refuses with {"status": "error", "error": <text>}
    fail_first   N: fail/hang/spawn_error apply only to attempts 1..N of this label
                 (alone, it means "fail with 'simulated failure' the first N times")
    replies      [first, second, ...]: the reply of attempt n is replies[min(n, len) - 1]
    key          count attempts per this key instead of per label (a host-mode re-ask or a
                 new tier has a new label)
A task that points at a prompt file (host mode) is read as a child would: the directive is
looked up in the file (child_reads).
    by_model     {"<model ref or its last segment>": {same keys}} overrides for that model
The same language will steer a scripted model server behind a real gateway
(tests/integration/model_server.py), so it stays small and model-agnostic.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Reply", "SpawnView", "DIRECTIVE_RE", "directive_source", "parse_directive", "child_reads",
           "deliver_as_asked", "attempt_key", "model_override", "directive_responder"]


@dataclass
class Reply:
    """What a scripted child does. `spawn_error` refuses at spawn; `hang` never answers."""

    text: str = ""
    latency_s: float = 0.01
    usage: dict | None = None  # {"input_tokens": n, "output_tokens": m}
    fail: str | None = None
    hang: bool = False
    spawn_error: str | None = None


@dataclass(frozen=True)
class SpawnView:
    """What the responder sees of one sessions_spawn call."""

    task: str
    model: str  # the resolved model ref
    label: str
    task_name: str | None
    attempt: int  # 1-based count of spawns with this label, this one included
    collect: bool = False
    output_schema: dict | None = None
    agent_id: str = "main"  # the agent the child runs as (agentId, else the requester)


DIRECTIVE_RE = re.compile(r"^[ \t>]*SIM[ \t]+(\{.*\})[ \t]*$", re.MULTILINE)


def directive_source(task: str) -> str | None:
    """The JSON text of the first `SIM {...}` line in a task text (what DIRECTIVE_RE.search
    finds), or None.

    Only the lines that hold "SIM" are tried: a task text is a whole prompt (~2 KB) read several
    times per spawn, and scanning all of it with the regex cost more than the rest of the spawn.
    A match lies within one line from its start (`^`, `$`, no newline in any part), so trying
    those lines in order finds the same first match. A spawn asks about one task text three times
    (child_reads, attempt_key, the responder): the last answer is kept for that very string."""
    global _last_read
    last = _last_read
    if task is last[0]:
        return last[1]
    source = _find_source(task) if task else None
    _last_read = (task, source)   # one tuple: a reader in another thread sees a whole pair
    return source


_last_read: tuple = (None, None)   # (task text object, its directive source)


def _find_source(task: str) -> str | None:
    at = task.find("SIM")
    while at >= 0:
        match = DIRECTIVE_RE.match(task, task.rfind("\n", 0, at) + 1)
        if match:
            return match.group(1)
        end = task.find("\n", at)
        if end < 0:
            return None
        at = task.find("SIM", end)
    return None


def _loaded(source: str) -> dict:
    value = json.loads(source)
    if not isinstance(value, dict):
        raise ValueError("SIM directive must be a JSON object")
    return value


def parse_directive(task: str) -> dict | None:
    """The `SIM {json}` directive in a task text, or None. Raises ValueError on bad JSON.
    The dict is the caller's own (a fresh parse)."""
    source = directive_source(task)
    return None if source is None else _loaded(source)


class _Script:
    """One parsed directive, shared read-only by every spawn whose task carries the same text
    (a fan-out repeats one directive N times), with the JSON texts of its replies once made."""

    __slots__ = ("spec", "texts")

    def __init__(self, spec: dict):
        self.spec = spec
        self.texts: dict[int, str] = {}   # id(reply object in spec) -> json.dumps of it

    def text_of(self, reply) -> str:
        """A reply as the child's final text: a string as is, anything else as JSON. `reply`
        is an object of `spec` (alive as long as this script), so its id is a safe key."""
        if isinstance(reply, str):
            return reply
        text = self.texts.get(id(reply))
        if text is None:
            text = self.texts[id(reply)] = json.dumps(reply)
        return text


_SCRIPTS: dict[str, _Script] = {}
_SCRIPTS_MAX = 256


def _script(task: str) -> _Script | None:
    """The parsed directive of a task (shared, never handed out), or None. Raises ValueError
    on bad JSON, as parse_directive does (failures are not cached)."""
    source = directive_source(task)
    if source is None:
        return None
    script = _SCRIPTS.get(source)
    if script is None:
        script = _Script(_loaded(source))
        if len(_SCRIPTS) >= _SCRIPTS_MAX:
            _SCRIPTS.clear()
        _SCRIPTS[source] = script
    return script


_PROMPT_FILE_RE = re.compile(r"(/\S+\.md)\b")


def child_reads(task: str) -> str:
    """The task as a child sees it once it has done what it says: a task that points at a prompt
    file (host mode's `prompts: file`, hostmode.py) is followed by that file's text, which a real
    child reads with its `read` tool (the scripted model server's children do the same)."""
    if directive_source(task) is not None:
        return task
    match = _PROMPT_FILE_RE.search(task or "")
    if match:
        try:
            return f"{task}\n\n{Path(match.group(1)).read_text(encoding='utf-8')}"
        except OSError:
            pass
    return task


_ANSWER_FILE_RE = re.compile(r"to the file (/\S+) with your write tool")


def deliver_as_asked(task: str, reply: "Reply") -> "Reply":
    """A child asked to write its answer to a file (host mode's prompt files) does so with its
    write tool and replies DONE, as the scripted model server's children do on a live gateway."""
    match = _ANSWER_FILE_RE.search(task) if task and " with your write tool" in task else None
    if not match or reply.fail or reply.hang or reply.spawn_error or reply.text is None:
        return reply
    try:
        Path(match.group(1)).write_text(reply.text, encoding="utf-8")
    except OSError:
        return reply        # cannot write files: answer in the reply, as the prompt allows
    return Reply(text="DONE", latency_s=reply.latency_s, usage=reply.usage)


def attempt_key(task: str) -> str | None:
    """The directive's `key`: attempts are counted per key when given (a re-ask or a new tier
    has a new label and a new task text), else per label."""
    try:
        script = _script(task)
    except ValueError:
        return None
    key = script.spec.get("key") if script else None
    return str(key) if key is not None else None


def model_override(by_model: dict, model: str) -> dict:
    """The `by_model` entry for `model` (its ref or its last segment), or {}."""
    if not isinstance(by_model, dict):
        return {}
    if model in by_model:
        return by_model[model] or {}
    tail = model.rsplit("/", 1)[-1]
    for key, value in by_model.items():
        if key.rsplit("/", 1)[-1] == tail:
            return value or {}
    return {}


def directive_responder(view: SpawnView) -> Reply:
    """Script the child from the `SIM {...}` line in its task text (see the module docstring)."""
    try:
        script = _script(view.task) or _Script({})
    except ValueError as exc:
        return Reply(spawn_error=f"SIM directive is not valid JSON: {exc}")
    spec = script.spec   # shared: read it, never change it
    override = model_override(spec.get("by_model"), view.model)
    if override:
        spec = {**spec, **override}
    reply = spec.get("reply", "OK")
    if isinstance(spec.get("replies"), list) and spec["replies"]:
        reply = spec["replies"][min(view.attempt, len(spec["replies"])) - 1]
    text = script.text_of(reply)
    fail, hang, spawn_error = spec.get("fail"), bool(spec.get("hang")), spec.get("spawn_error")
    fail_first = spec.get("fail_first")
    if fail_first is not None:
        if not (fail or hang or spawn_error):
            fail = "simulated failure"
        if view.attempt > int(fail_first):
            fail, hang, spawn_error = None, False, None
    return Reply(text=text, latency_s=float(spec.get("latency", 0.01)), fail=fail, hang=hang,
                 spawn_error=spawn_error)
