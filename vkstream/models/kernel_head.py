"""Kernel head: initial kernels, the kernel-update stages, kernel linking and the association embeddings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vkstream.models.config import ModelConfig
from vkstream.models.layers import FFN, Attention, QueryUpdate, dynamic_conv, mlp_head

_FOCAL_PRIOR = 0.01


@dataclass
class KernelStages:
    """Every stage's predictions, for training; the exported head returns only the last."""

    mask_logits: list[Tensor]
    """[B,N,h,w] per stage, index 0 = the initial masks."""
    class_logits: list[Tensor]
    """[B,N,num_classes] per update stage (the initial kernels have no class)."""
    kernels: Tensor
    """[B,N,C] final kernels: the next frame links to these."""
    embeddings: Tensor
    """[B,N,E] association embeddings of the linked kernels."""


class KernelStage(nn.Module):
    """One kernel-update stage: pooled features update the kernels, which then predict classes and masks."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.neck_channels
        self.update = QueryUpdate(c, cfg.num_heads, cfg.ffn_dim)
        self.cls_head = mlp_head(c, cfg.head_dim, cfg.num_classes)
        self.mask_head = mlp_head(c, cfg.head_dim, c)
        nn.init.constant_(self.cls_head[-1].bias, -math.log((1 - _FOCAL_PRIOR) / _FOCAL_PRIOR))

    def forward(
        self, kernels: Tensor, mask_logits: Tensor, features: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        kernels = self.update(kernels, mask_logits, features)
        return kernels, dynamic_conv(self.mask_head(kernels), features), self.cls_head(kernels)


class KernelLinker(nn.Module):
    """Video K-Net's linking: the current kernels attend to the same stream's previous-frame kernels."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.neck_channels
        self.attention = Attention(c, cfg.num_heads)
        self.norm = nn.LayerNorm(c)
        self.ffn = FFN(c, cfg.ffn_dim)

    def forward(self, kernels: Tensor, previous: Tensor, has_previous: Tensor) -> Tensor:
        linked = self.ffn(self.norm(kernels + self.attention(kernels, previous)))
        return torch.where(has_previous.view(-1, 1, 1), linked, kernels)


class KernelHead(nn.Module):
    """(mask features, previous kernels, has-previous flags) -> kernels, masks, classes, embeddings.

    Kernels 0..num_thing_kernels-1 are thing kernels; the rest are one per stuff class in class
    order. A batch item whose flag is False (a stream's first frame) ignores its previous kernels.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.neck_channels
        self.init_kernels = nn.Parameter(torch.randn(cfg.num_kernels, c) * c**-0.5)
        self.stages = nn.ModuleList(KernelStage(cfg) for _ in range(cfg.num_stages))
        self.linker = KernelLinker(cfg)
        self.embed_head = nn.Sequential(
            nn.Linear(c, cfg.head_dim),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.head_dim, cfg.head_dim),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.head_dim, cfg.embed_dim),
        )

    def forward_stages(self, features: Tensor, previous: Tensor, has_previous: Tensor) -> KernelStages:
        kernels = self.init_kernels.unsqueeze(0).expand(features.shape[0], -1, -1)
        mask_logits = dynamic_conv(kernels, features)
        all_masks, all_classes = [mask_logits], []
        for stage in self.stages:
            kernels, mask_logits, class_logits = stage(kernels, mask_logits, features)
            all_masks.append(mask_logits)
            all_classes.append(class_logits)
        embeddings = self.embed_head(self.linker(kernels, previous, has_previous))
        return KernelStages(all_masks, all_classes, kernels, embeddings)

    def forward(
        self, features: Tensor, previous: Tensor, has_previous: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """[B,C,h,w], [B,N,C], bool[B] -> kernels [B,N,C], mask logits [B,N,h,w], class logits
        [B,N,num_classes], embeddings [B,N,E]."""
        out = self.forward_stages(features, previous, has_previous)
        return out.kernels, out.mask_logits[-1], out.class_logits[-1], out.embeddings
