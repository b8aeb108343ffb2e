"""The in-memory unit every reader yields and every writer and node consumes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

FRAME_RATE_HZ = 10.0
"""KITTI cameras run at about 10 Hz; used for timestamps when the data carries none."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the left colour camera, in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float

    def matrix(self) -> np.ndarray:
        """The 3x3 camera matrix K (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, sx: float, sy: float) -> Intrinsics:
        """Intrinsics after resizing the image by (sx, sy).

        Uses the common ``K[:2] *= s`` convention; it differs from an exact pixel-centre mapping by
        under half a pixel, which no consumer of these intrinsics can resolve.
        """
        return replace(self, fx=self.fx * sx, fy=self.fy * sy, cx=self.cx * sx, cy=self.cy * sy)


@dataclass
class Frame:
    """One camera frame with whatever annotations or predictions go with it.

    Any of the arrays may be None: raw replay has no labels, prediction folders have no images.
    """

    sequence: str
    index: int
    timestamp: float
    image: np.ndarray | None = None
    """HxWx3 uint8 RGB."""
    semantic: np.ndarray | None = None
    """HxW uint8 train ids, 255 = void."""
    instance: np.ndarray | None = None
    """HxW uint16; 0 = no instance (stuff, or crowd on a thing class)."""
    depth: np.ndarray | None = None
    """HxW float32 metres; 0 = no measurement."""
    intrinsics: Intrinsics | None = None
    source: Path | None = None
    """The file the frame was read from, for messages."""

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of whichever array the frame carries."""
        for array in (self.image, self.semantic, self.instance, self.depth):
            if array is not None:
                return int(array.shape[0]), int(array.shape[1])
        raise ValueError(f"frame {self.sequence}/{self.index} carries no image, labels or depth")
