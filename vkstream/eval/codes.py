"""Segment codes: one small integer per (class, instance), so every count is a bincount.

The references key segments by ``class << 16 | instance`` (or ``class * max_ins + instance``) and
count them with ``np.unique`` or Python dicts. A sort or a dict per frame is too slow for scoring a
live stream, so each metric here maps pixels to a compact code space instead:

- ``[0, num_classes)``: the semantic class of a pixel whose class is not a thing class;
- ``VOID`` (= num_classes): ground-truth or predicted void, whatever its instance id;
- ``WRONG`` (= num_classes + 1): DVPQ's extra class for pixels whose depth is off;
- ``THING_BASE + instance * T + t``: a pixel of the t-th of T thing classes.

Instance-major thing codes keep the used range proportional to the largest instance id in a frame,
so the bincounts below stay small.

The mapping is a bijection on what the references distinguish (stuff instance ids are ignored, as
panoptic quality has one segment per stuff class), so identical counts come out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

INSTANCE_RANGE = 1 << 16
"""Instance ids are 16-bit in every KITTI layout (KITTI-STEP's G * 256 + B, DVPS's uint16 PNG)."""


class SegmentCodes:
    """Lookup tables from (train id, instance id) arrays to segment codes, and back to classes."""

    def __init__(self, num_classes: int, thing_ids: Iterable[int], void: int = 255) -> None:
        things = tuple(sorted({int(t) for t in thing_ids}))
        if not 0 < num_classes < 255:
            raise ValueError(f"num_classes must be between 1 and 254, got {num_classes}")
        if not 0 <= void <= 255 or void < num_classes:
            raise ValueError(f"the void label must be in [num_classes, 255], got {void}")
        if any(not 0 <= t < num_classes for t in things):
            raise ValueError(f"thing classes {things} must be class ids below {num_classes}")
        self.num_classes = num_classes
        self.thing_ids = things
        self.void_label = void
        self.VOID = num_classes
        self.WRONG = num_classes + 1
        self.THING_BASE = num_classes + 2
        self.size = self.THING_BASE + len(things) * INSTANCE_RANGE
        """Codes lie in [0, size)."""

        self.thing_index = np.full(256, -1, dtype=np.int64)
        """train id -> position in ``thing_ids``, or -1."""
        self.thing_index[list(things)] = np.arange(len(things))
        self.thing_class = np.array(things, dtype=np.int64)

    def thing_mask(self, semantic: np.ndarray) -> np.ndarray:
        """Where ``semantic`` holds a thing class (one vectorised comparison per thing class)."""
        mask = np.zeros(semantic.shape, dtype=bool)
        for thing in self.thing_ids:
            mask |= semantic == thing
        return mask

    def encode(self, semantic: np.ndarray, instance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat per-pixel codes made compact, and the segment code each compact code stands for.

        Compact codes below THING_BASE are the segment codes themselves; the frame's distinct thing
        segments get THING_BASE, THING_BASE + 1, ... so that pair counts stay small whatever the ids.
        """
        # Valid ids are below num_classes or void, so min() maps void to VOID without a lookup.
        compact = np.minimum(semantic.ravel(), self.VOID).astype(np.int32)
        things = np.flatnonzero(self.thing_mask(semantic))
        stuff_codes = np.arange(self.THING_BASE, dtype=np.int64)
        if not things.size:
            return compact, stuff_codes
        thing_codes = self.thing_codes(semantic.ravel()[things], instance.ravel()[things])
        distinct, rank = _ranks(thing_codes)
        compact[things] = self.THING_BASE + rank
        return compact, np.concatenate([stuff_codes, self.THING_BASE + distinct])

    def thing_codes(self, semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
        """Codes of thing-class pixels relative to THING_BASE (garbage for other pixels)."""
        return instance.astype(np.intp) * len(self.thing_ids) + self.thing_index[semantic]

    def classes_of(self, codes: np.ndarray) -> np.ndarray:
        """Class index of each code: a class id, VOID or WRONG."""
        codes = np.asarray(codes, dtype=np.int64)
        thing = codes >= self.THING_BASE
        out = codes.copy()
        out[thing] = self.thing_class[(codes[thing] - self.THING_BASE) % len(self.thing_ids)]
        return out

    def is_crowd(self, codes: np.ndarray) -> np.ndarray:
        """Whether each code is a thing class with instance 0 (KITTI-STEP's crowd: no track)."""
        codes = np.asarray(codes, dtype=np.int64)
        return (codes >= self.THING_BASE) & (codes - self.THING_BASE < len(self.thing_ids))


_DIRECT_PAIR_RANGE = 1 << 16
"""Joint key ranges up to this (or up to the number of keys) are counted directly; beyond, keys are ranked."""


def pair_counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Co-occurrence counts of two aligned non-negative key arrays: (a keys, b keys, counts), nonzero only."""
    if not a.size:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    b_range = int(b.max()) + 1
    if (int(a.max()) + 1) * b_range <= max(_DIRECT_PAIR_RANGE, a.size):
        joint = np.bincount(a.astype(np.intp) * b_range + b)
        nonzero = np.flatnonzero(joint)
        return nonzero // b_range, nonzero % b_range, joint[nonzero]
    # Large ids (e.g. long-lived track ids): rank the keys present first so the joint range is small.
    a_keys, a_pos = _ranks(a)
    b_keys, b_pos = _ranks(b)
    joint = np.bincount(a_pos * b_keys.size + b_pos, minlength=a_keys.size * b_keys.size)
    nonzero = np.flatnonzero(joint)
    return a_keys[nonzero // b_keys.size], b_keys[nonzero % b_keys.size], joint[nonzero]


def _ranks(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys ascending, each element's rank among them)."""
    present = np.bincount(keys)
    distinct = np.flatnonzero(present)
    lookup = np.empty(present.size, dtype=np.intp)
    lookup[distinct] = np.arange(distinct.size)
    return distinct, lookup[keys]


class SparseCounts:
    """Counts keyed by int64, accumulated as chunks and summed lazily (vectorised, mergeable, picklable)."""

    _COMPACT_AFTER = 64

    def __init__(self) -> None:
        self._keys: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def add(self, keys: np.ndarray, counts: np.ndarray) -> None:
        if keys.size:
            self._keys.append(np.asarray(keys, dtype=np.int64))
            self._counts.append(np.asarray(counts, dtype=np.int64))
        if len(self._keys) > self._COMPACT_AFTER:
            self._compact()

    def merge(self, other: SparseCounts) -> None:
        self._keys.extend(other._keys)
        self._counts.extend(other._counts)
        self._compact()

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct keys ascending, summed counts)."""
        self._compact()
        if not self._keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return self._keys[0], self._counts[0]

    def _compact(self) -> None:
        if len(self._keys) <= 1:
            return
        keys, inverse = np.unique(np.concatenate(self._keys), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate(self._counts), minlength=keys.size)
        self._keys, self._counts = [keys], [counts.astype(np.int64)]


def sum_by_key(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys ascending, sum of the values of each)."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    return distinct, np.bincount(inverse, weights=values, minlength=distinct.size)
