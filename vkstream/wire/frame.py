"""A producer's frame in neutral form, and the one way it becomes a wire-format result.

Producers (the model's nodes, a benchmark loop, a ground-truth replay) hand over class and track maps
as they hold them, a depth map in metres, their label space and, when they have one, their own
segment table. :func:`checked_output` validates and copies a frame in the caller's thread;
:func:`stream_result` builds what is sent: the panoptic map with wrapped track ids, float16 depth and
the segment list. The publisher, the recorder and the benchmarks all go through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from vkstream.client.message import StreamResult, check_name
from vkstream.data.frame import Intrinsics
from vkstream.data.labels import LabelSpace
from vkstream.wire.derive import derive_segments
from vkstream.wire.ids import panoptic_map
from vkstream.wire.segments import SegmentStats, wire_segments

FLOAT16_MAX = 65504.0


@dataclass(frozen=True)
class Panoptic:
    """One frame's panoptic segmentation as its producer made it; every pixel has a class."""

    classes: np.ndarray
    """HxW unsigned class ids, indices into ``labels``."""
    tracks: np.ndarray
    """HxW non-negative track ids as the producer numbers them; 0 for stuff and untracked things."""
    labels: LabelSpace
    segments: tuple[SegmentStats, ...] | None = None
    """The producer's per-segment statistics; None: measured from the maps when published."""


@dataclass
class FrameOutput:
    """One frame of one stream, ready to publish.

    ``seq`` counts the stream's captured frames from 0 and ``dropped`` how many of them never got
    this far: together they let subscribers tell pipeline drops from network losses. ``latency_ms``
    holds the stages so far; ``publish`` and ``total`` are added when the result is built.
    """

    stream: str
    seq: int
    stamp_ns: int
    panoptic: Panoptic
    depth: np.ndarray
    """HxW float metres, 0 = no estimate."""
    intrinsics: Intrinsics | None = None
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    dropped: int = 0
    state_reset: bool = False


def checked_output(output: FrameOutput) -> FrameOutput:
    """A private copy in wire types (float16 depth) after the cheap checks; ValueError naming the problem."""
    check_name(output.stream, "stream id")
    if not isinstance(output.seq, int | np.integer) or output.seq < 0:
        raise ValueError(f"seq must be a non-negative int, got {output.seq!r}")
    if not isinstance(output.stamp_ns, int | np.integer) or output.stamp_ns < 0:
        raise ValueError(f"stamp_ns must be a non-negative int (Unix ns), got {output.stamp_ns!r}")
    p = output.panoptic
    classes, tracks, depth = np.asarray(p.classes), np.asarray(p.tracks), np.asarray(output.depth)
    if classes.ndim != 2 or classes.dtype.kind != "u" or classes.dtype.itemsize > 2 or 0 in classes.shape:
        raise ValueError(
            f"the class map must be non-empty HxW uint8 or uint16, got {classes.dtype} {classes.shape}"
        )
    if tracks.shape != classes.shape or tracks.dtype.kind not in "ui" or (tracks.size and tracks.min() < 0):
        raise ValueError(f"the track map must be non-negative ints of shape {classes.shape}")
    if depth.shape != classes.shape or depth.dtype.kind != "f":
        raise ValueError(
            f"depth must be float metres of the class map's shape {classes.shape}, "
            f"got {depth.dtype} {depth.shape}"
        )
    top = int(classes.max())
    if top >= p.labels.num_classes:
        raise ValueError(
            f"the class map holds class id {top}; the label space has {p.labels.num_classes} classes"
        )
    if not np.isfinite(depth).all() or depth.min() < 0 or depth.max() > FLOAT16_MAX:
        raise ValueError(f"depth must be finite metres in [0, {FLOAT16_MAX:g}]")
    latency = {str(k): float(v) for k, v in output.latency_ms.items()}
    if "total" in latency or "publish" in latency:
        raise ValueError("latency_ms must not hold 'total' or 'publish': they are added when publishing")
    if output.dropped < 0:
        raise ValueError(f"dropped must be non-negative, got {output.dropped}")
    copy = replace(p, classes=classes.copy(), tracks=tracks.copy())
    return replace(
        output,
        seq=int(output.seq),
        stamp_ns=int(output.stamp_ns),
        panoptic=copy,
        depth=depth.astype(np.float16),
        latency_ms=latency,
        dropped=int(output.dropped),
        state_reset=bool(output.state_reset),
    )


def stream_result(output: FrameOutput, publish_ns: int, accepted_ns: int, dropped: int = 0) -> StreamResult:
    """The wire result of a :func:`checked_output` frame; ``publish`` latency runs from ``accepted_ns``.

    ``dropped`` adds what the caller itself dropped of the stream so far.
    """
    p = output.panoptic
    panoptic = panoptic_map(p.classes, p.tracks)
    if p.segments is not None:
        segments = wire_segments(p.segments, p.labels, output.intrinsics)
    else:
        segments = derive_segments(panoptic, output.depth, p.labels.things, None, output.intrinsics)
    latency = {
        **output.latency_ms,
        "publish": (publish_ns - accepted_ns) / 1e6,
        "total": (publish_ns - output.stamp_ns) / 1e6,
    }
    return StreamResult(
        stream=output.stream,
        seq=output.seq,
        stamp_ns=output.stamp_ns,
        publish_ns=publish_ns,
        classes=p.labels.names,
        panoptic=panoptic,
        depth=output.depth.astype(np.float16, copy=False),
        segments=segments,
        latency_ms=latency,
        dropped=output.dropped + dropped,
        state_reset=output.state_reset,
        palette=p.labels.palette,
        things=p.labels.thing_ids,
    )
