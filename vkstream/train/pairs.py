"""Training pairs: a key frame and a nearby reference frame, augmented alike, as tensors and targets.

Every random choice of a sample (reference offset, scale, crop, flip) comes from a generator seeded by
(run seed, sample number), and the sampler's order from (run seed, epoch): a resumed run sees the very
batches it would have seen without the interruption, whatever the number of loader workers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from vkstream.data import VOID, Frame, SequenceDataset, open_dataset
from vkstream.models import FrameTargets, ModelConfig, build_targets
from vkstream.train.config import AugmentConfig, DataConfig, DataSource
from vkstream.train.errors import TrainingError


@dataclass
class LabelledImage:
    """The arrays a training sample needs from a frame (see vkstream.data.Frame for dtypes)."""

    image: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray
    depth: np.ndarray | None

    @classmethod
    def from_frame(cls, frame: Frame) -> LabelledImage:
        if frame.image is None or frame.semantic is None or frame.instance is None:
            where = frame.source or f"frame {frame.sequence}/{frame.index}"
            raise TrainingError(f"{where}: training needs an image and panoptic labels for every frame")
        return cls(frame.image, frame.semantic, frame.instance, frame.depth)


@dataclass(frozen=True)
class KeyFrame:
    source: int
    sequence: str
    position: int
    """Position of the frame in its sequence (0-based, file order)."""
    length: int
    """Frames in the sequence."""


def reference_position(key: int, offset: int, length: int) -> int:
    """Position of the reference frame: ``key + offset`` clamped to the sequence, as the reference does.

    Near a sequence's ends the clamp can land on the key itself (a static pair), which also teaches
    the association head that an object matches itself.
    """
    return min(max(key + offset, 0), length - 1)


def augment_pair(
    key: LabelledImage, ref: LabelledImage, cfg: AugmentConfig, rng: np.random.Generator
) -> tuple[LabelledImage, LabelledImage]:
    """Random resize, crop (padded with void where the image is smaller) and flip, the same for both.

    Depth is resized with nearest interpolation and its values are kept: a resized image is the same
    scene seen with a longer or shorter focal length, and every point is still as far away. Averaging
    depths across an object's edge would invent surfaces that do not exist.
    """
    if key.image.shape != ref.image.shape:
        raise TrainingError(f"frames of a pair differ in size: {key.image.shape} and {ref.image.shape}")
    height, width = key.image.shape[:2]
    scale = rng.uniform(*cfg.scale)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    crop_h, crop_w = cfg.crop
    top = int(rng.integers(0, max(size[1] - crop_h, 0) + 1))
    left = int(rng.integers(0, max(size[0] - crop_w, 0) + 1))
    flip = bool(rng.random() < cfg.flip)

    def one(frame: LabelledImage) -> LabelledImage:
        image_interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        arrays = {
            "image": (cv2.resize(frame.image, size, interpolation=image_interp), 0),
            "semantic": (cv2.resize(frame.semantic, size, interpolation=cv2.INTER_NEAREST), VOID),
            "instance": (cv2.resize(frame.instance, size, interpolation=cv2.INTER_NEAREST), 0),
        }
        if frame.depth is not None:
            arrays["depth"] = (cv2.resize(frame.depth, size, interpolation=cv2.INTER_NEAREST), 0)
        out = {}
        for name, (array, fill) in arrays.items():
            window = array[top : top + crop_h, left : left + crop_w]
            padded = np.full((crop_h, crop_w, *array.shape[2:]), fill, dtype=array.dtype)
            padded[: window.shape[0], : window.shape[1]] = window
            out[name] = np.ascontiguousarray(padded[:, ::-1]) if flip else padded
        return LabelledImage(out["image"], out["semantic"], out["instance"], out.get("depth"))

    return one(key), one(ref)


class FrameCache:
    """Decoded frames by (source, sequence, position), least recently used evicted beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._frames: OrderedDict[tuple[int, str, int], LabelledImage] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple[int, str, int]) -> LabelledImage | None:
        frame = self._frames.get(key)
        if frame is None:
            self.misses += 1
            return None
        self.hits += 1
        self._frames.move_to_end(key)
        return frame

    def put(self, key: tuple[int, str, int], frame: LabelledImage) -> None:
        if self.capacity == 0:
            return
        self._frames[key] = frame
        self._frames.move_to_end(key)
        while len(self._frames) > self.capacity:
            self._frames.popitem(last=False)

    def __len__(self) -> int:
        return len(self._frames)


def open_sources(sources: Sequence[DataSource]) -> list[tuple[SequenceDataset, list[str]]]:
    """Each source's dataset and the sequences to use from it; unknown sequences are an error."""
    opened = []
    for source in sources:
        layout = None if source.layout == "auto" else source.layout
        dataset = open_dataset(source.root, layout=layout, split=source.split)
        sequences = dataset.sequences if source.sequences is None else source.sequences
        missing = [name for name in sequences if name not in dataset.sequences]
        if missing:
            raise TrainingError(
                f"{source.root}: no sequence {', '.join(missing)} in split {source.split} "
                f"(found: {', '.join(dataset.sequences)})"
            )
        opened.append((dataset, list(sequences)))
    return opened


@dataclass
class PairSample:
    key_image: torch.Tensor
    key_targets: FrameTargets
    ref_image: torch.Tensor
    ref_targets: FrameTargets


@dataclass
class PairBatch:
    """Images are float32 [B,3,H,W] RGB in 0..1; targets one per image."""

    key_images: torch.Tensor
    key_targets: list[FrameTargets]
    ref_images: torch.Tensor
    ref_targets: list[FrameTargets]

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(
            self.key_images.to(device, non_blocking=True),
            [t.to(device) for t in self.key_targets],
            self.ref_images.to(device, non_blocking=True),
            [t.to(device) for t in self.ref_targets],
        )


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 RGB -> float32 [3,H,W] in 0..1."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


def frame_targets(frame: LabelledImage, cfg: ModelConfig) -> FrameTargets:
    depth = torch.from_numpy(frame.depth) if frame.depth is not None else None
    semantic = torch.from_numpy(frame.semantic.astype(np.int64))
    instance = torch.from_numpy(frame.instance.astype(np.int64))
    return build_targets(semantic, instance, depth, cfg)


class PairDataset(Dataset):
    """Key frames of labelled sequences; item ``(key index, sample number)`` -> an augmented pair."""

    def __init__(self, data: DataConfig, model: ModelConfig, seed: int) -> None:
        self.data = data
        self.model = model
        self.seed = seed
        self.sources = open_sources(data.train)
        self.keys = [
            KeyFrame(source, sequence, position, dataset.num_frames(sequence))
            for source, (dataset, sequences) in enumerate(self.sources)
            for sequence in sequences
            for position in range(dataset.num_frames(sequence))
        ]
        self.cache = FrameCache(data.cache_frames)
        for source, (dataset, sequences) in enumerate(self.sources):  # fail now, not hours in
            if not sequences:
                raise TrainingError(f"{dataset.root}: no sequences selected in split {dataset.split}")
            self._frame(source, sequences[0], 0)

    def __len__(self) -> int:
        return len(self.keys)

    def _frame(self, source: int, sequence: str, position: int) -> LabelledImage:
        cache_key = (source, sequence, position)
        frame = self.cache.get(cache_key)
        if frame is None:
            frame = LabelledImage.from_frame(self.sources[source][0].read_frame(sequence, position))
            self.cache.put(cache_key, frame)
        return frame

    def pair(self, index: int, sample_number: int) -> tuple[LabelledImage, LabelledImage, int]:
        """The augmented (key, reference) of key frame ``index`` and the reference's position."""
        rng = np.random.default_rng([self.seed, sample_number])
        key = self.keys[index]
        offset = int(rng.choice(self.data.ref_offsets))
        ref_position = reference_position(key.position, offset, key.length)
        key_frame = self._frame(key.source, key.sequence, key.position)
        ref_frame = self._frame(key.source, key.sequence, ref_position)
        return (*augment_pair(key_frame, ref_frame, self.data.augment, rng), ref_position)

    def __getitem__(self, item: tuple[int, int]) -> PairSample:
        key, ref, _ = self.pair(*item)
        return PairSample(
            image_tensor(key.image),
            frame_targets(key, self.model),
            image_tensor(ref.image),
            frame_targets(ref, self.model),
        )


class PairSampler(Sampler):
    """Endless (key index, sample number) from ``start`` on; each epoch a permutation seeded by its number."""

    def __init__(self, num_keys: int, seed: int, start: int = 0) -> None:
        self.num_keys = num_keys
        self.seed = seed
        self.start = start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        number = self.start
        epoch, order = -1, np.empty(0, dtype=np.int64)
        while True:
            this_epoch, position = divmod(number, self.num_keys)
            if this_epoch != epoch:
                epoch = this_epoch
                order = np.random.default_rng([self.seed, epoch]).permutation(self.num_keys)
            yield int(order[position]), number
            number += 1


def collate_pairs(samples: list[PairSample]) -> PairBatch:
    return PairBatch(
        torch.stack([s.key_image for s in samples]),
        [s.key_targets for s in samples],
        torch.stack([s.ref_image for s in samples]),
        [s.ref_targets for s in samples],
    )


def make_loader(dataset: PairDataset, batch_size: int, start_sample: int, pin_memory: bool) -> DataLoader:
    """An endless loader of PairBatch from sample number ``start_sample`` on."""
    workers = dataset.data.num_workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=PairSampler(len(dataset), dataset.seed, start_sample),
        collate_fn=collate_pairs,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
    )
