"""Results as Foxglove messages on one set of topics per stream, logged to a Foxglove context.

One implementation for every way results leave for Foxglove: an MCAP file (:mod:`.mcap`) and the live
WebSocket server (:mod:`.live`) are sinks of the same context. Per stream ``S`` (``/S/...``):

- ``camera``: the camera image (``foxglove.RawImage`` rgb8), when given;
- ``overlay``: the panoptic colours over the camera image (RawImage rgb8), when an image is given;
- ``panoptic``: the panoptic map in the label space's colours, one shade per track (RawImage rgb8);
- ``classes`` and ``tracks``: the class ids (RawImage mono8) and track ids (16UC1) themselves;
- ``depth``: millimetres (RawImage 16UC1, ROS REP 118; 0 = no estimate, 65534 = 65.534 m or
  farther), see :func:`depth_mm`;
- ``calibration``: the pinhole intrinsics (``foxglove.CameraCalibration``), when known;
- ``annotations``: each tracked thing's box and ``class #track distance`` label in pixels
  (``foxglove.ImageAnnotations``), drawn over any of the images;
- ``things``: each tracked thing with a 3D position as a labelled sphere (``foxglove.SceneUpdate``);
  the entity's metadata holds its class, track, box and distance;
- ``track_list``: the tracked things as a JSON table, nearest first (schema ``vkstream.TrackList``);
- ``telemetry``: latency per stage and frames dropped (and lost on the way, where a subscriber
  counted them) as JSON (schema ``vkstream.Telemetry``);
- ``segments``: the frame's whole segment list as JSON (schema ``vkstream.Segments``).

Every message is logged at the frame's capture time and carries it as its timestamp, so a recording
replays at the camera's timing. A message no sink listens to (a live topic no client subscribed to)
is not built at all.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import foxglove
import numpy as np
from foxglove.channels import (
    CameraCalibrationChannel,
    ImageAnnotationsChannel,
    RawImageChannel,
    SceneUpdateChannel,
)
from foxglove.messages import (
    CameraCalibration,
    Color,
    ImageAnnotations,
    KeyValuePair,
    Point2,
    PointsAnnotation,
    PointsAnnotationType,
    Pose,
    Quaternion,
    RawImage,
    SceneEntity,
    SceneEntityDeletion,
    SceneEntityDeletionType,
    SceneUpdate,
    SpherePrimitive,
    TextAnnotation,
    TextPrimitive,
    Timestamp,
    Vector3,
)

from vkstream.client import Segment, StreamResult
from vkstream.data.frame import Intrinsics
from vkstream.viz.annotate import colorize_result, overlay_result, result_labels

_NUMBERS = {"type": "object", "additionalProperties": {"type": "number"}}
JSON_SCHEMAS: dict[str, dict[str, Any]] = {
    "vkstream.Segments": {
        "type": "object",
        "properties": {
            "stream": {"type": "string"},
            "seq": {"type": "integer"},
            "dropped": {"type": "integer"},
            "state_reset": {"type": "boolean"},
            "latency_ms": _NUMBERS,
            "segments": {"type": "array", "items": {"type": "object"}},
        },
    },
    "vkstream.TrackList": {
        "type": "object",
        "properties": {
            "stream": {"type": "string"},
            "seq": {"type": "integer"},
            "things": {"type": "array", "items": {"type": "object"}},
        },
    },
    "vkstream.Telemetry": {
        "type": "object",
        "properties": {
            "stream": {"type": "string"},
            "seq": {"type": "integer"},
            "latency_ms": _NUMBERS,
            "dropped": {"type": "integer"},
            "lost": {"type": "integer"},
            "age_ms": {"type": "number"},
            "state_reset": {"type": "boolean"},
        },
        # lost and age_ms are left out of a message where unknown: no union types such as
        # ["integer", "null"], which Foxglove-compatible viewers (Lichtblick) reject.
        "required": ["stream", "seq", "latency_ms", "dropped", "state_reset"],
    },
}
_JSON_TOPICS = {
    "track_list": "vkstream.TrackList",
    "telemetry": "vkstream.Telemetry",
    "segments": "vkstream.Segments",
}
_TOPICS = (
    "camera",
    "overlay",
    "panoptic",
    "classes",
    "tracks",
    "depth",
    "calibration",
    "annotations",
    "things",
    "track_list",
    "telemetry",
    "segments",
)
IMAGE_TOPICS = ("camera", "overlay", "panoptic", "classes", "tracks", "depth")
"""The topics of ``foxglove.RawImage`` messages."""
_WITH_IMAGE = {"camera", "overlay"}
DEPTH_MM_MAX = 65534
"""The largest depth value written (mm); every depth at or beyond 65.534 m is written as it."""
_IDENTITY = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
_WHITE = Color(r=1.0, g=1.0, b=1.0, a=1.0)
_SHADE = Color(r=0.0, g=0.0, b=0.0, a=0.6)


def topics(stream: str) -> tuple[str, ...]:
    """Every topic a stream may have, in the order above."""
    return tuple(f"/{stream}/{name}" for name in _TOPICS)


class ResultChannels:
    """``add`` logs a result (with its camera image and intrinsics where known) on its stream's topics.

    Owns a Foxglove context of its own (``context``), so several can log in one process; open sinks on
    it (an MCAP writer, a WebSocket server) to decide where the messages go. Not thread-safe: call
    ``add`` from one thread.
    """

    def __init__(self) -> None:
        self.context = foxglove.Context()
        self._channels: dict[str, Any] = {}
        self.messages = 0
        """Results added so far."""

    def add(
        self,
        result: StreamResult,
        image: np.ndarray | None = None,
        intrinsics: Intrinsics | None = None,
        *,
        lost: int | None = None,
    ) -> None:
        """Log ``result``; ``lost`` is the stream's count of messages lost on the way, where known."""
        s, t = result.stream, result.stamp_ns
        stamp = Timestamp(sec=t // 1_000_000_000, nsec=t % 1_000_000_000)
        colors = functools.cache(lambda: colorize_result(result))  # for the overlay and the panoptic
        if image is not None:

            def overlay() -> np.ndarray:
                return overlay_result(result, image, colors=colors())

            self._image(s, "camera", stamp, t, lambda: np.ascontiguousarray(image, np.uint8), "rgb8")
            self._image(s, "overlay", stamp, t, overlay, "rgb8")
        self._image(s, "panoptic", stamp, t, colors, "rgb8")
        self._image(
            s, "classes", stamp, t, lambda: np.minimum(result.class_map, 255).astype(np.uint8), "mono8"
        )
        self._image(s, "tracks", stamp, t, lambda: result.track_map.astype("<u2"), "16UC1")
        self._image(s, "depth", stamp, t, lambda: depth_mm(result.depth), "16UC1")
        if intrinsics is not None:
            self._log(
                s, "calibration", CameraCalibrationChannel, t, lambda: _calibration(result, intrinsics, stamp)
            )
        tracked = [seg for seg in result.segments if seg.thing and seg.track > 0]
        self._log(s, "annotations", ImageAnnotationsChannel, t, lambda: _annotations(result, tracked, stamp))
        self._log(s, "things", SceneUpdateChannel, t, lambda: _scene(result, tracked, stamp))
        self._log(s, "track_list", _json_channel, t, lambda: _track_list(result, tracked))
        self._log(s, "telemetry", _json_channel, t, lambda: _telemetry(result, lost))
        self._log(s, "segments", _json_channel, t, lambda: _segments(result))
        self.messages += 1

    def _image(
        self,
        stream: str,
        name: str,
        stamp: Timestamp,
        t: int,
        pixels: Callable[[], np.ndarray],
        encoding: str,
    ) -> None:
        def message() -> RawImage:
            array = pixels()
            height, width = array.shape[:2]
            return RawImage(
                timestamp=stamp,
                frame_id=stream,
                width=width,
                height=height,
                encoding=encoding,
                step=array.strides[0],
                data=array.tobytes(),
            )

        self._log(stream, name, RawImageChannel, t, message)

    def _log(self, stream: str, name: str, make: Any, t: int, message: Callable[[], Any]) -> None:
        topic = f"/{stream}/{name}"
        channel = self._channels.get(topic)
        if channel is None:
            channel = self._channels[topic] = make(topic, context=self.context)
        if channel.has_sinks():
            channel.log(message(), log_time=t)


def depth_mm(depth: np.ndarray) -> np.ndarray:
    """Depth in metres -> little-endian uint16 millimetres, the ROS REP 118 depth image (``16UC1``).

    Rounded to the nearest mm; 0 means no measurement, so NaN and non-positive depths become 0 and a
    positive depth under half a millimetre becomes 1; depths beyond the format's range (and +inf)
    saturate at :data:`DEPTH_MM_MAX` (65.534 m) rather than wrapping or reading as missing. Viewers
    colour 16UC1 images through a min/max range (Foxglove's and Lichtblick's Image panel), which
    they do not do for 32FC1 metres.
    """
    metres = np.asarray(depth, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        mm = np.rint(metres * np.float32(1000.0))
        out = np.where(metres > 0, np.clip(mm, 1, DEPTH_MM_MAX), 0)  # NaN > 0 is False: 0
    return out.astype("<u2")


def _json_channel(topic: str, *, context: foxglove.Context) -> foxglove.Channel:
    name = _JSON_TOPICS[topic.rsplit("/", 1)[1]]
    schema = foxglove.Schema(name=name, encoding="jsonschema", data=json.dumps(JSON_SCHEMAS[name]).encode())
    return foxglove.Channel(topic, schema=schema, message_encoding="json", context=context)


def _calibration(result: StreamResult, k: Intrinsics, stamp: Timestamp) -> CameraCalibration:
    height, width = result.size
    return CameraCalibration(
        timestamp=stamp,
        frame_id=result.stream,
        width=width,
        height=height,
        distortion_model="plumb_bob",
        D=[0.0] * 5,
        K=[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0],
        R=_IDENTITY,
        P=[k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0],
    )


def _label(result: StreamResult, seg: Segment) -> str:
    distance = f" {seg.depth_m:.1f} m" if seg.depth_m > 0 else ""
    return f"{result.class_name(seg)} #{seg.track}{distance}"


def _color(result: StreamResult, seg: Segment, alpha: float) -> Color:
    r, g, b = (v / 255 for v in result_labels(result).palette[seg.class_id])
    return Color(r=r, g=g, b=b, a=alpha)


def _annotations(result: StreamResult, tracked: list[Segment], stamp: Timestamp) -> ImageAnnotations:
    """Boxes on pixel edges (x1/y1 exclusive, so the box encloses its last pixels) with labels above."""
    boxes, texts = [], []
    for seg in tracked:
        x0, y0, x1, y1 = seg.bbox
        corners = [Point2(x=float(x), y=float(y)) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        boxes.append(
            PointsAnnotation(
                timestamp=stamp,
                type=PointsAnnotationType.LineLoop,
                points=corners,
                outline_color=_color(result, seg, 1.0),
                thickness=2.0,
            )
        )
        texts.append(
            TextAnnotation(
                timestamp=stamp,
                position=Point2(x=float(x0), y=float(max(y0 - 2, 10))),
                text=_label(result, seg),
                font_size=12.0,
                text_color=_WHITE,
                background_color=_SHADE,
            )
        )
    return ImageAnnotations(timestamp=stamp, points=boxes, texts=texts)


def _scene(result: StreamResult, tracked: list[Segment], stamp: Timestamp) -> SceneUpdate:
    """Every frame replaces the last one's entities: a track that ended leaves no sphere behind."""
    entities = []
    for seg in tracked:
        if seg.xyz is None:
            continue
        x, y, z = seg.xyz
        pose = Pose(position=Vector3(x=x, y=y, z=z), orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
        entities.append(
            SceneEntity(
                timestamp=stamp,
                frame_id=result.stream,
                id=f"{seg.class_id}/{seg.track}",
                metadata=[
                    KeyValuePair(key="class", value=result.class_name(seg)),
                    KeyValuePair(key="track", value=str(seg.track)),
                    KeyValuePair(key="bbox", value=",".join(map(str, seg.bbox))),
                    KeyValuePair(key="depth_m", value=f"{seg.depth_m:.3f}"),
                ],
                spheres=[
                    SpherePrimitive(
                        pose=pose, size=Vector3(x=0.5, y=0.5, z=0.5), color=_color(result, seg, 0.8)
                    )
                ],
                texts=[
                    TextPrimitive(
                        pose=pose,
                        billboard=True,
                        font_size=14.0,
                        scale_invariant=True,
                        color=_WHITE,
                        text=_label(result, seg),
                    )
                ],
            )
        )
    deletion = SceneEntityDeletion(timestamp=stamp, type=SceneEntityDeletionType.All)
    return SceneUpdate(deletions=[deletion], entities=entities)


def _track_list(result: StreamResult, tracked: list[Segment]) -> dict[str, Any]:
    nearest_first = sorted(tracked, key=lambda seg: (seg.depth_m <= 0, seg.depth_m, seg.track))
    return {
        "stream": result.stream,
        "seq": result.seq,
        "things": [
            {
                "track": seg.track,
                "class": result.class_name(seg),
                "depth_m": round(seg.depth_m, 2),
                "x": None if seg.xyz is None else round(seg.xyz[0], 2),
                "y": None if seg.xyz is None else round(seg.xyz[1], 2),
                "z": None if seg.xyz is None else round(seg.xyz[2], 2),
                "bbox": list(seg.bbox),
                "area": seg.area,
                "score": round(seg.score, 3),
            }
            for seg in nearest_first
        ],
    }


def _telemetry(result: StreamResult, lost: int | None) -> dict[str, Any]:
    """``lost`` and ``age_ms`` are left out where unknown (the schema has no null values)."""
    telemetry: dict[str, Any] = {
        "stream": result.stream,
        "seq": result.seq,
        "latency_ms": dict(result.latency_ms),
        "dropped": result.dropped,
        "state_reset": result.state_reset,
    }
    if lost is not None:
        telemetry["lost"] = lost
    if result.age_ms is not None:
        telemetry["age_ms"] = result.age_ms
    return telemetry


def _segments(result: StreamResult) -> dict[str, Any]:
    return {
        "stream": result.stream,
        "seq": result.seq,
        "dropped": result.dropped,
        "state_reset": result.state_reset,
        "latency_ms": dict(result.latency_ms),
        "segments": [
            {
                "id": seg.id,
                "class": result.class_name(seg),
                "thing": seg.thing,
                "track": seg.track,
                "score": seg.score,
                "area": seg.area,
                "bbox": list(seg.bbox),
                "depth_m": seg.depth_m,
                "xyz": None if seg.xyz is None else list(seg.xyz),
            }
            for seg in result.segments
        ],
    }
