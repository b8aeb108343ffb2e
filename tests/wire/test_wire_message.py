"""Messages: exact round trips of every field, and every kind of bad payload rejected with a clear error."""

from __future__ import annotations

import copy

import msgpack
import numpy as np
import pytest

from vkstream.client import (
    SCHEMA,
    MalformedMessage,
    SchemaVersionError,
    Segment,
    StreamResult,
    decode_message,
    encode_message,
)
from vkstream.data import CLASS_NAMES


def _result(**kw) -> StreamResult:
    panoptic = np.zeros((6, 8), np.uint32)
    panoptic[2:5, 3:6] = (13 << 16) | 7
    depth = np.linspace(0, 30, 48, dtype=np.float16).reshape(6, 8)
    fields = {
        "stream": "front_left",
        "seq": 41,
        "stamp_ns": 1_700_000_000_123_456_789,
        "publish_ns": 1_700_000_000_153_456_789,
        "classes": CLASS_NAMES,
        "panoptic": panoptic,
        "depth": depth,
        "segments": (
            Segment(0, 0, False, 0, 0.75, 39, (0, 0, 8, 6), 12.5, None),
            Segment((13 << 16) | 7, 13, True, 7, 0.98, 9, (3, 2, 6, 5), 14.25, (0.5, -0.25, 14.25)),
        ),
        "latency_ms": {"backbone": 12.5, "total": 30.0},
        "dropped": 3,
        "state_reset": True,
    }
    fields.update(kw)
    return StreamResult(**fields)


def _assert_equal(a: StreamResult, b: StreamResult) -> None:
    for name in ("stream", "seq", "stamp_ns", "publish_ns", "classes", "segments", "latency_ms", "dropped"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.state_reset is b.state_reset
    assert a.panoptic.dtype == b.panoptic.dtype and np.array_equal(a.panoptic, b.panoptic)
    assert a.depth.dtype == b.depth.dtype and np.array_equal(a.depth, b.depth)


@pytest.mark.parametrize("codec", ["raw", "zstd", "lz4", "png"])
def test_every_field_round_trips(codec: str) -> None:
    sent = _result()
    frames = encode_message(sent, codec)
    assert frames[0] == b"vkstream/front_left"
    got = decode_message(frames, received_ns=sent.publish_ns + 1_000_000)
    _assert_equal(got, sent)
    assert got.transport_ms == pytest.approx(1.0) and got.size == (6, 8)
    assert got.class_map[3, 4] == 13 and got.track_map[3, 4] == 7 and got.class_name(got.segments[1]) == "car"


def test_payload_is_a_plain_msgpack_map_with_the_documented_keys() -> None:
    obj = msgpack.unpackb(encode_message(_result(), "raw", prefix="robot7")[1])
    assert set(obj) == {
        "schema", "stream", "seq", "stamp_ns", "publish_ns", "size", "classes", "panoptic", "depth",
        "segments", "latency_ms", "dropped", "state_reset",
    }  # fmt: skip
    assert obj["schema"] == SCHEMA == "vkstream.result/1" and obj["size"] == [6, 8]
    assert set(obj["segments"][1]) == {
        "id",
        "class",
        "thing",
        "track",
        "score",
        "area",
        "bbox",
        "depth_m",
        "xyz",
    }
    assert (
        obj["segments"][0]["xyz"] is None
        and obj["panoptic"]["dtype"] == "<u4"
        and obj["depth"]["dtype"] == "<f2"
    )
    assert encode_message(_result(), "raw", prefix="robot7")[0] == b"robot7/front_left"


def test_schema_mismatch_names_both_versions() -> None:
    topic, payload = encode_message(_result(), "raw")
    obj = msgpack.unpackb(payload)
    obj["schema"] = "vkstream.result/2"
    with pytest.raises(SchemaVersionError) as caught:
        decode_message([topic, msgpack.packb(obj)])
    assert "vkstream.result/2" in str(caught.value) and "vkstream.result/1" in str(caught.value)
    assert caught.value.topic == topic


def test_garbage_and_every_truncation_raise_malformed() -> None:
    topic, payload = encode_message(_result(), "zstd")
    for bad in (b"", b"\xc1", b"hello world", msgpack.packb([1, 2, 3]), msgpack.packb({"schema": 1})):
        with pytest.raises(MalformedMessage):
            decode_message([topic, bad])
    for cut in range(0, len(payload), 7):
        with pytest.raises(MalformedMessage):
            decode_message([topic, payload[:cut]])
    with pytest.raises(MalformedMessage, match="two-part"):
        decode_message([payload])
    with pytest.raises(MalformedMessage, match="two-part"):
        decode_message([topic, payload, b""])
    with pytest.raises(MalformedMessage, match="does not end with"):
        decode_message([b"vkstream/rear", payload])


def _mutated(path: tuple, value: object) -> list[bytes]:
    topic, payload = encode_message(_result(), "raw")
    obj = copy.deepcopy(msgpack.unpackb(payload))
    target = obj
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return [topic, msgpack.packb(obj)]


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("seq",), KeyError, "lacks 'seq'"),
        (("seq",), -1, "non-negative"),
        (("seq",), "41", "seq must be int"),
        (("stamp_ns",), 1.5, "stamp_ns must be int"),
        (("state_reset",), 1, "state_reset must be bool"),
        (("size",), [6], "size"),
        (("size",), [7, 8], "size"),
        (("classes",), [1, 2], "classes"),
        (("panoptic", "dtype"), "<u2", "panoptic"),
        (("panoptic", "dtype"), "<i4", "panoptic must be <u4"),
        (("depth", "dtype"), "<f4", "depth"),
        (("depth",), KeyError, "depth: expected an array map"),
        (("latency_ms",), {"backbone": 1.0}, "total"),
        (("latency_ms",), {"total": "slow"}, "latency_ms"),
        (("segments", 1, "bbox"), [1, 2, 3], "bbox"),
        (("segments", 1, "xyz"), [1.0, 2.0], "xyz"),
        (("segments", 1, "xyz"), KeyError, "lacks 'xyz'"),
        (("segments", 1, "class"), 19, "not an index"),
        (("segments", 1, "score"), float("nan"), "finite"),
        (("segments", 1, "thing"), "yes", "thing must be bool"),
        (("segments", 0), [1], "must be a map"),
    ],
)
def test_wrong_keys_and_types_raise_malformed_naming_the_key(path: tuple, value: object, match: str) -> None:
    with pytest.raises(MalformedMessage, match=match):
        decode_message(_mutated(path, value))


def test_encoding_refuses_results_outside_the_format() -> None:
    with pytest.raises(ValueError, match="panoptic must be HxW uint32"):
        encode_message(_result(panoptic=np.zeros((6, 8), np.int32)))
    with pytest.raises(ValueError, match="depth must be float16"):
        encode_message(_result(depth=np.zeros((6, 8), np.float32)))
    with pytest.raises(ValueError, match="stream id"):
        encode_message(_result(stream="front left"))
