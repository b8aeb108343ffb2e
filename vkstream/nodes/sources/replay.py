"""Replays from disk: a folder of images, or one sequence of a KITTI-format dataset with its labels."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vkstream.data.base import SequenceDataset
from vkstream.data.datasets import detect_layout, open_dataset
from vkstream.data.errors import DatasetError
from vkstream.data.frame import FRAME_RATE_HZ, Frame, Intrinsics
from vkstream.nodes.sources.base import (
    CapturedFrame,
    FrameSource,
    SourceError,
    resize_image,
    resize_nearest,
    scale_intrinsics,
    to_rgb,
)
from vkstream.nodes.sources.pacing import Pacer
from vkstream.nodes.sources.specs import ImageFolderSpec, KittiReplaySpec

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_GAP_S = 1.0
"""A gap in a recording's timestamps replays as at most this long a pause."""


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name.lower())]


def _rate(speed: float, hz: float) -> str:
    return "unpaced" if speed == 0 else f"@{hz * speed:g} Hz"


class ImageFolderSource(FrameSource[ImageFolderSpec]):
    """A folder's images in natural name order at ``rate_hz`` x ``speed``; unreadable ones are skipped."""

    Spec = ImageFolderSpec

    def __init__(self, spec: ImageFolderSpec):
        super().__init__(spec)
        self._pacer = Pacer(spec.speed)
        self._files: list[Path] = []
        self._next = 0
        self._intrinsics = spec.intrinsics.to_intrinsics() if spec.intrinsics is not None else None

    def describe(self) -> str:
        return f"images {self.spec.path} {_rate(self.spec.speed, self.spec.rate_hz)}"

    def _open(self) -> None:
        folder = self.spec.path
        if not folder.is_dir():
            why = "not a folder" if folder.exists() else "no such folder"
            raise SourceError(f"cannot open image folder {folder}: {why}")
        files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if not files:
            raise SourceError(f"cannot open image folder {folder}: no {'/'.join(IMAGE_SUFFIXES)} images")
        self._files = sorted(files, key=_natural_key)
        self._next = 0
        self._pacer.reset()

    def _close(self) -> None:
        self._files = []

    def _read(self) -> CapturedFrame | None:
        misses = 0
        while True:
            if self._next == len(self._files):
                if not self.spec.loop:
                    return None
                self._next = 0
                self._restart = True
            path = self._files[self._next]
            self._next += 1
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is not None:
                break
            log.warning("%s: cannot read %s as an image; skipped", self.describe(), path.name)
            misses += 1
            if misses >= len(self._files):
                raise SourceError(f"{self.spec.path}: none of the {len(self._files)} images could be read")
        native = (bgr.shape[1], bgr.shape[0])
        image = to_rgb(resize_image(bgr, self.spec.resize))
        self._pacer.wait(1.0 / self.spec.rate_hz)
        return self._emit(image, {"intrinsics": scale_intrinsics(self._intrinsics, native, self.spec.resize)})


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """A replayed frame ready to emit: resized image, intrinsics and ground truth."""

    image: np.ndarray
    index: int
    timestamp: float
    intrinsics: Intrinsics | None
    ground_truth: Frame | None


class KittiReplaySource(FrameSource[KittiReplaySpec]):
    """One sequence of a KITTI-format dataset at its recorded rate, optionally with its ground truth.

    Unreadable frames are skipped with a warning (a gap is better than a stop in a live replay).
    Pacing follows the frames' timestamps (10 Hz for layouts that have none of their own).
    """

    Spec = KittiReplaySpec

    def __init__(self, spec: KittiReplaySpec):
        super().__init__(spec)
        self._pacer = Pacer(spec.speed)
        self.layout: str | None = None if spec.layout == "auto" else spec.layout
        self.sequence: str | None = spec.sequence
        self._dataset: SequenceDataset | None = None
        self._cache: list[_Prepared] | None = None
        self._frames: Iterator[_Prepared] = iter(())
        self._last_stamp: float | None = None

    def describe(self) -> str:
        layout = self.layout or "auto"
        sequence = self.sequence or "(first)"
        return f"kitti {layout} {self.spec.root} seq {sequence} {_rate(self.spec.speed, FRAME_RATE_HZ)}"

    def _open(self) -> None:
        spec = self.spec
        options: dict[str, Any] = {"on_error": "skip"}
        try:
            layout = self.layout or detect_layout(spec.root, spec.split)
            if spec.label_space != "train_id":
                if layout != "semkitti-dvps":
                    raise ValueError(f"label_space {spec.label_space} applies to semkitti-dvps, not {layout}")
                options["label_space"] = spec.label_space
            dataset = open_dataset(spec.root, layout, spec.split, **options)
        except (DatasetError, ValueError) as err:
            raise SourceError(f"cannot open {self.describe()}: {err}") from None
        self._dataset, self.layout = dataset, dataset.layout
        if spec.sequence is None:
            self.sequence = dataset.sequences[0]
        elif spec.sequence not in dataset.sequences:
            found = ", ".join(dataset.sequences)
            raise SourceError(
                f"cannot open {self.describe()}: no sequence {spec.sequence!r} in split {spec.split} "
                f"(found: {found})"
            )
        if spec.ground_truth and self.layout == "kitti-raw":
            log.warning("%s: kitti-raw has no labels or depth to attach as ground truth", self.describe())
        self._cache = None
        if spec.preload:
            self._cache = list(self._prepared())
            if not self._cache:
                raise SourceError(f"cannot open {self.describe()}: no readable frames")
        self._start_pass()
        self._pacer.reset()
        self._last_stamp = None

    def _close(self) -> None:
        self._dataset = None
        self._cache = None
        self._frames = iter(())

    def _start_pass(self) -> None:
        self._frames = iter(self._cache) if self._cache is not None else self._prepared()

    def _prepared(self) -> Iterator[_Prepared]:
        assert self._dataset is not None and self.sequence is not None
        for frame in self._dataset.frames(self.sequence):
            if frame.image is None:
                log.warning("%s: frame %d has no image; skipped", self.describe(), frame.index)
                continue
            yield self._prepare(frame)

    def _prepare(self, frame: Frame) -> _Prepared:
        assert frame.image is not None
        size = self.spec.resize
        native = (frame.image.shape[1], frame.image.shape[0])
        intrinsics = scale_intrinsics(frame.intrinsics, native, size)
        truth = None
        if self.spec.ground_truth and (frame.semantic is not None or frame.depth is not None):
            truth = dataclasses.replace(
                frame,
                image=None,
                semantic=resize_nearest(frame.semantic, size),
                instance=resize_nearest(frame.instance, size),
                depth=resize_nearest(frame.depth, size),
                intrinsics=intrinsics,
            )
        image = np.ascontiguousarray(resize_image(frame.image, size))
        if self.spec.preload:  # shared by every pass: a consumer must not change them in place
            for array in (image, *(() if truth is None else (truth.semantic, truth.instance, truth.depth))):
                if array is not None:
                    array.setflags(write=False)
        return _Prepared(image, frame.index, frame.timestamp, intrinsics, truth)

    def _read(self) -> CapturedFrame | None:
        item = next(self._frames, None)
        if item is None:
            if self._last_stamp is None:  # a whole pass without one readable frame
                raise SourceError(f"{self.describe()}: no readable frames")
            if not self.spec.loop:
                return None
            self._start_pass()
            self._restart = True
            self._last_stamp = None
            item = next(self._frames, None)
            if item is None:
                raise SourceError(f"{self.describe()}: no readable frames")
        interval = 1.0 / FRAME_RATE_HZ
        if self._last_stamp is not None and item.timestamp > self._last_stamp:
            interval = min(item.timestamp - self._last_stamp, MAX_GAP_S)
        self._last_stamp = item.timestamp
        self._pacer.wait(interval)
        meta: dict[str, Any] = {"intrinsics": item.intrinsics, "sequence": self.sequence, "index": item.index}
        return self._emit(item.image, meta, item.ground_truth)
