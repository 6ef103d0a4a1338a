"""How a simulated agent reads the prompt it is given: the task text and the fenced JSON blocks
(the input data, then the results of earlier tasks) of a prompt built by
prompts/build.py's build_prompt. Best effort: a prompt of another shape reads as empty."""
from __future__ import annotations

import json
import re

__all__ = ["data_blocks", "input_block", "task_text"]

_FENCE = re.compile(r"^<<<(DATA-[0-9a-f]+)\n(.*?)\n\1>>>$", re.S | re.M)


def data_blocks(prompt: str) -> list:
    """The fenced JSON blocks of a prompt built by prompts.build_prompt: the input data, then the
    results of earlier tasks (best effort)."""
    blocks = []
    for match in _FENCE.finditer(prompt):
        try:
            blocks.append(json.loads(match.group(2)))
        except ValueError:
            continue
    return blocks


def input_block(prompt: str) -> dict:
    """The JSON input data of a prompt built by prompts.build_prompt (best effort)."""
    if "\n## Input data\n" not in prompt:
        return {}
    blocks = data_blocks(prompt)
    return blocks[0] if blocks and isinstance(blocks[0], dict) else {}


def task_text(prompt: str) -> str:
    """The text under the prompt's `## Task` heading ("" without one)."""
    start = prompt.find("## Task\n")
    if start < 0:
        return ""
    end = prompt.find("\n\n## ", start)
    return prompt[start + 8: end if end > 0 else None].strip()
