"""scripts/device/bench.sh in smoke mode: the GPU machine's benchmark path, run on this CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_script_leaves_every_run_and_a_table(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [str(ROOT / "scripts" / "device" / "bench.sh"), str(out), "--smoke"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((out / "bench.json").read_text())
    assert summary["failed"] == [] and summary["skipped"] == []
    runs = summary["runs"]
    assert set(runs) == {"tiny-fp32", "tiny-bf16", "tiny-fp32-10hz"}
    modes = {(name, r["mode"], r["streams"]) for name, doc in runs.items() for r in doc["results"]}
    assert {("tiny-fp32", "bare", 1), ("tiny-fp32", "naive", 1), ("tiny-fp32", "pipeline", 1)} <= modes
    assert {("tiny-bf16", "bare", 1), ("tiny-bf16", "bare", 2)} <= modes
    assert runs["tiny-bf16"]["precision"] == "bf16" and runs["tiny-fp32-10hz"]["rate_hz"] == 10
    table = (out / "bench.md").read_text()
    assert "## tiny-bf16" in table and "pipeline" in table


def test_the_benchmark_script_needs_an_output_folder() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "device" / "bench.sh")], capture_output=True, text=True)
    assert done.returncode == 2 and "usage: scripts/device/bench.sh OUT" in done.stderr
