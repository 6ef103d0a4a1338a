"""The host agent, played by the scripted model server: it does what SKILL.md says, nothing more.

A live test starts a host turn with `openclaw agent --agent main --message "HOST {json} ..."`.
Every chat-completions request of that conversation carries the HOST directive (OpenClaw resends
the whole history), and `play(body)` decides the next move from the request body alone:

    tasks   absolute path of the task file (the plan command's TASKS_FILE)
    paste   true: feed completion messages to check through a file (`write` + MESSAGE_FILE)
    dir     folder for those files (paste mode)
    tag     free text, logged by the model server with every request of the conversation

The loop (rule numbers as in the brief the skill's SKILL.md is written to):
 read_skill  `read` the SKILL.md named in the system prompt's <available_skills>
 exec        the SKILL.md's `plan --tasks TASKS_FILE` command; exit code 3 naming "(fix: CMD)":
             run CMD once, then the failed command again (1)
 spawn       one sessions_spawn per entry of the answer's `spawn`, exactly its `args`, all in one
             message; through `tool_call` when Tool Search hides sessions_spawn (2)
 exec        per refused receipt, the `--refused LABEL --error "ERROR"` command, one at a time (3)
 yield       sessions_yield when nothing is left to spawn and the plan is not done (4)
 exec/write  on the "[Subagent Context] Every subagent ... has now settled" (or "A background task
             completed.") message: the plain `check` command, or in paste mode `write` the message
             to DIR/completion-NNN.txt and run the `check ... MESSAGE_FILE` command (5)
 final       "PARALLEL-AGENTS DONE <plan_id>" + one "<task_id> <status>" line per result (6), or
             "PARALLEL-AGENTS STUCK: <first 300 chars>" on anything it cannot understand (7)
 wait        a short text, should OpenClaw ask after a yield (on 2026.9.6 it does not: the turn
             ends, and the next one starts with "Turn yielded." + the settled message)

Commands come only from the fenced code lines of the SKILL.md text the host read: `{baseDir}` is
the SKILL.md's folder and each placeholder (an UPPERCASE word after --tasks/--plan/--refused/
--error, or MESSAGE_FILE as a positional) is replaced by its shell-quoted value, so a SKILL.md
change that breaks the loop breaks the test. The conversation starts at the latest HOST message;
user messages of OpenClaw's internal context ("<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>") are ignored.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

INTERNAL_MARK = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"
SETTLED_MARKS = ("has now settled", "A background task completed.", "Child completion results:")
YIELDED_MARK = "Turn yielded."  # OpenClaw's user message after a sessions_yield, before the next event
SKILL_NAME = "parallel-agents"
DONE, STUCK = "PARALLEL-AGENTS DONE", "PARALLEL-AGENTS STUCK:"

_HOST_RE = re.compile(r"(?<![\w-])HOST[ \t]+(?=\{)")
_EXIT_RE = re.compile(r"\n\n\(Command exited with code (\d+)\)\s*$")
_FIX_RE = re.compile(r"\(fix: ((?:[^()\n]|\([^()\n]*\))+)\)")
_FENCE_RE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_SKILL_RE = re.compile(r"<skill>(.*?)</skill>", re.DOTALL)
_WORD = r"[A-Z][A-Z0-9_]*"  # a placeholder: TASKS_FILE, PLAN_ID, LABEL, ERROR, MESSAGE_FILE
_OPTIONS = ("--tasks", "--plan", "--refused", "--error")


class Stuck(Exception):
    """The host cannot go on: it ends the turn with STUCK and this text."""


@dataclass
class Move:
    """What the host emits: tool calls [(name, args)] and/or a final text."""
    action: str                      # read_skill | exec | spawn | yield | write | final | wait
    calls: list = field(default_factory=list)
    text: str | None = None
    tag: str | None = None


@dataclass
class Call:
    name: str                        # the tool meant; a tool_call({"id", "args"}) is unwrapped
    args: dict
    result: str | None = None        # the text of its tool result


@dataclass
class Step:
    role: str                        # user | assistant
    text: str = ""
    calls: list = field(default_factory=list)


# -- reading the request ---------------------------------------------------------------------
def text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content
                         if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def is_internal(message: dict) -> bool:
    return message.get("role") == "user" and text_of(message).lstrip().startswith(INTERNAL_MARK)


def host_directive(messages: list) -> tuple[int, dict] | None:
    """(index, directive) of the latest user message with a `HOST {json}` directive."""
    for index in range(len(messages or []) - 1, -1, -1):
        message = messages[index]
        if not isinstance(message, dict) or message.get("role") != "user" or is_internal(message):
            continue
        text = text_of(message)
        match = _HOST_RE.search(text)
        if match:
            try:
                value, _ = json.JSONDecoder().raw_decode(text, match.end())
            except ValueError:
                value = None
            return index, value if isinstance(value, dict) else {"error": "HOST directive is not a JSON object"}
    return None


def tool_names(body: dict) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools") or []
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
            and isinstance(t["function"].get("name"), str)}


def _loads(text) -> object:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None


def conversation(messages: list) -> list[Step]:
    """The messages as steps, tool results attached to their calls, internal context dropped."""
    steps: list[Step] = []
    by_id: dict[str, Call] = {}
    for message in messages:
        if not isinstance(message, dict) or is_internal(message):
            continue
        role = message.get("role")
        if role == "user":
            steps.append(Step("user", text_of(message)))
        elif role == "assistant":
            step = Step("assistant", text_of(message))
            for raw in message.get("tool_calls") or []:
                fn = (raw or {}).get("function") or {}
                name, args = fn.get("name"), _loads(fn.get("arguments") or "{}")
                args = args if isinstance(args, dict) else {}
                if name == "tool_call" and isinstance(args.get("id"), str):
                    name, args = args["id"], args.get("args") if isinstance(args.get("args"), dict) else {}
                call = Call(str(name), args)
                step.calls.append(call)
                by_id[str(raw.get("id"))] = call
            steps.append(step)
        elif role == "tool":
            call = by_id.get(str(message.get("tool_call_id")))
            if call is None:  # no id to match: the first call of the last message still waiting
                last = next((s for s in reversed(steps) if s.role == "assistant"), None)
                call = next((c for c in (last.calls if last else []) if c.result is None), None)
            if call is not None:
                call.result = text_of(message)
    return steps


def skill_location(body: dict) -> str | None:
    """The <location> of the parallel-agents entry of the system prompt's <available_skills>."""
    system = "\n".join(text_of(m) for m in body.get("messages") or []
                       if isinstance(m, dict) and m.get("role") in ("system", "developer"))
    for block in _SKILL_RE.findall(system):
        name = re.search(r"<name>\s*(.*?)\s*</name>", block, re.DOTALL)
        where = re.search(r"<location>\s*(.*?)\s*</location>", block, re.DOTALL)
        if name and where and name.group(1) == SKILL_NAME:
            return where.group(1)
    return None


# -- exec results ----------------------------------------------------------------------------
def exit_code(output: str) -> tuple[int, str]:
    """(exit code, output without OpenClaw's "(Command exited with code N)" trailer)."""
    match = _EXIT_RE.search(output or "")
    return (int(match.group(1)), output[:match.start()]) if match else (0, output or "")


def parse_answer(output: str) -> dict | None:
    """The plan/check JSON answer in an exec output: the whole output, or the first JSON object
    starting a line (stderr may come first: OpenClaw's exec merges it into the output)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", output or "", re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(output, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("plan_id"), str) and "done" in value:
            return value
    return None


def named_fix(output: str) -> str | None:
    match = _FIX_RE.search(output or "")
    return match.group(1).strip() if match else None


def receipt_of(result: str | None) -> dict | None:
    """The sessions_spawn receipt in a tool result: tool_call's {"tool", "result": {content,
    details}}, a direct {content, details}, or the plain receipt."""
    data = _loads((result or "").strip())
    if isinstance(data, dict) and "tool" in data and isinstance(data.get("result"), dict):
        data = data["result"]
    if isinstance(data, dict) and isinstance(data.get("details"), dict) and "status" in data["details"]:
        return data["details"]
    if isinstance(data, dict) and isinstance(data.get("content"), list) and "status" not in data:
        return receipt_of(text_of(data))
    return data if isinstance(data, dict) and isinstance(data.get("status"), str) else None


# -- commands from SKILL.md ------------------------------------------------------------------
class Commands:
    """The four command templates of a SKILL.md text, filled in on demand."""

    def __init__(self, skill_text: str, base_dir: str):
        self.base_dir = base_dir
        self.templates: dict[str, str] = {}
        for block in _FENCE_RE.findall(skill_text or ""):
            for line in block.splitlines():
                line = re.sub(r"^\s*\$\s+", "", line).strip()
                kind = self.kind(line)
                if kind and kind not in self.templates:
                    self.templates[kind] = line

    @staticmethod
    def kind(line: str) -> str | None:
        """plan | check | refused | message, by the line's distinctive words; else None."""
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        for sub in ("plan", "check"):
            if sub in words:
                words = words[words.index(sub):]
                break
        else:
            return None
        value_of = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w in _OPTIONS}
        if words[0] == "plan":
            return "plan" if re.fullmatch(_WORD, value_of.get("--tasks", "")) else None
        if not re.fullmatch(_WORD, value_of.get("--plan", "")):
            return None
        if "--refused" in value_of:
            return "refused"
        rest = [w for i, w in enumerate(words[1:], 1)
                if not w.startswith("-") and words[i - 1] not in _OPTIONS]
        if not rest:
            return "check"
        return "message" if len(rest) == 1 and re.fullmatch(_WORD, rest[0]) else None

    def fill(self, kind: str, **values) -> str:
        """The `kind` command with {baseDir} and the placeholders filled in, shell-quoted."""
        template = self.templates.get(kind)
        if template is None:
            what = {"plan": "plan --tasks TASKS_FILE", "check": "check --plan PLAN_ID --json",
                    "refused": "check ... --refused LABEL --error ERROR",
                    "message": "check ... MESSAGE_FILE"}[kind]
            raise Stuck(f"SKILL.md has no `{what}` command in a code block")
        line = template.replace("{baseDir}", shlex.quote(self.base_dir))

        def value(match: re.Match) -> str:
            before = line[:match.start()].rstrip(" \t=").rsplit(None, 1)
            option = before[-1] if before else ""
            if option in _OPTIONS:
                key = option[2:]
            else:  # a positional placeholder: the message file
                key = "message_file"
            return shlex.quote(str(values[key])) if key in values else match.group(0)

        return re.sub(r"(?<=[\s=])(['\"]?)" + _WORD + r"\1(?=\s|$)", value, line)


# -- the player ------------------------------------------------------------------------------
class Host:
    def __init__(self, body: dict, directive: dict, steps: list[Step]):
        self.body, self.directive, self.steps = body, directive, steps
        self.tools = tool_names(body)
        self.location = skill_location(body)
        self.execs = [c for s in steps for c in s.calls if c.name == "exec"]

    # moves
    def call(self, action: str, *calls: tuple[str, dict]) -> Move:
        """A move calling each (tool, args): directly when offered, else through tool_call."""
        wrapped = []
        for tool, tool_args in calls:
            if tool in self.tools:
                wrapped.append((tool, tool_args))
            elif "tool_call" in self.tools:
                wrapped.append(("tool_call", {"id": tool, "args": tool_args}))
            else:
                raise Stuck(f"the tool {tool} is not offered (tools: {sorted(self.tools)})")
        return Move(action, wrapped)

    def exec(self, command: str) -> Move:
        return self.call("exec", ("exec", {"command": command}))

    # state
    def commands(self) -> Commands:
        for step in self.steps:
            for c in step.calls:
                if c.name == "read" and c.args.get("path") == self.location and c.result is not None:
                    return Commands(c.result, self.location.rsplit("/", 1)[0])
        raise Stuck("SKILL.md was never read")

    def answers(self, after: int = 0) -> list[dict]:
        """Every plan/check answer of an exec in steps[after:], in order."""
        return [a for s in self.steps[after:] for c in s.calls if c.name == "exec"
                for a in [parse_answer(exit_code(c.result or "")[1])] if a is not None]

    def plan_id(self) -> str:
        answers = self.answers()
        if not answers:
            raise Stuck("no plan_id: no plan or check answer so far")
        return answers[-1]["plan_id"]

    # decisions
    def decide(self) -> Move:
        last = self.steps[-1]
        if last.role == "user":
            return self.on_user(last, len(self.steps) == 1)
        if not last.calls:
            return Move("wait", text="Waiting.")
        kinds = [c.name for c in last.calls]
        if "sessions_spawn" in kinds:
            return self.after_round()
        call = last.calls[-1]
        if call.name == "read":
            return self.exec(self.commands().fill("plan", tasks=self.directive.get("tasks", "")))
        if call.name == "write":
            return self.exec(self.commands().fill("message", plan=self.plan_id(),
                                                  message_file=call.args.get("path", "")))
        if call.name == "sessions_yield":
            return Move("wait", text="Waiting for the sub-agents.")
        if call.name == "exec":
            return self.after_exec(call)
        raise Stuck(f"unexpected tool call {call.name}")

    def on_user(self, step: Step, first: bool) -> Move:
        if first:
            if "error" in self.directive:
                raise Stuck(self.directive["error"])
            if not self.location:
                raise Stuck(f"no {SKILL_NAME} skill in <available_skills>")
            return self.call("read_skill", ("read", {"path": self.location}))
        if step.text.startswith(YIELDED_MARK):
            return Move("wait", text="Waiting for the sub-agents.")
        if not any(mark in step.text for mark in SETTLED_MARKS):
            raise Stuck("unexpected user message: " + step.text)
        plan_id = self.plan_id()
        if self.directive.get("paste"):
            count = sum(1 for s in self.steps if s.role == "user"
                        and any(mark in s.text for mark in SETTLED_MARKS))
            path = f"{str(self.directive.get('dir', '')).rstrip('/')}/completion-{count:03d}.txt"
            return self.call("write", ("write", {"path": path, "content": step.text}))
        return self.exec(self.commands().fill("check", plan=plan_id))

    def after_exec(self, call: Call) -> Move:
        command = call.args.get("command", "")
        code, output = exit_code(call.result or "")
        origin = next((c for c in self.execs if c is not call and exit_code(c.result or "")[0] == 3
                       and named_fix(c.result) == command), None)
        if origin is not None:  # this was the fix: run the command that named it again
            if code != 0:
                raise Stuck(call.result or "")
            return self.exec(origin.args.get("command", ""))
        if parse_answer(output) is None:
            fix = named_fix(output) if code == 3 else None
            if fix and not any(c.args.get("command") == fix for c in self.execs):
                return self.exec(fix)
            raise Stuck(call.result or "")
        return self.after_round()

    def after_round(self) -> Move:
        """After a spawn round, or an answer: report refusals, then spawn, yield or finish."""
        start = max((i for i, s in enumerate(self.steps) if s.role == "user"), default=0)
        spawned = max((i for i, s in enumerate(self.steps)
                       if any(c.name == "sessions_spawn" for c in s.calls)), default=-1)
        if spawned > start:
            start = spawned
            reported = {c.args.get("command") for s in self.steps[spawned + 1:] for c in s.calls
                        if c.name == "exec" and parse_answer(exit_code(c.result or "")[1]) is not None}
            for call in (c for c in self.steps[spawned].calls if c.name == "sessions_spawn"):
                receipt = receipt_of(call.result)
                if receipt is None:
                    raise Stuck(call.result or "(no sessions_spawn result)")
                if receipt["status"] in ("error", "forbidden"):
                    command = self.commands().fill("refused", plan=self.plan_id(),
                                                   refused=call.args.get("label", ""),
                                                   error=str(receipt.get("error") or receipt))
                    if command not in reported:
                        return self.exec(command)
                elif receipt["status"] != "accepted":
                    raise Stuck(call.result or "")
        answers = self.answers(start)
        if not answers:
            return self.call("yield", ("sessions_yield", {}))
        last = answers[-1]
        if last.get("done") is True:
            lines = [f"{DONE} {last['plan_id']}"] + [f"{r.get('task_id')} {r.get('status')}"
                                                     for r in last.get("results") or []]
            return Move("final", text="\n".join(lines))
        spawns = {}
        for answer in answers:
            for entry in answer.get("spawn") or []:
                args = entry.get("args") if isinstance(entry, dict) else None
                if not isinstance(args, dict):
                    raise Stuck(f"a spawn entry without args: {json.dumps(entry)}")
                spawns.setdefault(args.get("label") or json.dumps(args, sort_keys=True), args)
        if spawns:
            return self.call("spawn", *(("sessions_spawn", args) for args in spawns.values()))
        return self.call("yield", ("sessions_yield", {}))


def play(body: dict) -> Move | None:
    """The host's next move for this request, or None when it is no host conversation."""
    messages = body.get("messages") or []
    found = host_directive(messages)
    if found is None:
        return None
    index, directive = found
    tag = directive.get("tag")
    host = Host(body, directive, conversation(messages[index:]))
    try:
        move = host.decide()
    except Stuck as stuck:
        move = Move("final", text=f"{STUCK} {str(stuck)[:300]}")
    move.tag = None if tag is None else str(tag)
    return move


def emitted_bytes(calls, text: str | None) -> int:
    """UTF-8 bytes the model emitted: each call's arguments JSON text plus the text content."""
    return sum(len(arguments.encode()) for _, arguments in calls) + len((text or "").encode())
