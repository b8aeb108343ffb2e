"""The segments list is derived from the maps that are sent: area, box, median depth and 3D point."""

from __future__ import annotations

import numpy as np
import pytest

from vkstream.data import THING_IDS, Intrinsics
from vkstream.wire import derive_segments

CAR = (13 << 16) | 4


def _maps() -> tuple[np.ndarray, np.ndarray]:
    panoptic = np.zeros((10, 20), np.uint32)  # road
    panoptic[:3] = 10 << 16  # sky
    panoptic[5:9, 11:17] = CAR
    depth = np.full((10, 20), 5.0, np.float32)
    depth[:3] = 0.0
    depth[5:9, 11:17] = np.arange(24, dtype=np.float32).reshape(4, 6) + 10.0
    depth[5, 11] = 0.0  # no estimate: ignored by the median
    return panoptic, depth


def test_geometry_of_each_segment() -> None:
    panoptic, depth = _maps()
    k = Intrinsics(fx=100.0, fy=50.0, cx=9.5, cy=4.5)
    road, sky, car = derive_segments(panoptic, depth, THING_IDS, {0: 0.9, CAR: 0.8, 10 << 16: 0.7}, k)
    assert (car.id, car.class_id, car.thing, car.track, car.score) == (CAR, 13, True, 4, 0.8)
    assert car.area == 24 and car.bbox == (11, 5, 17, 9)
    assert car.depth_m == pytest.approx(float(np.median(np.arange(1, 24) + 10.0)))
    valid = (panoptic == CAR) & (depth > 0)
    v, u = np.nonzero(valid)
    u_med, v_med = float(np.median(u)), float(np.median(v))
    z = car.depth_m
    assert car.xyz == pytest.approx(((u_med - 9.5) * z / 100.0, (v_med - 4.5) * z / 50.0, z))
    assert (road.id, road.thing, road.track, road.area, road.bbox) == (
        0,
        False,
        0,
        200 - 60 - 24,
        (0, 3, 20, 10),
    )
    assert sky.depth_m == 0.0 and sky.xyz is None  # no depth at all
    assert derive_segments(panoptic, depth, THING_IDS)[1].xyz is None  # no intrinsics
    assert all(s.score == 1.0 for s in derive_segments(panoptic, depth, THING_IDS))


def test_contract_violations_are_reported() -> None:
    panoptic, depth = _maps()
    with pytest.raises(ValueError, match=f"no score for segment {CAR}"):
        derive_segments(panoptic, depth, THING_IDS, {0: 1.0, 10 << 16: 1.0})
    panoptic[0, 0] = (10 << 16) | 3
    with pytest.raises(ValueError, match="stuff but carries track id 3"):
        derive_segments(panoptic, depth, THING_IDS)


def _reference(panoptic, depth, thing_ids, scores, k):
    """Per-segment loops, straight from the wire format's definitions."""
    depth16 = depth.astype(np.float16)
    segments = []
    for seg_id in sorted({int(v) for v in panoptic.ravel()}):
        rows, cols = np.nonzero(panoptic == seg_id)
        values = depth16[rows, cols].astype(np.float64)
        has_depth = (values > 0) & np.isfinite(values)
        depth_m, xyz = 0.0, None
        if has_depth.any():
            depth_m = _median(values[has_depth])
            u, v = _median(cols[has_depth]), _median(rows[has_depth])
            if k is not None:
                xyz = ((u - k.cx) * depth_m / k.fx, (v - k.cy) * depth_m / k.fy, depth_m)
        bbox = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
        class_id, track = seg_id >> 16, seg_id & 0xFFFF
        fields = (seg_id, class_id, class_id in thing_ids, track, scores[seg_id], rows.size)
        segments.append((*fields, bbox, depth_m, xyz))
    return segments


def _median(values: np.ndarray) -> float:
    ordered = sorted(values.tolist())
    n = len(ordered)
    return float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2.0


def _random_maps(rng: np.random.Generator, classes: list[int], height: int, width: int, depth_scale: float):
    """Blocky segments (stuff and things with large track ids), some without depth, single pixels."""
    things = sorted(THING_IDS)
    ids = [c << 16 for c in classes] + [
        (things[i % 2] << 16) | t for i, t in enumerate(rng.choice(np.arange(1, 65536), 80, replace=False))
    ]
    ids.append(max(THING_IDS) << 16 | 65535)
    blocks = rng.choice(ids, size=(height // 4 + 1, width // 4 + 1))
    panoptic = np.kron(blocks, np.ones((4, 4), np.int64))[:height, :width].astype(np.uint32)
    singles = rng.integers(0, [height, width], size=(6, 2))
    for n, (y, x) in enumerate(singles):
        panoptic[y, x] = (things[0] << 16) | (60000 + n)  # single-pixel segments, half with depth
    depth = np.exp(rng.uniform(-9, np.log(depth_scale), size=(height, width))).astype(np.float32)
    depth[rng.random((height, width)) < 0.2] = 0.0  # no estimate
    depth[panoptic == ids[0]] = 0.0  # a segment without any depth
    depth[singles[:3, 0], singles[:3, 1]] = 0.0
    depth[: height // 8] = np.round(depth[: height // 8])  # ties, so even counts meet equal middles
    return panoptic, depth


@pytest.mark.parametrize(
    ("classes", "depth_scale"),
    [([0, 2, 8, 10], 80.0), ([0, 2, 8, 10], 60000.0), ([0, 200, 65535], 60000.0)],
    ids=["kitti-range", "full-float16-range", "large-class-ids"],
)
def test_matches_per_segment_loops_on_random_maps(classes: list[int], depth_scale: float) -> None:
    rng = np.random.default_rng(len(classes) + int(depth_scale))
    panoptic, depth = _random_maps(rng, classes, 61, 97, depth_scale)
    scores = {int(i): float(rng.random()) for i in np.unique(panoptic)}
    k = Intrinsics(fx=70.0, fy=65.0, cx=48.3, cy=30.1)
    things = THING_IDS | set(classes[1:2] if 200 in classes else [])
    got = derive_segments(panoptic, depth, things, scores, k)
    expected = _reference(panoptic, depth, things, scores, k)
    assert len(got) == len(expected) > 80
    for segment, want in zip(got, expected, strict=True):
        *fields, bbox, depth_m, xyz = want
        assert [
            segment.id,
            segment.class_id,
            segment.thing,
            segment.track,
            segment.score,
            segment.area,
        ] == fields
        assert segment.bbox == bbox
        assert segment.depth_m == depth_m  # exact: medians of float16 values
        assert segment.xyz == (None if xyz is None else pytest.approx(xyz, rel=1e-12))
    assert any(s.xyz is None for s in got) and any(s.area == 1 and s.xyz for s in got)


def test_many_segments_are_processed_in_bounded_passes() -> None:
    rng = np.random.default_rng(5)
    panoptic = ((13 << 16) | rng.integers(1, 65536, size=(90, 80))).astype(np.uint32)  # ~7000 segments
    panoptic[:10] = 0
    depth = rng.uniform(0.5, 300.0, size=panoptic.shape).astype(np.float32)
    got = derive_segments(panoptic, depth, THING_IDS, intrinsics=Intrinsics(50.0, 50.0, 40.0, 45.0))
    expected = _reference(panoptic, depth, THING_IDS, dict.fromkeys(map(int, np.unique(panoptic)), 1.0), None)
    assert len(got) == len(expected) > 1024
    assert [(s.id, s.area, s.bbox, s.depth_m) for s in got] == [(e[0], e[5], e[6], e[7]) for e in expected]
