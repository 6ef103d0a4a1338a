"""The benchmarks still run: `bench/run.py --quick --only fanout` with tiny N prints its table.

No timing is asserted here (timing goals live in bench/ and BENCHMARKS.md); this only keeps the
bench from rotting as the engine changes.
"""
from __future__ import annotations

import re
import subprocess
import sys

from pathlib import Path

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
