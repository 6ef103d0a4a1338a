"""Reading YAML files fast (libyaml's C loader when present) and mapping data paths to lines."""
from __future__ import annotations

import re
from pathlib import Path

from .deps import require
from .errors import Problem


_INDENT = re.compile(r"^ +", re.M)


def _loader(yaml):
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path, *, shown: str | None = None, max_bytes: int = 1 << 20) -> str:
    """Read a UTF-8 text file or raise a located Problem-carrying error."""
    from .errors import InputError
    shown = shown or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=shown, fix="check the path") from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=shown, fix="name a .yaml file") from None
    except PermissionError:
        raise InputError("permission denied", file=shown, fix=f"make it readable: chmod u+r {shown}") from None
    if len(raw) > max_bytes:
        raise InputError(f"file is {len(raw)} bytes, larger than the {max_bytes}-byte limit",
                         file=shown, fix="split it or move large data out of it") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte {exc.start})", file=shown, line=line,
                         fix="save the file as UTF-8") from None


MAX_DEPTH = 100  # lists and mappings nested deeper than this are refused (see parse)


def parse(text: str, *, shown: str):
    """Parse YAML text; a syntax error becomes a Problem with its line, and so does data no
    caller could use safely: nested deeper than MAX_DEPTH (libyaml's composer recurses in C and
    crashes the process on very deep nesting; JSON encoding recurses too), or repeated by
    `&anchor`/`*alias` into far more data than the file holds (a "billion laughs")."""
    yaml = require("yaml")
    try:
        depth = _depth(yaml, text) if _may_nest(text) else 0
        if depth > MAX_DEPTH:
            return None, _too_deep(shown)
        data = yaml.load(text, Loader=_loader(yaml))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "nesting depth" in what:  # PyYAML >= 6.0.4 has a depth limit of its own
            return None, _too_deep(shown)
        return None, Problem(f"YAML syntax error: {what}", shown, mark.line + 1 if mark else None,
                             fix="fix the YAML syntax at that line")
    if "&" in text and "*" in text:  # anchors and aliases: the data may be far larger, or deeper
        problem = _expansion_problem(data, shown, budget=2 * len(text) + 10_000)
        if problem:
            return None, problem
    return data, None


def _may_nest(text: str) -> bool:
    """False when the text cannot nest deeper than MAX_DEPTH: each level needs a `[`, `{`, `-`
    or `?` of its own, or one more column of indentation."""
    marks = text.count("[") + text.count("{") + text.count("-") + text.count("?")
    if marks <= MAX_DEPTH // 2:
        indent = max((len(m) for m in _INDENT.findall(text)), default=0)
        return marks + indent > MAX_DEPTH
    return True


def _depth(yaml, text: str) -> int:
    """How deep the text nests, from the parser's event stream (which does not recurse)."""
    depth = deepest = 0
    for event in yaml.parse(text, Loader=_loader(yaml)):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return depth
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return deepest


def _too_deep(shown: str) -> Problem:
    return Problem(f"data nested more than {MAX_DEPTH} levels deep", shown,
                   fix="flatten the data (or send it as a string)")


def _expansion_problem(data, shown: str, *, budget: int) -> Problem | None:
    """A Problem when the loaded data (aliases expanded) exceeds `budget` characters' worth of
    values or MAX_DEPTH levels; the walk stops as soon as it does."""
    stack, cost = [(data, 0)], 0
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _too_deep(shown)
        if isinstance(value, dict):
            cost += 1 + len(value)
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            cost += 1 + len(value)
            stack.extend((item, depth + 1) for item in value)
        else:
            cost += len(value) if isinstance(value, str) else 1
        if cost > budget:
            return Problem("YAML aliases (*name) repeat data into far more than the file holds",
                           shown, fix="write the data out in full instead of repeating "
                                      "&anchors with *aliases")
    return None


def node_at(text: str, path) -> int | None:
    """Line (1-based) of the YAML node at a data path like ('output_schema', 'properties', 0)."""
    yaml = require("yaml")
    try:
        node = yaml.compose(text, Loader=_loader(yaml))
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            # the last occurrence wins in the loaded data, so point at that one
            pair = next(((k, v) for k, v in reversed(node.value) if k.value == str(key)), None)
            if pair is None:
                return line
            # point at the key's line: that is where the user looks
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def duplicate_keys(text: str) -> list[tuple[str, int]]:
    """Keys that appear twice in one mapping (PyYAML silently keeps the last): (key, line)."""
    yaml = require("yaml")
    try:
        root = yaml.compose(text, Loader=_loader(yaml))
    except yaml.YAMLError:
        return []
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen:
                        found.append((k.value, k.start_mark.line + 1))
                    seen.add(k.value)
                stack.append(v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(found, key=lambda kv: kv[1])


def dump(data) -> str:
    """Readable, stable YAML (block style, multi-line strings as | blocks, key order kept)."""
    yaml = require("yaml")

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper, value):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
