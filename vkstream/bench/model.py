"""The model a benchmark runs: a checkpoint or export directory, or a preset with random weights.

Speed does not depend on the weights, so an architecture without a trained checkpoint (the
reference ``kitti_r50``) is measured from a preset; its random weights are written once as a
checkpoint beside the benchmark's frames, so the pipeline's actors load it like any other.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vkstream.models import VideoKNet, preset
from vkstream.train.checkpoint import checkpoint_payload, write_checkpoint


def bench_checkpoint(checkpoint: Path, preset_name: str | None, data: Path) -> Path:
    """``checkpoint``, or for ``preset_name`` a checkpoint of that preset's random weights (seed 0)."""
    if preset_name is None:
        return checkpoint
    path = Path(data) / f"{preset_name}-random.pt"
    if not path.is_file():
        torch.manual_seed(0)
        model = VideoKNet(preset(preset_name)).eval()
        write_checkpoint(checkpoint_payload(model, model.cfg), path)
    return path
