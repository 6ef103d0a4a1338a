"""Agent definitions: the YAML files under agents/ and the user's overlay folder.

A definition is checked against agents/agent-definition.schema.json, then for what a schema
cannot say: the file name equals `name`, keys appear once, and `output_schema` is itself a valid
JSON Schema whose references resolve.

Least privilege (`agent_id`, `sandbox`): a definition may name the configured OpenClaw agent its
children run as and require a sandbox. Both go to sessions_spawn unchanged (spawn.SpawnRequest,
hostmode's spawns) and are absent from the spawn when the definition does not set them. What
OpenClaw 2026.9.6 accepts (node_modules/openclaw/dist):
- `agentId`: a string (sessions-spawn-tool-*.mjs createSessionsSpawnToolSchema). Valid ids match
  `^[a-z0-9][a-z0-9_-]{0,63}$` case-insensitively and are lower-cased (agent-id-*.mjs
  isValidAgentId / normalizeAgentId); we take the canonical lower-case form only. Anything else
  is refused `{status: "error", error: 'Invalid agentId "X". Agent IDs must match
  [a-z0-9][a-z0-9_-]{0,63}.'}`.
- `sandbox`: "inherit" | "require" (SESSIONS_SPAWN_SANDBOX_MODES; "inherit" is the default).
  OpenClaw takes any other value as "inherit" without a word, so the schema allows only these.
  spawn_targets.py has who may be spawned as, and the refusals; doctor.py checks a definition's
  agent before a run.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from parallel_agents.core import yamlio
from parallel_agents.core.deps import require
from parallel_agents.core.errors import DefinitionError, Problem, schema_fix
from parallel_agents.core.paths import DEFINITION_SCHEMA, display

# Bump when check_definition starts refusing what it accepted before (2: output_schema $refs
# must stay inside the schema or point at the definition schema; depth is capped), so that a
# cache of definitions found valid earlier (registry._ValidationCache) is not trusted past it.
CHECKS_VERSION = 2

FIELDS = ("name", "aliases", "category", "description", "system_prompt", "output_format",
          "output_schema", "tier", "timeout_seconds", "agent_id", "sandbox")


@dataclass(frozen=True)
class AgentDefinition:
    name: str
    category: str
    description: str
    system_prompt: str
    output_format: str
    output_schema: dict | None = None
    aliases: tuple[str, ...] = ()
    tier: str | None = None
    timeout_seconds: int | None = None
    agent_id: str | None = None   # the configured OpenClaw agent children run as (agentId)
    sandbox: str | None = None    # "require" | "inherit" (sessions_spawn sandbox); None = default
    source: str | None = field(default=None, compare=False)
    origin: str = field(default="inline", compare=False)  # shipped | overlay | inline

    @classmethod
    def from_dict(cls, data: dict, *, source: str | None = None, origin: str = "inline"):
        values = {k: data[k] for k in FIELDS if k in data}
        values["aliases"] = tuple(values.get("aliases", ()))
        return cls(**values, source=source, origin=origin)

    @property
    def schema_checked(self) -> bool:
        """Whether its output_schema is known to pass check_schema: a definition the registry
        loaded from a file was validated (or known valid) then; one made in code was not."""
        return self.origin != "inline"

    def to_dict(self) -> dict:
        """The definition as it is written in YAML (only the fields that are set)."""
        out = {}
        for key in FIELDS:
            value = getattr(self, key)
            if value in (None, ()):
                continue
            out[key] = list(value) if key == "aliases" else value
        return out

    def spawn_privileges(self) -> dict:
        """The sessions_spawn arguments this definition adds: agentId and sandbox, each only
        when it is set (a definition without them spawns exactly as before)."""
        out = {}
        if self.agent_id:
            out["agentId"] = self.agent_id
        if self.sandbox:
            out["sandbox"] = self.sandbox
        return out


@functools.lru_cache(maxsize=1)
def definition_schema() -> dict:
    return json.loads(DEFINITION_SCHEMA.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def schema_registry():
    """A `referencing` registry in which output schemas may `$ref` the definition schema
    (agent_creator's output *is* a definition)."""
    referencing = require("referencing")
    schema = definition_schema()
    return referencing.Registry().with_resource(
        schema["$id"], referencing.Resource.from_contents(schema))


def _fix_for(error) -> str | None:
    kind, path = error.validator, list(error.absolute_path)
    if kind == "additionalProperties":
        allowed = ", ".join(error.schema.get("properties", {}))
        return f"remove it; allowed keys are: {allowed}"
    if kind == "pattern" and path == ["agent_id"]:
        return ("use the id of an agent configured in openclaw.json (agents.list): a lower-case "
                "letter or digit, then letters, digits, _ or -, up to 64 characters")
    if kind == "pattern" and path == ["tier"]:
        return "use a tier name from config.yaml: lower case letters, digits, _ or -, up to 32"
    if kind == "pattern" and path and (path[-1] in ("name", "category") or path[0] == "aliases"):
        return "use lower snake case: a letter, then letters, digits or _ (2-64 characters)"
    if kind == "not" and path == []:
        return "remove output_schema, or set output_format: json"
    return schema_fix(error)


def _schema_problems(data, shown: str, text: str | None) -> list[Problem]:
    jsonschema = require("jsonschema")
    validator = jsonschema.Draft202012Validator(definition_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        message = error.message
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in extra:
                line = yamlio.node_at(text, path + [key]) if text else None
                problems.append(Problem(f"unknown key {key!r}", shown, line,
                                        "/".join(map(str, path + [key])), _fix_for(error)))
            continue
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else "?"
            path = path + [missing]
            message = "is required" if missing != "output_schema" else \
                "is required when output_format is json"
        if error.validator == "not" and not path:
            path, message = ["output_schema"], "is only allowed when output_format is json"
        if len(message) > 160:
            message = message[:157] + "..."
        line = yamlio.node_at(text, path) if text else None
        problems.append(Problem(message, shown, line, "/".join(map(str, path)) or None,
                                _fix_for(error)))
    return problems


_REF_KEYS = ("$ref", "$dynamicRef")
_DATA_KEYS = ("const", "enum", "examples", "default")  # values, not schemas: no refs in there
_NAME_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_REF_FIX = ("point $ref at a part of output_schema (#/$defs/NAME) or at the agent definition "
            "schema (urn:parallel-agents:agent-definition); other files and URLs are never "
            "fetched: copy what you need into output_schema's $defs")


def _ref_problems(schema: dict, shown: str, text: str | None) -> list[Problem]:
    """Every `$ref` of an output schema must resolve without fetching anything: to a part of
    the schema itself (`#...`), or to the definition schema (its $id, which agent_creator's and
    agent_refiner's outputs use). A URL or another file passes check_schema but would fail (or
    be fetched) the first time a reply is validated. Walked with a stack: no recursion."""
    referencing = require("referencing")
    from referencing.jsonschema import DRAFT202012
    own_id = definition_schema()["$id"]
    registry = schema_registry()
    root = registry.resolver_with_root(DRAFT202012.create_resource(schema))
    problems: list[Problem] = []
    stack = [(schema, ["output_schema"], root, False)]  # names: a mapping of names to schemas
    while stack:
        node, path, resolver, names = stack.pop()
        if isinstance(node, list):
            stack.extend((item, path + [i], resolver, False) for i, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        if names:  # `properties` and the like: every value is a schema, whatever its name
            stack.extend((value, path + [key], resolver, False) for key, value in node.items())
            continue
        if len(path) > 1 and isinstance(node.get("$id"), str):  # a resource of its own
            resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
        for key in _REF_KEYS:
            ref = node.get(key)
            if not isinstance(ref, str):
                continue
            # the field is the (sub)schema holding the reference
            line = yamlio.node_at(text, path) if text else None
            if not (ref.startswith("#") or ref == own_id or ref.startswith(own_id + "#")):
                problems.append(Problem(
                    f"unresolvable reference: {key} {ref[:100]!r} points outside the definition "
                    "(it is never fetched)", shown, line, "/".join(map(str, path)), _REF_FIX))
                continue
            try:
                resolver.lookup(ref)
            except referencing.exceptions.Unresolvable:
                problems.append(Problem(f"unresolvable reference: {key} {ref[:100]!r} points at "
                                        "nothing", shown, line, "/".join(map(str, path)), _REF_FIX))
        stack.extend((value, path + [key], resolver, key in _NAME_MAPS)
                     for key, value in reversed(node.items())
                     if key not in _DATA_KEYS and isinstance(value, (dict, list)))
    return problems


def _output_schema_problems(schema: dict, shown: str, text: str | None) -> list[Problem]:
    jsonschema = require("jsonschema")
    line = yamlio.node_at(text, ["output_schema"]) if text else None
    if yamlio.depth_of(schema) > yamlio.MAX_DEPTH:  # defined in Python: YAML is capped already
        return [Problem(f"nested more than {yamlio.MAX_DEPTH} levels deep", shown, line,
                        "output_schema", "flatten it, e.g. with $defs and #/$defs/NAME refs")]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(map(str, ["output_schema", *exc.absolute_path]))
        return [Problem(f"not a valid JSON Schema: {exc.message[:140]}", shown,
                        yamlio.node_at(text, ["output_schema", *exc.absolute_path]) if text else line,
                        where, "fix it to follow JSON Schema draft 2020-12")]
    problems = _ref_problems(schema, shown, text)
    if problems:
        return problems
    try:  # every $ref must resolve, or validating a reply would crash later
        validator = jsonschema.Draft202012Validator(schema, registry=schema_registry())
        validator.is_valid({})
    except Exception as exc:  # referencing.exceptions.Unresolvable and friends
        return [Problem(f"unresolvable reference: {exc}", shown, line, "output_schema",
                        "point $ref at #/$defs/... or urn:parallel-agents:agent-definition")]
    return []


def check_definition(data, *, file: str | Path | None = None, text: str | None = None,
                     expected_name: str | None = None) -> list[Problem]:
    """Every problem with one definition (empty list = valid)."""
    shown = display(file) if file else "<definition>"
    if not isinstance(data, dict):
        return [Problem("a definition must be a YAML mapping of keys to values", shown, 1,
                        fix="start the file with `name: your_agent`")]
    problems = []
    if text:
        problems += [Problem(f"key {key!r} appears more than once", shown, line, key,
                             "keep one of them") for key, line in yamlio.duplicate_keys(text)]
    problems += _schema_problems(data, shown, text)
    name = data.get("name")
    name_ok = not any(p.field == "name" for p in problems)  # an invalid name: no file to rename to
    if expected_name and isinstance(name, str) and name != expected_name and name_ok:
        problems.append(Problem(f"name {name!r} differs from the file name {expected_name!r}",
                                shown, yamlio.node_at(text, ["name"]) if text else None, "name",
                                f"rename the file to {name}.yaml or set name: {expected_name}"))
    if isinstance(data.get("output_schema"), dict):
        problems += _output_schema_problems(data["output_schema"], shown, text)
    return problems


def read_definition_text(path: Path) -> tuple[str, list[Problem]]:
    """(text, problems) of one file, without raising."""
    try:
        return yamlio.read_text(path, shown=display(path)), []
    except DefinitionError as exc:
        return "", exc.problems
    except Exception as exc:  # InputError from read_text
        problems = getattr(exc, "problems", None)
        if problems is None:
            raise
        return "", problems


def parse_definition_text(text: str, path: Path) -> tuple[dict | None, list[Problem]]:
    """(data, problems) of a file's text, without raising."""
    data, problem = yamlio.parse(text, shown=display(path))
    return data, [problem] if problem else []


def read_definition_file(path: Path) -> tuple[dict | None, str, list[Problem]]:
    """(data, text, problems) for one file, without raising."""
    text, problems = read_definition_text(path)
    if problems:
        return None, "", problems
    data, problems = parse_definition_text(text, path)
    return data, text, problems


def load_definition_file(path: Path, *, origin: str = "inline") -> AgentDefinition:
    """Load and fully validate one file; raises DefinitionError listing every problem."""
    data, text, problems = read_definition_file(path)
    if not problems:
        problems = check_definition(data, file=path, text=text, expected_name=path.stem)
    if problems:
        raise DefinitionError(f"{display(path)} is not a valid agent definition", problems=problems)
    return AgentDefinition.from_dict(data, source=str(path), origin=origin)
