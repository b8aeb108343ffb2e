"""Batch norms folded into their convolutions: same outputs, fewer passes, and no fold where unsafe."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from vkstream.models import OnlineVideoKNet, VideoKNet, preset
from vkstream.models.fold import fold_backbone, fold_batchnorm


def _with_running_stats(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial statistics and affine parameters, as after training (a fresh norm is the identity)."""
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=generator) * 2 + 0.1)
            if m.affine:
                m.weight.data.copy_(torch.randn(n, generator=generator))
                m.bias.data.copy_(torch.randn(n, generator=generator))
    return model.eval()


def _norms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("name", ["tiny", "synth_small", "kitti_r50"])
def test_every_norm_of_the_presets_backbones_folds_and_the_features_stay(name: str) -> None:
    torch.manual_seed(0)
    model = _with_running_stats(VideoKNet(preset(name)))
    norms = _norms(model.backbone_neck)
    assert norms > 0
    images = torch.rand(2, 3, 96, 160)
    with torch.inference_mode():
        before = model.backbone_neck(images)
    assert fold_backbone(model.backbone_neck) == norms
    assert _norms(model.backbone_neck) == 0
    with torch.inference_mode():
        after = model.backbone_neck(images)
    for a, b in zip(after, before, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_the_online_model_gives_the_same_labels_folded(tiny_cfg, synth_frames) -> None:
    torch.manual_seed(1)
    plain = _with_running_stats(VideoKNet(tiny_cfg))
    folded = copy.deepcopy(plain)
    assert fold_backbone(folded.backbone_neck) > 0
    a, b = OnlineVideoKNet(plain), OnlineVideoKNet(folded)
    states_a = states_b = [None]
    for frame in synth_frames:
        image = torch.from_numpy(frame.image).permute(2, 0, 1).float().div(255).unsqueeze(0)
        (ra,), states_a = a.step(image, states_a)
        (rb,), states_b = b.step(image, states_b)
        assert torch.equal(ra.semantic, rb.semantic)
        assert torch.equal(ra.track, rb.track)
        torch.testing.assert_close(ra.depth, rb.depth, rtol=1e-4, atol=1e-3)


class _SharedOutput(nn.Module):
    """A convolution whose output feeds its norm and also a skip connection: folding would change the
    skip, so nothing may be folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


def test_a_fold_that_would_change_the_output_is_not_made() -> None:
    torch.manual_seed(2)
    module = _with_running_stats(_SharedOutput())
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        before = module(x)
    assert fold_batchnorm(module, x) == 0
    assert isinstance(module.bn, nn.BatchNorm2d)
    with torch.inference_mode():
        assert torch.equal(module(x), before)


def test_a_norm_not_fed_by_a_convolution_stays() -> None:
    module = _with_running_stats(
        nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3), nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    )
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        before = module(x)
    assert fold_batchnorm(module, x) == 1
    assert isinstance(module[1], nn.BatchNorm2d) and isinstance(module[3], nn.Identity)
    with torch.inference_mode():
        torch.testing.assert_close(module(x), before, rtol=1e-5, atol=1e-5)


def test_folding_a_training_network_is_refused() -> None:
    module = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)).train()
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(module, torch.rand(1, 3, 4, 4))
