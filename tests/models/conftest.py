from __future__ import annotations

import pytest
import torch

from vkstream.data.frame import Frame
from vkstream.models import FrameTargets, ModelConfig, VideoKNet, build_targets, preset
from vkstream.synth import SequenceRenderer

SIZE = (64, 96)  # H, W


@pytest.fixture(scope="session")
def tiny_cfg() -> ModelConfig:
    return preset("tiny")


@pytest.fixture(scope="session")
def synth_frames() -> list[Frame]:
    renderer = SequenceRenderer(seed=3, sequence_index=0, frames=4, size=(SIZE[1], SIZE[0]))
    return [renderer.render(i) for i in range(4)]


def image_tensor(frame: Frame) -> torch.Tensor:
    return torch.from_numpy(frame.image).permute(2, 0, 1).float() / 255.0


def frame_targets(frame: Frame, cfg: ModelConfig) -> FrameTargets:
    return build_targets(
        torch.from_numpy(frame.semantic),
        torch.from_numpy(frame.instance.astype("int64")),
        torch.from_numpy(frame.depth),
        cfg,
    )


def confident_model(cfg: ModelConfig, seed: int = 1) -> VideoKNet:
    """A random model whose thing kernels all score high, so that the tracker has work to do."""
    torch.manual_seed(seed)
    model = VideoKNet(cfg).eval()
    with torch.no_grad():
        bias = model.kernel_head.stages[-1].cls_head[-1].bias
        bias[list(cfg.thing_classes)] = 4.0
    return model
