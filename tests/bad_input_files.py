"""Bad-input cases about what the CLI reads (issue 14): files that are not regular files, values
Python cannot hold, output schemas that point outside themselves, a zip bomb and a dependency
ring too long for recursion. Each is one located line and exit 2 (1 for an invalid definition,
config or package), never a traceback, a hang or exit 70. (tests/test_file_limits.py has the
cases that need a FIFO, a plan or a release zip built first.)"""
from __future__ import annotations

import io
import struct
import zipfile

from bad_input_case import REVIEW, RUN_TASKS, SIM, Case
from support import definition_text

BIG = "1" * 5000                    # past Python's 4300-digit limit for int <-> str
HEX = "0x" + "f" * 4000             # loads fine, but its ~4800 decimal digits cannot be printed
RING = 1500


def _ring(n: int = RING) -> str:
    return "".join(f"- {{id: t{i}, agent: code_reviewer, task: x, depends_on: [t{(i + 1) % n}]}}\n"
                   for i in range(n))


def _ref_agent(ref: str, name: str = "ref_agent") -> str:
    """A valid json agent, except that output_schema's field `a` is a $ref to `ref`."""
    return definition_text(name, output_format="json", output_schema={
        "type": "object", "properties": {"a": {"$ref": ref}, "b": {"type": "string"}}})


def zip_bomb(inflated: int = 8 << 20, declared: int = 100) -> bytes:
    """A zip whose one entry says it is `declared` bytes but inflates to `inflated`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("parallel-agents/MANIFEST.json", "{}")
        archive.writestr("parallel-agents/bomb.txt", b"\0" * inflated)
    data = bytearray(buffer.getvalue())
    for sig, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30),
                                               (b"PK\x01\x02", 24, 28, 46)):
        at = data.find(sig)
        while at >= 0:
            name_len = struct.unpack_from("<H", data, at + name_len_at)[0]
            if data[at + name_at:at + name_at + name_len].endswith(b"bomb.txt"):
                struct.pack_into("<I", data, at + size_at, declared)
            at = data.find(sig, at + 1)
    return bytes(data)


CASES = {
    # -- not a regular file: refused before it is opened (a device never ends, a FIFO blocks) ----
    "task file: /dev/zero": Case(
        ("run", "--tasks", "/dev/zero", SIM), 2,
        ("/dev/zero:", "character device, not a regular file", "name a regular file"), json=True),
    "plan: task file /dev/zero": Case(
        ("plan", "--tasks", "/dev/zero"), 2, ("/dev/zero:", "not a regular file")),
    "--input: /dev/zero": Case(REVIEW + ("--input", "/dev/zero"), 2,
                               ("/dev/zero:", "not a regular file", "name a regular file")),
    "show --input: /dev/zero": Case(("show", "code_reviewer", "--input", "/dev/zero"), 2,
                                    ("/dev/zero:", "not a regular file")),
    "validate: /dev/zero": Case(("validate", "/dev/zero"), 2, ("/dev/zero:", "not a regular file"),
                                json=True),
    "install-agent: /dev/zero": Case(("install-agent", "/dev/zero"), 2,
                                     ("/dev/zero:", "not a regular file")),
    "install --from: /dev/zero": Case(("install", "--from", "/dev/zero", "--target", "skill"), 2,
                                      ("/dev/zero:", "not a regular file", "release zip")),
    # -- values Python cannot hold -----------------------------------------------------------------
    "task file: integer past the digit limit": Case(
        RUN_TASKS, 2,
        ("tasks.yaml:4:", "[0].input.n", "more than 4300 digits", "quote it"),
        {"tasks.yaml": f"- id: a\n  agent: code_reviewer\n  task: Review it\n  input: {{n: {BIG}}}\n"},
        json=True),
    "task file (JSON): integer past the digit limit": Case(
        ("run", "--tasks", "tasks.json", SIM), 2,
        ("tasks.json:3:", "[0].input.n", "more than 4300 digits", "quote it"),
        {"tasks.json": '[{"agent": "code_reviewer", "task": "x",\n "input":\n {"n": ' + BIG + "}}]"}),
    "--input: hex integer too large to print": Case(
        REVIEW + ("--input", "input.yaml"), 2, ("input.yaml:2:", "data.n", "more than 4300 digits"),
        {"input.yaml": f"data:\n  n: {HEX}\n"}),
    "--input: a date that does not exist": Case(
        REVIEW + ("--input", "input.yaml"), 2,
        ("input.yaml:1:", "when", "not a valid date", "quote it"), {"input.yaml": "when: 2024-13-45\n"}),
    "config: integer past the digit limit": Case(
        REVIEW, 1, ("config.yaml:1:", "max_concurrent", "more than 4300 digits"),
        {"~/config.yaml": f"max_concurrent: {BIG}\n"}),
    "overlay agent: integer past the digit limit": Case(
        REVIEW, 1, ("big_timeout.yaml:", "timeout_seconds", "more than 4300 digits"),
        {"~/agents/big_timeout.yaml": definition_text("big_timeout") + f"timeout_seconds: {BIG}\n"}),
    # -- output schemas that point outside themselves ----------------------------------------------
    "overlay agent: output_schema $ref to a URL": Case(
        REVIEW, 1,
        ("ref_agent.yaml:10:", "output_schema/properties/a", "'https://example.com/schema.json'",
         "never fetched", "#/$defs/NAME"),
        {"~/agents/ref_agent.yaml": _ref_agent("https://example.com/schema.json")}, json=True),
    "overlay agent: output_schema $ref to another file": Case(
        REVIEW, 1, ("ref_agent.yaml:10:", "output_schema/properties/a", "'other.json'", "never fetched"),
        {"~/agents/ref_agent.yaml": _ref_agent("other.json")}),
    "install-agent: output_schema $ref to nothing": Case(
        ("install-agent", "ref_agent.yaml"), 1,
        ("ref_agent.yaml:", "output_schema/properties/a", "'#/$defs/missing'", "points at nothing"),
        {"ref_agent.yaml": _ref_agent("#/$defs/missing")}),
    # -- sizes that must not reach recursion or memory ---------------------------------------------
    "task file: 1,500-task dependency ring": Case(
        RUN_TASKS, 2, ("tasks.yaml:", "depends_on", "cycle: t0 -> t1", "t1499 -> t0",
                       "remove one dependency"), {"tasks.yaml": _ring()}),
    "plan: 1,500-task dependency ring": Case(
        ("plan", "--tasks", "tasks.yaml"), 2, ("tasks.yaml:", "depends_on", "cycle"),
        {"tasks.yaml": _ring()}),
    "install --from: a zip bomb": Case(
        ("install", "--from", "bomb.zip", "--target", "skill"), 1,
        ("bomb.zip:", "bomb.txt", "cannot inflate to the 100 bytes it declares", "zip bomb"),
        {"bomb.zip": zip_bomb()}, json=True),
}
