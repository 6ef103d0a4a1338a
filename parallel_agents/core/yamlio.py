"""Reading YAML files fast (libyaml's C loader when present) and mapping data paths to lines."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from parallel_agents.core.deps import require
from parallel_agents.core.errors import Problem


_INDENT = re.compile(r"^ +", re.M)


def _loader(yaml):
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _int_digits_limit() -> int:
    """Python's limit on digits in int/str conversion (0: none; no limit before 3.11)."""
    import sys
    get = getattr(sys, "get_int_max_str_digits", None)
    return get() if get else 4300


_CHECKED_LOADERS: dict = {}


def _checked_loader(yaml):
    """The safe loader, except that values Python cannot hold become a located error instead
    of a ValueError from deep inside PyYAML: an integer past Python's digit limit (or one whose
    value would pass it, as 0x.../0b.../1:2:3 ones do, so that no later str() or JSON encoding
    fails), or a date such as 2024-13-45."""
    base = _loader(yaml)
    loader = _CHECKED_LOADERS.get(base)
    if loader is not None:
        return loader
    limit = _int_digits_limit()
    too_big = 10 ** limit if limit else None

    class ValueProblem(yaml.YAMLError):
        def __init__(self, message: str, fix: str, node):
            super().__init__(message)
            self.message, self.fix, self.problem_mark = message, fix, node.start_mark

    def construct_int(constructor, node):
        try:
            value = base.construct_yaml_int(constructor, node)
        except ValueError:
            value = None
        if value is None or (too_big is not None and abs(value) >= too_big):
            raise ValueProblem(f"a whole number of more than {limit} digits",
                               "quote it to keep it as text, or shorten it", node)
        return value

    def construct_timestamp(constructor, node):
        try:
            return base.construct_yaml_timestamp(constructor, node)
        except (ValueError, OverflowError) as exc:
            raise ValueProblem(f"{constructor.construct_scalar(node)!r} is not a valid date or "
                               f"time ({exc})", "quote it to keep it as text, or fix the date",
                               node) from None

    loader = type("CheckedLoader", (base,), {"ValueProblem": ValueProblem})
    loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    _CHECKED_LOADERS[base] = loader
    return loader


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def not_regular(mode: int, shown: str):
    """The InputError for a path that is not a regular file (mode from os.stat)."""
    from parallel_agents.core.errors import InputError
    if stat.S_ISDIR(mode):
        return InputError("is a folder, not a file", file=shown, fix="name a .yaml file")
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return InputError(f"is {kind}, not a regular file", file=shown,
                      fix="name a regular file (save piped or generated data to a file first)")


def _too_large(size: int | None, max_bytes: int, shown: str):
    from parallel_agents.core.errors import InputError
    what = f"file is {size} bytes," if size else "file is"
    return InputError(f"{what} larger than the {max_bytes}-byte limit", file=shown,
                      fix="split it or move large data out of it")


def read_bytes(path: Path, *, shown: str | None = None, max_bytes: int = 1 << 20) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, or a located InputError: a folder,
    FIFO, device or socket is refused before it is opened (a FIFO would block, /dev/zero never
    ends), and no more than max_bytes + 1 bytes are ever read (the file may grow meanwhile)."""
    from parallel_agents.core.errors import InputError
    shown = shown or str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise not_regular(info.st_mode, shown)
        if info.st_size > max_bytes:
            raise _too_large(info.st_size, max_bytes, shown)
        # O_NONBLOCK: should the path become a FIFO after the stat, opening it cannot block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise not_regular(info.st_mode, shown)
            raw = fh.read(max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError("file not found", file=shown, fix="check the path") from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=shown, fix="name a .yaml file") from None
    except PermissionError:
        raise InputError("permission denied", file=shown, fix=f"make it readable: chmod u+r {shown}") from None
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, a NUL in the name
        raise InputError(f"cannot read it: {getattr(exc, 'strerror', None) or exc}", file=shown,
                         fix="check the path") from None
    if len(raw) > max_bytes:
        raise _too_large(None, max_bytes, shown)
    return raw


def read_stream(stream, *, shown: str = "stdin", max_bytes: int = 1 << 20) -> str:
    """At most `max_bytes` of a stream (binary, or text: then characters) as text; an
    InputError when there is more (the rest is never read) or it is not UTF-8."""
    raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        from parallel_agents.core.errors import InputError
        raise InputError(f"more than the {max_bytes}-byte limit", file=shown,
                         fix="send less, or save it to a file and pass the file")
    return raw if isinstance(raw, str) else _decode(raw, shown)


def read_stdin(*, max_bytes: int = 1 << 20) -> str:
    """Standard input as text, at most `max_bytes` of it (see read_stream)."""
    import sys
    return read_stream(getattr(sys.stdin, "buffer", sys.stdin), max_bytes=max_bytes)


def read_text(path: Path, *, shown: str | None = None, max_bytes: int = 1 << 20) -> str:
    """Read a UTF-8 text file (a regular file of at most `max_bytes`, see read_bytes) or raise
    a located InputError."""
    shown = shown or str(path)
    return _decode(read_bytes(path, shown=shown, max_bytes=max_bytes), shown)


def _decode(raw: bytes, shown: str) -> str:
    from parallel_agents.core.errors import InputError
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
    loader = _checked_loader(yaml)
    try:
        depth = _depth(yaml, text) if _may_nest(text) else 0
        if depth > MAX_DEPTH:
            return None, _too_deep(shown)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if isinstance(exc, loader.ValueProblem):
            return None, Problem(exc.message, shown, mark.line + 1,
                                 _field_at(yaml, text, mark), exc.fix)
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


def _field_at(yaml, text: str, mark) -> str | None:
    """The data path of the scalar that starts at `mark`, as `tasks[0].input.n` (None when it
    is the whole document or cannot be found). Walks the composed nodes, without recursion."""
    try:
        root = yaml.compose(text, Loader=_loader(yaml))
    except yaml.YAMLError:
        return None
    stack = [(root, "")]
    while stack:
        node, path = stack.pop()
        if node is None:
            continue
        start = node.start_mark
        if isinstance(node, yaml.ScalarNode):
            if (start.line, start.column) == (mark.line, mark.column):
                return path or None
        elif isinstance(node, yaml.MappingNode):
            stack.extend((v, f"{path}.{k.value}" if path else str(k.value))
                         for k, v in node.value if isinstance(k, yaml.ScalarNode))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node.value))
    return None


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


def load_json(text: str, *, shown: str):
    """(data, None) for JSON text, or (None, Problem) with its line: a syntax error, a number
    past Python's digit limit, data nested deeper than MAX_DEPTH (json.loads recurses, and so
    would whatever walks the result)."""
    import json
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, Problem(f"not valid JSON: {exc.msg}", shown, exc.lineno,
                             fix="fix the JSON syntax at that line")
    except RecursionError:
        return None, _too_deep(shown)
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        limit = _int_digits_limit()
        found = re.search(r"\d{%d}" % (limit + 1), text) if limit else None
        return None, Problem(f"a whole number of more than {limit} digits", shown,
                             text[: found.start()].count("\n") + 1 if found else None,
                             fix="quote it to keep it as text, or shorten it")
    if depth_of(data) > MAX_DEPTH:
        return None, _too_deep(shown)
    return data, None


def depth_of(data, *, stop: int = MAX_DEPTH) -> int:
    """How deeply lists and mappings nest in `data` (without recursion; counting stops just
    past `stop`)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        if depth > stop:
            return depth
        stack.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return deepest
