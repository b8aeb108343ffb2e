"""Results for the viz tests, made the way the publisher makes them and decoded by the client."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "wire"))

from wire_samples import make_output, stats_table

from vkstream.client import StreamResult, decode_message, encode_message
from vkstream.data import CITYSCAPES, Intrinsics, TrainId
from vkstream.wire import FrameOutput, Panoptic, checked_output, stream_result

__all__ = ["make_output", "make_scene", "wire_result"]


def wire_result(
    output: FrameOutput,
    total_ms: float = 42.0,
    received_ns: int | None = None,
    stamp_ns: int | None = None,
) -> StreamResult:
    """``output`` as a subscriber receives it: built, encoded and decoded as the publisher's sender
    thread does, with ``total`` set to ``total_ms`` (``publish``: 0.4 ms)."""
    if stamp_ns is not None:
        output = replace(output, stamp_ns=stamp_ns)
    publish_ns = output.stamp_ns + round(total_ms * 1e6)
    sent = stream_result(checked_output(output), publish_ns, publish_ns - 400_000)
    return decode_message(encode_message(sent), received_ns)


def make_scene(seq: int = 0, size: tuple[int, int] = (188, 621)) -> tuple[FrameOutput, np.ndarray]:
    """A KITTI-like street at half resolution: cars and people on a ground plane, and a camera image."""
    height, width = size
    fy, cam_height, horizon = 360.0 * height / 188, 1.65, round(0.47 * height)
    rows = np.arange(height, dtype=np.float32)[:, None]
    ground = np.where(rows > horizon, fy * cam_height / np.maximum(rows - horizon, 1e-3), 0.0)
    classes = np.full(size, TrainId.ROAD, dtype=np.uint8)
    depth = np.broadcast_to(ground, size).astype(np.float32).copy()
    for cls, rows_, cols, metres in (
        (TrainId.SKY, (0, horizon - 15), (0, width), 0.0),
        (TrainId.BUILDING, (5, horizon + 8), (0, width * 2 // 5), 25.0),
        (TrainId.VEGETATION, (horizon - 35, horizon + 8), (width * 2 // 5, width), 30.0),
        (TrainId.SIDEWALK, (horizon + 8, height), (width * 4 // 5, width), None),
    ):
        (r0, r1), (c0, c1) = rows_, cols
        classes[r0:r1, c0:c1] = cls
        if metres is not None:
            depth[r0:r1, c0:c1] = metres
    tracks = np.zeros(size, dtype=np.int32)
    objects = ((TrainId.CAR, 0.15, 9.0), (TrainId.CAR, 0.45, 18.0), (TrainId.CAR, 0.62, 35.0))
    objects += ((TrainId.PERSON, 0.85, 11.0), (TrainId.PERSON, 0.9, 14.0))
    for track, (cls, x_frac, metres) in enumerate(objects, 1):
        z = metres - 0.3 * seq * (1 if cls == TrainId.CAR else -0.2)
        bottom = min(height, round(horizon + fy * cam_height / z))
        obj_h = round(fy * (1.5 if cls == TrainId.CAR else 1.75) / z)
        obj_w = round(fy * (1.8 if cls == TrainId.CAR else 0.6) / z)
        x0 = round(x_frac * width + 2 * seq)
        box = (slice(max(0, bottom - obj_h), bottom), slice(x0, min(width, x0 + obj_w)))
        classes[box] = cls
        tracks[box] = track
        depth[box] = z
    rng = np.random.default_rng(seq)
    shade = {TrainId.SKY: 200, TrainId.ROAD: 90, TrainId.SIDEWALK: 150, TrainId.BUILDING: 120}
    grey = np.vectorize(lambda c: shade.get(int(c), 60))(classes).astype(np.float32)
    image = np.clip(grey[..., None] * np.array([0.95, 1.0, 1.05]) + rng.normal(0, 12, (*size, 3)), 0, 255)
    output = FrameOutput(
        "front",
        seq,
        time.time_ns(),
        Panoptic(classes, tracks, CITYSCAPES, stats_table(classes, tracks, depth)),
        depth,
        intrinsics=Intrinsics(fx=fy, fy=fy, cx=width / 2, cy=horizon),
        latency_ms={"ingest": 1.2, "backbone": 18.5, "tracker": 2.1},
        dropped=0,
        state_reset=seq == 0,
    )
    return output, image.astype(np.uint8)
