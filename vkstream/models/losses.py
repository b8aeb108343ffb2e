"""Loss terms and Hungarian matching costs of K-Net, Video K-Net and PolyphonicFormer."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from vkstream.models.config import LossWeights

_EPS = 1e-6


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float, gamma: float) -> Tensor:
    """Summed sigmoid focal loss; ``targets`` is the one-hot (or all-zero background) class matrix."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    weight = alpha * targets + (1 - alpha) * (1 - targets)
    return (weight * (1 - p_t) ** gamma * ce).sum()


def dice_loss(logits: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    """Per-mask dice loss over valid pixels: [M,P] logits, [M,P] soft targets, [P] weights -> [M]."""
    p = torch.sigmoid(logits) * valid
    t = targets * valid
    return 1 - (2 * (p * t).sum(-1) + 1) / (p.sum(-1) + t.sum(-1) + 1)


def mask_bce(logits: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    """Per-mask binary cross-entropy averaged over valid pixels -> [M]."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (ce * valid).sum(-1) / valid.sum().clamp(min=1)


def match_cost(
    class_logits: Tensor | None,
    mask_logits: Tensor,
    labels: Tensor,
    masks: Tensor,
    valid: Tensor,
    weights: LossWeights,
) -> Tensor:
    """K-Net's assignment cost [N,M]: focal class cost + dice cost + mask BCE cost (masks flattened)."""
    p = torch.sigmoid(mask_logits) * valid
    t = masks * valid
    dice = 1 - (2 * p @ t.T + 1) / (p.sum(-1, keepdim=True) + t.sum(-1)[None] + 1)
    pos = F.binary_cross_entropy_with_logits(mask_logits, torch.ones_like(mask_logits), reduction="none")
    neg = F.binary_cross_entropy_with_logits(mask_logits, torch.zeros_like(mask_logits), reduction="none")
    bce = ((pos * valid) @ t.T + (neg * valid) @ ((1 - masks) * valid).T) / valid.sum().clamp(min=1)
    cost = weights.cost_dice * dice + weights.cost_mask * bce
    if class_logits is not None:
        prob = torch.sigmoid(class_logits[:, labels])
        a, g = weights.focal_alpha, weights.focal_gamma
        pos_cost = -(prob + _EPS).log() * a * (1 - prob) ** g
        neg_cost = -(1 - prob + _EPS).log() * (1 - a) * prob**g
        cost = cost + weights.cost_cls * (pos_cost - neg_cost)
    return cost


def hungarian(cost: Tensor) -> tuple[Tensor, Tensor]:
    """Optimal one-to-one assignment of rows (predictions) to columns (ground truth)."""
    if cost.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long, device=cost.device)
        return empty, empty
    rows, cols = linear_sum_assignment(cost.detach().float().cpu().numpy())
    return (
        torch.as_tensor(rows.astype(np.int64), device=cost.device),
        torch.as_tensor(cols.astype(np.int64), device=cost.device),
    )


def depth_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """PolyphonicFormer's three depth terms on valid pixels (1-D tensors of metres).

    A scale-invariant log term sqrt(mean(g^2) - 0.85 mean(g)^2) with g = log pred - log gt, the
    relative squared error sqrt(mean(((pred - gt) / gt)^2)) and the absolute relative error.
    """
    if gt.numel() == 0:
        return pred.sum() * 0.0
    g = pred.log() - gt.log()
    silog = torch.sqrt((g.pow(2).mean() - 0.85 * g.mean().pow(2)).clamp(min=_EPS))
    rel = (pred - gt) / gt
    return silog + torch.sqrt(rel.pow(2).mean() + _EPS) + rel.abs().mean()


def tracking_losses(key: Tensor, ref: Tensor, same: Tensor) -> tuple[Tensor, Tensor]:
    """Video K-Net's association losses between matched key and reference kernels.

    ``key`` [A,E], ``ref`` [R,E] embeddings, ``same`` bool[A,R] (same GT track). Returns the
    multi-positive cross-entropy over keys with a positive, and the L2 loss of the cosine
    similarity against ``same`` (positives and negatives weighted equally).
    """
    zero = (key.sum() + ref.sum()) * 0.0
    if key.numel() == 0 or ref.numel() == 0:
        return zero, zero
    logits = key @ ref.T
    samef = same.float()
    has_pos = same.any(dim=1)
    if bool(has_pos.any()):
        # log(1 + sum_{pos p, neg n} exp(l_n - l_p)) for each key, computed stably.
        diff = logits[:, None, :] - logits[:, :, None]  # [A, p, n] = l_n - l_p
        pair = same[:, :, None] & ~same[:, None, :]
        diff = diff.masked_fill(~pair, float("-inf"))
        flat = torch.cat([torch.zeros_like(diff[:, :1, 0]), diff.flatten(1)], dim=1)
        ce = torch.logsumexp(flat, dim=1)[has_pos].mean()
    else:
        ce = zero
    cos = F.normalize(key, dim=-1) @ F.normalize(ref, dim=-1).T
    err = (cos - samef).pow(2)
    l2 = zero
    for part in (same, ~same):
        if bool(part.any()):
            l2 = l2 + err[part].mean()
    return ce, l2
