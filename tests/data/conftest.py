"""Shared builders for the data-layer tests: random but reproducible frames and an exact comparison."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vkstream.data import Frame, Intrinsics, quantize_depth

H, W = 48, 64


def random_frame(
    seed: int,
    sequence: str = "0000",
    index: int = 0,
    *,
    image: bool = True,
    labels: bool = True,
    depth: bool = True,
    intrinsics: Intrinsics | None = None,
    size: tuple[int, int] = (H, W),
) -> Frame:
    """A frame with every class, void, crowd and instance ids above 255 (to exercise G and B channels)."""
    rng = np.random.default_rng(seed)
    h, w = size
    semantic = instance = depth_map = None
    if labels:
        semantic = rng.choice(np.r_[np.arange(19), 255], size=(h, w)).astype(np.uint8)
        things = (semantic == 11) | (semantic == 13)
        instance = np.where(things, rng.choice([0, 1, 2, 300, 65535], size=(h, w)), 0).astype(np.uint16)
    if depth:
        depth_map = quantize_depth(np.where(rng.random((h, w)) < 0.2, 0.0, rng.uniform(0.5, 90.0, (h, w))))
    return Frame(
        sequence=sequence,
        index=index,
        timestamp=index / 10,
        image=rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if image else None,
        semantic=semantic,
        instance=instance,
        depth=depth_map,
        intrinsics=intrinsics,
    )


def assert_frames_equal(read: Frame, written: Frame, *, intrinsics: Intrinsics | None) -> None:
    assert (read.sequence, read.index) == (written.sequence, written.index)
    assert read.timestamp == pytest.approx(written.timestamp, abs=1e-12)
    for name in ("image", "semantic", "instance", "depth"):
        expected, actual = getattr(written, name), getattr(read, name)
        if expected is None:
            assert actual is None, name
        else:
            assert actual is not None, name
            assert actual.dtype == expected.dtype, name
            np.testing.assert_array_equal(actual, expected, err_msg=name)
    assert read.intrinsics == intrinsics
    assert read.source is not None and read.source.is_file()


@pytest.fixture
def make_frame() -> Callable[..., Frame]:
    return random_frame


@pytest.fixture
def frames_equal() -> Callable[..., None]:
    return assert_frames_equal
