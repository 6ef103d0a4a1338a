"""Reading YAML files fast (libyaml's C loader when present) and mapping data paths to lines."""
from __future__ import annotations

from pathlib import Path

from .deps import require
from .errors import Problem


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


def parse(text: str, *, shown: str):
    """Parse YAML text; a syntax error becomes a Problem with its line."""
    yaml = require("yaml")
    try:
        return yaml.load(text, Loader=_loader(yaml)), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, Problem(f"YAML syntax error: {what}", shown, mark.line + 1 if mark else None,
                             fix="fix the YAML syntax at that line")


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
