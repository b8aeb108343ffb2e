"""Backbone + FPN + semantic FPN: images in, the mask and depth feature maps out."""

from __future__ import annotations

import math

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vkstream.models.config import ModelConfig

PAD_MULTIPLE = 32
"""Images are padded at the bottom/right to this multiple, the coarsest backbone stride."""
_LEVEL_STRIDES = (4, 8, 16, 32)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The size the network sees for an input of ``height`` x ``width``."""
    return (-(-height // PAD_MULTIPLE) * PAD_MULTIPLE, -(-width // PAD_MULTIPLE) * PAD_MULTIPLE)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count up to 32 that leaves >= 2 channels per group."""
    groups = max(g for g in range(1, 33) if channels % g == 0 and channels // g >= 2)
    return nn.GroupNorm(groups, channels)


def conv_gn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), group_norm(cout), nn.ReLU(inplace=True)
    )


POSITION_PERIOD_PX = 256
"""Shortest period of the positional encoding, in input pixels (longer ones follow DETR's ladder)."""


def sine_position_encoding(x: Tensor, stride: int) -> Tensor:
    """DETR's 2D sine encoding with x's channel count, so the coarsest map knows where it is.

    Positions are in input pixels (cell centres of a stride-``stride`` map) over a fixed period,
    not fractions of the map's size as in DETR: a 384-pixel training crop and a 640-pixel test frame
    then encode the same row, and the same distance from the left edge, alike. The row matters most:
    with a fixed camera it tells how far the ground is.
    """
    _, c, h, w = x.shape
    quarter = c // 4
    scale = stride * 2 * math.pi / POSITION_PERIOD_PX
    ys = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) * scale
    xs = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) * scale
    freq = 10000.0 ** (-torch.arange(quarter, device=x.device, dtype=x.dtype) / max(quarter, 1))
    py = ys[:, None] * freq[None, :]  # [h, q]
    px = xs[:, None] * freq[None, :]  # [w, q]
    enc = torch.cat(
        [
            py.sin()[:, None, :].expand(h, w, quarter),
            py.cos()[:, None, :].expand(h, w, quarter),
            px.sin()[None, :, :].expand(h, w, quarter),
            px.cos()[None, :, :].expand(h, w, quarter),
        ],
        dim=-1,
    )
    enc = F.pad(enc, (0, c - 4 * quarter))
    return x + enc.permute(2, 0, 1)[None]


def mask_branch(channels: int) -> nn.Sequential:
    """The neck's mask features from its fused pyramid (run by the kernel stage, see
    :mod:`vkstream.models.stage_modules`)."""
    return nn.Sequential(conv_gn_relu(channels, channels), nn.Conv2d(channels, channels, 1))


def depth_branch(channels: int) -> nn.Sequential:
    """The neck's depth features from its fused pyramid (run by the depth stage, see
    :mod:`vkstream.models.stage_modules`)."""
    return nn.Sequential(conv_gn_relu(channels, channels), conv_gn_relu(channels, channels))


class SemanticFPNLevel(nn.Module):
    """Brings one FPN level to the mask stride: conv-GN-ReLU, then x2 upsampling per octave."""

    def __init__(self, channels: int, stride: int, target: int) -> None:
        super().__init__()
        self.up = max(0, int(math.log2(stride // target))) if stride >= target else 0
        self.down = target // stride if stride < target else 1
        self.convs = nn.ModuleList(conv_gn_relu(channels, channels) for _ in range(max(1, self.up)))

    def forward(self, x: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < self.up:
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        if self.down > 1:
            x = F.avg_pool2d(x, self.down)
        return x


class BackboneNeck(nn.Module):
    """RGB in 0..1 -> (mask features, depth features), both [B, C, Hp/stride, Wp/stride].

    Hp, Wp is the input size padded to a multiple of 32 (see :func:`padded_size`).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        try:
            self.body = timm.create_model(
                cfg.backbone, pretrained=cfg.pretrained, features_only=True, out_indices=(1, 2, 3, 4)
            )
        except (RuntimeError, ValueError, IndexError) as exc:
            raise ValueError(f"backbone {cfg.backbone!r} cannot serve as a feature pyramid: {exc}") from exc
        strides = tuple(self.body.feature_info.reduction())
        if strides != _LEVEL_STRIDES:
            raise ValueError(
                f"backbone {cfg.backbone!r} gives strides {strides}, the neck needs {_LEVEL_STRIDES}"
            )
        c = cfg.neck_channels
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.lateral = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in self.body.feature_info.channels())
        self.fpn_out = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in _LEVEL_STRIDES)
        self.semantic = nn.ModuleList(SemanticFPNLevel(c, s, cfg.mask_stride) for s in _LEVEL_STRIDES)
        self.mask_feats = mask_branch(c)
        self.depth_feats = depth_branch(c)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        fused = self.fuse(images)
        return self.mask_feats(fused), self.depth_feats(fused)

    def fuse(self, images: Tensor) -> Tensor:
        """The pyramid's levels fused at the mask stride: what both feature branches start from."""
        h, w = images.shape[-2:]
        hp, wp = padded_size(h, w)
        x = (images - self.mean) / self.std
        x = F.pad(x, (0, wp - w, 0, hp - h))
        levels = self.body(x)
        laterals = [conv(f) for conv, f in zip(self.lateral, levels, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], scale_factor=2.0, mode="nearest")
        pyramid = [conv(f) for conv, f in zip(self.fpn_out, laterals, strict=True)]
        pyramid[-1] = sine_position_encoding(pyramid[-1], _LEVEL_STRIDES[-1])
        return sum(level(p) for level, p in zip(self.semantic, pyramid, strict=True))
