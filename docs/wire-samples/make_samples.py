"""Writes the golden wire-format samples: ``<name>.msgpack`` (one message payload) and ``<name>.json``.

    .venv/bin/python docs/wire-samples/make_samples.py [OUT_DIR]     # default: beside this file

Every message is built as the publisher builds it (``vkstream.wire.stream_result``, then
``vkstream.client.encode_message``) from a fixed 32x24 street scene with fixed stamps, so the same
library versions write the same bytes. The JSON holds the decoded content; README.md beside this file
describes it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vkstream.client import SCHEMA, StreamResult, encode_message
from vkstream.data import CITYSCAPES, Intrinsics, TrainId
from vkstream.wire import FrameOutput, Panoptic, SegmentStats, checked_output, stream_result

HEIGHT, WIDTH = 24, 32
INTRINSICS = Intrinsics(fx=28.0, fy=28.0, cx=15.5, cy=11.5)
"""A KITTI-like camera scaled to 32x24."""
STAMP_NS = 1_717_243_200_000_000_000
"""Capture time of seq 0: 2024-06-01 12:00:00 UTC; the camera runs at 10 Hz."""
FRAME_NS = 100_000_000
PUBLISH_AFTER_NS = 42_000_000
QUEUED_NS = 1_500_000
"""How long each result waited in the publisher, so latency_ms.publish is 1.5."""


@dataclass(frozen=True)
class Sample:
    name: str
    about: str
    codec: str
    seq: int
    stream: str = "front"
    tracks: tuple[int, int, int] = (7, 12, 3)
    """Producer track ids of the near car, the far car and the person."""
    intrinsics: Intrinsics | None = INTRINSICS
    table: bool = True
    """With a model's own segment table (scores below 1), else measured from the maps (scores 1.0)."""
    dropped: int = 0
    """Frames dropped in the pipeline before this one, so far."""
    publisher_drops: int = 0
    """Frames the publisher's own queue dropped, added into ``dropped`` on the wire."""
    state_reset: bool = False


SAMPLES = (
    Sample("raw", "raw codec; intrinsics known, so things and stuff with depth have xyz", "raw", 3),
    Sample("zstd", "the same frame as raw.msgpack with the zstd codec (the default)", "zstd", 3),
    Sample("lz4", "the same frame as raw.msgpack with the lz4 codec (LZ4 frame format)", "lz4", 3),
    Sample("png", "the same frame as raw.msgpack with the png codec (RGBA panoptic, 16-bit depth)", "png", 3),
    Sample(
        "no-intrinsics",
        "intrinsics unknown: every xyz is nil; segments measured from the maps, as for a "
        "ground-truth replay (score 1.0)",
        "zstd",
        4,
        intrinsics=None,
        table=False,
    ),
    Sample(
        "state-reset",
        "the stream's tracking state was reset at this frame: track ids start afresh at 1",
        "zstd",
        120,
        tracks=(1, 2, 3),
        state_reset=True,
    ),
    Sample(
        "dropped",
        "7 frames of this stream dropped so far: 5 in the pipeline, 2 by the publisher's queue",
        "lz4",
        9,
        dropped=5,
        publisher_drops=2,
    ),
    Sample(
        "track-wrap",
        "a long-running stream whose producer track ids passed 65535 (65536 -> 1, 70000 -> 4465); "
        "a stream id with '/' and ':'",
        "png",
        700_000,
        stream="rig/left:0",
        tracks=(65535, 65536, 70000),
    ),
)


def street(shift: int, tracks: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class map, track map and depth (metres, float32) of the scene, things moved ``shift`` pixels."""
    classes = np.full((HEIGHT, WIDTH), TrainId.ROAD, dtype=np.uint8)
    classes[:7] = TrainId.SKY
    classes[7:12, :14] = TrainId.BUILDING
    classes[7:12, 14:] = TrainId.VEGETATION
    classes[12:14] = TrainId.SIDEWALK
    ids = np.zeros((HEIGHT, WIDTH), dtype=np.int64)
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None]
    cols = np.arange(WIDTH, dtype=np.float32)[None, :]
    depth = 180.0 / (rows + 1.0) + 0.01 * ((3 * cols + 7 * rows) % 13)
    things = (
        (TrainId.CAR, 14, 21, 2, 12, 6.0),
        (TrainId.CAR, 12, 17, 17, 25, 14.0),
        (TrainId.PERSON, 9, 17, 27, 30, 9.5),
    )
    for track, (cls, y0, y1, x0, x1, metres) in zip(tracks, things, strict=True):
        box = (slice(y0, y1), slice(x0 + shift, x1 + shift))
        classes[box] = cls
        ids[box] = track
        depth[box] = metres + 0.03 * cols[:, x0 + shift : x1 + shift] - 0.02 * rows[y0:y1]
    depth[classes == TrainId.SKY] = 0.0
    depth[16, 5 + shift] = 0.0  # one pixel of the near car without an estimate
    return classes, ids, depth.astype(np.float32)


def segment_table(classes: np.ndarray, tracks: np.ndarray, depth: np.ndarray) -> tuple[SegmentStats, ...]:
    """What a model measures of its segments on its device: one per (class, track), with a score.

    As vkstream's model does: the median pixel over all of a segment's pixels, and the lower median of
    their float32 depths (pixels without an estimate count as 0).
    """
    keys = classes.astype(np.int64) << 32 | tracks  # track ids as the producer has them: 32 bits
    out = []
    for i, key in enumerate(np.unique(keys)):
        ys, xs = np.nonzero(keys == key)
        depths = np.sort(depth[ys, xs])
        out.append(
            SegmentStats(
                class_id=int(key >> 32),
                track=int(key & 0xFFFF_FFFF),
                score=0.95 - 0.0625 * i,
                area=int(xs.size),
                bbox=(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                depth_m=float(depths[(depths.size - 1) // 2]),
                center=(float(np.median(xs)), float(np.median(ys))),
            )
        )
    return tuple(out)


def build(sample: Sample) -> tuple[list[bytes], StreamResult]:
    """The message ``[topic, payload]`` of ``sample`` and the result it encodes."""
    classes, tracks, depth = street(sample.seq % 3, sample.tracks)
    segments = segment_table(classes, tracks, depth) if sample.table else None
    stamp = STAMP_NS + sample.seq * FRAME_NS
    output = FrameOutput(
        stream=sample.stream,
        seq=sample.seq,
        stamp_ns=stamp,
        panoptic=Panoptic(classes, tracks, CITYSCAPES, segments),
        depth=depth,
        intrinsics=sample.intrinsics,
        latency_ms={"ingest": 1.25, "model": 31.5, "fuse": 0.75},
        dropped=sample.dropped,
        state_reset=sample.state_reset,
    )
    publish = stamp + PUBLISH_AFTER_NS
    result = stream_result(checked_output(output), publish, publish - QUEUED_NS, sample.publisher_drops)
    return encode_message(result, sample.codec), result


def describe(result: StreamResult, codecs: Mapping[str, str]) -> dict:
    """The decoded content of a message as the JSON beside each sample holds it.

    ``codecs`` names each array's codec (``panoptic``, ``depth``), which a decoded result no longer holds.
    """
    return {
        "schema": SCHEMA,
        "stream": result.stream,
        "seq": result.seq,
        "stamp_ns": result.stamp_ns,
        "publish_ns": result.publish_ns,
        "size": list(result.size),
        "classes": list(result.classes),
        "panoptic": describe_array(result.panoptic, codecs["panoptic"]),
        "depth": describe_array(result.depth, codecs["depth"]),
        "segments": [
            {
                "id": s.id,
                "class": s.class_id,
                "thing": s.thing,
                "track": s.track,
                "score": s.score,
                "area": s.area,
                "bbox": list(s.bbox),
                "depth_m": s.depth_m,
                "xyz": None if s.xyz is None else list(s.xyz),
            }
            for s in result.segments
        ],
        "latency_ms": dict(result.latency_ms),
        "dropped": result.dropped,
        "state_reset": result.state_reset,
        "palette": None if result.palette is None else [list(c) for c in result.palette],
        "things": None if result.things is None else list(result.things),
    }


def describe_array(array: np.ndarray, codec: str) -> dict:
    """dtype, shape, codec, SHA-256 of the little-endian C-order bytes, and the values at a 5x5 grid."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {
        "dtype": little.dtype.str,
        "shape": list(little.shape),
        "codec": codec,
        "sha256": hashlib.sha256(little.tobytes()).hexdigest(),
        "samples": [
            {"y": y, "x": x, "value": little[y, x].item()}
            for y in grid(little.shape[0])
            for x in grid(little.shape[1])
        ],
    }


def grid(n: int) -> list[int]:
    """Sampled indices along an axis of length n: 0, n/4, n/2, 3n/4 (integer division) and n-1, once each."""
    return sorted({0, n // 4, n // 2, 3 * n // 4, n - 1})


def to_json(value: object, indent: int = 0) -> str:
    """JSON with one line per value that fits in 100 characters, so samples and segments read as rows."""
    flat = json.dumps(value)
    if len(flat) + indent <= 100 or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + to_json(v, indent + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def write_samples(out: Path) -> list[Path]:
    """Write every sample into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in SAMPLES:
        (topic, payload), result = build(sample)
        doc = {
            "about": sample.about,
            "topic": topic.decode(),
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "decoded": describe(result, {"panoptic": sample.codec, "depth": sample.codec}),
        }
        (out / f"{sample.name}.msgpack").write_bytes(payload)
        (out / f"{sample.name}.json").write_text(to_json(doc) + "\n", encoding="utf-8")
        written += [out / f"{sample.name}.msgpack", out / f"{sample.name}.json"]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    for path in write_samples(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
