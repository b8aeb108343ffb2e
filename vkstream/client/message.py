"""Wire format v1: the two-part message ``[topic, payload]`` and its typed, decoded form.

docs/wire-format.md is the contract for implementers in other languages; this module is its
reference implementation, used by both the publisher and :class:`~vkstream.client.Subscriber`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from vkstream.client.arrays import Codec, decode_array, encode_array
from vkstream.client.errors import MalformedMessage, SchemaVersionError

SCHEMA = "vkstream.result/1"
DEFAULT_TOPIC_PREFIX = "vkstream"
TRACK_BITS = 16
"""panoptic = class_id << 16 | track_id."""
MAX_PAYLOAD_BYTES = 1 << 30
_NAME = re.compile(r"[A-Za-z0-9_.:-]+(/[A-Za-z0-9_.:-]+)*")


def check_name(name: str, what: str) -> str:
    """``name`` itself, if it can be part of a topic: letters, digits, ``_ . : -``, ``/`` between parts."""
    if not isinstance(name, str) or not 0 < len(name) <= 128 or _NAME.fullmatch(name) is None:
        raise ValueError(
            f"invalid {what} {name!r}: use 1-128 letters, digits and _ . : - (with / between parts), "
            "such as 'front_left'"
        )
    return name


def topic_of(stream: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> bytes:
    """The first message frame for ``stream``: ``<prefix>/<stream>`` in UTF-8."""
    return f"{prefix}/{stream}".encode()


@dataclass(frozen=True)
class Segment:
    """One segment of a frame: a stuff region or one (tracked) thing instance.

    ``id`` is the segment's value in the panoptic map, so ``result.panoptic == seg.id`` is its mask.
    ``bbox`` is ``(x0, y0, x1, y1)`` with x1/y1 exclusive, i.e. ``mask[y0:y1, x0:x1]``.
    ``depth_m`` is the median depth of its pixels that have one (0.0: none); ``xyz`` is the camera-frame
    point (X right, Y down, Z forward, metres) at its median pixel and that depth, None without intrinsics.
    """

    id: int
    class_id: int
    thing: bool
    track: int
    score: float
    area: int
    bbox: tuple[int, int, int, int]
    depth_m: float
    xyz: tuple[float, float, float] | None


@dataclass(frozen=True, eq=False)
class StreamResult:
    """One published frame of one stream, as a planner uses it."""

    stream: str
    seq: int
    """Capture counter of the stream, from 0; a gap means frames that never reached this subscriber."""
    stamp_ns: int
    """Capture time, Unix nanoseconds."""
    publish_ns: int
    classes: tuple[str, ...]
    """Class names; index = class id."""
    panoptic: np.ndarray
    """HxW uint32: class_id * 65536 + track_id (track 0 = stuff or untracked)."""
    depth: np.ndarray
    """HxW float16 metres; 0 = no estimate."""
    segments: tuple[Segment, ...]
    latency_ms: Mapping[str, float]
    """Milliseconds per stage, plus ``total`` from capture to publish."""
    dropped: int
    """Frames of this stream dropped before publishing, so far."""
    state_reset: bool
    """The stream's tracking state was reset at this frame: track ids start afresh."""
    palette: tuple[tuple[int, int, int], ...] | None = None
    """RGB colour per class, index = class id; None when the publisher sent none."""
    things: tuple[int, ...] | None = None
    """The tracked (thing) class ids, ascending; None when the publisher sent none."""
    received_ns: int | None = field(default=None, compare=False)
    """When the subscriber received the message (Unix ns); not part of the wire format."""

    @property
    def size(self) -> tuple[int, int]:
        return int(self.panoptic.shape[0]), int(self.panoptic.shape[1])

    @property
    def class_map(self) -> np.ndarray:
        """HxW uint16 class ids."""
        return (self.panoptic >> TRACK_BITS).astype(np.uint16)

    @property
    def track_map(self) -> np.ndarray:
        """HxW uint16 track ids, 0 for stuff and untracked pixels."""
        return (self.panoptic & 0xFFFF).astype(np.uint16)

    def class_name(self, segment: Segment) -> str:
        return self.classes[segment.class_id]

    @property
    def transport_ms(self) -> float | None:
        """Publish-to-receive time in ms (needs synchronised clocks across machines)."""
        return None if self.received_ns is None else (self.received_ns - self.publish_ns) / 1e6

    @property
    def age_ms(self) -> float | None:
        """Capture-to-receive time in ms (needs synchronised clocks across machines)."""
        return None if self.received_ns is None else (self.received_ns - self.stamp_ns) / 1e6


def encode_message(
    result: StreamResult,
    codec: Codec = "zstd",
    level: int | None = None,
    prefix: str = DEFAULT_TOPIC_PREFIX,
) -> list[bytes]:
    """``[topic, payload]`` for ``result``; raises ValueError for a result that breaks the format."""
    check_name(result.stream, "stream id")
    height, width = result.size
    if result.panoptic.ndim != 2 or result.panoptic.dtype != np.uint32:
        raise ValueError(f"panoptic must be HxW uint32, got {result.panoptic.dtype} {result.panoptic.shape}")
    if result.depth.shape != result.panoptic.shape or result.depth.dtype != np.float16:
        raise ValueError(
            f"depth must be float16 of the panoptic map's shape {result.panoptic.shape}, "
            f"got {result.depth.dtype} {result.depth.shape}"
        )
    payload = {
        "schema": SCHEMA,
        "stream": result.stream,
        "seq": int(result.seq),
        "stamp_ns": int(result.stamp_ns),
        "publish_ns": int(result.publish_ns),
        "size": [height, width],
        "classes": list(result.classes),
        "panoptic": encode_array(result.panoptic, codec, level),
        "depth": encode_array(result.depth, codec, level),
        "segments": [_segment_map(s) for s in result.segments],
        "latency_ms": {str(k): float(v) for k, v in result.latency_ms.items()},
        "dropped": int(result.dropped),
        "state_reset": bool(result.state_reset),
    }
    if result.palette is not None:
        if len(result.palette) != len(result.classes):
            raise ValueError(f"palette has {len(result.palette)} colours for {len(result.classes)} classes")
        payload["palette"] = [[int(v) for v in colour] for colour in result.palette]
    if result.things is not None:
        payload["things"] = sorted(int(c) for c in result.things)
    return [topic_of(result.stream, prefix), msgpack.packb(payload, use_bin_type=True)]


def _segment_map(s: Segment) -> dict[str, Any]:
    return {
        "id": int(s.id),
        "class": int(s.class_id),
        "thing": bool(s.thing),
        "track": int(s.track),
        "score": float(s.score),
        "area": int(s.area),
        "bbox": [int(v) for v in s.bbox],
        "depth_m": float(s.depth_m),
        "xyz": None if s.xyz is None else [float(v) for v in s.xyz],
    }


def decode_message(
    frames: Sequence[bytes], received_ns: int | None = None, max_payload_bytes: int = MAX_PAYLOAD_BYTES
) -> StreamResult:
    """The result in a received ``[topic, payload]``.

    Raises :class:`SchemaVersionError` for another schema version and :class:`MalformedMessage` for
    anything else that does not follow the format (a payload over ``max_payload_bytes`` included),
    with the offending key in the message.
    """
    topic = bytes(frames[0]) if frames else None
    if len(frames) != 2:
        raise MalformedMessage(
            f"expected a two-part message [topic, payload], got {len(frames)} parts", topic
        )
    payload = bytes(frames[1])
    if len(payload) > max_payload_bytes:
        raise MalformedMessage(f"payload of {len(payload)} bytes exceeds {max_payload_bytes}", topic)
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for garbage and truncation
        raise MalformedMessage(f"payload is not a msgpack map ({type(exc).__name__}: {exc})", topic) from None
    if not isinstance(obj, dict):
        raise MalformedMessage(f"payload is a msgpack {type(obj).__name__}, expected a map", topic)
    if obj.get("schema") != SCHEMA:
        if isinstance(obj.get("schema"), str):
            raise SchemaVersionError(obj["schema"], SCHEMA, topic)
        raise MalformedMessage(f"payload has no 'schema' string (expected {SCHEMA!r})", topic)
    try:
        return _decode_v1(obj, topic, received_ns)
    except MalformedMessage as exc:
        exc.topic = topic
        raise


def _decode_v1(obj: dict[str, Any], topic: bytes | None, received_ns: int | None) -> StreamResult:
    stream = _get(obj, "stream", str)
    if topic is not None and not topic.endswith(b"/" + stream.encode()):
        raise MalformedMessage(f"topic {topic!r} does not end with the payload's stream '/{stream}'")
    size = _get(obj, "size", list)
    if len(size) != 2 or not all(_is_int(v) and v > 0 for v in size):
        raise MalformedMessage(f"size must be [H, W] of positive ints, got {size!r}")
    classes = _get(obj, "classes", list)
    if not all(isinstance(name, str) for name in classes):
        raise MalformedMessage("classes must be a list of strings")
    panoptic = decode_array(obj.get("panoptic"), "panoptic")
    depth = decode_array(obj.get("depth"), "depth")
    for name, array, dtype in (("panoptic", panoptic, "<u4"), ("depth", depth, "<f2")):
        if array.dtype.str != dtype or list(array.shape) != size:
            raise MalformedMessage(
                f"{name} must be {dtype} of size {size}, got {array.dtype.str} {list(array.shape)}"
            )
    segments = _get(obj, "segments", list)
    latency = _get(obj, "latency_ms", dict)
    if not all(isinstance(k, str) and _is_number(v) for k, v in latency.items()) or "total" not in latency:
        raise MalformedMessage("latency_ms must map stage names to numbers and include 'total'")
    return StreamResult(
        stream=stream,
        seq=_get_int(obj, "seq"),
        stamp_ns=_get_int(obj, "stamp_ns"),
        publish_ns=_get_int(obj, "publish_ns"),
        classes=tuple(classes),
        panoptic=panoptic,
        depth=depth,
        segments=tuple(_decode_segment(s, i, len(classes)) for i, s in enumerate(segments)),
        latency_ms={k: float(v) for k, v in latency.items()},
        dropped=_get_int(obj, "dropped"),
        state_reset=_get(obj, "state_reset", bool),
        palette=_palette(obj.get("palette"), len(classes)),
        things=_things(obj.get("things"), len(classes)),
        received_ns=received_ns,
    )


def _things(value: object, num_classes: int) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(_is_int(c) and 0 <= c < num_classes for c in value):
        raise MalformedMessage(f"things must be a list of class ids below {num_classes}")
    return tuple(value)


def _palette(value: object, num_classes: int) -> tuple[tuple[int, int, int], ...] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == num_classes
    colours = value if ok else []
    if not ok or not all(
        isinstance(c, list) and len(c) == 3 and all(_is_int(v) and 0 <= v <= 255 for v in c) for c in colours
    ):
        raise MalformedMessage(f"palette must be one [R, G, B] (0-255) per class, {num_classes} in all")
    return tuple((c[0], c[1], c[2]) for c in colours)


def _decode_segment(obj: object, index: int, num_classes: int) -> Segment:
    where = f"segments[{index}]"
    if not isinstance(obj, dict):
        raise MalformedMessage(f"{where} must be a map, got {type(obj).__name__}")
    bbox = _get(obj, "bbox", list, where)
    if len(bbox) != 4 or not all(_is_int(v) for v in bbox):
        raise MalformedMessage(f"{where}.bbox must be [x0, y0, x1, y1] ints, got {bbox!r}")
    xyz = obj.get("xyz", ...)
    if xyz is ...:
        raise MalformedMessage(f"{where} lacks 'xyz'")
    if xyz is not None and (not isinstance(xyz, list) or len(xyz) != 3 or not all(map(_is_number, xyz))):
        raise MalformedMessage(f"{where}.xyz must be [X, Y, Z] numbers or nil, got {xyz!r}")
    class_id = _get_int(obj, "class", where)
    if not 0 <= class_id < num_classes:
        raise MalformedMessage(f"{where}.class {class_id} is not an index into classes")
    return Segment(
        id=_get_int(obj, "id", where),
        class_id=class_id,
        thing=_get(obj, "thing", bool, where),
        track=_get_int(obj, "track", where),
        score=_get_float(obj, "score", where),
        area=_get_int(obj, "area", where),
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        depth_m=_get_float(obj, "depth_m", where),
        xyz=None if xyz is None else (float(xyz[0]), float(xyz[1]), float(xyz[2])),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def _get(obj: dict[str, Any], key: str, kind: type, where: str = "payload") -> Any:
    if key not in obj:
        raise MalformedMessage(f"{where} lacks {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise MalformedMessage(f"{where}.{key} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _get_int(obj: dict[str, Any], key: str, where: str = "payload") -> int:
    value = _get(obj, key, int, where)
    if value < 0:
        raise MalformedMessage(f"{where}.{key} must be non-negative, got {value}")
    return value


def _get_float(obj: dict[str, Any], key: str, where: str = "payload") -> float:
    if key not in obj:
        raise MalformedMessage(f"{where} lacks {key!r}")
    if not _is_number(obj[key]):
        raise MalformedMessage(f"{where}.{key} must be a finite number, got {obj[key]!r}")
    return float(obj[key])
