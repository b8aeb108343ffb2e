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
from vkstream.models.segment_stats import segment_boxes
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
    b, n, hg, wg = mask_logits.shape
    nt = cfg.num_thing_kernels
    s = cfg.mask_stride
    device = mask_logits.device
    score, cls = kernel_scores(cfg, class_logits)
    is_thing_kernel = torch.arange(n, device=device) < nt
    keep = ~is_thing_kernel | (score >= cfg.merge.thing_score)
    # Thing kernels scoring below thing_score win no cell and count in no test: the grid work runs on
    # the others only (about half the kernels), in their order. ``order`` maps them back.
    order = _kept_first(keep)
    rows = (order + (torch.arange(b, device=device) * n)[:, None]).flatten()
    probs = torch.sigmoid(mask_logits.flatten(0, 1).index_select(0, rows).view(b, -1, hg, wg))
    score_k, cls_k = score.gather(1, order), cls.gather(1, order)
    keep_k = keep.gather(1, order)
    if cfg.merge.duplicate_iou < 1.0:
        keep_k &= ~_duplicates(cfg, probs, score_k, cls_k, image_size)
    ranked = _dropped(score_k[..., None, None] * probs, keep_k[..., None, None])
    winner_k = ranked.max(1).indices  # [B,hg,wg]; max, not argmax: far faster on a CPU

    # The overlap test on the cells of the image: a kernel's visible cells (where it wins with a
    # probability >= mask_prob) against all its cells with that probability.
    hc, wc = grid_cells(image_size, s)
    k = order.shape[1]
    # Gathered on the whole grid, then cropped: gathering from a cropped view copies all the maps.
    inside = (probs.gather(1, winner_k[:, None])[:, 0] >= cfg.merge.mask_prob)[:, :hc, :wc]
    visible = bincount_per_item(torch.where(inside, winner_k[:, :hc, :wc], k), k + 1)[:, :k]
    # Counted as a float sum of 0/1 steps (sign(p - t) + 1, clipped at 1: 1 where p >= t): a bool
    # comparison over a cropped view is copied before it is counted, eight times slower on a CPU.
    at_least = (probs - cfg.merge.mask_prob).sign_().add_(1.0).clamp_(max=1.0)
    full = at_least[..., :hc, :wc].sum(dim=(2, 3)).long()
    kept_k = keep_k & (visible > 0) & (visible >= cfg.merge.overlap * full)
    keep = torch.zeros_like(keep).scatter_(1, order, keep_k)
    kept = torch.zeros_like(keep).scatter_(1, order, kept_k)

    thing_classes = device_tensor(cfg.thing_classes, device)
    slot_class = torch.cat([cls, thing_classes.expand(b, -1)], dim=1)
    slot_score = torch.cat([score, score.new_zeros(b, len(cfg.thing_classes))], dim=1)

    slot_of_kernel = _kernel_slots(cfg, kept, cls)
    winner_in = _original(order, winner_k[:, :hc, :wc])
    grid_slot = slot_of_kernel.gather(1, winner_in.flatten(1)).view_as(winner_in)
    upsampler = BlockUpsampler(s, (hg, wg), image_size)
    candidates = upsampler.candidates(_original(order, _leaders(ranked, winner_k, CANDIDATES_PER_CELL)))

    def rank(logits: Tensor, kernels: Tensor, batch: Tensor) -> Tensor:
        # As the reference: mask logits upsampled, then the sigmoid, times the kernel's score.
        kernel_score = score[batch[:, None], kernels][..., None, None]
        kernel_keep = keep[batch[:, None], kernels][..., None, None]
        return _dropped(kernel_score * torch.sigmoid(logits), kernel_keep)

    choice = upsampler.choose(mask_logits, candidates, rank)
    pixel_kernel = upsampler.kernels(choice)
    slot = slot_of_kernel.gather(1, pixel_kernel.flatten(1)).view_as(pixel_kernel)

    thing_grid = torch.where(grid_slot < nt, grid_slot, nt)
    thing_cells, thing_box = _thing_cells_and_boxes(thing_grid, nt, s, image_size)
    return PanopticBatch(
        slot=slot,
        semantic=slot_class.gather(1, slot.flatten(1)).view_as(slot),
        slot_class=slot_class,
        slot_score=slot_score,
        thing_cells=thing_cells,
        thing_box=thing_box,
        thing_grid=thing_grid.flatten(1),
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
    """[B,K] kernels whose mask overlaps a better-scoring kernel of their class by more than
    ``merge.duplicate_iou`` (IoU of the prob >= mask_prob cells): one object, predicted twice (only
    thing kernels share a class)."""
    hc, wc = grid_cells(image_size, cfg.mask_stride)
    masks = (probs[..., :hc, :wc] >= cfg.merge.mask_prob).flatten(2).float()
    inter = masks @ masks.transpose(1, 2)
    area = masks.sum(-1)
    iou = inter / (area[:, :, None] + area[:, None, :] - inter).clamp(min=1.0)
    better = score[:, None, :] > score[:, :, None]  # [b, i, j]: j scores above i
    same = cls[:, :, None] == cls[:, None, :]
    return ((iou > cfg.merge.duplicate_iou) & better & same).any(-1)


def _dropped(values: Tensor, keep: Tensor) -> Tensor:
    """``values`` with -1 (below any score x probability) where ``keep`` is False.

    On a CPU a broadcast ``where`` costs several times the product it masks, and usually every
    kernel in play is kept (a single frame's compacted kernels always are, duplicates aside): asking
    first is cheaper. A GPU is not made to wait for the answer."""
    if values.device.type == "cpu" and bool(keep.all()):
        return values
    return torch.where(keep, values, -1.0)


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


def _kept_first(keep: Tensor) -> Tensor:
    """[B,K] indices of each item's kept kernels in their order, K the most any item keeps; an item
    that keeps fewer is padded with its first dropped kernels (which rank below every kept one).
    K sizes the work that follows: a GPU is waited for here."""
    count = int(keep.sum(1).max())
    return torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices[:, :count]


def _original(order: Tensor, index: Tensor) -> Tensor:
    """[B,...] indices into the kept kernels -> the kernels' own indices."""
    return order.gather(1, index.flatten(1)).view_as(index)


def _thing_cells_and_boxes(
    thing_grid: Tensor, nt: int, stride: int, image_size: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """Cell counts [B,Nt] and pixel boxes [B,Nt,4] (x0, y0, x1, y1; x1/y1 exclusive; zeros when
    empty) of the thing kernels' segments on [B,h,w] cells holding a thing kernel or ``nt`` (none)."""
    cells, boxes = segment_boxes(thing_grid, nt + 1)
    limit = torch.tensor([image_size[1], image_size[0]] * 2, device=thing_grid.device)
    return cells[:, :nt], torch.minimum(boxes[:, :nt] * stride, limit).float()


def _index_in(values: Tensor, table: tuple[int, ...]) -> Tensor:
    """Position of each value in ``table`` (0 where absent)."""
    lookup = device_tensor(table, values.device)
    return (values[..., None] == lookup).long().argmax(-1)


def bincount_per_item(index: Tensor, bins: int) -> Tensor:
    """Per-batch-item bincount of [B,...] indices in 0..bins-1 -> [B,bins] long."""
    flat = index.flatten(1)
    counts = torch.zeros(flat.shape[0], bins, dtype=torch.long, device=flat.device)
    return counts.scatter_add_(1, flat, torch.ones_like(flat))
