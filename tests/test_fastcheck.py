"""replies/fastcheck.py never calls a reply valid that jsonschema finds invalid: the shipped
agents' schemas and small schemas of each keyword, against valid samples and many mutations of
them, compared with Draft202012Validator. And validate_output answers as before."""
from __future__ import annotations

import copy
import random

import pytest
from jsonschema import Draft202012Validator

from parallel_agents.core.errors import DefinitionError
from parallel_agents.definitions.model import schema_registry
from parallel_agents.definitions.registry import Registry
from parallel_agents.definitions.samples import sample
from parallel_agents.replies.fastcheck import surely_valid, surely_valid_schema
from parallel_agents.replies.validate import validate_output

pytestmark = pytest.mark.usefixtures("warm_cache")

ODD_VALUES = [None, True, False, 0, 1, -1, 1.0, 1.5, float("nan"), "", "x", "high", "CWE-79",
              [], [1], ["a", "a"], [1, True], {}, {"a": 1}, 10 ** 20, "ü" * 3]


def _mutations(value, rng: random.Random, count: int = 60):
    """Copies of `value` with one part changed: replaced, removed, added to, or emptied."""
    out = []
    for _ in range(count):
        copied = copy.deepcopy(value)
        path, node = [], copied
        while isinstance(node, (dict, list)) and node and rng.random() < 0.75:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        action = rng.random()
        if not path:
            out.append(rng.choice(ODD_VALUES))
            continue
        parent, key = path[-1]
        if action < 0.5:
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif action < 0.7 and isinstance(parent, dict):
            del parent[key]
        elif action < 0.85 and isinstance(parent, dict):
            parent["unexpected_key"] = 1
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]) if rng.random() < 0.5 else rng.choice(ODD_VALUES))
        else:
            parent[key] = copy.deepcopy(parent[key])
        out.append(copied)
    return out


def _agree(schema, values, registry=None):
    validator = Draft202012Validator(schema, registry=registry) if registry else \
        Draft202012Validator(schema)
    for value in values:
        if surely_valid(validator, value):
            assert validator.is_valid(value), (schema, value)
        # the path without a validator (a schema the registry checked) decides the same
        assert surely_valid_schema(schema, value) == surely_valid(validator, value), (schema, value)


def test_the_shipped_schemas_never_pass_what_jsonschema_refuses():
    registry, rng = schema_registry(), random.Random(16)
    reg = Registry.load()
    for definition in reg:
        if not definition.output_schema:
            continue
        schema = definition.output_schema
        valid = sample(schema, registry, seed=1)
        validator = Draft202012Validator(schema, registry=registry)
        assert validator.is_valid(valid)
        _agree(schema, [valid] + _mutations(valid, rng), registry)


KEYWORD_SCHEMAS = [
    {"type": "integer"}, {"type": "number"}, {"type": ["string", "null"]}, {"type": "boolean"},
    {"enum": ["low", "high", 1, True, None]}, {"const": "x"}, {"const": 1},
    {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 10}},
     "required": ["a"], "additionalProperties": False},
    {"type": "object", "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 3}},
    {"type": "string", "pattern": "^CWE-[0-9]+$"}, {"exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"minProperties": 1, "maxProperties": 1}, {"items": False}, {"properties": {"a": False}},
    {"anyOf": [{"type": "string"}]}, {"patternProperties": {"^a": {"type": "string"}}},
    {"$defs": {"x": {"type": "string"}}, "$ref": "#/$defs/x"}, {"x-unknown": 1},
    {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
]


@pytest.mark.parametrize("schema", KEYWORD_SCHEMAS, ids=lambda s: ",".join(s))
def test_each_keyword_agrees_with_jsonschema(schema):
    values = ODD_VALUES + [[v] for v in ODD_VALUES] + [{"a": v} for v in ODD_VALUES] + [
        ["a", "b", "c"], ["ab", "ab"], [1, 1], [1, 1.0], {"a": 5}, {"a": 11}, {"a": 1, "b": 2},
        {"a": "abcd"}, {"b": ""}, "CWE-1", "CWE-x", 0.5, 0, 1]
    _agree(schema, values)


def test_validate_output_still_names_the_errors():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
              "additionalProperties": False}
    assert validate_output({"a": 1}, schema) == []
    assert validate_output({"a": "x", "b": 1}, schema) == [
        "(root): Additional properties are not allowed ('b' was unexpected)",
        "a: 'x' is not of type 'integer'"]


def test_a_checked_schema_changed_in_place_is_compiled_again():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert surely_valid_schema(schema, {"a": 1})
    schema["properties"]["a"]["type"] = "string"
    assert not surely_valid_schema(schema, {"a": 1})
    assert validate_output({"a": 1}, schema, schema_checked=True) == ["a: 1 is not of type 'string'"]


def test_a_checked_schema_asks_for_the_registry_only_when_jsonschema_is_needed():
    asked = []

    def registry():
        asked.append(1)
        return schema_registry()
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert validate_output({"a": 1}, schema, registry=registry, schema_checked=True) == []
    assert asked == []
    assert validate_output({}, schema, registry=registry, schema_checked=True) == [
        "(root): 'a' is a required property"]
    assert asked == [1]
    # not known to be checked: jsonschema's check_schema runs first, whatever the value
    with pytest.raises(DefinitionError):
        validate_output({"a": 1}, {"type": "integer", "minimum": "x"}, registry=registry)


def test_a_fan_out_of_valid_replies_never_imports_jsonschema(tmp_path):
    """The shipped agent's schema was checked when its file was loaded; its valid replies are
    decided by fastcheck.py, so the run needs no jsonschema (tens of ms on first use)."""
    import subprocess
    import sys
    from support import REPO
    code = f"""
import sys
sys.path[:0] = [{str(REPO)!r}, {str(REPO / "bench")!r}]
from fanout import workload
from parallel_agents.api import load_registry
from parallel_agents.definitions.samples import sample
from parallel_agents.openclaw.runtime import OpenClawRuntime
from parallel_agents.orchestrator import RealAIParallelOrchestrator
registry = load_registry()
reply = sample(registry.get("content_writer_funny").output_schema, seed=1)
tasks, fake = workload(20, 5, 0.0, "content_writer_funny", reply)
orch = RealAIParallelOrchestrator(max_concurrent=5, runtime=OpenClawRuntime(fake), registry=registry)
results = orch.run_parallel(tasks)
assert [r.status for r in results] == ["completed"] * 20, [r.error for r in results]
print(*(name in sys.modules for name in ("jsonschema", "referencing")))
"""
    env = {**__import__("os").environ, "PARALLEL_AGENTS_HOME": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr   # the first use fills the user folder's caches
    warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout.split() == ["False", "False"]
