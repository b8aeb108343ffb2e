"""Layout registry and auto-detection: the one entry point the CLI and the replay node use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vkstream.data.base import SequenceDataset
from vkstream.data.errors import DatasetError
from vkstream.data.kitti_raw import KittiRawDataset
from vkstream.data.kitti_step import KittiStepDataset
from vkstream.data.semkitti_dvps import SemKittiDvpsDataset

DATASETS: dict[str, type[SequenceDataset]] = {
    cls.layout: cls for cls in (KittiStepDataset, SemKittiDvpsDataset, KittiRawDataset)
}
LAYOUTS: tuple[str, ...] = tuple(DATASETS)


def detect_layout(root: str | os.PathLike[str], split: str = "train") -> str:
    """The layout of the dataset at ``root``, from the folders it holds."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "dataset folder not found")
    if (root / "images").is_dir() or (root / "panoptic_maps").is_dir():
        return "kitti-step"
    if (root / "video_sequence").is_dir():
        return "semkitti-dvps"
    if (root / "image_02").is_dir() or (root / split / "image_02").is_dir():
        return "kitti-raw"
    raise DatasetError(
        root,
        "no known dataset layout: looked for images/ or panoptic_maps/ (kitti-step), "
        f"video_sequence/ (semkitti-dvps), image_02/ or {split}/image_02/ (kitti-raw)",
    )


def open_dataset(
    root: str | os.PathLike[str], layout: str | None = None, split: str = "train", **kwargs: Any
) -> SequenceDataset:
    """Open a dataset split, detecting the layout when ``layout`` is None.

    ``kwargs`` go to the dataset class (``on_error``; ``label_space`` for semkitti-dvps).
    """
    if layout is None:
        layout = detect_layout(root, split)
    if layout not in DATASETS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    return DATASETS[layout](root, split, **kwargs)
