"""What ``scan`` reports about a dataset split, and its table rendering for the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vkstream.data.classes import NUM_CLASSES
from vkstream.data.frame import Frame


@dataclass(frozen=True)
class SequenceSummary:
    """Per-sequence facts gathered by reading every frame."""

    name: str
    num_frames: int
    sizes: tuple[tuple[int, int], ...]
    """Distinct (H, W) of the frames, sorted."""
    has_images: bool
    has_labels: bool
    has_depth: bool
    has_intrinsics: bool
    class_ids: frozenset[int]
    """Train ids present in the labels (void excluded)."""
    num_tracks: int
    """Distinct (class, instance) pairs with instance > 0 over the sequence."""
    depth_range: tuple[float, float] | None
    """(min, max) of the measured depth in metres; None without depth measurements."""


@dataclass(frozen=True)
class DatasetSummary:
    """Summary of one dataset split; :meth:`format` renders it as a table."""

    layout: str
    root: Path
    split: str
    sequences: tuple[SequenceSummary, ...]

    @property
    def num_frames(self) -> int:
        return sum(s.num_frames for s in self.sequences)

    @property
    def class_ids(self) -> frozenset[int]:
        return frozenset().union(*(s.class_ids for s in self.sequences))

    def format(self) -> str:
        """A readable multi-line table, one row per sequence."""
        header = (
            "sequence",
            "frames",
            "size",
            "images",
            "labels",
            "depth",
            "intrinsics",
            "tracks",
            "depth m",
        )
        rows = [header]
        for s in self.sequences:
            depth = f"{s.depth_range[0]:.1f}-{s.depth_range[1]:.1f}" if s.depth_range else "-"
            rows.append(
                (
                    s.name,
                    str(s.num_frames),
                    ",".join(f"{w}x{h}" for h, w in s.sizes),
                    *("yes" if flag else "no" for flag in (s.has_images, s.has_labels, s.has_depth)),
                    "yes" if s.has_intrinsics else "no",
                    str(s.num_tracks) if s.has_labels else "-",
                    depth,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        numeric = {1, 7}
        lines = [
            f"{self.layout} dataset {self.root} (split {self.split}): "
            f"{len(self.sequences)} sequences, {self.num_frames} frames"
        ]
        for row in rows:
            cells = [
                cell.rjust(width) if i in numeric else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
        if any(s.has_labels for s in self.sequences):
            lines.append(f"classes present: {_ranges(sorted(self.class_ids)) or 'none'}")
        return "\n".join(lines)


def _ranges(ids: list[int]) -> str:
    """[0, 1, 2, 8, 11] -> '0-2,8,11'."""
    parts: list[str] = []
    for i in ids:
        if parts and int(parts[-1].split("-")[-1]) == i - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{i}"
        else:
            parts.append(str(i))
    return ",".join(parts)


class SequenceStats:
    """Accumulates a SequenceSummary frame by frame, so a scan holds one frame in memory at a time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.num_frames = 0
        self.sizes: set[tuple[int, int]] = set()
        self.has_images = self.has_labels = self.has_depth = self.has_intrinsics = False
        self.class_present = np.zeros(256, dtype=bool)
        self.tracks: set[int] = set()
        self.depth_min = np.inf
        self.depth_max = -np.inf

    def add(self, frame: Frame) -> None:
        self.num_frames += 1
        self.sizes.add(frame.size)
        self.has_images |= frame.image is not None
        self.has_intrinsics |= frame.intrinsics is not None
        if frame.semantic is not None:
            self.has_labels = True
            self.class_present |= np.bincount(frame.semantic.ravel(), minlength=256)[:256] > 0
            if frame.instance is not None:
                keyed = (frame.semantic.astype(np.uint32) << 16) | frame.instance
                self.tracks.update(np.unique(keyed[frame.instance > 0]).tolist())
        if frame.depth is not None:
            self.has_depth = True
            measured = frame.depth[frame.depth > 0]
            if measured.size:
                self.depth_min = min(self.depth_min, float(measured.min()))
                self.depth_max = max(self.depth_max, float(measured.max()))

    def summary(self) -> SequenceSummary:
        return SequenceSummary(
            name=self.name,
            num_frames=self.num_frames,
            sizes=tuple(sorted(self.sizes)),
            has_images=self.has_images,
            has_labels=self.has_labels,
            has_depth=self.has_depth,
            has_intrinsics=self.has_intrinsics,
            class_ids=frozenset(int(i) for i in np.flatnonzero(self.class_present[:NUM_CLASSES])),
            num_tracks=len(self.tracks),
            depth_range=(self.depth_min, self.depth_max) if np.isfinite(self.depth_min) else None,
        )
