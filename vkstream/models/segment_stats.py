"""Per-segment statistics of merged frames: area, box, median pixel and median depth, on the device.

Computed once, from the final per-pixel slots and depth, so the table a planner receives agrees with
the maps to the pixel; every statistic is a histogram or one sort over the frame's pixels, never a
per-segment mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class SegmentStats:
    """[B,S] statistics of slots 0..S-1 (zeros for empty slots)."""

    area: Tensor
    """long pixels."""
    box: Tensor
    """[B,S,4] long (x0, y0, x1, y1), x1/y1 exclusive."""
    center: Tensor
    """[B,S,2] float (u, v): the per-axis median column and row of the segment's pixels (the mean of
    the two middle values for an even count)."""
    median_depth: Tensor
    """float metres: the lower median of the segment's pixel depths."""


def segment_stats(slot: Tensor, depth: Tensor, slots: int) -> SegmentStats:
    """Statistics of [B,H,W] slots 0..``slots``-1 with [B,H,W] float depth."""
    b = slot.shape[0]
    segment, area, box, center = _extents(slot, slots)
    return SegmentStats(
        area=area.view(b, slots),
        box=box.view(b, slots, 4),
        center=center.view(b, slots, 2),
        median_depth=_medians(segment.flatten(), depth.flatten(), area).view(b, slots),
    )


def segment_boxes(slot: Tensor, slots: int) -> tuple[Tensor, Tensor]:
    """[B,S] long areas and [B,S,4] long boxes (x0, y0, x1, y1; x1/y1 exclusive; zeros for empty
    slots) of [B,H,W] slots 0..``slots``-1 (pixels, or the cells of a grid)."""
    b = slot.shape[0]
    _, area, box, _ = _extents(slot, slots)
    return area.view(b, slots), box.view(b, slots, 4)


def _extents(slot: Tensor, slots: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Each slot of each item as one segment index [B,H,W], and the segments' areas [B*S], boxes
    [B*S,4] and median pixels [B*S,2] (zeros for empty segments), from one histogram per axis."""
    b, h, w = slot.shape
    device = slot.device
    segment = slot + (torch.arange(b, device=device) * slots).view(b, 1, 1)
    cols = _axis_hist(segment, torch.arange(w, device=device), b * slots, w)
    rows = _axis_hist(segment, torch.arange(h, device=device).view(h, 1), b * slots, h)
    area = cols.sum(1)
    x0, x1, u = _extent_and_median(cols, area)
    y0, y1, v = _extent_and_median(rows, area)
    box = torch.stack([x0, y0, x1, y1], -1)
    present = area > 0
    box = torch.where(present[:, None], box, torch.zeros_like(box))
    center = torch.where(present[:, None], torch.stack([u, v], -1), torch.zeros(1, 2, device=device))
    return segment, area, box, center


def _axis_hist(segment: Tensor, coord: Tensor, segments: int, length: int) -> Tensor:
    """[segments, length] pixel counts of each segment of [B,H,W] ``segment`` at each coordinate
    along one axis (``coord`` broadcast against it)."""
    index = (segment * length).add_(coord).flatten()
    return torch.bincount(index, minlength=segments * length).view(segments, length)


def _extent_and_median(hist: Tensor, area: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """First and one-past-last occupied coordinate and the median coordinate of each histogram row."""
    length = hist.shape[1]
    occupied = hist > 0
    first = occupied.int().argmax(1)
    end = length - occupied.flip(1).int().argmax(1)
    cum = hist.cumsum(1)
    lo = (cum <= ((area - 1).clamp(min=0) // 2)[:, None]).sum(1)
    hi = (cum <= (area // 2)[:, None]).sum(1)
    return first, end, (lo + hi).float() / 2


def _medians(segment: Tensor, depth: Tensor, area: Tensor) -> Tensor:
    """Lower median of each segment's depths, by one sort of (segment, depth) keys."""
    if not depth.numel():
        return torch.zeros_like(area, dtype=torch.float32)
    # Positive float32 values sort like their bit patterns: one int64 key sorts by segment, then depth.
    bits = depth.float().clamp(min=0).view(torch.int32).long()
    keys = torch.sort((segment << 32) | bits).values
    starts = torch.cumsum(area, 0) - area
    index = (starts + (area - 1).clamp(min=0) // 2).clamp(max=keys.numel() - 1)
    values = (keys[index] & 0xFFFFFFFF).int().view(torch.float32)
    return torch.where(area > 0, values, torch.zeros_like(values))
