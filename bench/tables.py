"""Tables for the benchmarks' output: aligned text for the terminal, Markdown for BENCHMARKS.md."""
from __future__ import annotations


def text_table(rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, a dashed line under the header row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return "\n".join(out)


def report(rows: list[list[str]], goals: list[str], title: str | None = None) -> str:
    """A benchmark's terminal output: an optional title, its table, its goal lines."""
    lines = [f"\n{title}"] if title else []
    return "\n".join(lines + [text_table(rows)] + [f"- {goal}" for goal in goals])
