"""Realistic small results for the wire tests, and the check that a received result is what was sent."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vkstream.client import StreamResult
from vkstream.data import CLASS_NAMES, THING_IDS, Intrinsics, TrainId
from vkstream.nodes.publisher import FrameOutput
from vkstream.nodes.segments import derive_segments

INTRINSICS = Intrinsics(fx=70.0, fy=70.0, cx=31.5, cy=23.5)


def make_output(stream: str = "front", seq: int = 0, size: tuple[int, int] = (48, 64), **kw) -> FrameOutput:
    """Road, sky and a building, with two tracked cars and a person; depth grows towards the horizon."""
    height, width = size
    rng = np.random.default_rng(seq)
    classes = np.full(size, TrainId.ROAD, dtype=np.uint32)
    classes[: height // 3] = TrainId.SKY
    classes[height // 3 : height // 2, : width // 2] = TrainId.BUILDING
    tracks = np.zeros(size, dtype=np.uint32)
    shift = seq % 5
    for track, (cls, y, x) in enumerate(
        ((TrainId.CAR, 30, 5), (TrainId.CAR, 28, 30), (TrainId.PERSON, 25, 50)), 1
    ):
        classes[y : y + 10, x + shift : x + shift + 9] = cls
        tracks[y : y + 10, x + shift : x + shift + 9] = track
    panoptic = (classes << 16) | tracks
    rows = np.arange(height, dtype=np.float32)[:, None]
    depth = np.broadcast_to(400.0 / (rows + 1.0), size).astype(np.float32) + rng.random(
        size, dtype=np.float32
    )
    depth[classes == TrainId.SKY] = 0.0
    ids = np.unique(panoptic)
    fields = {
        "scores": {int(i): float(0.5 + 0.01 * n) for n, i in enumerate(ids)},
        "intrinsics": INTRINSICS,
        "latency_ms": {"ingest": 1.5, "backbone": 12.25},
        "dropped": 0,
        "state_reset": seq == 0,
    }
    fields.update(kw)
    return FrameOutput(stream, seq, time.time_ns(), panoptic, depth, **fields)


def assert_published(result: StreamResult, sent: FrameOutput) -> None:
    """Every field of ``result`` is what the publisher must make of ``sent``."""
    assert result.stream == sent.stream and result.seq == sent.seq and result.stamp_ns == sent.stamp_ns
    assert result.publish_ns >= sent.stamp_ns
    assert result.classes == CLASS_NAMES
    assert result.panoptic.dtype == np.uint32 and np.array_equal(result.panoptic, sent.panoptic)
    depth16 = sent.depth.astype(np.float16)
    assert result.depth.dtype == np.float16 and np.array_equal(
        result.depth.view(np.uint16), depth16.view(np.uint16)
    )
    expected = derive_segments(sent.panoptic, depth16, THING_IDS, sent.scores, sent.intrinsics)
    assert result.segments == expected
    for stage, ms in sent.latency_ms.items():
        assert result.latency_ms[stage] == ms
    assert set(result.latency_ms) == {*sent.latency_ms, "publish", "total"}
    assert result.latency_ms["total"] == pytest.approx((result.publish_ns - sent.stamp_ns) / 1e6)
    assert result.dropped == sent.dropped and result.state_reset == sent.state_reset
