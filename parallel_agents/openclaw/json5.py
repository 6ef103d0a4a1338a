"""JSON5, as OpenClaw's config file (openclaw.json) is written: a small reader for it.

OpenClaw writes plain JSON itself; people hand-edit it with comments, trailing commas, unquoted
keys, single-quoted strings, hex numbers, +/-Infinity and NaN. `read_json5(path)` tries plain JSON
first (fast), then this parser; errors name the file, the line and what is wrong.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from parallel_agents.core.errors import ConfigError, EnvironmentProblem


class OpenClawConfigError(ConfigError):
    """OpenClaw's config file (openclaw.json, JSON5) cannot be parsed."""


def read_json5(path: Path | str) -> dict:
    """The JSON5 object in `path`: plain JSON first (what OpenClaw writes), then JSON5 (comments,
    trailing commas, unquoted keys, single quotes, hex, +/-Infinity, NaN). Raises
    OpenClawConfigError (file, line, what is wrong) or EnvironmentProblem (unreadable)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentProblem(f"cannot read the OpenClaw config: {getattr(exc, 'strerror', None) or exc}",
                                 file=path, fix="check that the file exists and is readable UTF-8") from None
    try:
        try:
            data = json.loads(text)
        except ValueError:
            data = parse_json5(text, source=str(path))
    except RecursionError:
        raise OpenClawConfigError("nested too deeply to read", file=path, fix="flatten the file") from None
    if not isinstance(data, dict):
        raise OpenClawConfigError("the top level is not an object ({...})", file=path, line=1,
                                  fix="OpenClaw's config is one JSON5 object")
    return data


def parse_json5(text: str, *, source: str = "<text>") -> Any:
    """The JSON5 value in `text` (see read_json5); errors name `source` and the line."""
    return _Json5(text, source).document()


_IDENT = re.compile(r"(?:[^\W\d]|\$)[\w$]*")
_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_PLAIN = {'"': re.compile(r'[^"\\\n\r\u2028\u2029]+'), "'": re.compile(r"[^'\\\n\r\u2028\u2029]+")}
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0"}
_MAX_DEPTH = 200


class _Json5:
    def __init__(self, text: str, source: str):
        self.s, self.i, self.source = text, 0, source

    def fail(self, what: str, at: int | None = None):
        at = self.i if at is None else at
        line = self.s.count("\n", 0, at) + 1
        column = at - self.s.rfind("\n", 0, at)
        raise OpenClawConfigError(f"JSON5 syntax error at column {column}: {what}", file=self.source,
                                  line=line, fix="correct the file (OpenClaw cannot read it either)")

    def found(self) -> str:
        return "the end of the file" if self.i >= len(self.s) else repr(self.s[self.i])

    def skip(self) -> None:
        s, n = self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c.isspace() or c == "\ufeff":
                self.i += 1
            elif s.startswith("//", self.i):
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end < 0:
                    self.fail("a /* comment is never closed")
                self.i = end + 2
            else:
                return

    def document(self) -> Any:
        value = self.value(0)
        self.skip()
        if self.i < len(self.s):
            self.fail(f"unexpected {self.found()} after the end of the value")
        return value

    def value(self, depth: int) -> Any:
        self.skip()
        s, i = self.s, self.i
        if i >= len(s):
            self.fail("expected a value, found the end of the file")
        c = s[i]
        if c in "{[":
            if depth >= _MAX_DEPTH:
                self.fail(f"nested more than {_MAX_DEPTH} levels")
            return self.obj(depth + 1) if c == "{" else self.arr(depth + 1)
        if c in "\"'":
            return self.string()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if s.startswith(word, i) and not _ident_char(s, i + len(word)):
                self.i += len(word)
                return value
        match = _NUMBER.match(s, i)
        if match and not _ident_char(s, match.end()):
            self.i = match.end()
            return _number(match.group())
        self.fail(f"expected a value, found {self.found()}")

    def obj(self, depth: int) -> dict:
        start, out = self.i, {}
        self.i += 1
        while True:
            self.skip()
            if self.i >= len(self.s):
                self.fail(f"the object opened on line {self.s.count(chr(10), 0, start) + 1} is never closed")
            if self.s[self.i] == "}":
                self.i += 1
                return out
            if self.s[self.i] in "\"'":
                key = self.string()
            else:
                match = _IDENT.match(self.s, self.i)
                if not match:
                    self.fail(f"expected a key (a name or a quoted string) or '}}', found {self.found()}")
                key, self.i = match.group(), match.end()
            self.skip()
            if self.s[self.i:self.i + 1] != ":":
                self.fail(f"expected ':' after the key {key!r}, found {self.found()}")
            self.i += 1
            out[key] = self.value(depth)
            self.skip()
            if self.s[self.i:self.i + 1] == ",":
                self.i += 1
            elif self.s[self.i:self.i + 1] not in ("}", ""):   # "": reported as never closed
                self.fail(f"expected ',' or '}}' after the value of {key!r}, found {self.found()}")

    def arr(self, depth: int) -> list:
        start, out = self.i, []
        self.i += 1
        while True:
            self.skip()
            if self.i >= len(self.s):
                self.fail(f"the list opened on line {self.s.count(chr(10), 0, start) + 1} is never closed")
            if self.s[self.i] == "]":
                self.i += 1
                return out
            out.append(self.value(depth))
            self.skip()
            if self.s[self.i:self.i + 1] == ",":
                self.i += 1
            elif self.s[self.i:self.i + 1] not in ("]", ""):
                self.fail(f"expected ',' or ']' after a list item, found {self.found()}")

    def string(self) -> str:
        s, quote, start = self.s, self.s[self.i], self.i
        plain, parts = _PLAIN[quote], []
        self.i += 1
        while True:
            match = plain.match(s, self.i)
            if match:
                parts.append(match.group())
                self.i = match.end()
            if self.i >= len(s):
                self.fail("a string is never closed", at=start)
            c = s[self.i]
            if c == quote:
                self.i += 1
                text = "".join(parts)
                if any("\ud800" <= ch <= "\udfff" for ch in text):  # \uD83D\uDE00 pairs -> one char
                    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
                return text
            if c != "\\":
                self.fail("a line break inside a string (close the quote, or end the line with \\)")
            e = s[self.i + 1:self.i + 2]
            self.i += 2
            if e in _ESCAPES and not (e == "0" and s[self.i:self.i + 1].isdigit()):
                parts.append(_ESCAPES[e])
            elif e in ("x", "u"):
                width = 2 if e == "x" else 4
                digits = s[self.i:self.i + width]
                if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    self.fail(f"\\{e} needs {width} hex digits", at=self.i - 2)
                parts.append(chr(int(digits, 16)))
                self.i += width
            elif e == "\r":
                self.i += s[self.i:self.i + 1] == "\n"     # line continuation (CRLF)
            elif e in ("\n", "\u2028", "\u2029"):
                pass                                        # line continuation
            elif e == "" or e.isdigit():
                self.fail(f"invalid escape \\{e}", at=self.i - 2)
            else:
                parts.append(e)                             # \" \' \\ \/ and any other character


def _ident_char(s: str, i: int) -> bool:
    return i < len(s) and (s[i].isalnum() or s[i] in "_$")


def _number(text: str) -> int | float:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body in ("Infinity", "NaN"):
        return sign * float("inf") if body == "Infinity" else float("nan")
    if body[:2] in ("0x", "0X"):
        return sign * int(body, 16)
    return float(text) if any(c in body for c in ".eE") else int(text)
