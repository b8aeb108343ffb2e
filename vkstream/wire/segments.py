"""The ``segments`` list of a published frame from its producer's own per-segment statistics.

A model measures each of its segments on its device (class, track, score, area, box, median depth,
median pixel) when it assembles the frame, so the publisher need not measure them again on the host:
this module only turns that table into wire segments. Producers without a table (ground-truth
replays) are measured from the maps by :func:`vkstream.wire.derive.derive_segments`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vkstream.client.message import Segment
from vkstream.data.frame import Intrinsics
from vkstream.data.labels import LabelSpace
from vkstream.wire.ids import segment_key, wrap_track_id


@dataclass(frozen=True)
class SegmentStats:
    """One segment as its producer measured it; ``track`` is the producer's id (0: none), not yet wrapped."""

    class_id: int
    track: int
    score: float
    area: int
    bbox: tuple[int, int, int, int]
    """(x0, y0, x1, y1) in pixels, x1/y1 exclusive."""
    depth_m: float
    """Median of the segment's depths as the producer holds them (a model: its float32 map); 0: none."""
    center: tuple[float, float]
    """(u, v): median column and row of the segment's pixels, pixel centres at integer coordinates."""


def wire_segments(
    stats: Sequence[SegmentStats], labels: LabelSpace, intrinsics: Intrinsics | None
) -> tuple[Segment, ...]:
    """One wire segment per distinct wire id, ascending.

    Segments that share a wire id (untracked things of one class; track ids that wrapped onto each
    other) become one: areas add up, the box is their union, the score is the best, and ``depth_m``
    and ``xyz`` are those of the largest. Raises ValueError for a stuff segment with a track id.
    """
    groups: dict[int, list[SegmentStats]] = {}
    for s in stats:
        if s.track and s.class_id not in labels.things:
            raise ValueError(f"class {s.class_id} is stuff but a segment carries track id {s.track}")
        groups.setdefault(segment_key(s.class_id, s.track), []).append(s)
    out = []
    for key in sorted(groups):
        parts = groups[key]
        largest = max(parts, key=lambda s: s.area)
        out.append(
            Segment(
                id=key,
                class_id=largest.class_id,
                thing=largest.class_id in labels.things,
                track=wrap_track_id(largest.track),
                score=max(s.score for s in parts),
                area=sum(s.area for s in parts),
                bbox=(
                    min(s.bbox[0] for s in parts),
                    min(s.bbox[1] for s in parts),
                    max(s.bbox[2] for s in parts),
                    max(s.bbox[3] for s in parts),
                ),
                depth_m=float(largest.depth_m),
                xyz=back_project(largest.center, largest.depth_m, intrinsics),
            )
        )
    return tuple(out)


def back_project(
    center: tuple[float, float], depth_m: float, intrinsics: Intrinsics | None
) -> tuple[float, float, float] | None:
    """The camera point (X right, Y down, Z forward) at pixel ``center`` and depth; None without either."""
    if intrinsics is None or not depth_m > 0:
        return None
    u, v = center
    k = intrinsics
    return ((u - k.cx) * depth_m / k.fx, (v - k.cy) * depth_m / k.fy, float(depth_m))
