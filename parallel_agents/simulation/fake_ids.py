"""The ids FakeOpenClaw gives a run (runId, taskId, the uuid of its childSessionKey): random
UUIDv4 strings, as OpenClaw's crypto.randomUUID() gives and as tests check them.

They are what str(uuid.uuid4()) gives (16 random bytes, version 4, RFC 4122 variant), but made
POOL_SIZE at a time from one os.urandom call, a column of characters at a time instead of one
UUID object or f-string per id: three uuid.uuid4() per spawn were a tenth of what a spawn cost
the fake, most of it in calls that ran cold between the engine's own work. A forked child empties
the pool it inherits, so two processes never hand out the same ids.
"""
from __future__ import annotations

import os

__all__ = ["uuid4_strings", "format_uuid4s", "POOL_SIZE"]

POOL_SIZE = 256

_VERSION_4 = bytes(0x40 | (b & 0x0F) for b in range(256))   # byte 6: version nibble 4
_RFC_4122 = bytes(0x80 | (b & 0x3F) for b in range(256))    # byte 8: variant bits 10
_HEX_AT = [i for i in range(36) if i not in (8, 13, 18, 23)]  # the hex digits of "8-4-4-4-12"

_pool: list[str] = []   # list.pop and list.extend are atomic: threads share it without a lock


def format_uuid4s(raw: bytes) -> list[str]:
    """One UUIDv4 string per 16 bytes of `raw`: for each 16 bytes b, str(uuid.UUID(bytes=b,
    version=4)). The ids are written side by side, 37 characters apart (36 and a newline), one
    character position at a time for all of them (a strided slice each)."""
    count = len(raw) // 16
    data = bytearray(raw[:16 * count])
    data[6::16] = data[6::16].translate(_VERSION_4)
    data[8::16] = data[8::16].translate(_RFC_4122)
    digits = data.hex().encode("ascii")
    text = bytearray(b"-" * (37 * count))
    for digit, at in enumerate(_HEX_AT):
        text[at::37] = digits[digit::32]
    text[36::37] = b"\n" * count
    return text.decode("ascii").split()


def uuid4_strings(count: int) -> list[str]:
    """`count` fresh random UUIDv4 strings."""
    taken: list[str] = []
    while len(taken) < count:
        try:
            taken.append(_pool.pop())
        except IndexError:
            _pool.extend(format_uuid4s(os.urandom(16 * POOL_SIZE)))
    return taken


os.register_at_fork(after_in_child=_pool.clear)
