"""The producer's side of the wire: segment ids, track-id wrapping, segments from a model's table."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from vkstream.client import MalformedMessage, decode_message, encode_message
from vkstream.data import Intrinsics, LabelSpace
from vkstream.wire import (
    FrameOutput,
    Panoptic,
    SegmentStats,
    checked_output,
    panoptic_map,
    segment_key,
    stream_result,
    wire_segments,
    wrap_track_id,
    wrap_track_ids,
)

LABELS = LabelSpace.build(["ground", "robot", "wall"], [1])
K = Intrinsics(fx=100.0, fy=50.0, cx=10.0, cy=5.0)


def test_track_ids_wrap_into_sixteen_bits_and_never_to_zero() -> None:
    ids = [0, 1, 65535, 65536, 65537, 2 * 65535, 2 * 65535 + 1]
    assert [wrap_track_id(t) for t in ids] == [0, 1, 65535, 1, 2, 65535, 1]
    assert wrap_track_ids(np.array(ids, np.int64)).tolist() == [0, 1, 65535, 1, 2, 65535, 1]
    assert wrap_track_ids(np.array([3], np.int32)).dtype == np.uint16
    assert segment_key(1, 65536 + 6) == (1 << 16) | 7
    tracks = np.array([[0, 65536 + 6]])
    assert panoptic_map(np.array([[2, 1]], np.uint8), tracks).tolist() == [[2 << 16, (1 << 16) | 7]]
    with pytest.raises(ValueError, match="same HxW"):
        panoptic_map(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.int32))


def test_a_models_table_becomes_the_wire_segments_and_shared_ids_merge() -> None:
    table = (
        SegmentStats(0, 0, 0.9, 100, (0, 5, 20, 10), 4.0, (9.5, 7.0)),
        SegmentStats(1, 3, 0.8, 12, (2, 2, 6, 5), 8.0, (3.0, 3.0)),
        # two untracked robots share the wire id 1 << 16: one segment, the largest's depth and point
        SegmentStats(1, 0, 0.4, 6, (10, 1, 13, 3), 20.0, (11.0, 2.0)),
        SegmentStats(1, 0, 0.6, 9, (15, 0, 18, 3), 12.0, (16.0, 1.0)),
        SegmentStats(2, 0, 0.7, 30, (0, 0, 20, 2), 0.0, (9.5, 0.5)),  # no depth: no point
    )
    ground, untracked, robot, wall = wire_segments(table, LABELS, K)
    assert (ground.id, ground.thing, ground.area, ground.bbox) == (0, False, 100, (0, 5, 20, 10))
    assert ground.xyz == pytest.approx(((9.5 - 10) * 4 / 100, (7 - 5) * 4 / 50, 4.0))
    assert (untracked.id, untracked.track, untracked.area, untracked.bbox) == (1 << 16, 0, 15, (10, 0, 18, 3))
    assert (untracked.score, untracked.depth_m) == (0.6, 12.0)
    assert untracked.xyz == pytest.approx(((16 - 10) * 12 / 100, (1 - 5) * 12 / 50, 12.0))
    assert (robot.id, robot.thing, robot.track, robot.score) == ((1 << 16) | 3, True, 3, 0.8)
    assert wall.depth_m == 0.0 and wall.xyz is None
    assert wire_segments(table, LABELS, None)[0].xyz is None
    with pytest.raises(ValueError, match="class 2 is stuff but a segment carries track id 4"):
        wire_segments((SegmentStats(2, 4, 1.0, 1, (0, 0, 1, 1), 1.0, (0.0, 0.0)),), LABELS, K)


def test_the_label_space_travels_on_the_wire() -> None:
    classes = np.zeros((4, 6), np.uint8)
    classes[1:3, 1:3] = 1
    tracks = np.where(classes == 1, 5, 0).astype(np.int32)
    output = FrameOutput("cam", 3, 1_000, Panoptic(classes, tracks, LABELS), np.ones((4, 6), np.float32))
    result = stream_result(checked_output(output), 2_000_000, 1_500_000)
    got = decode_message(encode_message(result, "raw"))
    assert got.classes == LABELS.names and got.palette == LABELS.palette and got.things == (1,)
    assert [(s.id, s.thing) for s in got.segments] == [
        (0, False),
        ((1 << 16) | 5, True),
    ]  # measured: no table
    payload = msgpack.unpackb(encode_message(result, "raw")[1])
    for key, bad in (("palette", [[1, 2, 3]]), ("palette", [[0, 0, 256]] * 3), ("things", [3])):
        frames = [b"vkstream/cam", msgpack.packb({**payload, key: bad})]
        with pytest.raises(MalformedMessage, match=key):
            decode_message(frames)
    older = {k: v for k, v in payload.items() if k not in ("palette", "things")}  # a publisher without them
    plain = decode_message([b"vkstream/cam", msgpack.packb(older)])
    assert plain.palette is None and plain.things is None
