"""Writers for the labelled layouts; what they write, the matching reader reads back identically."""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from vkstream.data.calib import write_kitti_calib
from vkstream.data.codec import encode_depth, encode_panoptic, quantize_depth, unknown_class_ids
from vkstream.data.frame import Frame
from vkstream.data.pngio import write_png
from vkstream.data.semkitti_dvps import dvps_prefix

__all__ = ["DatasetWriter", "KittiStepWriter", "SemKittiDvpsWriter", "make_writer", "quantize_depth"]

log = logging.getLogger("vkstream.data")


@dataclass(frozen=True)
class _Encoded:
    sequence: int
    index: int
    image: np.ndarray | None
    semantic: np.ndarray | None
    instance: np.ndarray | None
    depth: np.ndarray | None
    """uint16 metres * 256."""


def _shape_error(name: str, array: np.ndarray, wanted: str) -> ValueError:
    return ValueError(f"{name} must be {wanted}, got {array.dtype} array of shape {array.shape}")


def _encode(frame: Frame) -> _Encoded:
    """Validate a frame for writing; ValueError says what is wrong."""
    where = f"frame {frame.sequence!r}/{frame.index!r}"
    sequence = str(frame.sequence)
    if not sequence.isdigit():
        raise ValueError(f"{where}: sequence name must be numeric for KITTI file names, got {sequence!r}")
    if not isinstance(frame.index, (int, np.integer)) or isinstance(frame.index, bool) or frame.index < 0:
        raise ValueError(f"{where}: frame index must be a non-negative integer")
    image, semantic, instance, depth = frame.image, frame.semantic, frame.instance, frame.depth
    if image is not None and (image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3):
        raise _shape_error(f"{where}: image", image, "HxWx3 uint8 RGB")
    if semantic is not None:
        if semantic.dtype != np.uint8 or semantic.ndim != 2:
            raise _shape_error(f"{where}: semantic", semantic, "HxW uint8 train ids")
        bad = unknown_class_ids(semantic)
        if bad:
            raise ValueError(f"{where}: semantic holds unknown class ids {bad} (expected 0-18 or 255)")
    if instance is not None:
        if semantic is None:
            raise ValueError(f"{where}: instance ids need semantic labels to be written")
        if not np.issubdtype(instance.dtype, np.integer) or instance.ndim != 2:
            raise _shape_error(f"{where}: instance", instance, "an HxW integer array")
        if instance.size and (instance.min() < 0 or instance.max() >= 65536):
            low, high = int(instance.min()), int(instance.max())
            raise ValueError(f"{where}: instance ids must lie in 0..65535, got {low}..{high}")
        instance = instance.astype(np.uint16)
    elif semantic is not None:
        instance = np.zeros(semantic.shape, dtype=np.uint16)
    encoded_depth = None
    if depth is not None:
        if depth.ndim != 2:
            raise _shape_error(f"{where}: depth", depth, "HxW float metres")
        try:
            encoded_depth = encode_depth(depth)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    arrays = {"image": image, "semantic": semantic, "instance": instance, "depth": depth}
    present = {name: a.shape[:2] for name, a in arrays.items() if a is not None}
    if not present:
        raise ValueError(f"{where}: nothing to write (no image, labels or depth)")
    if len(set(present.values())) > 1:
        sizes = ", ".join(f"{n} {s[1]}x{s[0]}" for n, s in present.items())
        raise ValueError(f"{where}: arrays differ in size ({sizes})")
    return _Encoded(int(sequence), int(frame.index), image, semantic, instance, encoded_depth)


class DatasetWriter(ABC):
    """Writes frames into a dataset split; files are written atomically, parents created as needed."""

    layout: ClassVar[str]

    def __init__(self, root: str | os.PathLike[str], split: str = "train") -> None:
        self.root = Path(root)
        self.split = split

    @abstractmethod
    def write(self, frame: Frame) -> None:
        """Write whatever the frame carries; raises ValueError for data the layout cannot hold."""


class KittiStepWriter(DatasetWriter):
    """KITTI-STEP layout, plus ``depth/`` and ``calib/`` (see KittiStepDataset)."""

    layout = "kitti-step"

    def __init__(self, root: str | os.PathLike[str], split: str = "train") -> None:
        super().__init__(root, split)
        self._calibrated: set[int] = set()

    def write(self, frame: Frame) -> None:
        enc = _encode(frame)
        seq, name = f"{enc.sequence:04d}", f"{enc.index:06d}.png"
        if enc.image is not None:
            write_png(self.root / "images" / self.split / seq / name, enc.image)
        if enc.semantic is not None and enc.instance is not None:
            panoptic = encode_panoptic(enc.semantic, enc.instance)
            write_png(self.root / "panoptic_maps" / self.split / seq / name, panoptic)
        if enc.depth is not None:
            write_png(self.root / "depth" / self.split / seq / name, enc.depth)
        if frame.intrinsics is not None and enc.sequence not in self._calibrated:
            write_kitti_calib(self.root / "calib" / self.split / f"{seq}.txt", frame.intrinsics)
            self._calibrated.add(enc.sequence)


class SemKittiDvpsWriter(DatasetWriter):
    """SemKITTI-DVPS layout with class PNGs in train ids and 16-bit instance PNGs.

    The format stores one focal length, in the depth file name, so depth needs intrinsics; fy and the
    principal point are not stored (the reader assumes fy = fx and a centred principal point), and
    intrinsics of a frame without depth are not stored at all.
    """

    layout = "semkitti-dvps"

    def __init__(self, root: str | os.PathLike[str], split: str = "train") -> None:
        super().__init__(root, split)
        self._warned_fy = False

    def write(self, frame: Frame) -> None:
        enc = _encode(frame)
        folder = self.root / "video_sequence" / self.split
        prefix = dvps_prefix(enc.sequence, enc.index)
        depth_path = None
        if enc.depth is not None:
            depth_path = folder / f"{prefix}_depth_{self._focal(frame)!r}.png"
        if enc.image is not None:
            write_png(folder / f"{prefix}_leftImg8bit.png", enc.image)
        if enc.semantic is not None and enc.instance is not None:
            write_png(folder / f"{prefix}_gtFine_class.png", enc.semantic)
            write_png(folder / f"{prefix}_gtFine_instance.png", enc.instance)
        if enc.depth is not None and depth_path is not None:
            write_png(depth_path, enc.depth)
            for stale in folder.glob(f"{prefix}_depth_*.png"):  # a rewrite with another focal
                if stale != depth_path:
                    stale.unlink(missing_ok=True)

    def _focal(self, frame: Frame) -> float:
        where = f"frame {frame.sequence!r}/{frame.index}"
        if frame.intrinsics is None:
            raise ValueError(f"{where}: depth needs intrinsics, as the focal length is part of its file name")
        fx, fy = float(frame.intrinsics.fx), float(frame.intrinsics.fy)
        if not np.isfinite(fx) or fx <= 0:
            raise ValueError(f"{where}: focal length must be finite and positive, got {fx}")
        if fy != fx and not self._warned_fy:
            log.warning("%s: fy %.4f differs from fx %.4f; SemKITTI-DVPS stores fx only", self.root, fy, fx)
            self._warned_fy = True
        return fx


WRITERS: dict[str, type[DatasetWriter]] = {cls.layout: cls for cls in (KittiStepWriter, SemKittiDvpsWriter)}


def make_writer(layout: str, root: str | os.PathLike[str], split: str = "train") -> DatasetWriter:
    """A writer for one of the labelled layouts ("kitti-step", "semkitti-dvps")."""
    if layout not in WRITERS:
        raise ValueError(f"no writer for layout {layout!r}; expected one of {', '.join(WRITERS)}")
    return WRITERS[layout](root, split)
