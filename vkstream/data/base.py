"""What every dataset layout shares: frame discovery contract, strict/lenient loading, validation, scan."""

from __future__ import annotations

import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from vkstream.data.codec import decode_depth, unknown_class_ids
from vkstream.data.errors import DatasetError
from vkstream.data.frame import Frame, Intrinsics
from vkstream.data.pngio import read_png
from vkstream.data.summary import DatasetSummary, SequenceStats

log = logging.getLogger("vkstream.data")

OnError = Literal["raise", "skip"]
_NUMBERED_PNG = re.compile(r"^(\d+)\.png$")


@dataclass(frozen=True)
class FrameFiles:
    """Where one frame's files are; None for what the layout does not hold for it."""

    sequence: str
    index: int
    timestamp: float
    image: Path | None = None
    label: Path | None = None
    """Semantic labels: the panoptic map (KITTI-STEP) or the class PNG (DVPS)."""
    instance: Path | None = None
    depth: Path | None = None

    @property
    def source(self) -> Path:
        """The file that names this frame in messages."""
        return next(p for p in (self.image, self.label, self.depth, self.instance) if p is not None)


def numbered_pngs(folder: Path) -> list[tuple[int, Path]]:
    """(frame number, path) of the ``NNNNNN.png`` files in a folder, in frame order; others are ignored."""
    found = []
    for path in folder.iterdir():
        match = _NUMBERED_PNG.match(path.name)
        if match and path.is_file():
            found.append((int(match[1]), path))
    return sorted(found)


def subfolders(folder: Path) -> list[Path]:
    """Visible subfolders, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _wxh(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def check_same_size(path: Path, shape: tuple[int, ...], ref_path: Path, ref_shape: tuple[int, ...]) -> None:
    """Raise a DatasetError naming ``path`` when its HxW differs from the reference file's."""
    if shape[:2] != ref_shape[:2]:
        raise DatasetError(path, f"is {_wxh(shape)} but {ref_path.name} is {_wxh(ref_shape)}")


class SequenceDataset(ABC):
    """A dataset split made of sequences of frames, read lazily in frame order.

    ``on_error="raise"`` (evaluation, conversion) stops at the first bad file with a DatasetError
    naming it. ``on_error="skip"`` (live replay, where a gap is better than a stop) logs a warning
    on ``vkstream.data``, counts the frame in ``skipped`` and goes on. :meth:`scan` is always strict.
    """

    layout: ClassVar[str]

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        on_error: OnError = "raise",
        read_images: bool = True,
    ):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.root = Path(root)
        self.split = split
        self.on_error: OnError = on_error
        self.read_images = read_images
        """False skips decoding RGB images (evaluation needs only labels and depth)."""
        self.skipped = 0
        self._problems: list[DatasetError] = []
        self._calib_sources: dict[str, tuple[Path, Callable[[Path], Intrinsics]]] = {}
        self._calib: dict[str, Intrinsics | DatasetError | None] = {}
        if not self.root.is_dir():
            raise DatasetError(self.root, "dataset folder not found")
        index = self._discover()
        if not index:
            raise DatasetError(self._frames_folder(), f"no {self.layout} sequences with frames found")
        self._index = {name: index[name] for name in sorted(index)}
        self.sequences: list[str] = list(self._index)

    # --- layout hooks -------------------------------------------------------------------------

    @abstractmethod
    def _discover(self) -> dict[str, list[FrameFiles]]:
        """Find every sequence and its frames (in frame order); report empty sequences via _problem."""

    @abstractmethod
    def _frames_folder(self) -> Path:
        """The folder the frames are listed from, for messages."""

    def _read_labels(self, files: FrameFiles) -> tuple[np.ndarray, np.ndarray]:
        """(raw semantic uint8, instance uint16) of a frame whose ``label`` is set."""
        raise NotImplementedError(f"{self.layout} has no labels")

    def _to_train_ids(self, semantic: np.ndarray) -> np.ndarray:
        """Map validated on-disk class ids to train ids; identity unless the layout's label space differs."""
        return semantic

    def _intrinsics(self, files: FrameFiles, size: tuple[int, int], strict: bool) -> Intrinsics | None:
        return self._calibration(files.sequence, strict)

    # --- shared machinery ---------------------------------------------------------------------

    def _problem(self, error: DatasetError) -> None:
        """A layout problem found while listing files: fatal in raise mode, else warned and kept for scan."""
        if self.on_error == "raise":
            raise error
        log.warning("%s (ignored)", error)
        self._problems.append(error)

    def _calibration(self, sequence: str, strict: bool) -> Intrinsics | None:
        if sequence not in self._calib:
            source = self._calib_sources.get(sequence)
            try:
                self._calib[sequence] = source[1](source[0]) if source else None
            except DatasetError as err:
                self._calib[sequence] = err
                if not strict:
                    log.warning("%s; frames of sequence %s come without intrinsics", err, sequence)
        cached = self._calib[sequence]
        if isinstance(cached, DatasetError):
            if strict:
                raise cached
            return None
        return cached

    def _load(self, files: FrameFiles, strict: bool) -> Frame:
        """Read and validate one frame; any problem raises a DatasetError naming the file."""
        image = read_png(files.image, expect="rgb") if files.image and self.read_images else None
        semantic = instance = None
        if files.label:
            semantic, instance = self._read_labels(files)
            bad = unknown_class_ids(semantic)
            if bad:
                raise DatasetError(files.label, f"unknown class ids {bad} (expected 0-18 or 255)")
            semantic = self._to_train_ids(semantic)
            if image is not None and files.image is not None:
                check_same_size(files.label, semantic.shape, files.image, image.shape)
            check_same_size(files.instance or files.label, instance.shape, files.label, semantic.shape)
        depth = None
        if files.depth:
            depth = decode_depth(read_png(files.depth, expect="gray16"))
            if image is not None and files.image is not None:
                check_same_size(files.depth, depth.shape, files.image, image.shape)
            elif semantic is not None and files.label is not None:
                check_same_size(files.depth, depth.shape, files.label, semantic.shape)
        frame = Frame(files.sequence, files.index, files.timestamp, image, semantic, instance, depth, None)
        frame.source = files.source
        frame.intrinsics = self._intrinsics(files, frame.size, strict)
        return frame

    def _entries(self, sequence: str) -> list[FrameFiles]:
        try:
            return self._index[sequence]
        except KeyError:
            raise KeyError(f"no sequence {sequence!r} in {self._frames_folder()}") from None

    def read_frame(self, sequence: str, position: int) -> Frame:
        """The frame at ``position`` (0-based, in listing order) of a sequence; a bad file raises.

        For random access (training pairs); streaming readers should use :meth:`frames`.
        """
        return self._load(self._entries(sequence)[position], strict=True)

    def frame_numbers(self, sequence: str) -> list[int]:
        """The frame numbers listed for a sequence, in order, without reading any file."""
        return [files.index for files in self._entries(sequence)]

    def num_frames(self, sequence: str) -> int:
        """Number of frames listed for a sequence (skipped ones included)."""
        return len(self._entries(sequence))

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._index.values())

    def frames(self, sequence: str) -> Iterator[Frame]:
        """The frames of one sequence in frame order, read lazily."""
        strict = self.on_error == "raise"
        for files in self._entries(sequence):
            try:
                frame = self._load(files, strict)
            except DatasetError as err:
                if strict:
                    raise
                self.skipped += 1
                log.warning("skipping frame %s/%d: %s", files.sequence, files.index, err)
                continue
            yield frame

    def __iter__(self) -> Iterator[Frame]:
        for sequence in self.sequences:
            yield from self.frames(sequence)

    def scan(self) -> DatasetSummary:
        """Read and validate every file and summarise the split; the first problem raises DatasetError."""
        if self._problems:
            raise self._problems[0]
        stats = []
        for sequence, entries in self._index.items():
            seq_stats = SequenceStats(sequence)
            for files in entries:
                seq_stats.add(self._load(files, strict=True))
            stats.append(seq_stats.summary())
        return DatasetSummary(self.layout, self.root, self.split, tuple(stats))
