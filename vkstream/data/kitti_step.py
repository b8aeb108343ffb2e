"""KITTI-STEP reader: ``images/`` + ``panoptic_maps/``, with vkstream's optional ``depth/`` and ``calib/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vkstream.data.base import FrameFiles, SequenceDataset, numbered_pngs, subfolders
from vkstream.data.calib import read_kitti_calib
from vkstream.data.codec import decode_panoptic
from vkstream.data.errors import DatasetError
from vkstream.data.frame import FRAME_RATE_HZ
from vkstream.data.pngio import read_png


class KittiStepDataset(SequenceDataset):
    """KITTI-STEP split, laid out as released plus two vkstream extensions.

    - ``images/{split}/NNNN/xxxxxx.png``: RGB frames.
    - ``panoptic_maps/{split}/NNNN/xxxxxx.png``: R = train id, G * 256 + B = instance id.
    - ``depth/{split}/NNNN/xxxxxx.png`` (extension): uint16 metres * 256, 0 = no measurement.
    - ``calib/{split}/NNNN.txt`` (extension): KITTI tracking calib; P2 gives the intrinsics.

    A sequence that has a folder under ``panoptic_maps`` or ``depth`` needs that file for every
    frame. Without ``images/{split}`` (a prediction folder) frames come from the panoptic maps with
    no image. Timestamps are frame number / 10 Hz, as KITTI's frame numbers start at the sequence start.
    """

    layout = "kitti-step"

    def _frames_folder(self) -> Path:
        images = self.root / "images" / self.split
        return images if images.is_dir() else self.root / "panoptic_maps" / self.split

    def _discover(self) -> dict[str, list[FrameFiles]]:
        images = self.root / "images" / self.split
        maps = self.root / "panoptic_maps" / self.split
        depth = self.root / "depth" / self.split
        calib = self.root / "calib" / self.split
        if not images.is_dir() and not maps.is_dir():
            raise DatasetError(images, f"folder not found (nor {maps}): not a KITTI-STEP {self.split} split")
        has_images = images.is_dir()
        primary = images if has_images else maps
        index: dict[str, list[FrameFiles]] = {}
        for folder in subfolders(primary):
            seq = folder.name
            frames = numbered_pngs(folder)
            if not frames:
                self._problem(DatasetError(folder, "sequence folder holds no frames"))
                continue
            label_dir = (maps / seq if (maps / seq).is_dir() else None) if has_images else folder
            depth_dir = depth / seq if (depth / seq).is_dir() else None
            if has_images and label_dir is not None:
                self._check_orphans(label_dir, {p.name for _, p in frames})
            index[seq] = [
                FrameFiles(
                    seq,
                    number,
                    number / FRAME_RATE_HZ,
                    image=path if has_images else None,
                    label=label_dir / path.name if label_dir else None,
                    depth=depth_dir / path.name if depth_dir else None,
                )
                for number, path in frames
            ]
            if (calib / f"{seq}.txt").is_file():
                self._calib_sources[seq] = (calib / f"{seq}.txt", read_kitti_calib)
        if has_images and maps.is_dir():
            for folder in subfolders(maps):
                if folder.name not in index and not (images / folder.name).is_dir():
                    self._problem(DatasetError(folder, f"labels for a sequence with no folder in {images}"))
        return index

    def _check_orphans(self, label_dir: Path, image_names: set[str]) -> None:
        orphans = sorted({p.name for _, p in numbered_pngs(label_dir)} - image_names)
        if orphans:
            reason = f"label has no matching image ({len(orphans)} such files)"
            self._problem(DatasetError(label_dir / orphans[0], reason))

    def _read_labels(self, files: FrameFiles) -> tuple[np.ndarray, np.ndarray]:
        assert files.label is not None
        return decode_panoptic(read_png(files.label, expect="rgb"))
