"""Colour renderings of labels and depth for previews, debugging and the CLI's ``--preview``."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vkstream.data.frame import Frame
from vkstream.data.labels import CITYSCAPES, LabelSpace

_GOLDEN = 0.6180339887498949
_MISSING_GREY = 48


def _instance_colors(keys: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Deterministic colour per (class << 16 | instance) key: class colour blended with a per-instance hue.

    Consecutive instance ids land far apart on the hue circle (golden-ratio steps), so neighbouring
    objects, which usually have close ids, stay easy to tell apart.
    """
    classes, instances = keys >> 16, keys & 0xFFFF
    hue = np.floor(np.mod(instances * _GOLDEN + classes * 0.13, 1.0) * 180.0)  # OpenCV 8-bit hue: 0-179
    hsv = np.stack([hue, np.full_like(hue, 210.0), np.full_like(hue, 255.0)], -1)
    vivid = cv2.cvtColor(np.rint(hsv).astype(np.uint8)[:, None, :], cv2.COLOR_HSV2RGB)[:, 0, :]
    return np.rint(0.55 * palette[classes] + 0.45 * vivid).astype(np.uint8)


def colorize_panoptic(
    semantic: np.ndarray, instance: np.ndarray | None = None, labels: LabelSpace = CITYSCAPES
) -> np.ndarray:
    """HxWx3 uint8 RGB: the label space's class colours, per-instance variations on things, void black.

    Thing instances also get a one-pixel darker rim where they meet anything else.
    """
    if semantic.ndim != 2 or semantic.dtype != np.uint8:
        raise ValueError(f"semantic must be HxW uint8, got {semantic.dtype} {semantic.shape}")
    palette = labels.lookup_palette()
    rgb = palette[semantic]
    if instance is None:
        return rgb
    if instance.shape != semantic.shape:
        raise ValueError(f"instance shape {instance.shape} differs from semantic shape {semantic.shape}")
    key = (semantic.astype(np.int64) << 16) | instance.astype(np.int64)
    thing_lut = np.zeros(256, dtype=bool)
    thing_lut[list(labels.things)] = True
    things = thing_lut[semantic] & (instance > 0)
    if not things.any():
        return rgb
    keys, inverse = np.unique(key[things], return_inverse=True)
    rgb[things] = _instance_colors(keys, palette)[inverse.ravel()]
    edge = np.zeros(semantic.shape, dtype=bool)
    horizontal = key[:, 1:] != key[:, :-1]
    vertical = key[1:, :] != key[:-1, :]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge &= things
    rgb[edge] = (rgb[edge] * 0.55).astype(np.uint8)
    return rgb


def colorize_depth(depth: np.ndarray, max_depth: float = 80.0) -> np.ndarray:
    """HxWx3 uint8 RGB: near warm (red), far cool (blue) on a log scale up to ``max_depth``; no depth black.

    The log scale spends the colour range where a robot needs it, on the first tens of metres.
    """
    if depth.ndim != 2:
        raise ValueError(f"depth must be HxW, got shape {depth.shape}")
    if max_depth <= 0:
        raise ValueError(f"max_depth must be positive, got {max_depth}")
    valid = np.isfinite(depth) & (depth > 0)
    clipped = np.clip(np.where(valid, depth, 0.0), 0.0, max_depth)
    nearness = 1.0 - np.log1p(clipped) / np.log1p(max_depth)
    rgb = cv2.applyColorMap(np.rint(nearness * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    rgb = np.ascontiguousarray(rgb[..., ::-1])
    rgb[~valid] = 0
    return rgb


def _panel(rgb: np.ndarray | None, size: tuple[int, int], label: str, nearest: bool) -> np.ndarray:
    height, width = size
    if rgb is None:
        panel = np.full((height, width, 3), _MISSING_GREY, dtype=np.uint8)
    else:
        interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
        panel = np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=interpolation)).copy()
    font_scale = float(np.clip(height / 250.0, 0.3, 1.0))
    origin = (4, 4 + round(22 * font_scale))
    thickness = 1 if font_scale < 0.6 else 2
    for color, extra in (((0, 0, 0), 2), ((255, 255, 255), 0)):  # dark outline keeps text readable anywhere
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(panel, label, origin, font, font_scale, color, thickness + extra, cv2.LINE_AA)
    return panel


def preview_strip(frames: Sequence[Frame], scale: float = 0.5) -> np.ndarray:
    """HxWx3 uint8 RGB contact sheet: one row per frame, columns image | panoptic | depth.

    Missing parts are dark grey panels, so rows line up whatever each frame carries.
    """
    if not frames:
        raise ValueError("preview_strip needs at least one frame")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rows = []
    for frame in frames:
        height, width = frame.size
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        panoptic = None if frame.semantic is None else colorize_panoptic(frame.semantic, frame.instance)
        depth = None if frame.depth is None else colorize_depth(frame.depth)
        rows.append(
            np.concatenate(
                [
                    _panel(frame.image, size, f"frame {frame.index}", nearest=False),
                    _panel(panoptic, size, "panoptic", nearest=True),
                    _panel(depth, size, "depth", nearest=True),
                ],
                axis=1,
            )
        )
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows]
    return np.concatenate(padded, axis=0)
