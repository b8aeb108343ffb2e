"""SemKITTI-DVPS reader: flat ``video_sequence/{split}/`` folders of per-frame PNGs."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Literal

import numpy as np

from vkstream.data.base import FrameFiles, OnError, SequenceDataset
from vkstream.data.classes import SEMKITTI_TO_TRAIN_ID
from vkstream.data.errors import DatasetError
from vkstream.data.frame import FRAME_RATE_HZ, Intrinsics
from vkstream.data.pngio import read_png

LabelSpace = Literal["train_id", "semkitti"]
DVPS_NAME = re.compile(r"^(\d+)_(\d+)_(leftImg8bit|gtFine_class|gtFine_instance|depth_(.+))\.png$")
_KINDS = ("leftImg8bit", "gtFine_class", "gtFine_instance", "depth")


def dvps_prefix(sequence: int, index: int) -> str:
    """``{seq:06d}_{frame:06d}``, the name stem every file of a DVPS frame starts with."""
    return f"{sequence:06d}_{index:06d}"


def focal_from_name(path: Path) -> float:
    """The focal length (pixels) a DVPS depth file carries in its name, ``..._depth_{focal}.png``."""
    match = DVPS_NAME.match(path.name)
    try:
        focal = float(match[4]) if match and match[4] else math.nan
    except ValueError:
        focal = math.nan
    if not math.isfinite(focal) or focal <= 0:
        raise DatasetError(path, "depth file name lacks a positive focal length (_depth_<focal>.png)")
    return focal


class SemKittiDvpsDataset(SequenceDataset):
    """SemKITTI-DVPS split: ``video_sequence/{split}/{seq:06d}_{frame:06d}_<kind>.png``.

    Kinds: ``leftImg8bit`` (RGB), ``gtFine_class`` (8-bit class ids), ``gtFine_instance`` (8- or
    16-bit instance ids) and ``depth_{focal}`` (uint16 metres * 256). A kind present for any frame of a
    sequence is required for all its frames; prediction folders may lack the images.

    ``label_space="semkitti"`` maps class ids from the official release's SemanticKITTI-19 order to
    train ids; ``"train_id"`` (default) reads them as train ids, as vkstream's writers store them.

    The release only records the focal length, so intrinsics assume square pixels and a centred
    principal point: fx = fy = focal, cx = W / 2, cy = H / 2. Timestamps are frame number / 10 Hz.
    """

    layout = "semkitti-dvps"

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        on_error: OnError = "raise",
        read_images: bool = True,
        label_space: LabelSpace = "train_id",
    ):
        if label_space not in ("train_id", "semkitti"):
            raise ValueError(f"label_space must be 'train_id' or 'semkitti', got {label_space!r}")
        self.label_space: LabelSpace = label_space
        super().__init__(root, split, on_error=on_error, read_images=read_images)

    def _frames_folder(self) -> Path:
        return self.root / "video_sequence" / self.split

    def _discover(self) -> dict[str, list[FrameFiles]]:
        folder = self._frames_folder()
        if not folder.is_dir():
            raise DatasetError(folder, f"folder not found: not a SemKITTI-DVPS {self.split} split")
        found: dict[str, dict[str, dict[str, Path]]] = {}
        for path in sorted(folder.iterdir()):
            match = DVPS_NAME.match(path.name)
            if not match or not path.is_file():
                continue
            kind = "depth" if match[4] is not None else match[3]
            files = found.setdefault(match[1], {}).setdefault(match[2], {})
            if kind in files:
                self._problem(DatasetError(path, f"second {kind} file of a frame ({files[kind].name})"))
                continue
            files[kind] = path
        return {seq: self._sequence_files(folder, seq, frames) for seq, frames in found.items()}

    def _sequence_files(self, folder: Path, seq: str, frames: dict[str, dict[str, Path]]) -> list[FrameFiles]:
        kinds = {kind for files in frames.values() for kind in files}
        if "gtFine_instance" in kinds and "gtFine_class" not in kinds:
            self._problem(DatasetError(folder, f"sequence {seq} has instance PNGs but no gtFine_class PNGs"))
        entries = []
        for number, files in sorted(frames.items(), key=lambda item: int(item[0])):
            prefix = folder / f"{seq}_{number}_"
            expected = {
                kind: files.get(kind, Path(f"{prefix}{kind}{'_<focal>' if kind == 'depth' else ''}.png"))
                for kind in _KINDS
                if kind in kinds
            }
            entries.append(
                FrameFiles(
                    seq,
                    int(number),
                    int(number) / FRAME_RATE_HZ,
                    image=expected.get("leftImg8bit"),
                    label=expected.get("gtFine_class"),
                    instance=expected.get("gtFine_instance") if "gtFine_class" in kinds else None,
                    depth=expected.get("depth"),
                )
            )
        return entries

    def _read_labels(self, files: FrameFiles) -> tuple[np.ndarray, np.ndarray]:
        assert files.label is not None
        semantic = read_png(files.label, expect="gray8")
        if files.instance is None:
            return semantic, np.zeros(semantic.shape, dtype=np.uint16)
        instance = read_png(files.instance, expect="any")
        if instance.ndim != 2 or instance.dtype not in (np.uint8, np.uint16):
            raise DatasetError(files.instance, "expected an 8- or 16-bit single-channel instance PNG")
        return semantic, instance.astype(np.uint16)

    def _to_train_ids(self, semantic: np.ndarray) -> np.ndarray:
        return SEMKITTI_TO_TRAIN_ID[semantic] if self.label_space == "semkitti" else semantic

    def _intrinsics(self, files: FrameFiles, size: tuple[int, int], strict: bool) -> Intrinsics | None:
        if files.depth is None:
            return None
        focal = focal_from_name(files.depth)
        return Intrinsics(fx=focal, fy=focal, cx=size[1] / 2, cy=size[0] / 2)
