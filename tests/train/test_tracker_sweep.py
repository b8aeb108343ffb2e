"""benchmarks/tracker_sweep.py scores tracker settings as predict-then-eval would, and ships the best."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vkstream.data import open_dataset
from vkstream.train import load_model
from vkstream.train.validate import validate

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "checkpoints" / "synth_small.pt"


def test_the_sweep_scores_settings_like_validation_and_writes_the_best(
    synth_root: Path, tmp_path: Path
) -> None:
    scores, written = tmp_path / "sweep.json", tmp_path / "best.pt"
    cmd = [
        sys.executable, str(ROOT / "benchmarks" / "tracker_sweep.py"), str(synth_root), "--split", "train",
        "--checkpoint", str(SHIPPED), "--threads", "1", "--json", str(scores), "--write", str(written),
        "--set", "association=mask_iou", "--set", "tracker.iou_first=0,tracker.memory_frames=5",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads(scores.read_text())["rows"]
    assert [r["setting"] for r in rows] == [
        "checkpoint", "association=mask_iou", "tracker.iou_first=0,tracker.memory_frames=5"
    ]  # fmt: skip
    # The checkpoint's own row is what the online model scores frame by frame on the same sequences.
    model, config, _ = load_model(SHIPPED, "cpu")
    dataset = open_dataset(synth_root, split="train")
    expected = validate(model, [(dataset, dataset.sequences)], torch.device("cpu"))
    assert rows[0]["stq"] == pytest.approx(100 * expected["stq"], abs=0.01)
    assert rows[0]["aq"] == pytest.approx(100 * expected["aq"], abs=0.01)
    assert all(r["sq"] == rows[0]["sq"] for r in rows)  # tracking changes no class
    # The written checkpoint carries the best row's settings.
    best = max(rows, key=lambda r: r["aq"])
    _, shipped, _ = load_model(written, "cpu")
    wanted = {
        "checkpoint": config,
        "association=mask_iou": config.model_copy(update={"association": "mask_iou"}),
        "tracker.iou_first=0,tracker.memory_frames=5": config.model_copy(
            update={"tracker": config.tracker.model_copy(update={"iou_first": 0.0, "memory_frames": 5})}
        ),
    }[best["setting"]]
    assert shipped == wanted


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("tracker", "expected key=value pairs"),
        ("tracker.iou_first=2", "tracker.iou_first: Input should be less than or equal to 1"),
        ("tracker.no_such_key=1", "tracker.no_such_key: Extra inputs are not permitted"),
        ("neck_channels=8", "may change association, merge, tracker only, not neck_channels"),
    ],
)
def test_a_bad_setting_is_a_clear_error(synth_root: Path, setting: str, message: str) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "tracker_sweep.py"), str(synth_root), "--set", setting]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
