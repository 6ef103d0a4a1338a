"""A fast "is it valid?" for replies against the common subset of JSON Schema, beside jsonschema.

jsonschema's validator walks a schema keyword by keyword, building a validator object per
subschema it descends into: checking one valid reply to a shipped agent's schema costs far more
than the engine's other work on a task. Most output schemas use a small, plain subset (type,
properties, required, additionalProperties, items, enum, minItems, minimum, pattern, ...), and
most replies are valid. So a schema of that subset is compiled once into nested checks that
answer only True (valid: jsonschema finds no error either) or False (invalid, or not sure), and
validate_output asks jsonschema on False, which then names the errors as before. A schema with
anything else ($ref, anyOf, patternProperties, ...) is never compiled: jsonschema checks it.

The checks follow jsonschema 4's Draft 2020-12 keywords: `integer` takes 1.0, `number` never
takes a bool; enum and const are only decided here for text values (jsonschema's equality of
other values, 1 == True among them, is left to it); `format` is not asserted (as in
validate_output).
"""
from __future__ import annotations

import copy
import re

#: keywords that never change validity (annotations; `format` is not asserted)
_ANNOTATIONS = frozenset(("description", "title", "examples", "default", "$comment", "format",
                          "deprecated", "readOnly", "writeOnly"))
_TYPES = {"object": lambda v: isinstance(v, dict),
          "array": lambda v: isinstance(v, list),
          "string": lambda v: isinstance(v, str),
          "boolean": lambda v: isinstance(v, bool),
          "null": lambda v: v is None,
          "number": lambda v: type(v) in (int, float),
          "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer())}


class _Unsupported(Exception):
    """The schema uses something this module does not decide: jsonschema checks it."""


def _number(value) -> bool:
    return type(value) in (int, float)


def _compile(schema):
    """A function value -> bool for `schema`, or _Unsupported."""
    if schema is True:
        return lambda value: True
    if schema is False:
        return lambda value: False
    if not isinstance(schema, dict):
        raise _Unsupported
    checks = []
    for key, arg in schema.items():
        if key in _ANNOTATIONS:
            continue
        maker = _KEYWORDS.get(key)
        if maker is None:
            raise _Unsupported
        checks.append(maker(arg, schema))
    checks = [c for c in checks if c is not None]
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]

    def every(value):
        for check in checks:
            if not check(value):
                return False
        return True
    return every


def _type(arg, schema):
    names = [arg] if isinstance(arg, str) else arg
    if not isinstance(names, list) or not all(n in _TYPES for n in names):
        raise _Unsupported
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]
    return lambda value: any([test(value) for test in tests])


def _properties(arg, schema):
    if not isinstance(arg, dict):
        raise _Unsupported
    subs = [(name, _compile(sub)) for name, sub in arg.items()]

    def check(value):
        if isinstance(value, dict):
            for name, sub in subs:
                if name in value and not sub(value[name]):
                    return False
        return True
    return check


def _required(arg, schema):
    if not isinstance(arg, list) or not all(isinstance(n, str) for n in arg):
        raise _Unsupported
    return lambda value: not isinstance(value, dict) or all(name in value for name in arg)


def _additional(arg, schema):
    known = schema.get("properties", {})
    if not isinstance(known, dict):
        raise _Unsupported
    if arg is True:
        return None
    if arg is False:
        return lambda value: not isinstance(value, dict) or all(k in known for k in value)
    sub = _compile(arg)

    def check(value):
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in known and not sub(v):
                    return False
        return True
    return check


def _items(arg, schema):
    sub = _compile(arg)

    def check(value):
        if isinstance(value, list):
            for v in value:
                if not sub(v):
                    return False
        return True
    return check


def _enum(arg, schema):
    if not isinstance(arg, list):
        raise _Unsupported
    texts = frozenset(v for v in arg if isinstance(v, str))
    return lambda value: isinstance(value, str) and value in texts   # else: jsonschema decides


def _const(arg, schema):
    if not isinstance(arg, str):
        raise _Unsupported
    return lambda value: isinstance(value, str) and value == arg


def _count(kind, test):
    def make(arg, schema):
        if type(arg) is not int:
            raise _Unsupported
        return lambda value: not isinstance(value, kind) or test(len(value), arg)
    return make


def _bound(test):
    def make(arg, schema):
        if not _number(arg):
            raise _Unsupported
        return lambda value: not _number(value) or test(value, arg)
    return make


def _pattern(arg, schema):
    if not isinstance(arg, str):
        raise _Unsupported
    try:
        compiled = re.compile(arg)
    except re.error:
        raise _Unsupported from None
    return lambda value: not isinstance(value, str) or compiled.search(value) is not None


def _unique(arg, schema):
    if arg is False:
        return None
    if arg is not True:
        raise _Unsupported
    # decided here only for text and whole numbers (not bools): jsonschema's own equality decides
    # the rest
    return lambda value: not isinstance(value, list) or (
        all(isinstance(v, str) or type(v) is int for v in value)
        and len({(type(v), v) for v in value}) == len(value))


_KEYWORDS = {
    "type": _type, "properties": _properties, "required": _required,
    "additionalProperties": _additional, "items": _items, "enum": _enum, "const": _const,
    "minItems": _count(list, lambda n, m: n >= m), "maxItems": _count(list, lambda n, m: n <= m),
    "minLength": _count(str, lambda n, m: n >= m), "maxLength": _count(str, lambda n, m: n <= m),
    "minProperties": _count(dict, lambda n, m: n >= m),
    "maxProperties": _count(dict, lambda n, m: n <= m),
    "minimum": _bound(lambda v, m: v >= m), "maximum": _bound(lambda v, m: v <= m),
    "exclusiveMinimum": _bound(lambda v, m: v > m), "exclusiveMaximum": _bound(lambda v, m: v < m),
    "pattern": _pattern, "uniqueItems": _unique,
}

# id(schema) -> (schema, a deep copy of it as compiled, check or None): kept alive with its entry,
# so an id is never reused while cached; the copy is compared on every hit, so a schema changed
# in place is compiled again
_COMPILED: dict[int, tuple] = {}
_COMPILED_MAX = 256


def surely_valid(validator, value) -> bool:
    """True only when `value` is valid against the schema of this jsonschema validator (whose
    schema passed check_schema); False when it is not, or when this module cannot tell."""
    return surely_valid_schema(validator.schema, value)


def surely_valid_schema(schema, value) -> bool:
    """surely_valid for a schema known to pass check_schema (an agent's output_schema, checked
    when the registry loaded its file), without a jsonschema validator: a run whose replies are
    all valid never imports jsonschema."""
    entry = _COMPILED.get(id(schema))
    if entry is None or entry[0] is not schema or entry[1] != schema:
        try:
            check = _compile(schema)
        except (_Unsupported, RecursionError):
            check = None
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        entry = _COMPILED[id(schema)] = (schema, copy.deepcopy(schema), check)
    if entry[2] is None:
        return False
    try:
        return entry[2](value) is True
    except (RecursionError, TypeError):   # e.g. a comparison jsonschema would make differently
        return False
