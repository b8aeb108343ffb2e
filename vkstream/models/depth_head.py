"""PolyphonicFormer-style depth: a dense map plus one depth query per panoptic query."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vkstream.models.config import ModelConfig
from vkstream.models.layers import QueryUpdate, dynamic_conv, mask_pool, mlp_head

_START_DEPTH_M = 15.0


class DepthHead(nn.Module):
    """(depth features, panoptic kernels, panoptic mask logits) -> per-query and dense depth in metres.

    The depth queries start from the dense map's 1x1 conv weight; every stage adds the (detached)
    panoptic kernels, pools depth features under the panoptic masks and updates the queries like a
    K-Net stage. Each query's depth map is a dynamic 1x1 conv of the depth features.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.neck_channels
        self.dense = nn.Conv2d(c, 1, 1)
        # Start near a typical street depth: the relative losses explode on an initial 40 m guess.
        start = (_START_DEPTH_M - cfg.depth_min_m) / (cfg.depth_max_m - cfg.depth_min_m)
        nn.init.constant_(self.dense.bias, math.log(start / (1 - start)))
        self.stages = nn.ModuleList(QueryUpdate(c, cfg.num_heads, cfg.ffn_dim) for _ in range(cfg.num_stages))
        self.kernel_heads = nn.ModuleList(mlp_head(c, cfg.head_dim, c) for _ in range(cfg.num_stages))

    def _to_metres(self, logits: Tensor) -> Tensor:
        """Metres from depth logits that nothing else holds: in place where no gradient flows (three
        passes over [B,N,h,w] maps that allocate nothing, at inference)."""
        lo, hi = self.cfg.depth_min_m, self.cfg.depth_max_m
        if logits.requires_grad:
            return torch.sigmoid(logits) * (hi - lo) + lo
        return logits.sigmoid_().mul_(hi - lo).add_(lo)

    def forward_stages(
        self, features: Tensor, kernels: Tensor, mask_logits: Tensor, last_only: bool = False
    ) -> tuple[list[Tensor], Tensor]:
        """Per-stage query depth [B,N,h,w] (the last stage's alone if ``last_only``) and the dense
        depth [B,1,h,w], in metres."""
        kernels = kernels.detach()
        # Every stage pools under the same (detached, final) panoptic masks: pool once.
        pooled = mask_pool(mask_logits.detach(), features)
        dense = self.dense(features)
        queries = self.dense.weight.view(1, 1, -1).expand_as(kernels)
        maps = []
        last = len(self.stages) - 1
        for i, (stage, head) in enumerate(zip(self.stages, self.kernel_heads, strict=True)):
            queries = stage.update_pooled(queries + kernels, pooled)
            if i == last or not last_only:
                maps.append(self._to_metres(dynamic_conv(head(queries), features).add_(self.dense.bias)))
        return maps, self._to_metres(dense)

    def forward(self, features: Tensor, kernels: Tensor, mask_logits: Tensor) -> tuple[Tensor, Tensor]:
        maps, dense = self.forward_stages(features, kernels, mask_logits, last_only=True)
        return maps[-1], dense
