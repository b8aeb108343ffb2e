"""Pixel encodings shared by the readers and writers: KITTI-STEP panoptic maps and depth PNGs."""

from __future__ import annotations

import numpy as np

from vkstream.data.classes import VALID_LABELS

DEPTH_SCALE = 256.0
"""Depth PNGs store metres * 256 as uint16 (KITTI depth, SemKITTI-DVPS)."""
MAX_DEPTH = 65535 / DEPTH_SCALE
"""Largest encodable depth, about 256 m."""


def unknown_class_ids(semantic: np.ndarray) -> list[int]:
    """Label values that are neither a train id (0-18) nor void (255), sorted."""
    counts = np.bincount(semantic.ravel(), minlength=256)
    return [int(v) for v in np.flatnonzero((counts > 0) & ~VALID_LABELS)]


def encode_panoptic(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """KITTI-STEP panoptic map: R = class, G = instance // 256, B = instance % 256."""
    instance = instance.astype(np.uint16, copy=False)
    return np.stack([semantic, (instance >> 8).astype(np.uint8), (instance & 0xFF).astype(np.uint8)], -1)


def decode_panoptic(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`encode_panoptic`: (semantic uint8, instance uint16)."""
    semantic = np.ascontiguousarray(rgb[..., 0])
    instance = (rgb[..., 1].astype(np.uint16) << 8) | rgb[..., 2]
    return semantic, instance


def depth_problem(depth: np.ndarray) -> str | None:
    """Why ``depth`` cannot be stored in a depth PNG, or None if it can."""
    if not np.issubdtype(depth.dtype, np.floating):
        return f"depth must be a float array, got {depth.dtype}"
    if not np.isfinite(depth).all():
        return "depth contains NaN or infinite values"
    if depth.size and depth.min() < 0:
        return f"depth contains negative values (min {float(depth.min()):.3f} m)"
    if depth.size and depth.max() > MAX_DEPTH:
        return f"depth exceeds the encodable {MAX_DEPTH:.2f} m (max {float(depth.max()):.2f} m)"
    return None


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Metres -> uint16 metres*256, rounded to nearest; raises ValueError for unencodable depth."""
    problem = depth_problem(depth)
    if problem:
        raise ValueError(problem)
    return np.rint(depth.astype(np.float64) * DEPTH_SCALE).astype(np.uint16)


def decode_depth(raw: np.ndarray) -> np.ndarray:
    """uint16 metres*256 -> float32 metres (exact: every value is a multiple of 1/256)."""
    return raw.astype(np.float32) / np.float32(DEPTH_SCALE)


def quantize_depth(depth: np.ndarray) -> np.ndarray:
    """Round depth to the 1/256 m grid of depth PNGs, so what is written reads back identically.

    Values are not clipped; :func:`encode_depth` still rejects what is out of range.
    """
    return (np.rint(np.asarray(depth, dtype=np.float64) * DEPTH_SCALE) / DEPTH_SCALE).astype(np.float32)
