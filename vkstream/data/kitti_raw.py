"""Unlabelled KITTI replay: tracking ``image_02/NNNN/`` folders or a raw drive's ``image_02/data/``."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from vkstream.data.base import FrameFiles, SequenceDataset, numbered_pngs, subfolders
from vkstream.data.calib import read_kitti_calib, read_kitti_raw_calib
from vkstream.data.errors import DatasetError
from vkstream.data.frame import FRAME_RATE_HZ

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")


def read_kitti_timestamps(path: str | os.PathLike[str]) -> list[float]:
    """Seconds since the first line of a KITTI raw ``timestamps.txt`` (``2011-09-26 13:02:25.964389445``).

    Computed in integer nanoseconds, so differences keep the file's full precision.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(path, f"cannot read timestamps ({exc})") from None
    stamps: list[int] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _TIMESTAMP.match(line.strip())
        try:
            if not match:
                raise ValueError
            day = dt.date.fromisoformat(match[1]).toordinal()
            hours, minutes, seconds = int(match[2]), int(match[3]), int(match[4])
            if hours > 23 or minutes > 59 or seconds > 60:
                raise ValueError
        except ValueError:
            reason = f"line {lineno}: not a 'YYYY-MM-DD hh:mm:ss.fffffffff' timestamp"
            raise DatasetError(path, reason) from None
        whole = ((day * 24 + hours) * 60 + minutes) * 60 + seconds
        stamps.append(whole * 1_000_000_000 + int((match[5] or "").ljust(9, "0")))
    return [(ns - stamps[0]) / 1e9 for ns in stamps]


class KittiRawDataset(SequenceDataset):
    """Unlabelled KITTI frames for replay; two layouts are accepted.

    - Tracking: ``image_02/NNNN/xxxxxx.png`` with optional ``calib/NNNN.txt``, one sequence per
      folder. ``root`` may be the ``training``/``testing`` folder itself, or its parent with
      ``split="training"``/``"testing"``: ``root/{split}`` is used when it holds ``image_02``,
      otherwise ``split`` is ignored. Timestamps are frame number / 10 Hz.
    - Raw drive (``root`` = ``2011_09_26_drive_0001_sync``): ``image_02/data/xxxxxxxxxx.png`` is one
      sequence named after the drive folder; timestamps come from ``image_02/timestamps.txt``
      (one line per frame number) and intrinsics from P_rect_02 of ``calib_cam_to_cam.txt`` in the
      drive folder or, as KITTI ships it, its parent date folder.
    """

    layout = "kitti-raw"

    def _base(self) -> Path:
        nested = self.root / self.split
        return nested if (nested / "image_02").is_dir() else self.root

    def _frames_folder(self) -> Path:
        return self._base() / "image_02"

    def _discover(self) -> dict[str, list[FrameFiles]]:
        base = self._base()
        images = base / "image_02"
        if not images.is_dir():
            raise DatasetError(images, f"folder not found (nor {self.root / self.split / 'image_02'})")
        if (images / "data").is_dir():
            return self._discover_drive(base, images)
        index: dict[str, list[FrameFiles]] = {}
        for folder in subfolders(images):
            frames = numbered_pngs(folder)
            if not frames:
                self._problem(DatasetError(folder, "sequence folder holds no frames"))
                continue
            index[folder.name] = [
                FrameFiles(folder.name, n, n / FRAME_RATE_HZ, image=path) for n, path in frames
            ]
            calib = base / "calib" / f"{folder.name}.txt"
            if calib.is_file():
                self._calib_sources[folder.name] = (calib, read_kitti_calib)
        return index

    def _discover_drive(self, base: Path, images: Path) -> dict[str, list[FrameFiles]]:
        sequence = base.resolve().name
        frames = numbered_pngs(images / "data")
        if not frames:
            self._problem(DatasetError(images / "data", "drive folder holds no frames"))
            return {}
        times = self._drive_timestamps(images / "timestamps.txt", frames[-1][0] + 1)
        index = {
            sequence: [
                FrameFiles(sequence, n, times[n] if times else n / FRAME_RATE_HZ, image=path)
                for n, path in frames
            ]
        }
        for calib in (base / "calib_cam_to_cam.txt", base.resolve().parent / "calib_cam_to_cam.txt"):
            if calib.is_file():
                self._calib_sources[sequence] = (calib, read_kitti_raw_calib)
                break
        return index

    def _drive_timestamps(self, path: Path, needed: int) -> list[float] | None:
        """Timestamps by frame number; None (frame number / 10 Hz) if absent, or unusable in skip mode."""
        if not path.is_file():
            return None
        try:
            times = read_kitti_timestamps(path)
            if len(times) < needed:
                raise DatasetError(path, f"{len(times)} timestamps for frame numbers up to {needed - 1}")
        except DatasetError as err:
            self._problem(err)
            return None
        return times
