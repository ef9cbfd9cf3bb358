"""The benchmark's code on 1,000 records: builds a chain that verifies, and the queries answer."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def _bench():
    if str(ROOT) not in sys.path:  # benchmarks/ is a top-level package, not installed
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.audit")


def test_benchmark_builds_a_verifiable_chain_and_times_both_queries(tmp_path):
    bench = _bench()
    path = tmp_path / "audit-1000.db"
    bench.build(path, 1000)
    result = bench.measure(path, 1000, runs=10)
    assert result["verify_s"] > 0
    assert result["person"].mean_rows > 0 and result["org_dates"].mean_rows > 0
