from __future__ import annotations

import pytest
import torch

from tests.models.conftest import SIZE
from vkstream.models import ModelConfig, VideoKNet
from vkstream.models.options import STAGE_NAMES
from vkstream.models.stage_modules import build_stage, stage_modules, stage_weights


@pytest.fixture(scope="module")
def model(tiny_cfg: ModelConfig) -> VideoKNet:
    torch.manual_seed(0)
    return VideoKNet(tiny_cfg).eval()


def inputs(model: VideoKNet) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(1)
    return torch.rand(2, 3, *SIZE), model.empty_previous(2), torch.tensor([False, False])


def stages_output(
    stages: dict[str, torch.nn.Module], images, previous, has_previous
) -> tuple[torch.Tensor, ...]:
    (fused,) = stages["backbone_neck"](images)
    kernels, masks, _, _ = stages["kernel_head"](fused, previous, has_previous)
    return (masks, *stages["depth_head"](fused, kernels, masks))


def test_the_stages_compute_what_the_network_does(model: VideoKNet) -> None:
    """The neck's branches moved into the head stages: the same masks and depth, from the same weights."""
    images, previous, has_previous = inputs(model)
    with torch.inference_mode():
        mask_feats, depth_feats = model.backbone_neck(images)  # as the network trains
        kernels, masks, _, _ = model.kernel_head(mask_feats, previous, has_previous)
        query_depth, dense = model.depth_head(depth_feats, kernels, masks)
        staged = stages_output(stage_modules(model), images, previous, has_previous)
    for ours, theirs in zip(staged, (masks, query_depth, dense), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_stages_built_alone_load_their_weights_and_only_theirs(
    model: VideoKNet, tiny_cfg: ModelConfig
) -> None:
    state = model.state_dict()
    built = {}
    for name in STAGE_NAMES:
        module = build_stage(name, tiny_cfg).eval()
        module.load_state_dict(stage_weights(name, state), strict=True)  # every weight, none extra
        built[name] = module
    shared = sum(p.numel() for m in built.values() for p in m.parameters())
    assert shared == sum(p.numel() for p in model.parameters())  # each weight in exactly one stage
    images, previous, has_previous = inputs(model)
    with torch.inference_mode():
        for ours, theirs in zip(
            stages_output(built, images, previous, has_previous),
            stages_output(stage_modules(model), images, previous, has_previous),
            strict=True,
        ):
            torch.testing.assert_close(ours, theirs)


def test_an_unknown_stage_is_named(tiny_cfg: ModelConfig) -> None:
    with pytest.raises(ValueError, match="unknown stage 'neck'; the stages are backbone_neck"):
        build_stage("neck", tiny_cfg)
