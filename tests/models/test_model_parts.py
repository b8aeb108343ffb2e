from __future__ import annotations

import pytest
import torch

from tests.models.conftest import SIZE
from vkstream.models import ModelConfig, VideoKNet


@pytest.fixture(scope="module")
def model(tiny_cfg: ModelConfig) -> VideoKNet:
    torch.manual_seed(0)
    return VideoKNet(tiny_cfg).eval()


def test_parts_shapes_and_dtypes(model: VideoKNet, tiny_cfg: ModelConfig) -> None:
    b, (h, w) = 2, (61, 93)  # not multiples of 32: padded to 64 x 96
    images = torch.rand(b, 3, h, w)
    n, c, s = tiny_cfg.num_kernels, tiny_cfg.neck_channels, tiny_cfg.mask_stride
    with torch.no_grad():
        mask_feats, depth_feats = model.backbone_neck(images)
        assert mask_feats.shape == depth_feats.shape == (b, c, 64 // s, 96 // s)
        previous = model.empty_previous(b)
        kernels, masks, classes, emb = model.kernel_head(mask_feats, previous, torch.tensor([True, False]))
        assert kernels.shape == (b, n, c)
        assert masks.shape == (b, n, 64 // s, 96 // s)
        assert classes.shape == (b, n, tiny_cfg.num_classes)
        assert emb.shape == (b, n, tiny_cfg.embed_dim)
        query_depth, dense = model.depth_head(depth_feats, kernels, masks)
        assert query_depth.shape == masks.shape and dense.shape == (b, 1, 64 // s, 96 // s)
        assert float(dense.min()) >= tiny_cfg.depth_min_m and float(dense.max()) <= tiny_cfg.depth_max_m
        assert model.to_input_size(masks, (h, w)).shape == (b, n, h, w)
    for t in (mask_feats, kernels, masks, classes, emb, query_depth, dense):
        assert t.dtype == torch.float32 and bool(torch.isfinite(t).all())


def test_previous_kernels_only_matter_where_flagged(model: VideoKNet) -> None:
    images = torch.rand(2, 3, *SIZE)
    with torch.no_grad():
        feats, _ = model.backbone_neck(images)
        prev_a = torch.randn_like(model.empty_previous(2))
        prev_b = torch.randn_like(prev_a)
        flags = torch.tensor([False, True])
        a = model.kernel_head(feats, prev_a, flags)
        b = model.kernel_head(feats, prev_b, flags)
    # Masks come from the unlinked kernels; only the embeddings of a linked item see the previous kernels.
    assert torch.equal(a[1], b[1])
    assert torch.equal(a[3][0], b[3][0])
    assert not torch.allclose(a[3][1], b[3][1])


def test_the_three_parts_export(model: VideoKNet, tiny_cfg: ModelConfig) -> None:
    images = torch.rand(2, 3, *SIZE)
    flags = torch.tensor([True, False])
    with torch.no_grad():
        mask_feats, depth_feats = model.backbone_neck(images)
        previous = torch.randn_like(model.empty_previous(2))
        kernels, masks, *_ = model.kernel_head(mask_feats, previous, flags)
    backbone = torch.export.export(model.backbone_neck, (images,))
    head = torch.export.export(model.kernel_head, (mask_feats, previous, flags))
    depth = torch.export.export(model.depth_head, (depth_feats, kernels, masks))
    with torch.no_grad():
        torch.testing.assert_close(backbone.module()(images)[0], mask_feats)
        exported = head.module()(mask_feats, previous, flags)
        torch.testing.assert_close(exported[1], masks)
        torch.testing.assert_close(exported[3], model.kernel_head(mask_feats, previous, flags)[3])
        torch.testing.assert_close(
            depth.module()(depth_feats, kernels, masks)[1], model.depth_head(depth_feats, kernels, masks)[1]
        )
    names = {
        n.target.__name__
        for n in head.graph.nodes
        if n.op == "call_function" and hasattr(n.target, "__name__")
    }
    assert not any("conv" in name for name in names), names  # dynamic masks are matmuls, not convs
