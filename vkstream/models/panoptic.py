"""Panoptic merge of the kernel masks on the mask grid, vectorised over the batch on the model's device.

Every decision that does not need pixels is taken on the stride-s grid the masks are predicted on:
kernel scores, which thing kernels survive (the reference's overlap test), the untracked regions and
the tracker's boxes and masks. Pixels then choose among the few kernels that win the grid cells
around them (:mod:`vkstream.models.upsample`), so no kernel's mask is ever resized to the input size.

Every pixel gets a class: pixels the reference's merge leaves void stay with the kernel of the best
score x mask probability, or, where that is a thing kernel the overlap test dropped, form an
untracked region of its class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from vkstream.models.config import ModelConfig
from vkstream.models.upsample import BlockUpsampler, PixelChoice

CANDIDATES_PER_CELL = 2
"""Kernels per grid cell a pixel around it may choose from (the best two of each of its four cells)."""


@dataclass
class PanopticBatch:
    """Merged frames. Slots 0..N-1 are the kernels, then one untracked region per thing class.

    Every tensor is batch-first. ``depth`` is None until :func:`add_depth`: the segments are needed
    for tracking before the depth head has run.
    """

    slot: Tensor
    """[B,H,W] long: the slot of each pixel."""
    semantic: Tensor
    """[B,H,W] long train ids."""
    slot_class: Tensor
    """[B,S] long."""
    slot_score: Tensor
    """[B,S] float."""
    thing_cells: Tensor
    """[B,Nt] long: cells of the mask grid each thing kernel's segment covers (0 = no segment)."""
    thing_box: Tensor
    """[B,Nt,4] float (x0, y0, x1, y1) pixels of each thing kernel's segment on the grid, x1/y1 exclusive."""
    thing_grid: Tensor
    """[B,P] long: the thing kernel whose segment holds each cell of the image's mask grid (Nt for
    none), for mask-IoU matching."""
    choice: PixelChoice
    """Which kernel each pixel took, for reading the kernels' depth maps at the pixels."""
    upsampler: BlockUpsampler
    depth: Tensor | None = None
    """[B,H,W] float metres."""


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


def grid_cells(image_size: tuple[int, int], stride: int) -> tuple[int, int]:
    """Rows and columns of mask-grid cells that hold at least one pixel of the image."""
    return -(-image_size[0] // stride), -(-image_size[1] // stride)


def merge_segments(
    cfg: ModelConfig, mask_logits: Tensor, class_logits: Tensor, image_size: tuple[int, int]
) -> PanopticBatch:
    """The merge without depth: [B,N,hg,wg] mask logits on the (padded) mask grid, [B,N,K] class
    logits, and the (H, W) of the image the grid covers from its top-left corner."""
    mask_probs = torch.sigmoid(mask_logits)
    b, n, hg, wg = mask_probs.shape
    nt = cfg.num_thing_kernels
    s = cfg.mask_stride
    device = mask_probs.device
    score, cls = kernel_scores(cfg, class_logits)
    is_thing_kernel = torch.arange(n, device=device) < nt
    keep = ~is_thing_kernel | (score >= cfg.merge.thing_score)
    if cfg.merge.duplicate_iou < 1.0:
        keep[:, :nt] &= ~_duplicates(cfg, mask_probs[:, :nt], score[:, :nt], cls[:, :nt], image_size)
    ranked = torch.where(keep[..., None, None], score[..., None, None] * mask_probs, -1.0)
    winner = ranked.max(1).indices  # [B,hg,wg]; max, not argmax: far faster on a CPU

    # The overlap test on the cells of the image: a kernel's visible cells (where it wins with a
    # probability >= mask_prob) against all its cells with that probability.
    hc, wc = grid_cells(image_size, s)
    winner_in = winner[:, :hc, :wc]
    # Gathered on the whole grid, then cropped: gathering from a cropped view copies all N maps.
    inside = (mask_probs.gather(1, winner[:, None])[:, 0] >= cfg.merge.mask_prob)[:, :hc, :wc]
    visible = bincount_per_item(torch.where(inside, winner_in, n), n + 1)[:, :n]
    # Counted as a float sum of 0/1 steps (sign(p - t) + 1, clipped at 1: 1 where p >= t): a bool
    # comparison over a cropped view is copied before it is counted, eight times slower on a CPU.
    at_least = (mask_probs - cfg.merge.mask_prob).sign_().add_(1.0).clamp_(max=1.0)
    full = at_least[..., :hc, :wc].sum(dim=(2, 3)).long()
    kept = keep & (visible > 0) & (visible >= cfg.merge.overlap * full)

    thing_classes = device_tensor(cfg.thing_classes, device)
    slot_class = torch.cat([cls, thing_classes.expand(b, -1)], dim=1)
    slot_score = torch.cat([score, score.new_zeros(b, len(cfg.thing_classes))], dim=1)

    slot_of_kernel = _kernel_slots(cfg, kept, cls)
    grid_slot = slot_of_kernel.gather(1, winner_in.flatten(1)).view_as(winner_in)
    upsampler = BlockUpsampler(s, (hg, wg), image_size)
    candidates = upsampler.candidates(_leaders(ranked, winner, CANDIDATES_PER_CELL))

    def rank(logits: Tensor, kernels: Tensor, batch: Tensor) -> Tensor:
        # As the reference: mask logits upsampled, then the sigmoid, times the kernel's score.
        kernel_score = score[batch[:, None], kernels][..., None, None]
        kernel_keep = keep[batch[:, None], kernels][..., None, None]
        return torch.where(kernel_keep, kernel_score * torch.sigmoid(logits), -1.0)

    choice = upsampler.choose(mask_logits, candidates, rank)
    pixel_kernel = upsampler.kernels(choice)
    slot = slot_of_kernel.gather(1, pixel_kernel.flatten(1)).view_as(pixel_kernel)

    cells = grid_slot[:, None] == torch.arange(nt, device=device).view(1, nt, 1, 1)  # [B,Nt,hc,wc]
    return PanopticBatch(
        slot=slot,
        semantic=slot_class.gather(1, slot.flatten(1)).view_as(slot),
        slot_class=slot_class,
        slot_score=slot_score,
        thing_cells=torch.count_nonzero(cells, dim=(2, 3)),
        thing_box=_cell_boxes(cells, s, image_size),
        thing_grid=torch.where(grid_slot < nt, grid_slot, nt).flatten(1),
        choice=choice,
        upsampler=upsampler,
    )


def add_depth(merged: PanopticBatch, query_depth: Tensor, dense_depth: Tensor) -> PanopticBatch:
    """``merged`` with depth: [B,N,hg,wg] query depth in each kernel's segment, [B,1,hg,wg] dense
    elsewhere."""
    n = query_depth.shape[1]
    at_kernels = merged.upsampler.values(query_depth, merged.choice)
    dense = merged.upsampler.upsample(dense_depth)[:, 0]
    return replace(merged, depth=torch.where(merged.slot < n, at_kernels, dense))


def _duplicates(
    cfg: ModelConfig, probs: Tensor, score: Tensor, cls: Tensor, image_size: tuple[int, int]
) -> Tensor:
    """[B,Nt] thing kernels whose mask overlaps a better-scoring kernel of their class by more than
    ``merge.duplicate_iou`` (IoU of the prob >= mask_prob cells): one object, predicted twice."""
    hc, wc = grid_cells(image_size, cfg.mask_stride)
    masks = (probs[..., :hc, :wc] >= cfg.merge.mask_prob).flatten(2).float()
    inter = masks @ masks.transpose(1, 2)
    area = masks.sum(-1)
    iou = inter / (area[:, :, None] + area[:, None, :] - inter).clamp(min=1.0)
    better = score[:, None, :] > score[:, :, None]  # [b, i, j]: j scores above i
    same = cls[:, :, None] == cls[:, None, :]
    return ((iou > cfg.merge.duplicate_iou) & better & same).any(-1)


def _leaders(ranked: Tensor, winner: Tensor, count: int) -> Tensor:
    """[B,count,h,w]: the ``count`` best kernels of each cell, best first (max twice beats topk on a CPU)."""
    leaders = [winner]
    for _ in range(count - 1):
        ranked = ranked.scatter(1, leaders[-1][:, None], -2.0)
        leaders.append(ranked.max(1).indices)
    return torch.stack(leaders, dim=1)


def _kernel_slots(cfg: ModelConfig, kept: Tensor, cls: Tensor) -> Tensor:
    """[B,N] the slot a position won by each kernel goes to: the kernel itself, or its class's untracked
    region where it is a thing kernel that failed the overlap test."""
    n = cls.shape[1]
    own = torch.arange(n, device=cls.device).expand_as(cls)
    untracked = (own < cfg.num_thing_kernels) & ~kept
    return torch.where(untracked, n + _index_in(cls, cfg.thing_classes), own)


def _cell_boxes(cells: Tensor, stride: int, image_size: tuple[int, int]) -> Tensor:
    """Pixel boxes (x0, y0, x1, y1), x1/y1 exclusive, of [B,K,h,w] cell masks; zeros for empty masks."""
    rows = cells.any(-1)  # [B,K,h]
    cols = cells.any(-2)  # [B,K,w]
    h, w = rows.shape[-1], cols.shape[-1]
    y0 = rows.int().argmax(-1)
    y1 = h - rows.flip(-1).int().argmax(-1)
    x0 = cols.int().argmax(-1)
    x1 = w - cols.flip(-1).int().argmax(-1)
    box = torch.stack([x0, y0, x1, y1], -1) * stride
    limit = torch.tensor([image_size[1], image_size[0]] * 2, device=cells.device)
    box = torch.minimum(box, limit)
    return torch.where(rows.any(-1)[..., None], box, torch.zeros_like(box)).float()


def _index_in(values: Tensor, table: tuple[int, ...]) -> Tensor:
    """Position of each value in ``table`` (0 where absent)."""
    lookup = device_tensor(table, values.device)
    return (values[..., None] == lookup).long().argmax(-1)


def bincount_per_item(index: Tensor, bins: int) -> Tensor:
    """Per-batch-item bincount of [B,...] indices in 0..bins-1 -> [B,bins] long."""
    flat = index.flatten(1)
    counts = torch.zeros(flat.shape[0], bins, dtype=torch.long, device=flat.device)
    return counts.scatter_add_(1, flat, torch.ones_like(flat))
