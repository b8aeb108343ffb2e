"""Every kind of bad file: strict modes name it, replay (skip) mode warns, counts it and goes on."""

import logging
import re

import numpy as np
import pytest

from vkstream.data import DatasetError, Intrinsics, make_writer, open_dataset, write_png

K = Intrinsics(700.0, 700.0, 32.0, 24.0)
LAYOUTS = ("kitti-step", "semkitti-dvps")


def image_path(root, layout, index):
    if layout == "kitti-step":
        return root / f"images/train/0004/{index:06d}.png"
    return root / f"video_sequence/train/000004_{index:06d}_leftImg8bit.png"


def label_path(root, layout, index):
    if layout == "kitti-step":
        return root / f"panoptic_maps/train/0004/{index:06d}.png"
    return root / f"video_sequence/train/000004_{index:06d}_gtFine_class.png"


def depth_path(root, layout, index):
    if layout == "kitti-step":
        return root / f"depth/train/0004/{index:06d}.png"
    return next(root.glob(f"video_sequence/train/000004_{index:06d}_depth_*.png"))


def write_sequence(root, layout, make_frame, n=3):
    writer = make_writer(layout, root, "train")
    for i in range(n):
        writer.write(make_frame(i, "4", i, intrinsics=K))


def wrong_label(path, layout, value=7, size=(48, 64)):
    semantic = np.full(size, value, np.uint8)
    if layout == "kitti-step":
        write_png(path, np.stack([semantic, semantic * 0, semantic * 0], -1))
    else:
        write_png(path, semantic)


def random_bytes(root, layout):
    path = image_path(root, layout, 1)
    path.write_bytes(np.random.default_rng(0).bytes(300))
    return path, "not a PNG"


def truncated(root, layout):
    path = label_path(root, layout, 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, "truncated PNG"


def label_size_differs(root, layout):
    path = label_path(root, layout, 1)
    wrong_label(path, layout, size=(24, 32))
    return path, "is 32x24 but"


def unknown_class(root, layout):
    path = label_path(root, layout, 1)
    wrong_label(path, layout, value=40)
    return path, r"unknown class ids \[40\]"


def depth_size_differs(root, layout):
    path = depth_path(root, layout, 1)
    write_png(path, np.zeros((48, 63), np.uint16))
    return path, "is 63x48 but"


def missing_label(root, layout):
    path = label_path(root, layout, 1)
    path.unlink()
    return path, "file not found"


CORRUPTIONS = [random_bytes, truncated, label_size_differs, unknown_class, depth_size_differs, missing_label]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_bad_frame(tmp_path, make_frame, caplog, layout, corrupt):
    write_sequence(tmp_path, layout, make_frame)
    path, reason = corrupt(tmp_path, layout)
    pattern = f"{re.escape(str(path))}: .*{reason}"

    with pytest.raises(DatasetError, match=pattern) as info:
        open_dataset(tmp_path, layout).scan()
    assert "\n" not in str(info.value)

    frames = open_dataset(tmp_path, layout).frames(open_dataset(tmp_path, layout).sequences[0])
    assert next(frames).index == 0
    with pytest.raises(DatasetError, match=pattern):
        next(frames)

    dataset = open_dataset(tmp_path, layout, on_error="skip")
    with caplog.at_level(logging.WARNING, logger="vkstream.data"):
        indices = [f.index for f in dataset]
    assert indices == [0, 2]
    assert dataset.skipped == 1
    (record,) = [r for r in caplog.records if r.name == "vkstream.data"]
    assert record.levelno == logging.WARNING and str(path) in record.getMessage()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_sequence_folder(tmp_path, make_frame, caplog, layout):
    write_sequence(tmp_path, layout, make_frame, n=1)
    if layout == "kitti-step":
        empty = tmp_path / "images/train/0005"
        empty.mkdir()
        with pytest.raises(DatasetError, match=f"{re.escape(str(empty))}: sequence folder holds no frames"):
            open_dataset(tmp_path)
        with caplog.at_level(logging.WARNING, logger="vkstream.data"):
            dataset = open_dataset(tmp_path, on_error="skip")
        assert dataset.sequences == ["0004"] and str(empty) in caplog.text
        with pytest.raises(DatasetError, match="holds no frames"):
            dataset.scan()
    else:
        for path in (tmp_path / "video_sequence/train").iterdir():
            path.unlink()
        with pytest.raises(
            DatasetError, match=r"video_sequence/train: no semkitti-dvps sequences with frames"
        ):
            open_dataset(tmp_path, on_error="skip")


def test_empty_tracking_sequence_in_raw_layout(tmp_path, caplog):
    write_png(tmp_path / "image_02/0000/000000.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "image_02/0001").mkdir()
    with pytest.raises(DatasetError, match=r"image_02/0001: sequence folder holds no frames"):
        open_dataset(tmp_path)
    assert open_dataset(tmp_path, on_error="skip").sequences == ["0000"]


@pytest.mark.parametrize(
    ("layout", "folder"),
    [("kitti-step", "images/val"), ("semkitti-dvps", "video_sequence/val"), ("kitti-raw", "image_02")],
)
def test_missing_split_folder(tmp_path, make_frame, layout, folder):
    write_sequence(tmp_path, "kitti-step", make_frame, n=1)
    (tmp_path / "video_sequence/train").mkdir(parents=True)
    with pytest.raises(DatasetError, match=f"{re.escape(str(tmp_path / folder))}: folder not found"):
        open_dataset(tmp_path, layout, split="val")


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match=f"{re.escape(str(tmp_path / 'nope'))}: dataset folder not found"):
        open_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="nope: dataset folder not found"):
        open_dataset(tmp_path / "nope", "kitti-step")


def test_unknown_layout(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DatasetError, match=r"no known dataset layout: looked for images/ .*video_sequence/"):
        open_dataset(tmp_path)
    with pytest.raises(ValueError, match="unknown layout 'coco'"):
        open_dataset(tmp_path, "coco")


def test_bad_on_error(tmp_path, make_frame):
    write_sequence(tmp_path, "kitti-step", make_frame, n=1)
    with pytest.raises(ValueError, match="on_error"):
        open_dataset(tmp_path, on_error="ignore")
