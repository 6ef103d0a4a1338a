"""The benchmarks still run: `bench/run.py --quick --only fanout` with tiny N prints its table,
bench/ladder.py at a tiny N returns sane figures, and the cold start times `plan`.

No timing is asserted here (timing goals live in bench/ and BENCHMARKS.md); this only keeps the
bench from rotting as the engine changes.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_fanout_bench_runs_and_prints_a_ratio_table():
    report = REPO / "BENCHMARKS.md"
    before = report.stat().st_mtime_ns if report.exists() else None
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--only", "fanout",
                           "--sizes", "20", "--concurrency", "4,50"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("N ") and "ratio" in line)
    cells = lambda line: re.split(r"\s{2,}", line.strip())  # noqa: E731 - cells are 2+ spaces apart
    columns = cells(lines[at])
    assert {"N", "C", "ratio", "calls/task", "completed"} <= set(columns)
    rows = [dict(zip(columns, cells(line))) for line in lines[at + 2:at + 4]]
    assert [(r["N"], r["C"]) for r in rows] == [("20", "4"), ("20", "50")]
    for row in rows:
        assert float(row["ratio"]) > 0
        assert float(row["calls/task"]) > 0
        assert row["completed"] == "20/20"
    assert "runtime calls per task" in proc.stdout
    after = report.stat().st_mtime_ns if report.exists() else None
    assert after == before, "a partial run must not rewrite BENCHMARKS.md"


# -- ladder economics (bench/ladder.py) ---------------------------------------------------------
BENCH = REPO / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import coldstart  # noqa: E402
import ladder  # noqa: E402

SMALL_N, SEED = 40, 7


@pytest.fixture(scope="module")
def ladder_result(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse home is per test
        home = tmp_path_factory.mktemp("ladder-home")
        mp.setenv("PARALLEL_AGENTS_HOME", str(home))
        mp.setenv("OPENCLAW_STATE_DIR", str(home / "openclaw-state"))
        return ladder.measure(SMALL_N, seed=SEED)


def test_ladder_bench_returns_one_sane_row_per_strategy(ladder_result):
    rows = {r["strategy"]: r for r in ladder_result["rows"]}
    assert list(rows) == list(ladder.STRATEGIES)
    for r in rows.values():
        assert r["n"] == SMALL_N
        assert 0 <= r["pass_rate"] <= 1
        assert r["completed"] + r["statuses"].get("failed", 0) == SMALL_N
        assert r["cost_usd"] > 0 and r["unpriced_models"] == []
        assert r["attempts"] >= SMALL_N
    cheapest, lad, strongest = rows["always-cheapest"], rows["ladder"], rows["always-strongest"]
    assert lad["pass_rate"] >= cheapest["pass_rate"]
    assert lad["pass_rate"] == strongest["pass_rate"]  # strongest's share decides both
    assert cheapest["cost_usd"] <= lad["cost_usd"] <= strongest["cost_usd"]
    assert rows["always-strongest"]["pct_of_strongest"] == pytest.approx(100)


def test_ladder_outcomes_come_from_the_engine_validation_and_escalation(ladder_result):
    rows = {r["strategy"]: r for r in ladder_result["rows"]}
    lad = rows["ladder-from-fast"]
    assert lad["tiers"] == ["fast", "balanced", "strongest"]
    assert rows["ladder"]["tiers"] == ["balanced", "strongest"]   # code_reviewer's own tier
    assert lad["reasks"] > 0 and lad["escalations"] > 0  # schema-invalid and gate-rejected replies
    assert rows["always-cheapest"]["escalations"] == rows["always-strongest"]["escalations"] == 0
    assert all(cost > 0 for cost in lad["cost_by_tier"].values())
    # every first prompt is ~input_tokens; re-asks carry their validation errors on top
    per_attempt = lad["input_tokens"] / lad["attempts"]
    assert ladder_result["input_tokens"] * 0.95 <= per_attempt <= ladder_result["input_tokens"] * 1.2
    # a task is right on a tier iff its seeded difficulty is below the tier's share: exactly
    # that share of the tasks
    shares = ladder_result["shares"]
    difficulty = ladder.difficulties(SMALL_N, SEED)
    assert lad["completed"] == sum(d < shares["strongest"] for d in difficulty) == round(0.95 * SMALL_N)
    assert rows["always-cheapest"]["completed"] == round(shares["fast"] * SMALL_N)


def test_ladder_goal_line_says_met_or_missed_with_the_figure(ladder_result):
    lines = ladder.goals(ladder_result)
    rows = {r["strategy"]: r for r in ladder_result["rows"]}
    assert [line.split(" (")[0] for line in lines] == ["ladder", "ladder-from-fast"]
    for line, name in zip(lines, ("ladder", "ladder-from-fast")):
        assert f"{rows[name]['pct_of_strongest']:.1f}% of always-strongest" in line
        assert line.endswith(": met") or ": MISSED: " in line


def test_ladder_section_in_benchmarks_md(ladder_result):
    import run
    text = run.render_markdown({"ladder": ladder_result}, run.machine(), "python3 bench/run.py",
                               "today", None)
    assert "## Ladder economics" in text
    assert "| ladder | balanced > strongest |" in text
    assert "| ladder-from-fast | fast > balanced > strongest |" in text
    assert text.index("## Ladder economics") < text.index(run.NOTES_MARKER)


def test_coldstart_times_plan_and_the_plan_command_runs(tmp_path):
    rows = {key: (shown, argv, kind) for key, shown, argv, kind in coldstart.commands()}
    assert {"list", "show", "plan"} <= set(rows)
    shown, argv, kind = rows["plan"]
    assert kind == "warm" and shown.startswith("python3 ai_orchestrator.py plan --agent ")
    env = dict(os.environ, PARALLEL_AGENTS_HOME=str(tmp_path / "home"))
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["spawn"]


# -- host cost (bench/host_cost.py) ------------------------------------------------------------
def test_host_cost_bench_measures_both_loops():
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--only", "host", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    start = proc.stdout.index('{\n "machine"')
    figures = json.JSONDecoder().raw_decode(proc.stdout, start)[0]["results"]["host"]
    rows = {(r["workload"], r["mode"]): r for r in figures["rows"]}
    assert set(rows) == {(w, m) for w in ("examples/tasks.yaml", "5-agent review team")
                         for m in ("before", "after")}
    assert all(r["completed"] == r["tasks"] for r in rows.values())
    for workload in ("examples/tasks.yaml", "5-agent review team"):
        # the old loop writes every prompt and every reply; the new one neither
        assert rows[(workload, "before")]["per_task"] > 10 * rows[(workload, "after")]["per_task"]
    assert rows[("examples/tasks.yaml", "after")]["rounds"] == 2     # backend waits for api
    assert len(figures["goals"]) == 2 and "Host cost" in proc.stdout
