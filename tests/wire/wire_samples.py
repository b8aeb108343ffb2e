"""Realistic small results for the wire tests, and the check that a received result is what was sent."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vkstream.client import StreamResult
from vkstream.data import CITYSCAPES, Intrinsics, TrainId
from vkstream.wire import FrameOutput, Panoptic, SegmentStats, derive_segments, panoptic_map, wire_segments

INTRINSICS = Intrinsics(fx=70.0, fy=70.0, cx=31.5, cy=23.5)


def make_output(
    stream: str = "front", seq: int = 0, size: tuple[int, int] = (48, 64), table: bool = True, **kw
) -> FrameOutput:
    """Road, sky and a building, with two tracked cars and a person; depth grows towards the horizon.

    ``table``: with the producer's own segment table (as a model gives it), else none (measured when
    published, as for a ground-truth replay).
    """
    height, width = size
    rng = np.random.default_rng(seq)
    classes = np.full(size, TrainId.ROAD, dtype=np.uint8)
    classes[: height // 3] = TrainId.SKY
    classes[height // 3 : height // 2, : width // 2] = TrainId.BUILDING
    tracks = np.zeros(size, dtype=np.int32)
    shift = seq % 5
    for track, (cls, y, x) in enumerate(
        ((TrainId.CAR, 30, 5), (TrainId.CAR, 28, 30), (TrainId.PERSON, 25, 50)), 1
    ):
        classes[y : y + 10, x + shift : x + shift + 9] = cls
        tracks[y : y + 10, x + shift : x + shift + 9] = track
    rows = np.arange(height, dtype=np.float32)[:, None]
    depth = np.broadcast_to(400.0 / (rows + 1.0), size).astype(np.float32) + rng.random(
        size, dtype=np.float32
    )
    depth[classes == TrainId.SKY] = 0.0
    segments = stats_table(classes, tracks, depth) if table else None
    fields = {
        "intrinsics": INTRINSICS,
        "latency_ms": {"ingest": 1.5, "backbone": 12.25},
        "dropped": 0,
        "state_reset": seq == 0,
    }
    fields.update(kw)
    return FrameOutput(
        stream, seq, time.time_ns(), Panoptic(classes, tracks, CITYSCAPES, segments), depth, **fields
    )


def stats_table(classes: np.ndarray, tracks: np.ndarray, depth: np.ndarray) -> tuple[SegmentStats, ...]:
    """A producer's table, one segment per (class, track): what a model measures on its device."""
    out = []
    for i, key in enumerate(np.unique(classes.astype(np.int64) << 16 | tracks)):
        ys, xs = np.nonzero((classes.astype(np.int64) << 16 | tracks) == key)
        bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        median = float(np.median(depth[ys, xs]))
        center = (float(np.median(xs)), float(np.median(ys)))
        out.append(
            SegmentStats(int(key >> 16), int(key & 0xFFFF), 0.5 + 0.01 * i, xs.size, bbox, median, center)
        )
    return tuple(out)


def assert_published(result: StreamResult, sent: FrameOutput) -> None:
    """Every field of ``result`` is what the publisher must make of ``sent``."""
    assert result.stream == sent.stream and result.seq == sent.seq and result.stamp_ns == sent.stamp_ns
    assert result.publish_ns >= sent.stamp_ns
    assert result.classes == CITYSCAPES.names and result.palette == CITYSCAPES.palette
    panoptic = panoptic_map(sent.panoptic.classes, sent.panoptic.tracks)
    assert result.panoptic.dtype == np.uint32 and np.array_equal(result.panoptic, panoptic)
    depth16 = sent.depth.astype(np.float16)
    assert result.depth.dtype == np.float16 and np.array_equal(
        result.depth.view(np.uint16), depth16.view(np.uint16)
    )
    if sent.panoptic.segments is None:
        expected = derive_segments(panoptic, depth16, CITYSCAPES.things, None, sent.intrinsics)
    else:
        expected = wire_segments(sent.panoptic.segments, CITYSCAPES, sent.intrinsics)
    assert result.segments == expected
    assert [s.id for s in result.segments] == sorted(np.unique(panoptic).tolist())
    for stage, ms in sent.latency_ms.items():
        assert result.latency_ms[stage] == ms
    assert set(result.latency_ms) == {*sent.latency_ms, "publish", "total"}
    assert result.latency_ms["total"] == pytest.approx((result.publish_ns - sent.stamp_ns) / 1e6)
    assert result.dropped == sent.dropped and result.state_reset == sent.state_reset
