"""Spawning several children at once, as over the gateway's HTTP API (GatewayToolCaller
declares `parallel_calls`): the window fills with one batch of concurrent spawns instead of one
round trip after another, and nothing about the scheduler's guarantees changes."""
from __future__ import annotations

import threading

import pytest

from parallel_agents.core.errors import RunAborted, ToolError
from parallel_agents.engine.journal import read_records
from parallel_agents.engine.tasks import AgentTask

from test_engine import WRITER, FailingCaller, ParallelCaller, new_fake, new_orch, sim, valid_output


@pytest.fixture(autouse=True)
def _warm(warm_cache):
    """Load the shipped definitions from the validation cache (fast)."""


def writers(n: int, latency: float = 0.05) -> list[AgentTask]:
    return [AgentTask(WRITER, sim(latency=latency, reply=valid_output(WRITER)), task_id=f"w{i:02d}")
            for i in range(n)]


@pytest.mark.parametrize("width", [1, 4])
def test_spawns_go_out_as_many_at_once_as_the_caller_takes(width, fast_config, tmp_path):
    fake = new_fake()
    caller = ParallelCaller(fake, width, delay=0.02)
    orch = new_orch(caller, fast_config, tmp_path, collection="history", max_concurrent=8)

    results = orch.run_parallel(writers(16))

    assert [r.status for r in results] == ["completed"] * 16
    assert caller.peak["sessions_spawn"] == width
    assert orch.last_run.peak_in_flight <= 8 and fake.peak_running <= 8


def test_replies_of_runs_that_end_together_are_read_together(fast_config, tmp_path):
    fake = new_fake()
    caller = ParallelCaller(fake, 4, delay=0.02)
    orch = new_orch(caller, fast_config, tmp_path, collection="history", max_concurrent=4)

    results = orch.run_parallel(writers(4, latency=0.1))

    assert [r.status for r in results] == ["completed"] * 4
    assert caller.peak["sessions_history"] > 1


def test_back_pressure_inside_a_batch_requeues_without_failing_anything(fast_config, tmp_path):
    fake = new_fake(max_children=3)
    caller = ParallelCaller(fake, 8)
    events = []
    orch = new_orch(caller, fast_config, tmp_path, collection="history", max_concurrent=8,
                    on_event=events.append)

    results = orch.run_parallel(writers(12))

    assert [r.status for r in results] == ["completed"] * 12
    assert all(len(r.attempts) == 1 for r in results)      # a refusal is not an attempt
    assert any(e.kind == "backpressure" for e in events)
    assert fake.peak_active_children <= 3


class _Wide(FailingCaller):
    """FailingCaller taking spawns in batches of 4 (its own count needs them one at a time)."""
    parallel_calls = 4

    def __init__(self, *args):
        super().__init__(*args)
        self._lock = threading.Lock()

    def call(self, tool, args):
        with self._lock:
            return super().call(tool, args)


def test_a_fatal_error_in_a_batch_still_journals_the_siblings_it_accepted(fast_config, tmp_path):
    fatal = ToolError("the gateway refused the token (401)", tool="sessions_spawn", fatal=True,
                      fix="set OPENCLAW_GATEWAY_TOKEN")
    caller = _Wide(new_fake(), "sessions_spawn", 3, fatal)
    orch = new_orch(caller, fast_config, tmp_path, collection="history", max_concurrent=4)

    with pytest.raises(RunAborted):
        orch.run_parallel(writers(4, latency=0.2))

    [journal] = (tmp_path / "runs").glob("*.jsonl")
    records = read_records(journal)
    assert len([r for r in records if r["type"] == "spawn_intent"]) == 4   # all four were sent
    accepted = [r for r in records if r["type"] == "spawn_accepted"]
    assert len(accepted) == 3              # resume re-attaches these instead of spawning again
    assert records[-1]["type"] == "run_aborted"
