"""The ids FakeOpenClaw gives runs are UUIDv4 strings made from a pool (simulation/fake_ids.py):
they must read exactly as str(uuid.uuid4()) would, never repeat, and never be shared by a
forked child with its parent."""
from __future__ import annotations

import os
import uuid

import pytest

from parallel_agents.simulation.fake_ids import POOL_SIZE, format_uuid4s, uuid4_strings
from parallel_agents.simulation.fake_openclaw import FakeOpenClaw


@pytest.mark.parametrize("raw", [bytes(16), b"\xff" * 16, bytes(range(16)), bytes(range(200, 216)),
                                 os.urandom(16 * 40)])
def test_formatting_is_that_of_the_uuid_module(raw):
    expected = [str(uuid.UUID(bytes=raw[i:i + 16], version=4)) for i in range(0, len(raw), 16)]
    assert format_uuid4s(raw) == expected


def test_ids_are_fresh_version_4_uuids_across_pool_refills():
    ids = [i for _ in range(POOL_SIZE) for i in uuid4_strings(3)]
    assert len(set(ids)) == len(ids) == 3 * POOL_SIZE
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert uuid4_strings(0) == []


def test_a_spawn_receipt_carries_uuid_shaped_ids():
    fake = FakeOpenClaw()
    receipt = fake.call("sessions_spawn", {"task": "hello", "label": "a"})
    run = fake.runs()[0]
    prefix = "agent:main:subagent:"
    assert receipt["childSessionKey"].startswith(prefix)
    for text in (receipt["runId"], run["task_id"], receipt["childSessionKey"][len(prefix):]):
        assert uuid.UUID(text).version == 4
    assert len({receipt["runId"], run["task_id"], receipt["childSessionKey"]}) == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_its_parents_pool():
    uuid4_strings(1)   # the pool now holds ids the parent has not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # child: report its next id and leave at once
        try:
            os.write(write, uuid4_strings(1)[0].encode())
        finally:
            os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert uuid.UUID(child_id).version == 4
    assert child_id != uuid4_strings(1)[0]
