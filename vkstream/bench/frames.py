"""The frames every benchmark mode runs on: S streams x N frames from a KITTI-format dataset.

Each frame is held both decoded (the bare loop must not time decoding) and as its PNG path (the
naive loop reads and decodes from disk every frame, as the reference inference scripts do), so
all modes see exactly the same pixels.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vkstream.data import DatasetError, Intrinsics, open_dataset

log = logging.getLogger(__name__)

BENCH_SIZE = (621, 188)
"""(W, H) the shipped checkpoint was trained at."""
BENCH_SEED = 7
"""Seed of the rendered benchmark set: that of ``vkstream demo``, sequences the shipped model never saw."""
BENCH_LAYOUT = "semkitti-dvps"


@dataclass(frozen=True)
class BenchFrames:
    """``images[s][t]`` / ``paths[s][t]``: frame t of stream s; all frames share one size."""

    images: tuple[tuple[np.ndarray, ...], ...]
    """HxWx3 uint8 RGB, decoded once."""
    paths: tuple[tuple[Path, ...], ...]
    """The PNG each image was decoded from."""
    sequences: tuple[str, ...]
    """The dataset sequence each stream plays."""
    intrinsics: tuple[Intrinsics | None, ...]
    """Each stream's camera, so published segments get their 3D points as in production."""

    @property
    def streams(self) -> int:
        return len(self.images)

    @property
    def frames(self) -> int:
        """Frames per stream."""
        return len(self.images[0])

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of every frame."""
        height, width = self.images[0][0].shape[:2]
        return int(height), int(width)

    @property
    def stream_ids(self) -> tuple[str, ...]:
        """Wire stream ids, one per stream: ``stream0``, ``stream1``, ..."""
        return tuple(f"stream{s}" for s in range(self.streams))

    def measured(self, warmup: int) -> int:
        """Frames per stream left to measure after ``warmup``; ValueError when none are."""
        if warmup < 0 or warmup >= self.frames:
            raise ValueError(
                f"warm-up must be 0..{self.frames - 1} frames to leave some of the {self.frames} "
                f"frames per stream to measure (got {warmup})"
            )
        return self.frames - warmup

    def step_images(self, t: int) -> np.ndarray:
        """[S,H,W,3] uint8: frame t of every stream, as one batch."""
        return np.stack([self.images[s][t] for s in range(self.streams)])


def load_bench_frames(
    root: str | os.PathLike[str],
    streams: int,
    frames: int,
    *,
    layout: str | None = None,
    split: str = "train",
) -> BenchFrames:
    """Stream s plays sequence ``s mod (number of sequences)``, frame t its frame ``t mod length``.

    Wrapping lets a small dataset feed any number of streams and frames; frames shared by several
    streams are decoded once. Raises DatasetError (naming the path) for a missing or empty dataset,
    frames without images, or sequences of different sizes (one batch holds one size).
    """
    if streams < 1 or frames < 1:
        raise ValueError(f"streams and frames must be at least 1 (got {streams} and {frames})")
    root = Path(root)
    try:
        dataset = open_dataset(root, layout=layout, split=split)
    except DatasetError as err:
        raise DatasetError(
            err.path,
            f"{err.reason} (benchmark frames come from a KITTI-format dataset: render one with "
            "'vkstream synth' or ensure_bench_data())",
        ) from None
    decoded: dict[tuple[str, int], tuple[np.ndarray, Path, Intrinsics | None]] = {}
    images, paths, sequences, intrinsics = [], [], [], []
    first: tuple[np.ndarray, Path] | None = None
    for s in range(streams):
        sequence = dataset.sequences[s % len(dataset.sequences)]
        length = dataset.num_frames(sequence)
        stream_images, stream_paths = [], []
        for t in range(frames):
            key = (sequence, t % length)
            if key not in decoded:
                frame = dataset.read_frame(*key)
                if frame.image is None or frame.source is None:
                    raise DatasetError(frame.source or root, f"frame {sequence}/{frame.index} has no image")
                decoded[key] = (frame.image, frame.source, frame.intrinsics)
            image, path, _ = decoded[key]
            first = first or (image, path)
            if image.shape != first[0].shape:
                raise DatasetError(
                    path,
                    f"is {image.shape[1]}x{image.shape[0]} but {first[1]} is "
                    f"{first[0].shape[1]}x{first[0].shape[0]}; the streams of a batch share one size",
                )
            stream_images.append(image)
            stream_paths.append(path)
        images.append(tuple(stream_images))
        paths.append(tuple(stream_paths))
        sequences.append(sequence)
        intrinsics.append(decoded[(sequence, 0)][2])
    return BenchFrames(tuple(images), tuple(paths), tuple(sequences), tuple(intrinsics))


def ensure_bench_data(
    root: str | os.PathLike[str],
    size: tuple[int, int] = BENCH_SIZE,
    sequences: int = 4,
    frames: int = 30,
    *,
    seed: int = BENCH_SEED,
    layout: str = BENCH_LAYOUT,
) -> Path:
    """``root``, after rendering a synthetic set into it if it holds no readable dataset.

    The generator and seed are those of ``vkstream synth``, so the set is the same on every machine
    and needs no download. ``size`` is (W, H). An existing dataset is used as it is, whatever its size.
    """
    root = Path(root)
    try:
        open_dataset(root)
        return root
    except DatasetError:
        pass
    from vkstream.synth import generate_dataset  # the renderer's compiled loops load only when needed

    generate_dataset(
        root, layout=layout, sequences=sequences, frames=frames, size=size, seed=seed, progress=False
    )
    return root


def ensure_sequences(root: str | os.PathLike[str], sequences: int, frames: int) -> Path:
    """``ensure_bench_data`` with ``sequences`` of at least ``frames`` frames each, or ValueError: a
    folder rendered for a shorter run is not silently replayed in loops."""
    root = Path(root)
    if not root.exists() or not any(root.iterdir()):
        log.info("rendering %d synthetic sequences of %d frames into %s", sequences, frames, root)
    root = ensure_bench_data(root, sequences=sequences, frames=frames)
    dataset = open_dataset(root, read_images=False)
    have = dataset.sequences
    if len(have) < sequences or any(dataset.num_frames(s) < frames for s in have[:sequences]):
        raise ValueError(
            f"{root} holds {len(have)} sequence(s) too short for {sequences} x {frames} frames; "
            "remove it or pick another --data folder"
        )
    return root
