"""Training pairs: reference offsets and clamping, augmentation alignment, caching, sampling, batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vkstream.data import PALETTE, VOID
from vkstream.train.config import AugmentConfig
from vkstream.train.pairs import (
    FrameCache,
    LabelledImage,
    PairDataset,
    PairSampler,
    augment_pair,
    make_loader,
    reference_position,
)

HEIGHT, WIDTH, TRAIN_FRAMES = 64, 96, 6  # the session's synthetic dataset (conftest)


@pytest.mark.parametrize(
    ("key", "offset", "length", "expected"),
    [(3, -2, 6, 1), (3, 2, 6, 5), (0, -1, 6, 0), (1, -2, 6, 0), (5, 1, 6, 5), (4, 2, 6, 5), (0, 2, 1, 0)],
)
def test_reference_position_is_clamped_to_the_sequence(
    key: int, offset: int, length: int, expected: int
) -> None:
    assert reference_position(key, offset, length) == expected


def test_pairs_use_the_configured_offsets_and_are_reproducible(synth_root: Path, tiny_config) -> None:
    cfg = tiny_config(synth_root)
    dataset = PairDataset(cfg.data, cfg.model, seed=5)
    assert len(dataset) == 2 * TRAIN_FRAMES
    middle = next(i for i, k in enumerate(dataset.keys) if k.position == 2)
    offsets = {dataset.pair(middle, n)[2] - 2 for n in range(40)}
    assert offsets == {-2, -1, 1, 2}
    first = next(i for i, k in enumerate(dataset.keys) if k.position == 0)
    assert {dataset.pair(first, n)[2] for n in range(40)} == {0, 1, 2}  # -1, -2 clamp to frame 0
    a, b = dataset.pair(middle, 7)[:2], dataset.pair(middle, 7)[:2]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.semantic, y.semantic)


def _blocks(seed: int, height: int = 48, width: int = 80, block: int = 8) -> LabelledImage:
    """Blocks of one class, instance and depth each, coloured with the class colour."""
    rng = np.random.default_rng(seed)
    grid = (height // block, width // block)
    classes = rng.integers(0, 19, grid).astype(np.uint8)
    semantic = np.kron(classes, np.ones((block, block), dtype=np.uint8))
    ids = np.arange(grid[0] * grid[1], dtype=np.uint16).reshape(grid) + 1
    instance = np.kron(ids, np.ones((block, block), dtype=np.uint16))
    depth = instance.astype(np.float32) * 0.5
    return LabelledImage(PALETTE[semantic].copy(), semantic, instance, depth)


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_image_labels_and_depth_aligned(seed: int) -> None:
    key = _blocks(0)
    ref = LabelledImage(key.image[..., ::-1].copy(), key.semantic, key.instance, key.depth)  # other image
    cfg = AugmentConfig(scale=(0.6, 1.8), crop=(40, 64), flip=0.5)
    out_key, out_ref = augment_pair(key, ref, cfg, np.random.default_rng(seed))
    for out in (out_key, out_ref):
        assert out.image.shape == (40, 64, 3) and out.image.dtype == np.uint8
        assert out.semantic.shape == out.instance.shape == out.depth.shape == (40, 64)
    # the same geometry for both frames: identical label maps
    np.testing.assert_array_equal(out_key.semantic, out_ref.semantic)
    np.testing.assert_array_equal(out_key.instance, out_ref.instance)
    # labels, instances and depth stay exactly consistent (nearest) and depth values are unchanged
    labelled = out_key.semantic != VOID
    np.testing.assert_array_equal(out_key.depth[labelled], out_key.instance[labelled] * 0.5)
    np.testing.assert_array_equal(out_key.depth[~labelled], 0)
    # the image agrees with its labels away from block edges (bilinear blends only the edges)
    agree = np.all(out_key.image == PALETTE[out_key.semantic], axis=-1)[labelled]
    assert agree.mean() > 0.6


def test_flip_and_padding_are_exact() -> None:
    frame = _blocks(1, height=48, width=80)
    flipped, _ = augment_pair(
        frame, frame, AugmentConfig(scale=(1, 1), crop=(48, 80), flip=1.0), np.random.default_rng(0)
    )
    np.testing.assert_array_equal(flipped.image, frame.image[:, ::-1])
    np.testing.assert_array_equal(flipped.semantic, frame.semantic[:, ::-1])
    np.testing.assert_array_equal(flipped.depth, frame.depth[:, ::-1])

    padded, _ = augment_pair(
        frame, frame, AugmentConfig(scale=(0.5, 0.5), crop=(40, 64), flip=0.0), np.random.default_rng(0)
    )
    np.testing.assert_array_equal(padded.semantic[:24, :40], frame.semantic[::2, ::2])
    assert (padded.semantic[24:] == VOID).all() and (padded.semantic[:, 40:] == VOID).all()
    assert (padded.instance[24:] == 0).all() and (padded.depth[:, 40:] == 0).all()
    assert (padded.image[24:] == 0).all()


def test_frame_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    cache = FrameCache(2)
    frames = [_blocks(i, 16, 16) for i in range(3)]
    cache.put((0, "a", 0), frames[0])
    cache.put((0, "a", 1), frames[1])
    assert cache.get((0, "a", 0)) is frames[0]  # now the most recent
    cache.put((0, "a", 2), frames[2])
    assert len(cache) == 2 and cache.get((0, "a", 1)) is None and cache.get((0, "a", 0)) is frames[0]
    assert (cache.hits, cache.misses) == (2, 1)
    empty = FrameCache(0)
    empty.put((0, "a", 0), frames[0])
    assert len(empty) == 0


def test_the_dataset_decodes_each_frame_once_with_a_cache(synth_root: Path, tiny_config) -> None:
    cfg = tiny_config(synth_root)
    dataset = PairDataset(cfg.data, cfg.model, seed=0)
    for number in range(60):
        dataset.pair(number % len(dataset), number)
    assert dataset.cache.misses == len(dataset)  # 12 frames in all, each decoded once


def test_the_sampler_is_a_permutation_per_epoch_and_resumes_mid_stream() -> None:
    stream = PairSampler(5, seed=3)
    first = [item for _, item in zip(range(12), stream, strict=False)]
    assert [number for _, number in first] == list(range(12))
    assert sorted(i for i, _ in first[:5]) == sorted(i for i, _ in first[5:10]) == list(range(5))
    assert [i for i, _ in first[:5]] != [i for i, _ in first[5:10]]
    resumed = [item for _, item in zip(range(5), PairSampler(5, seed=3, start=7), strict=False)]
    assert resumed == first[7:12]


def test_the_loader_batches_images_and_targets(synth_root: Path, tiny_config) -> None:
    cfg = tiny_config(synth_root)
    dataset = PairDataset(cfg.data, cfg.model, seed=0)
    batch = next(iter(make_loader(dataset, batch_size=2, start_sample=0, pin_memory=False)))
    assert batch.key_images.shape == batch.ref_images.shape == (2, 3, HEIGHT, WIDTH)
    assert batch.key_images.dtype.is_floating_point and float(batch.key_images.min()) >= 0
    assert float(batch.key_images.max()) <= 1
    assert len(batch.key_targets) == len(batch.ref_targets) == 2
    for targets in batch.key_targets + batch.ref_targets:
        assert targets.masks.shape[1:] == targets.semantic.shape == (HEIGHT, WIDTH)
        assert len(targets.labels) == len(targets.masks) > 0
