"""``vkstream export`` and ``vkstream predict`` on an export directory, from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vkstream.data import open_dataset
from vkstream.models import VideoKNet, preset
from vkstream.train.checkpoint import checkpoint_payload, write_checkpoint


def test_export_then_predict_gives_the_checkpoints_predictions(
    cli, tmp_path: Path, kitti_datasets: dict[str, Path]
) -> None:
    torch.manual_seed(0)
    model = VideoKNet(preset("tiny")).eval()
    checkpoint = tmp_path / "tiny.pt"
    write_checkpoint(checkpoint_payload(model, model.cfg), checkpoint)
    data = kitti_datasets["semkitti-dvps"]
    width, height = 160, 48
    done = cli(
        "export", checkpoint, "--out", tmp_path / "exp", "--size", f"{width}x{height}", "--batch-sizes", "1"
    )
    assert done.code == 0, done.err
    assert "exported 3 stage files (exported, 160x48, batches 1)" in done.out
    for name, source in (("ckpt", checkpoint), ("exp", tmp_path / "exp")):
        out = cli("predict", "--checkpoint", source, "--data", data, "--out", tmp_path / f"pred-{name}")
        assert out.code == 0, out.err
    a, b = (open_dataset(tmp_path / f"pred-{n}", read_images=False) for n in ("ckpt", "exp"))
    for seq in a.sequences:
        for x, y in zip(a.frames(seq), b.frames(seq), strict=True):
            np.testing.assert_array_equal(x.semantic, y.semantic)
            np.testing.assert_array_equal(x.instance, y.instance)


def test_export_errors_are_one_line(cli, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = VideoKNet(preset("tiny")).eval()
    checkpoint = tmp_path / "tiny.pt"
    write_checkpoint(checkpoint_payload(model, model.cfg), checkpoint)
    args = ("--out", tmp_path / "e", "--size")
    assert "invalid --size" in cli("export", checkpoint, *args, "96").one_line_error("vkstream export")
    bad_batch = cli("export", checkpoint, *args, "96x64", "--batch-sizes", "0").one_line_error(
        "vkstream export"
    )
    assert "--batch-sizes" in bad_batch
    missing = cli("export", tmp_path / "none.pt", *args, "96x64").one_line_error("vkstream export")
    assert "checkpoint not found" in missing
    if not torch.cuda.is_available():
        trt = cli("export", checkpoint, *args, "96x64", "--format", "tensorrt").one_line_error(
            "vkstream export"
        )
        assert "the tensorrt format needs" in trt
