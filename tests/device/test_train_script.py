"""scripts/device/train.sh in smoke mode, on an interpreter that lacks what the GPU machine lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from vkstream.train.checkpoint import load_model

ROOT = Path(__file__).resolve().parents[2]
GPU_MACHINE = Path(__file__).resolve().parent / "gpu_machine"


def test_the_training_script_leaves_a_scored_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(GPU_MACHINE)}
    done = subprocess.run(
        [
            str(ROOT / "scripts" / "device" / "train.sh"),
            str(out),
            "--smoke",
            "--work",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["log.jsonl", "model.pt", "scores.json"]
    for path in out.iterdir():
        assert path.stat().st_size < 16 * 2**20, path
    _model, config, metadata = load_model(out / "model.pt", torch.device("cpu"))
    assert config.backbone == "regnetx_002" and metadata["step"] >= 10
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert records[0]["step"] == 1 and any("validation" in r for r in records)
    scores = json.loads((out / "scores.json").read_text())
    assert scores["provenance"]["command"].startswith("scripts/device/train.sh")
    assert scores["training"]["steps"] == metadata["step"]
    for association in ("embedding", "mask_iou"):
        total = scores["test"][association]["total"]
        assert {"stq", "aq", "sq", "dstq", "depth_abs_rel"} <= set(total)
        assert scores["test"][association]["diagnostics"]["classes"]
    assert "time budget" in done.stderr  # the step count came from the measured speed


def test_the_training_script_needs_an_output_folder() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "device" / "train.sh")], capture_output=True, text=True)
    assert done.returncode == 2 and "usage: scripts/device/train.sh OUT" in done.stderr
