"""The ceiling of a model: ground truth degraded to the model's mask grid, scored like a prediction.

A model whose masks live on a stride-s grid cannot draw a boundary finer than s pixels, nor keep an
object narrower than a cell. Scoring the ground truth sampled at stride s (each cell takes the label
and depth at its centre pixel) and upsampled again tells what a perfect model of that architecture
would reach, so every model figure can be read against it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vkstream.data.frame import Frame


def on_mask_grid(frame: Frame, stride: int) -> Frame:
    """``frame``'s labels and depth as a stride-``stride`` grid would hold them, at the frame's size."""
    if stride < 1:
        raise ValueError(f"stride must be a positive number of pixels, got {stride}")
    height, width = frame.size
    rows = np.minimum(np.arange(height) // stride * stride + stride // 2, height - 1)
    cols = np.minimum(np.arange(width) // stride * stride + stride // 2, width - 1)

    def degrade(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else np.ascontiguousarray(array[rows][:, cols])

    return replace(
        frame,
        image=None,
        semantic=degrade(frame.semantic),
        instance=degrade(frame.instance),
        depth=degrade(frame.depth),
    )
