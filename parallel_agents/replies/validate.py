"""Is a child's reply what its agent promised? `validate_output` checks a value against the
agent's Draft 2020-12 schema and returns short, sorted `path: message` lines; `check_reply` runs
the whole ladder on one reply - extract (extract.py), refuse an unfinished or truncated run,
parse JSON through the repair ladder (repair.py), validate - and returns a `Checked` verdict
with a deterministic `retry_hint` to append to a re-ask prompt. Pure functions (no I/O).

A reply is only `ok` when the runtime said the run finished (`status` ok, or no status given), the
text was not truncated, and the value parses and validates. Anything else is not ok, with a reason.
The engine calls check_reply once per reply: compiled validators are cached per schema.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

from parallel_agents.core.errors import DefinitionError, InputError
from parallel_agents.replies.extract import Reply, extract_reply
from parallel_agents.replies.fastcheck import surely_valid, surely_valid_schema
from parallel_agents.replies.repair import REPAIR_BOM, REPAIR_FENCE, parse_json_reply, strip_code_fence

__all__ = ["Checked", "check_reply", "validate_output", "retry_hint", "OUTPUT_FORMATS",
           "MAX_PROBLEMS", "TRUNCATED"]

OUTPUT_FORMATS = ("json", "markdown", "code", "text")
MAX_PROBLEMS = 20          # validation lines kept before "(+N more)"
_MAX_LINE = 300            # one problem line is cut here (instances can be huge)
TRUNCATED = "reply was truncated"


@dataclass(frozen=True)
class Checked:
    """The verdict on one reply. `ok` means: finished, complete, parsed and valid."""

    ok: bool
    value: object
    text: str | None
    problems: list[str]
    repairs: list[str]
    truncated: bool
    retry_hint: str | None
    notes: list[str] = field(default_factory=list)
    source: str = "text"

    def to_dict(self) -> dict:
        return asdict(self)


def _pointer(path) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/".join(parts) if parts else "(root)"


def _path_key(path) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def _cut(line: str) -> str:
    return line if len(line) <= _MAX_LINE else line[:_MAX_LINE - 1] + "…"


# Compiled validators of schemas that passed check_schema, so a fan-out of N replies to one
# agent checks its schema once instead of N times (check_schema is ~90% of a validation).
# Keyed by the identity of the schema and registry objects; each entry keeps both alive (so an
# id is never reused while cached) and a deep copy of the schema, compared on every hit, so a
# schema mutated in place is checked and compiled again. Bounded: cleared when full.
_VALIDATORS: dict[tuple[int, int], tuple] = {}
_VALIDATORS_MAX = 256


def _validator_for(schema: dict, registry):
    """The compiled Draft 2020-12 validator of `schema` (jsonschema is imported here, on the
    first reply checked: commands that check none, such as `plan`, never pay for it)."""
    key = (id(schema), id(registry))
    hit = _VALIDATORS.get(key)
    if hit is not None and hit[0] is schema and hit[1] is registry and hit[2] == schema:
        return hit[3]
    import referencing
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise DefinitionError(f"output_schema is not a valid JSON Schema: {e.message}",
                              field="output_schema" + ("/" + _pointer(e.path) if e.path else ""),
                              fix="correct the agent's output_schema") from None
    validator = Draft202012Validator(schema, registry=registry if registry is not None
                                     else referencing.Registry())
    if len(_VALIDATORS) >= _VALIDATORS_MAX:
        _VALIDATORS.clear()
    _VALIDATORS[key] = (schema, registry, copy.deepcopy(schema), validator)
    return validator


def validate_output(value, schema: dict, *, registry=None, schema_checked: bool = False) -> list[str]:
    """Validate `value` against a Draft 2020-12 `schema`; return sorted `path: message` lines.

    `$ref`s resolve inside the schema and through `registry` (a referencing.Registry, or a
    function returning one, called only when jsonschema is needed); nothing is fetched from the
    network. `schema_checked`: the schema is known to pass check_schema (an agent's output_schema
    loaded by the registry), so a value fastcheck.py finds valid needs no jsonschema at all.
    At most MAX_PROBLEMS lines, then "(+N more)". `format` is not asserted (its result would
    depend on optional packages). A broken schema or an unresolvable `$ref` raises
    DefinitionError: re-asking the child cannot fix it.
    """
    if schema_checked and surely_valid_schema(schema, value):
        return []
    validator = _validator_for(schema, registry() if callable(registry) else registry)
    # fastcheck.py (the common subset, without jsonschema) once check_schema passed; a checked
    # schema's value was asked about above
    if not schema_checked and surely_valid(validator, value):
        return []
    from referencing.exceptions import Unresolvable
    try:
        errors = list(validator.iter_errors(value))
    except RecursionError:
        return ["(root): value is nested too deeply to validate"]
    except Unresolvable as e:
        raise DefinitionError(f"output_schema has a $ref that cannot be resolved: {e}",
                              field="output_schema",
                              fix="add the referenced schema to the registry") from None
    errors.sort(key=lambda e: (_path_key(e.absolute_path), e.message,
                               _path_key(e.absolute_schema_path)))
    lines = list(dict.fromkeys(_cut(f"{_pointer(e.absolute_path)}: {e.message}")
                               for e in errors))
    if len(lines) > MAX_PROBLEMS:
        lines = lines[:MAX_PROBLEMS] + [f"(+{len(lines) - MAX_PROBLEMS} more)"]
    return lines


# -------------------------------------------------------------------------------------- check
_ASK = {
    "json": "Reply again with only the JSON object.",
    "code": "Reply again with only the code.",
    "markdown": "Reply again with your complete answer in Markdown.",
    "text": "Reply again with your complete answer.",
}


def retry_hint(problems: list[str], output_format: str, *, truncated: bool = False) -> str:
    """The deterministic re-ask text for a reply that was not ok."""
    ask = _ASK.get(output_format, _ASK["text"])
    if truncated:
        ask = ask.replace("Reply again with", "Reply again, more briefly, with")
    return "\n".join(["Your previous reply was not valid:", *(f"- {p}" for p in problems), ask])


def check_reply(payload, *, output_format: str, schema: dict | None = None,
                registry=None, schema_checked: bool = False) -> Checked:
    """Run the whole ladder on one reply: extract, refuse unfinished/truncated, parse, validate.

    json: a collector's `structured` value is validated directly; otherwise the text goes through
    parse_json_reply, then validate_output when a schema is given (without one, the value must be
    a JSON object). markdown/text: ok when the text is non-empty. code: as text, after stripping
    one surrounding ``` fence (named in `repairs`). `payload` is anything extract_reply accepts.
    `value` is None unless `ok`: an invalid reply's parsed value is never handed on.
    `registry` and `schema_checked` are validate_output's.
    """
    if output_format not in OUTPUT_FORMATS:
        raise InputError(f"unknown output_format {output_format!r}", field="output_format",
                         fix=f"use one of {', '.join(OUTPUT_FORMATS)}")
    reply = extract_reply(payload)
    problems: list[str] = []
    repairs: list[str] = []
    value = None
    if reply.status not in (None, "ok"):
        problems.append(f"child run did not finish (status: {reply.status}"
                        + (f": {_cut(reply.error)})" if reply.error else ")"))
    elif reply.truncated:
        problems.append(TRUNCATED)
    elif output_format == "json":
        value, problems, repairs = _check_json(reply, schema, registry, schema_checked)
    elif reply.text is None and not isinstance(reply.structured, str):
        problems.append("reply was empty")
    else:   # a collector's structured string (outputSchema {"type": "string"}) is the whole text
        value = reply.structured if isinstance(reply.structured, str) else reply.text
        if value.startswith("\ufeff"):
            value = value[1:]
            repairs.append(REPAIR_BOM)
        if output_format == "code":
            inner = strip_code_fence(value)
            if inner is not None:
                value = inner
                repairs.append(REPAIR_FENCE)
        if not value.strip():
            problems.append("reply was empty")
    ok = not problems
    return Checked(
        ok=ok, value=value if ok else None, text=reply.text, problems=problems, repairs=repairs,
        truncated=reply.truncated,
        retry_hint=None if ok else retry_hint(problems, output_format, truncated=reply.truncated),
        notes=list(reply.notes), source=reply.source)


def _check_json(reply: Reply, schema, registry, schema_checked) -> tuple[object, list[str], list[str]]:
    if reply.structured is not None:
        value, repairs = reply.structured, []
    elif reply.text is None:
        return None, ["reply was empty"], []
    else:
        parsed = parse_json_reply(reply.text)
        if parsed.error:
            return None, [parsed.error], parsed.repairs
        value, repairs = parsed.value, parsed.repairs
    if schema is not None:
        return value, validate_output(value, schema, registry=registry,
                                      schema_checked=schema_checked), repairs
    if not isinstance(value, dict):
        return value, [f"(root): expected a JSON object, got {type(value).__name__}"], repairs
    return value, [], repairs
