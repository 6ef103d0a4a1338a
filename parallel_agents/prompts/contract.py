"""The output contract: reply instructions derived from an agent's output_schema.

Only the schema's structure and its `description` keywords are used (names, types, required,
allowed values, bounds) -- never `examples` or `default`, which models copy.
"""
from __future__ import annotations

import copy
import json

_MAX_DEPTH = 6


def _resolve(schema: dict, registry) -> dict:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and registry is not None and seen < 8:
        ref, rest = schema["$ref"], {k: v for k, v in schema.items() if k != "$ref"}
        target = registry.contents(ref) if not ref.startswith("#") else None
        if target is None:
            break
        schema = {**target, **rest} if rest else target
        seen += 1
    return schema


def _type_words(schema: dict, registry) -> str:
    schema = _resolve(schema, registry)
    if "const" in schema:
        return f"exactly {json.dumps(schema['const'])}"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        items = schema.get("items")
        inner = _type_words(items, registry) if isinstance(items, dict) else "values"
        head, _, tail = inner.partition(", ")
        if head in ("object", "string", "number", "integer", "boolean", "array"):
            head += "s"
        words = f"array of {head}" + (f" each {tail}" if tail else "")
    elif kind:
        words = kind
    elif "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf")
        words = " or ".join(_type_words(o, registry) for o in options)
    else:
        words = "any JSON value"
    bounds = []
    if "minimum" in schema and "maximum" in schema:
        bounds.append(f"{schema['minimum']} to {schema['maximum']}")
    elif "minimum" in schema:
        bounds.append(f"at least {schema['minimum']}")
    elif "maximum" in schema:
        bounds.append(f"at most {schema['maximum']}")
    if "minItems" in schema or "maxItems" in schema:
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        bounds.append(f"{lo}-{hi} items" if lo is not None and hi is not None
                      else f"at least {lo} items" if lo is not None else f"at most {hi} items")
    if "minLength" in schema:
        bounds.append(f"at least {schema['minLength']} characters")
    if "maxLength" in schema:
        bounds.append(f"at most {schema['maxLength']} characters")
    if "pattern" in schema:
        bounds.append(f"matching the regular expression {schema['pattern']}")
    return words + (", " + ", ".join(bounds) if bounds else "")


def _object_lines(schema: dict, registry, depth: int) -> list[str]:
    lines = []
    pad = "  " * depth
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        sub = _resolve(sub, registry) if isinstance(sub, dict) else {}
        words = _type_words(sub, registry)
        optional = "" if name in required else " (optional)"
        desc = sub.get("description")
        lines.append(f"{pad}- {name}: {words}{optional}." + (f" {desc.strip()}" if desc else ""))
        lines += _nested_lines(sub, registry, depth + 1)
    if schema.get("additionalProperties") is False and schema.get("properties"):
        lines.append(f"{pad}(No other fields.)")
    return lines


def _nested_lines(schema: dict, registry, depth: int) -> list[str]:
    if depth > _MAX_DEPTH:
        return []
    if schema.get("type") == "object" and schema.get("properties"):
        return _object_lines(schema, registry, depth)
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict):
        items = _resolve(items, registry)
        if items.get("type") == "object" and items.get("properties"):
            return ["  " * depth + "Each item has:"] + _object_lines(items, registry, depth)
    return []


# Every spawn of an agent asks describe() the same thing: remember the text. Only texts that
# did not follow a `$ref` into the registry are kept, so they depend on the schema alone. Keyed
# by the identity of the schema and registry; each entry keeps both alive (so an id is never
# reused while cached) and a deep copy of the schema, compared on every hit, so a schema mutated
# in place is described afresh. Bounded: cleared when full.
_DESCRIBED: dict[tuple[int, int], tuple] = {}
_DESCRIBED_MAX = 256


class _Recording:
    """A registry wrapper that notes whether it was consulted."""

    def __init__(self, registry):
        self.registry, self.used = registry, False

    def contents(self, uri: str):
        self.used = True
        return self.registry.contents(uri)


def describe(output_format: str, schema: dict | None = None, registry=None) -> str:
    """The reply instructions for one agent, as plain text."""
    if output_format != "json" or not schema:
        return {
            "markdown": "Reply with the Markdown document only: no preamble and no closing remarks.",
            "code": "Reply with the code only, in a single fenced code block.",
            "text": "Reply with the text only: no preamble and no closing remarks.",
        }.get(output_format, "Reply with the text only.")
    key = (id(schema), id(registry))
    hit = _DESCRIBED.get(key)
    if hit is not None and hit[0] is schema and hit[1] is registry and hit[2] == schema:
        return hit[3]
    recording = _Recording(registry) if registry is not None else None
    text = _describe_json(schema, recording)
    if recording is None or not recording.used:
        if len(_DESCRIBED) >= _DESCRIBED_MAX:
            _DESCRIBED.clear()
        _DESCRIBED[key] = (schema, registry, copy.deepcopy(schema), text)
    return text


def _describe_json(schema: dict, registry) -> str:
    root = _resolve(schema, registry)
    lines = ["Reply with one JSON object and nothing else: no prose before or after it, "
             "no code fences. It is validated against a schema; a reply that does not match "
             "is rejected."]
    if root.get("type") == "object" and root.get("properties"):
        lines.append("Fields (required unless marked optional):")
        lines += _object_lines(root, registry, 0)
    else:
        lines.append(f"The value: {_type_words(root, registry)}.")
    return "\n".join(lines)
