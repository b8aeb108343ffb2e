"""The ``segments`` list measured from the very maps that are sent, for producers without a table.

Ground-truth replays and simple nodes hand over maps only; their segments (area, box, depth, 3D
point) are measured here, consistent with the panoptic and depth maps a planner receives, to the
pixel. (A model measures its own segments on its device: :mod:`vkstream.wire.segments`.)

Everything is computed with histograms (``np.bincount``) over (segment, value) pairs rather than by
sorting pixels, so the cost is a few linear passes over the frame. An order statistic (a box edge, a
median) is then read off each segment's cumulative histogram. Depth medians are exact because depth is
sent as float16, whose positive values sort like their 15-bit patterns: a histogram over bit patterns
loses nothing. Only unusual maps (huge class and track ids together, or more segments than one pass's
bin budget holds) pay for one sort, to keep memory bounded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from vkstream.client.message import TRACK_BITS, Segment
from vkstream.data.frame import Intrinsics

_BIN_BUDGET = 1 << 21
"""Most histogram bins one pass allocates (16 MiB of counts): bounds memory whatever the content."""
_MAX_SEGMENTS_PER_PASS = 1024
_DIRECT_ID_LIMIT = 1 << 21
"""Maps with (largest class + 1) x (largest track + 1) below this (any 19-class output) are ranked by
one bincount over (class, track) pairs."""
_FLOAT16_FINITE_BITS = 0x7C00  # bit patterns 1 .. 0x7BFF are the positive finite float16 values


def derive_segments(
    panoptic: np.ndarray,
    depth: np.ndarray,
    thing_ids: Collection[int],
    scores: Mapping[int, float] | None = None,
    intrinsics: Intrinsics | None = None,
) -> tuple[Segment, ...]:
    """One :class:`Segment` per distinct panoptic value, in increasing id order.

    ``depth`` is rounded to float16 first, as on the wire. A pixel has depth when that value is
    positive and finite. ``depth_m`` is the median of a segment's pixels that have depth (0.0 if none):
    the middle value for an odd count, the mean of the two middle values (exact, in float64) for an
    even one. ``xyz`` back-projects the segment's median pixel (per-axis median column and row of
    those pixels, same median rule, pixel centres at integer coordinates) at ``depth_m``:
    ``X = (u - cx) Z / fx``, ``Y = (v - cy) Z / fy``, ``Z``; it is None without intrinsics or without
    depth. ``scores`` maps segment id to confidence; None (sources without confidences, such as
    ground-truth replay) gives every segment 1.0. Raises ValueError for a segment without a score or
    a stuff segment with a track id.
    """
    panoptic = np.asarray(panoptic)
    if panoptic.ndim != 2 or panoptic.dtype.kind != "u" or panoptic.dtype.itemsize > 4 or not panoptic.size:
        raise ValueError(
            f"panoptic must be a non-empty HxW uint32 map, got {panoptic.dtype} {panoptic.shape}"
        )
    depth16 = np.asarray(depth, dtype=np.float16)
    if depth16.shape != panoptic.shape:
        raise ValueError(f"depth {depth16.shape} must have the panoptic map's shape {panoptic.shape}")

    ids, rank = _segment_ranks(panoptic)
    classes, tracks = ids >> TRACK_BITS, ids & 0xFFFF
    thing = np.isin(classes, np.fromiter(thing_ids, np.int64, len(thing_ids)))
    stuff_tracked = np.flatnonzero((tracks > 0) & ~thing)
    if stuff_tracked.size:
        i = stuff_tracked[0]
        raise ValueError(f"segment {ids[i]}: class {classes[i]} is stuff but carries track id {tracks[i]}")
    id_list = ids.tolist()
    if scores is None:
        score_list = [1.0] * len(id_list)
    else:
        missing = [i for i in id_list if i not in scores]
        if missing:
            seg_id = missing[0]
            raise ValueError(
                f"no score for segment {seg_id} (class {seg_id >> TRACK_BITS}, track {seg_id & 0xFFFF})"
            )
        score_list = [float(scores[i]) for i in id_list]

    bits = depth16.view(np.uint16)
    has_depth = (bits - np.uint16(1)) < np.uint16(_FLOAT16_FINITE_BITS - 1)
    height, width = panoptic.shape
    cols = np.broadcast_to(np.arange(width), panoptic.shape)
    rows = np.broadcast_to(np.arange(height)[:, None], panoptic.shape)
    stats = _segment_stats_in_passes(rank, has_depth, bits, cols, rows, len(ids), (width, height))
    area, x0, x1, u, y0, y1, v, n_depth, depth_m = stats

    if intrinsics is None:
        xyz_list: list[tuple[float, float, float] | None] = [None] * len(id_list)
    else:
        k = intrinsics
        xs, ys = (u - k.cx) * depth_m / k.fx, (v - k.cy) * depth_m / k.fy
        xyz_list = [
            (x, y, z) if n else None
            for x, y, z, n in zip(xs.tolist(), ys.tolist(), depth_m.tolist(), n_depth.tolist(), strict=True)
        ]
    columns = zip(
        id_list,
        classes.tolist(),
        thing.tolist(),
        tracks.tolist(),
        score_list,
        area.tolist(),
        x0.tolist(),
        y0.tolist(),
        x1.tolist(),
        y1.tolist(),
        depth_m.tolist(),
        xyz_list,
        strict=True,
    )
    return tuple(
        Segment(
            id=i, class_id=c, thing=t, track=tr, score=s, area=a, bbox=(bx0, by0, bx1, by1), depth_m=d, xyz=p
        )
        for i, c, t, tr, s, a, bx0, by0, bx1, by1, d, p in columns
    )


def _segment_ranks(panoptic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ids (ascending, int64) and each pixel's index into them (HxW int32)."""
    tracks = panoptic & np.uint32(0xFFFF)
    stride = int(tracks.max()) + 1
    if ((int(panoptic.max()) >> TRACK_BITS) + 1) * stride > _DIRECT_ID_LIMIT:  # one sort instead
        ids = np.unique(panoptic)
        return ids.astype(np.int64), np.searchsorted(ids, panoptic).astype(np.int32)
    key = (panoptic >> np.uint32(TRACK_BITS)).astype(np.int32) * np.int32(stride) + tracks.astype(np.int32)
    present = np.flatnonzero(np.bincount(key.ravel()))  # ascending in (class, track), i.e. in id
    rank = np.zeros(present[-1] + 1, np.int32)
    rank[present] = np.arange(present.size, dtype=np.int32)
    ids = (present // stride) << TRACK_BITS | present % stride
    return ids.astype(np.int64), np.take(rank, key)


def _segment_stats_in_passes(
    rank: np.ndarray,
    has_depth: np.ndarray,
    bits: np.ndarray,
    cols: np.ndarray,
    rows: np.ndarray,
    count: int,
    size: tuple[int, int],
) -> tuple[np.ndarray, ...]:
    """:func:`_segment_stats` for all segments; beyond a pass's bin budget, for groups of segments."""
    per_pass = max(1, min(_MAX_SEGMENTS_PER_PASS, _BIN_BUDGET // (2 * max(size))))
    if count <= per_pass:
        return _segment_stats(rank, has_depth, bits, cols, rows, count, size)
    order = np.argsort(rank, axis=None, kind="stable")  # groups become contiguous slices
    flat = [a.ravel()[order] for a in (rank, has_depth, bits, cols, rows)]
    bounds = np.searchsorted(flat[0], np.arange(0, count + per_pass, per_pass).clip(max=count))
    parts = []
    for first, (start, end) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
        group_rank, *rest = (a[start:end] for a in flat)
        n = min(per_pass, count - first * per_pass)
        parts.append(_segment_stats(group_rank - first * per_pass, *rest, n, size))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def _segment_stats(
    rank: np.ndarray,
    has_depth: np.ndarray,
    bits: np.ndarray,
    cols: np.ndarray,
    rows: np.ndarray,
    count: int,
    size: tuple[int, int],
) -> tuple[np.ndarray, ...]:
    """Area, per-axis extent and median, depth-pixel count and median depth of segments 0..count-1.

    The pixel arrays share one shape (any: a frame, broadcast coordinate views, or flat slices).
    """
    rank_and_depth = rank * 2 + has_depth
    area = n_depth = k_lo = k_hi = None
    axes = []
    for coord, length in ((cols, size[0]), (rows, size[1])):
        hist = np.bincount((rank_and_depth * length + coord).ravel(), minlength=count * 2 * length)
        hist = hist.reshape(count, 2, length)
        occupied = hist.sum(axis=1)
        if n_depth is None:
            area, n_depth = occupied.sum(axis=1), hist[:, 1].sum(axis=1)
            k_lo, k_hi = np.maximum(n_depth - 1, 0) // 2, n_depth // 2
        present = occupied > 0
        first = present.argmax(axis=1)
        end = length - present[:, ::-1].argmax(axis=1)
        cum = hist[:, 1].cumsum(axis=1)
        median = (_kth(cum, k_lo) + _kth(cum, k_hi)) / 2.0
        axes += [first, end, median]
    assert area is not None and n_depth is not None and k_lo is not None and k_hi is not None
    lo_bits, hi_bits = _middle_bits(rank, has_depth, bits, count, k_lo, k_hi)
    lo = lo_bits.astype(np.uint16).view(np.float16).astype(np.float64)
    hi = hi_bits.astype(np.uint16).view(np.float16).astype(np.float64)
    depth_m = np.where(n_depth > 0, (lo + hi) / 2.0, 0.0)
    return (area, *axes, n_depth, depth_m)


def _kth(cum: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, the bin holding the k-th smallest (0-based) value, given cumulative counts."""
    return (cum <= k[:, None]).sum(axis=1)


def _middle_bits(
    rank: np.ndarray,
    has_depth: np.ndarray,
    bits: np.ndarray,
    count: int,
    k_lo: np.ndarray,
    k_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The k_lo-th and k_hi-th smallest bit pattern of each segment's (positive) float16 depths.

    One histogram over (segment, bit pattern - smallest pattern) when it fits the bin budget; else
    over coarse bins (patterns >> shift) first, then over the low bits within the one or two coarse
    bins holding each segment's middle values. Pixels without depth go to one extra, ignored bin.
    """
    if not has_depth.any():
        return np.zeros(count, np.int64), np.zeros(count, np.int64)
    base = int(np.where(has_depth, bits, np.uint16(0xFFFF)).min())
    span = int(np.where(has_depth, bits, np.uint16(0)).max()) - base + 1
    offset = bits.astype(np.int32) - np.int32(base)
    shift = 0
    while count * (((span - 1) >> shift) + 1) > _BIN_BUDGET:
        shift += 1
    n_coarse = ((span - 1) >> shift) + 1
    coarse = offset >> shift
    key = np.where(has_depth, rank * n_coarse + coarse, count * n_coarse)
    cum = np.bincount(key.ravel(), minlength=count * n_coarse + 1)[:-1].reshape(count, n_coarse)
    cum = cum.cumsum(axis=1)
    bin_lo, bin_hi = _kth(cum, k_lo), _kth(cum, k_hi)
    if shift == 0:
        return base + bin_lo, base + bin_hi
    segments = np.arange(count)
    below = np.concatenate((np.zeros((count, 1), np.int64), cum), axis=1)
    bin_lo, bin_hi = bin_lo.clip(max=n_coarse - 1), bin_hi.clip(max=n_coarse - 1)  # segments without depth
    n_fine = 1 << shift
    in_hi = coarse == np.take(bin_hi, rank)
    chosen = (in_hi | (coarse == np.take(bin_lo, rank))) & has_depth
    fine_key = (rank[chosen] * 2 + in_hi[chosen]) * n_fine + (offset[chosen] & (n_fine - 1))
    fine = np.bincount(fine_key, minlength=count * 2 * n_fine).reshape(count, 2, n_fine).cumsum(axis=2)
    lo_slot = (bin_lo == bin_hi).astype(np.intp)  # the shared bin's pixels were counted in slot 1
    fine_lo = _kth(fine[segments, lo_slot], k_lo - below[segments, bin_lo])
    fine_hi = _kth(fine[segments, 1], k_hi - below[segments, bin_hi])
    return base + (bin_lo << shift) + fine_lo, base + (bin_hi << shift) + fine_hi
