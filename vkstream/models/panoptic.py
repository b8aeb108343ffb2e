"""Panoptic merge of the kernel masks, vectorised over the batch so it runs on the model's device.

Every pixel gets a class: pixels the reference's merge leaves void stay with the kernel of the
best score x mask probability, or, where that is a thing kernel the overlap test dropped, form an
untracked region of its class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from vkstream.models.config import ModelConfig


@dataclass
class PanopticBatch:
    """Merged frames. Slots 0..N-1 are the kernels, then one untracked region per thing class.

    Every tensor is batch-first. ``depth`` and ``median_depth`` are None until :func:`add_depth`:
    the segments are needed for tracking before the depth head has run.
    """

    slot: Tensor
    """[B,H,W] long: the slot of each pixel."""
    semantic: Tensor
    """[B,H,W] long train ids."""
    slot_class: Tensor
    """[B,S] long."""
    slot_score: Tensor
    """[B,S] float."""
    area: Tensor
    """[B,S] long pixels."""
    box: Tensor
    """[B,S,4] long (x0, y0, x1, y1), x1/y1 exclusive; zeros for empty slots."""
    low_res_masks: Tensor
    """[B,Nt,P] float: each thing kernel's visible area on the mask grid (for mask-IoU association)."""
    depth: Tensor | None = None
    """[B,H,W] float metres."""
    median_depth: Tensor | None = None
    """[B,S] float metres, 0 for empty slots."""


def device_tensor(values: Sequence[int], device: torch.device) -> Tensor:
    """A small constant on ``device``, copied without waiting for the device's queue to drain.

    ``torch.tensor(values, device=...)`` synchronises with a CUDA device; an asynchronous copy from
    host memory is safe because CUDA stages pageable memory before the call returns.
    """
    return torch.tensor(values, dtype=torch.long).to(device, non_blocking=True)


def kernel_scores(cfg: ModelConfig, class_logits: Tensor) -> tuple[Tensor, Tensor]:
    """Score and class of every kernel: best thing class for thing kernels, own class for stuff kernels."""
    probs = torch.sigmoid(class_logits)
    nt = cfg.num_thing_kernels
    things = device_tensor(cfg.thing_classes, class_logits.device)
    stuff = device_tensor(cfg.stuff_classes, class_logits.device)
    thing_score, thing_arg = probs[:, :nt][..., things].max(-1)
    stuff_score = probs[:, nt:].gather(-1, stuff.view(1, -1, 1).expand(probs.shape[0], -1, 1)).squeeze(-1)
    score = torch.cat([thing_score, stuff_score], dim=1)
    cls = torch.cat([things[thing_arg], stuff.expand(probs.shape[0], -1)], dim=1)
    return score, cls


def merge_panoptic(
    cfg: ModelConfig, mask_probs: Tensor, class_logits: Tensor, query_depth: Tensor, dense_depth: Tensor
) -> PanopticBatch:
    """Merge [B,N,H,W] mask probabilities with class logits and depth maps, all at the input size."""
    return add_depth(merge_segments(cfg, mask_probs, class_logits), query_depth, dense_depth)


def merge_segments(cfg: ModelConfig, mask_probs: Tensor, class_logits: Tensor) -> PanopticBatch:
    """The merge without depth: [B,N,H,W] mask probabilities at the input size and [B,N,K] class logits."""
    b, n, h, w = mask_probs.shape
    nt = cfg.num_thing_kernels
    nthing = len(cfg.thing_classes)
    device = mask_probs.device
    score, cls = kernel_scores(cfg, class_logits)
    is_thing_kernel = torch.arange(n, device=device) < nt
    keep = ~is_thing_kernel | (score >= cfg.merge.thing_score)

    weighted = score[..., None, None] * mask_probs
    ranked = torch.where(keep[..., None, None], weighted, torch.full_like(weighted, -1.0))
    winner = ranked.argmax(1)  # [B,H,W]
    winner_prob = mask_probs.gather(1, winner[:, None]).squeeze(1)
    inside = winner_prob >= cfg.merge.mask_prob
    visible = _bincount(torch.where(inside, winner, n), n + 1)[:, :n]
    full = (mask_probs >= cfg.merge.mask_prob).sum((2, 3))
    kept = keep & (visible > 0) & (visible >= cfg.merge.overlap * full)

    # The reference leaves the other pixels void. Here they stay with their winning kernel: a stuff
    # kernel's segment always takes them, a surviving thing kernel's too; the pixels of a thing
    # kernel the overlap test dropped form an untracked region of its class.
    winner_kept = kept.gather(1, winner.flatten(1)).view(b, h, w)
    winner_class = cls.gather(1, winner.flatten(1)).view(b, h, w)
    region = n + _index_in(winner_class, cfg.thing_classes)
    untracked = (winner < nt) & ~winner_kept
    slot = torch.where(untracked, region, winner)

    thing_classes = device_tensor(cfg.thing_classes, device)
    slot_class = torch.cat([cls, thing_classes.expand(b, -1)], dim=1)
    slot_score = torch.cat([score, score.new_zeros(b, nthing)], dim=1)
    semantic = slot_class.gather(1, slot.flatten(1)).view(b, h, w)

    s = n + nthing
    onehot = slot[:, None] == torch.arange(s, device=device).view(1, s, 1, 1)  # [B,S,H,W]
    low = F.avg_pool2d(onehot[:, :nt].float(), cfg.mask_stride, ceil_mode=True).flatten(2)
    return PanopticBatch(
        slot=slot,
        semantic=semantic,
        slot_class=slot_class,
        slot_score=slot_score,
        area=_bincount(slot, s),
        box=_boxes(onehot),
        low_res_masks=low,
    )


def add_depth(merged: PanopticBatch, query_depth: Tensor, dense_depth: Tensor) -> PanopticBatch:
    """``merged`` with depth: [B,N,H,W] query depth in each kernel's segment, [B,1,H,W] dense elsewhere."""
    n = query_depth.shape[1]
    query_at = query_depth.gather(1, merged.slot.clamp(max=n - 1)[:, None]).squeeze(1)
    depth = torch.where(merged.slot < n, query_at, dense_depth[:, 0])
    medians = _segment_medians(merged.slot, depth, merged.slot_class.shape[1])
    return replace(merged, depth=depth, median_depth=medians)


def _index_in(values: Tensor, table: tuple[int, ...]) -> Tensor:
    """Position of each value in ``table`` (0 where absent)."""
    lookup = device_tensor(table, values.device)
    return (values[..., None] == lookup).long().argmax(-1)


def _bincount(index: Tensor, bins: int) -> Tensor:
    """Per-batch-item bincount of [B,...] indices -> [B,bins]."""
    flat = index.flatten(1)
    counts = torch.zeros(flat.shape[0], bins, dtype=torch.long, device=flat.device)
    return counts.scatter_add_(1, flat, torch.ones_like(flat))


def _boxes(onehot: Tensor) -> Tensor:
    """Tight (x0, y0, x1, y1) box of each [B,S,H,W] mask, x1/y1 exclusive."""
    rows = onehot.any(-1)  # [B,S,H]
    cols = onehot.any(-2)  # [B,S,W]
    h, w = rows.shape[-1], cols.shape[-1]
    y0 = rows.int().argmax(-1)
    y1 = h - rows.flip(-1).int().argmax(-1)
    x0 = cols.int().argmax(-1)
    x1 = w - cols.flip(-1).int().argmax(-1)
    box = torch.stack([x0, y0, x1, y1], -1)
    return torch.where(rows.any(-1)[..., None], box, torch.zeros_like(box)).long()


def _segment_medians(slot: Tensor, depth: Tensor, slots: int) -> Tensor:
    """Median depth of each slot's pixels (lower median), by one sort by depth and a stable sort by slot."""
    b = slot.shape[0]
    offset = (torch.arange(b, device=slot.device) * slots).view(b, 1)
    flat_slot = (slot.flatten(1) + offset).flatten()
    flat_depth = depth.flatten()
    by_depth = torch.argsort(flat_depth, stable=True)
    by_slot = torch.argsort(flat_slot[by_depth], stable=True)
    sorted_depth = flat_depth[by_depth][by_slot]
    counts = torch.bincount(flat_slot, minlength=b * slots)
    starts = torch.cumsum(counts, 0) - counts
    idx = (starts + (counts - 1).clamp(min=0) // 2).clamp(max=max(sorted_depth.numel() - 1, 0))
    return torch.where(counts > 0, sorted_depth[idx], torch.zeros_like(sorted_depth[idx])).view(b, slots)
