"""Plain-text rendering for people (the CLI); agents get --json instead."""
from __future__ import annotations

import json
import os
import sys


def terminal_columns(fallback: int = 120) -> int:
    """shutil.get_terminal_size's columns (COLUMNS, else the terminal, else `fallback`), without
    importing shutil (and the compression modules it imports) for `list`."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or fallback


def table(rows: list[dict], columns: list[str], *, max_width: int | None = None) -> str:
    """A left-aligned table; the last column is cut to fit the terminal."""
    if not rows:
        return ""
    width = max_width or terminal_columns()
    cells = [[str(r.get(c, "") if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    fixed = sum(widths[:-1]) + 2 * (len(columns) - 1)
    widths[-1] = max(10, min(widths[-1], width - fixed))
    def line(values):
        out = []
        for i, v in enumerate(values):
            v = v if len(v) <= widths[i] else v[: widths[i] - 1] + "…"
            out.append(v.ljust(widths[i]) if i < len(values) - 1 else v)
        return "  ".join(out).rstrip()
    return "\n".join([line([c.upper() for c in columns])] + [line(r) for r in cells])


def to_json(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)
