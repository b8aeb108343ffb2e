"""``vkstream bench`` end to end: all three modes on a tiny replay, table and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_bench_runs_every_mode_and_writes_the_json(
    ray_session: str, cli, kitti_datasets, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    result = cli(
        "bench", "--streams", "1,2", "--frames", "4", "--warmup", "1", "--threads", "1",
        "--data", kitti_datasets["semkitti-dvps"], "--checkpoint", REPO / "checkpoints" / "synth_small.pt",
        "--json", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "| mode | streams | fps | p50 ms | p99 ms | vs bare |" in result.out
    data = json.loads(out.read_text())
    rows = {(r["mode"], r["streams"]): r for r in data["results"]}
    assert set(rows) == {(m, s) for m in ("bare", "naive", "pipeline") for s in (1, 2)}
    for row in rows.values():
        assert row["fps"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["frames"] == 3 * row["streams"]
    assert rows[("pipeline", 2)]["mean_batch"] >= 1
    # what each process of the pipeline costs per frame, beside the loops' own process
    assert all(row["cpu_ms"] > 0 for row in rows.values())
    by_process = rows[("pipeline", 2)]["cpu_ms_by_process"]
    # on a CPU the model runs in two actors, the backbone's and the heads'
    assert data["model_actors"] == 2
    assert {"backbone", "kernel_tracker+depth_head", "publisher", "replays", "subscriber"} == set(by_process)
    assert rows[("pipeline", 2)]["cpu_ms"] == pytest.approx(sum(by_process.values()), abs=0.5)
    assert data["machine"]["cores"] >= 1
    assert data["max_batch"] == "bare"  # the pipeline batches every stream, as the bare loop


def test_bench_refuses_bad_arguments_in_one_line(cli) -> None:
    assert "unknown mode fast" in cli("bench", "--modes", "bare,fast").one_line_error("vkstream bench")
    bad_batch = cli("bench", "--max-batch", "two")
    assert "a whole number, bare or auto" in bad_batch.one_line_error("vkstream bench")
    assert "invalid choice: '3'" in cli("bench", "--model-actors", "3").one_line_error("vkstream bench")
    assert "--warmup must be 0..3" in cli("bench", "--frames", "4", "--warmup", "4").one_line_error(
        "vkstream bench"
    )
