"""AdamW parameter groups and the warm-up + decay learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from vkstream.models.backbone import BackboneNeck
from vkstream.train.config import OptimConfig, ScheduleConfig


def backbone_parameters(model: nn.Module) -> set[int]:
    """Ids of the pretrained-style feature extractor's parameters (the timm body, not the FPN neck)."""
    return {id(p) for m in model.modules() if isinstance(m, BackboneNeck) for p in m.body.parameters()}


def param_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """Backbone weights at ``lr * backbone_lr_mult``; norms and biases without weight decay."""
    backbone = backbone_parameters(model)
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for param in model.parameters():
        if param.requires_grad:
            groups.setdefault((id(param) in backbone, param.ndim > 1), []).append(param)
    return [
        {
            "params": params,
            "peak_lr": cfg.lr * (cfg.backbone_lr_mult if in_backbone else 1.0),
            "weight_decay": cfg.weight_decay if decays else 0.0,
        }
        for (in_backbone, decays), params in sorted(groups.items())
    ]


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; each group's ``peak_lr`` is scaled by :func:`set_lr` every step."""
    groups = [{**group, "lr": group["peak_lr"]} for group in param_groups(model, cfg)]
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(step: int, cfg: ScheduleConfig) -> float:
    """Multiplier of each group's peak lr for optimiser step ``step`` (0-based).

    Linear warm-up from ``warmup_start`` over at most all steps, then step decay at the milestones
    (fractions of all steps) or a cosine down to ``min_lr_ratio``.
    """
    total = cfg.steps
    warmup = min(cfg.warmup_steps, total)
    if step < warmup:
        return cfg.warmup_start + (1.0 - cfg.warmup_start) * step / warmup
    if cfg.decay == "step":
        return cfg.gamma ** sum(step >= round(m * total) for m in cfg.milestones)
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, step: int, cfg: ScheduleConfig) -> float:
    """Set every group's lr for optimiser step ``step``; returns the largest.

    The schedule is a function of the step alone, so a resumed run needs nothing but the step to
    continue it, and a resume with more steps stretches it consistently.
    """
    factor = lr_factor(step, cfg)
    for group in optimizer.param_groups:
        group["lr"] = group["peak_lr"] * factor
    return max(group["lr"] for group in optimizer.param_groups)
