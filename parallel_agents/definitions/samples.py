"""Schema-valid sample outputs for the simulated runtime (`demo`, tests, benchmarks).

The simulated runtime has no model behind it; its replies are generated from the agent's
output_schema so they pass validation, and say plainly that they are simulated.
"""
from __future__ import annotations

import hashlib
import re

DEFINITION_ID = "urn:parallel-agents:agent-definition"


def _words(name: str, schema: dict) -> str:
    desc = (schema.get("description") or "").strip().rstrip(".")
    text = desc.split(". ")[0] if desc else name.replace("_", " ")
    return f"[simulated] {text}"


_CANDIDATES = ("t{n}", "sim_{name}_{n}", "CWE-{n}", "1.1.1 Non-text Content", "v{n}")


def _string(name: str, schema: dict, seed: int) -> str:
    pattern = schema.get("pattern")
    value = _words(name, schema)
    if pattern:
        first = re.match(r"^\^\(([A-Za-z0-9_]+)\|", pattern)  # ^(a|b|...) -> a
        options = ([first.group(1)] if first else []) + [
            c.format(n=20 + seed % 900, name=name) for c in _CANDIDATES]
        value = next((o for o in options if re.search(pattern, o)), value)
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    while len(value) < lo:
        value += " - simulated detail"
    return value[:hi] if hi else value


def sample(schema: dict, registry=None, *, name: str = "value", seed: int = 0, depth: int = 0,
           root: dict | None = None):
    """A value that validates against `schema` (for the schemas our agents use). `$ref`s point at
    the definition schema, at the registry, or inside the schema itself (`#/$defs/...`)."""
    root = schema if root is None else root
    if schema.get("$ref") == DEFINITION_ID:
        return agent_definition_sample(f"sim_agent_{seed % 1000}", "")
    ref = schema.get("$ref")
    if isinstance(ref, str) and (ref.startswith("#") or registry is not None) and depth < 8:
        target = _pointer(root, ref[1:]) if ref.startswith("#") else registry.contents(ref)
        return sample({**target, **{k: v for k, v in schema.items() if k != "$ref"}},
                      registry, name=name, seed=seed, depth=depth + 1, root=root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][seed % len(schema["enum"])]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties", {})
        keys = list(schema.get("required", [])) or list(props)[:3]
        return {k: sample(props.get(k, {}), registry, name=k, seed=seed + i, depth=depth + 1, root=root)
                for i, k in enumerate(keys) if depth < 8}
    if kind == "array":
        count = max(schema.get("minItems", 0), min(2, schema.get("maxItems", 2)))
        items = schema.get("items", {})
        values = [sample(items, registry, name=name, seed=seed + i, depth=depth + 1, root=root)
                  for i in range(count)]
        if schema.get("uniqueItems") and len(set(map(str, values))) < len(values):
            values = values[:1]
        return values
    if kind in ("number", "integer"):
        lo, hi = schema.get("minimum", 0), schema.get("maximum", lo_default(schema))
        value = lo + (hi - lo) * ((seed % 7) + 3) / 10
        return int(value) if kind == "integer" else round(value, 1)
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "null":
        return None
    if kind == "string" or kind is None:
        return _string(name, schema, seed)
    return None


def _pointer(root: dict, pointer: str) -> dict:
    """The sub-schema at a JSON pointer ("/$defs/item") in `root`; {} when it is not there
    (`validate` refuses such a schema; a simulated reply need not fail on it)."""
    node = root
    for part in [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/") if p]:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def lo_default(schema: dict):
    return schema.get("minimum", 0) + 10


def seed_of(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def agent_definition_sample(name: str, purpose: str) -> dict:
    """What a simulated agent_creator returns: a small valid definition for the request."""
    clean = re.sub(r"[^a-z0-9_]", "_", (name or "new_agent").lower()).strip("_") or "new_agent"
    if not re.match(r"^[a-z][a-z0-9_]{1,63}$", clean):
        clean = f"agent_{clean}"[:64]
    purpose = (purpose or f"Work as {clean}").strip().rstrip(".")
    return {
        "name": clean,
        "category": "custom",
        "description": f"[simulated] {purpose}."[:300],
        "system_prompt": (f"You are a specialist agent. Your purpose: {purpose}.\n\nMethod:\n"
                          "1. Read the task and the input data completely.\n"
                          "2. Do the work the purpose describes, step by step.\n"
                          "3. Report what you found and what is missing.\n\nRules:\n"
                          "- Use only the facts in the input data; list what is missing.\n"),
        "output_format": "json",
        "output_schema": {
            "type": "object", "additionalProperties": False, "required": ["result", "missing"],
            "properties": {
                "result": {"type": "string", "description": "The outcome of the task."},
                "missing": {"type": "array", "items": {"type": "string"},
                            "description": "Information the task needed but did not get."}}},
        "tier": "fast",
        "timeout_seconds": 120,
    }
