"""Parsing a child's JSON reply through a short, named repair ladder that never changes meaning:
a UTF-8 BOM, one surrounding ``` fence, the one object inside prose, trailing commas outside
strings. Everything else (two objects, unbalanced brackets, single quotes, comments, NaN,
duplicate keys) is refused rather than guessed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

REPAIR_BOM = "stripped UTF-8 BOM"
REPAIR_FENCE = "stripped surrounding ``` code fence"
REPAIR_PROSE = "took the one JSON object out of surrounding text"
REPAIR_TRAILING_COMMAS = "removed trailing commas before } or ]"
TRUNCATED_JSON = "output ends mid-JSON (truncated?)"


@dataclass(frozen=True)
class ParseResult:
    value: object = None
    repairs: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Refused(ValueError):
    """Valid-looking JSON whose meaning would be ambiguous (duplicate key, NaN)."""


def _pairs(pairs):
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise _Refused(f"duplicate key {key!r} in a JSON object")
        seen.add(key)
    return dict(pairs)


def _constant(name):
    raise _Refused(f"not valid JSON: {name} is not a JSON value")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)
_JSON_FENCE = re.compile(r"\A```[ \t]*(?:json)?[ \t]*\r?\n(.*?)\r?\n?[ \t]*```\Z", re.S | re.I)
_ANY_FENCE = re.compile(r"\A```[^\n`]*\r?\n(.*?)\r?\n?[ \t]*```\Z", re.S)
_FENCE_LINE = re.compile(r"^[ \t]*```", re.M)
_CLOSER_OF = {"}": "{", "]": "["}


def _loads(text: str):
    try:
        value, end = _DECODER.raw_decode(text)
    except RecursionError:
        raise _Refused("JSON is nested too deeply to read") from None
    except (json.JSONDecodeError, _Refused):
        raise
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise _Refused("a number in the JSON has more digits than Python reads (4300); send "
                       "it as a string") from None
    if text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _json_error(e: json.JSONDecodeError) -> str:
    return f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"


def strip_code_fence(text: str, *, json_only: bool = False) -> str | None:
    """The inside of exactly one ``` fence wrapping the whole (stripped) text, else None."""
    m = (_JSON_FENCE if json_only else _ANY_FENCE).match(text.strip())
    if not m or _FENCE_LINE.search(m.group(1)):
        return None
    return m.group(1)


def _remove_trailing_commas(text: str) -> tuple[str, int]:
    """Drop each comma (outside strings) that is followed only by whitespace and } or ]."""
    out: list[str] = []
    removed = 0
    in_string = False
    for i, ch in enumerate(text):
        if in_string:
            if ch == '"' and _closes(text, i):
                in_string = False
            out.append(ch)
            continue
        if ch == '"':
            in_string = True
        elif ch == ",":
            j = i + 1
            while j < len(text) and text[j] in " \t\r\n":
                j += 1
            if j < len(text) and text[j] in "}]":
                removed += 1
                continue
        out.append(ch)
    return "".join(out), removed


def _closes(text: str, i: int) -> bool:
    """True when the quote at text[i] ends a string (preceded by an even run of backslashes)."""
    k = i - 1
    while k >= 0 and text[k] == "\\":
        k -= 1
    return (i - 1 - k) % 2 == 0


class _TooIrregular(Exception):
    pass


def _balanced_end(text: str, start: int, budget: list[int]) -> int | None:
    """End (exclusive) of the bracketed span opening at text[start]; None if the text ends inside
    it (a string or bracket left open); -1 if a closer does not match its opener. `budget` bounds
    the total characters scanned over a whole reply (so stray brackets cannot make it quadratic)."""
    stack: list[str] = []
    in_string = False
    for i in range(start, len(text)):
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooIrregular
        ch = text[i]
        if in_string:
            if ch == '"' and _closes(text, i):
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]":
            if not stack or stack[-1] != _CLOSER_OF[ch]:
                return -1
            stack.pop()
            if not stack:
                return i + 1
    return None


def parse_json_reply(text: str | None) -> ParseResult:
    """Parse a reply that should be one JSON value, applying only meaning-preserving repairs.

    Ladder (each applied repair is named in `repairs`): strip a UTF-8 BOM; strip one ``` / ```json
    fence around the whole text; remove trailing commas before } or ] outside strings; take the
    JSON object out of surrounding prose when a scan (raw_decode from each '{') finds exactly one.
    Refused with an `error`: several objects, unbalanced or stray brackets, single quotes,
    comments, NaN/Infinity, duplicate keys. A text that ends inside an open bracket or string
    gives TRUNCATED_JSON.
    """
    if text is None or not text.strip():
        return ParseResult(None, [], "empty reply")
    repairs: list[str] = []
    if text.startswith("\ufeff"):
        text = text[1:]
        repairs.append(REPAIR_BOM)
    text = text.strip()
    inner = strip_code_fence(text, json_only=True)
    if inner is not None:
        text = inner.strip()
        repairs.append(REPAIR_FENCE)
        if not text:
            return ParseResult(None, repairs, "empty reply (empty code fence)")
    try:
        value, commas = _loads_allowing_trailing_commas(text)
        return ParseResult(value, repairs + ([REPAIR_TRAILING_COMMAS] if commas else []), None)
    except _Refused as e:
        return ParseResult(None, repairs, str(e))
    except json.JSONDecodeError as e:
        first_error = e
    return _parse_from_prose(text, repairs, first_error)


def _loads_allowing_trailing_commas(text: str) -> tuple[object, bool]:
    """(value, whether trailing commas had to go). Raises _Refused, or the error of the text as
    given when it does not parse with the commas removed either."""
    try:
        return _loads(text), False
    except json.JSONDecodeError as first:
        fixed, removed = _remove_trailing_commas(text)
        if removed:
            try:
                return _loads(fixed), True
            except json.JSONDecodeError:
                pass
        raise first


def _parse_from_prose(text: str, repairs: list[str], first_error: json.JSONDecodeError
                      ) -> ParseResult:
    objects: list[tuple[int, int, object, bool]] = []
    covered: list[tuple[int, int]] = []
    broken: str | None = None
    budget = [20 * len(text) + 10_000]
    i = 0
    while True:
        starts = [k for k in (text.find("{", i), text.find("[", i)) if k != -1]
        if not starts:
            break
        j = min(starts)
        try:
            end = _balanced_end(text, j, budget)
        except _TooIrregular:
            return ParseResult(None, repairs, "too many unmatched brackets to find the JSON object")
        if end is None:
            return ParseResult(None, repairs, TRUNCATED_JSON)
        if end == -1:
            i = j + 1
            continue
        covered.append((j, end))
        i = end
        if text[j] == "[":
            continue                              # an array is not "the object"; skip it whole
        span = text[j:end]
        try:
            objects.append((j, end, *_loads_allowing_trailing_commas(span)))
            continue
        except _Refused as e:
            return ParseResult(None, repairs, str(e))
        except json.JSONDecodeError as e:
            err = e
        if re.match(r"\{\s*[\"'}]", span) and broken is None:   # meant as JSON, but is not
            broken = _json_error(err)
    if broken:
        return ParseResult(None, repairs, broken)
    if not objects:
        looks_json = text[:1] in "{[\""
        return ParseResult(None, repairs,
                           _json_error(first_error) if looks_json else "no JSON object found")
    if len(objects) > 1:
        return ParseResult(None, repairs,
                           f"found {len(objects)} JSON objects; expected exactly one")
    outside = "".join(text[a:b] for a, b in zip([0] + [e for _, e in covered],
                                                 [s for s, _ in covered] + [len(text)]))
    stray = next((ch for ch in outside if ch in "}]"), None)
    if stray:
        return ParseResult(None, repairs, f"stray {stray!r} next to the JSON object; "
                                          "refusing to guess")
    start, end, value, comma_fixed = objects[0]
    done = repairs + [REPAIR_PROSE] if (text[:start].strip() or text[end:].strip()) else repairs
    return ParseResult(value, done + ([REPAIR_TRAILING_COMMAS] if comma_fixed else []), None)


# ----------------------------------------------------------------------------------- validate
