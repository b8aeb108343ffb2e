import numpy as np
import pytest

from vkstream.data import PALETTE, Frame, TrainId, colorize_depth, colorize_panoptic, preview_strip


def test_panoptic_colours():
    semantic = np.full((48, 64), TrainId.ROAD, np.uint8)
    instance = np.zeros((48, 64), np.uint16)
    semantic[:, :8] = 255
    for k, inst in enumerate([1, 2, 3, 300]):  # four cars side by side
        semantic[10:30, 10 + 12 * k : 20 + 12 * k] = TrainId.CAR
        instance[10:30, 10 + 12 * k : 20 + 12 * k] = inst
    semantic[35:45, 20:30] = TrainId.CAR  # crowd: class colour
    rgb = colorize_panoptic(semantic, instance)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert not rgb[:, :8].any()
    assert tuple(rgb[0, 30]) == tuple(PALETTE[TrainId.ROAD])
    assert tuple(rgb[40, 25]) == tuple(PALETTE[TrainId.CAR])
    interiors = {tuple(rgb[20, 15 + 12 * k]) for k in range(4)}
    assert len(interiors) == 4 and tuple(PALETTE[TrainId.CAR]) not in interiors
    assert rgb[10, 15].sum() < rgb[20, 15].sum()  # darker rim
    np.testing.assert_array_equal(colorize_panoptic(semantic, instance), rgb)  # deterministic
    np.testing.assert_array_equal(colorize_panoptic(semantic), PALETTE[semantic])


def test_depth_colours():
    depth = np.array([[0.0, 1.0, 10.0, 79.0, 200.0, np.nan]], np.float32)
    rgb = colorize_depth(depth)
    assert rgb.shape == (1, 6, 3) and rgb.dtype == np.uint8
    assert not rgb[0, 0].any() and not rgb[0, 5].any()
    near, far = rgb[0, 1].astype(int), rgb[0, 3].astype(int)
    assert near[0] > near[2] and far[2] > far[0]
    np.testing.assert_array_equal(rgb[0, 4], colorize_depth(np.array([[80.0]]))[0, 0])
    with pytest.raises(ValueError):
        colorize_depth(np.zeros((2, 2, 1)))


def test_preview_strip(make_frame):
    frames = [make_frame(0, "0", 0), make_frame(1, "0", 1, depth=False), make_frame(2, "0", 2, image=False)]
    original = frames[0].image.copy()
    strip = preview_strip(frames, scale=0.5)
    assert strip.shape == (3 * 24, 3 * 32, 3) and strip.dtype == np.uint8
    assert (strip[24 + 20, 64 + 20] == 48).all()  # missing depth panel is dark grey
    assert (strip[48 + 20, 20] == 48).all()
    np.testing.assert_array_equal(frames[0].image, original)  # inputs untouched
    labels_only = Frame("0", 0, 0.0, semantic=np.zeros((10, 20), np.uint8))
    assert preview_strip([labels_only, frames[0]], scale=1.0).shape == (58, 192, 3)
    with pytest.raises(ValueError):
        preview_strip([])
