import re

import numpy as np
import pytest

from vkstream.data import (
    SEMKITTI_TO_TRAIN_ID,
    DatasetError,
    Intrinsics,
    SemKittiDvpsDataset,
    SemKittiDvpsWriter,
    open_dataset,
    write_png,
)

FOCAL = 718.8560180664062
K = Intrinsics(FOCAL, FOCAL, 32.0, 24.0)  # what the reader derives for 64x48 frames


def write_dataset(root, make_frame, sequences=("8", "1"), n=3, **kwargs):
    writer = SemKittiDvpsWriter(root, "val")
    frames = {}
    for s, seq in enumerate(sequences):
        frames[seq] = [make_frame(50 * s + i, seq, i, intrinsics=K, **kwargs) for i in range(n)]
        for frame in frames[seq]:
            writer.write(frame)
    return frames


def test_round_trip_with_official_names(tmp_path, make_frame, frames_equal):
    written = write_dataset(tmp_path, make_frame)
    folder = tmp_path / "video_sequence/val"
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("000008_000001"))
    assert names == [
        "000008_000001_depth_718.8560180664062.png",
        "000008_000001_gtFine_class.png",
        "000008_000001_gtFine_instance.png",
        "000008_000001_leftImg8bit.png",
    ]
    dataset = SemKittiDvpsDataset(tmp_path, "val")
    assert dataset.sequences == ["000001", "000008"]
    frames = list(dataset)
    assert [(f.sequence, f.index) for f in frames] == [(s, i) for s in ("000001", "000008") for i in range(3)]
    for frame in frames:
        source = written[str(int(frame.sequence))][frame.index]
        source.sequence = frame.sequence
        frames_equal(frame, source, intrinsics=K)


def test_intrinsics_assume_centred_principal_point(tmp_path, make_frame):
    writer = SemKittiDvpsWriter(tmp_path, "train")
    writer.write(make_frame(0, "3", 5, intrinsics=Intrinsics(700.0, 700.0, 1.0, 2.0), size=(30, 41)))
    (frame,) = SemKittiDvpsDataset(tmp_path)
    assert frame.intrinsics == Intrinsics(700.0, 700.0, 20.5, 15.0)
    assert frame.timestamp == 0.5


def test_rewrite_with_new_focal_replaces_depth_file(tmp_path, make_frame):
    writer = SemKittiDvpsWriter(tmp_path, "train")
    writer.write(make_frame(0, "3", 0, intrinsics=Intrinsics(700.0, 700.0, 32.0, 24.0)))
    writer.write(make_frame(0, "3", 0, intrinsics=K))
    depth_files = list((tmp_path / "video_sequence/train").glob("*_depth_*.png"))
    assert [p.name for p in depth_files] == [f"000003_000000_depth_{FOCAL!r}.png"]


def test_semkitti_label_space(tmp_path):
    folder = tmp_path / "video_sequence/val"
    raw = np.array([[0, 1, 5, 6], [8, 9, 15, 18], [255, 255, 10, 12]], np.uint8)
    instance = np.array([[1, 0, 2, 0], [0, 0, 0, 0], [0, 0, 0, 0]], np.uint8)  # the release's 8-bit PNGs
    write_png(folder / "000008_000000_gtFine_class.png", raw)
    write_png(folder / "000008_000000_gtFine_instance.png", instance)
    (official,) = SemKittiDvpsDataset(tmp_path, "val", label_space="semkitti")
    np.testing.assert_array_equal(official.semantic, SEMKITTI_TO_TRAIN_ID[raw])
    assert official.semantic[0].tolist() == [13, 18, 11, 12]
    assert official.instance.dtype == np.uint16 and official.instance[0, 2] == 2
    assert official.image is None and official.depth is None and official.intrinsics is None
    (ours,) = open_dataset(tmp_path, split="val")
    np.testing.assert_array_equal(ours.semantic, raw)
    with pytest.raises(ValueError, match="label_space"):
        SemKittiDvpsDataset(tmp_path, "val", label_space="cityscapes")


def test_semkitti_space_still_rejects_unknown_ids(tmp_path):
    write_png(tmp_path / "video_sequence/val/000008_000000_gtFine_class.png", np.full((4, 4), 19, np.uint8))
    with pytest.raises(DatasetError, match=r"gtFine_class.png: unknown class ids \[19\]"):
        list(SemKittiDvpsDataset(tmp_path, "val", label_space="semkitti"))


def test_prediction_folder_without_images(tmp_path, make_frame, frames_equal):
    written = write_dataset(tmp_path, make_frame, sequences=("8",), n=2, image=False)
    frames = list(open_dataset(tmp_path, "semkitti-dvps", "val"))
    for frame in frames:
        source = written["8"][frame.index]
        source.sequence = "000008"
        frames_equal(frame, source, intrinsics=K)


def test_missing_kind_in_one_frame(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame, sequences=("8",), n=3)
    next((tmp_path / "video_sequence/val").glob("000008_000001_depth_*.png")).unlink()
    with pytest.raises(DatasetError, match=r"000008_000001_depth_<focal>.png: file not found"):
        SemKittiDvpsDataset(tmp_path, "val").scan()


def test_bad_focal_in_name(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame, sequences=("8",), n=1)
    depth = next((tmp_path / "video_sequence/val").glob("*_depth_*.png"))
    depth.rename(depth.with_name("000008_000000_depth_abc.png"))
    with pytest.raises(
        DatasetError, match=r"000008_000000_depth_abc.png: depth file name lacks a positive focal"
    ):
        SemKittiDvpsDataset(tmp_path, "val").scan()


def test_scan(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame)
    summary = open_dataset(tmp_path, split="val").scan()
    assert summary.layout == "semkitti-dvps" and summary.num_frames == 6
    assert all(s.has_intrinsics and s.has_depth and s.has_labels for s in summary.sequences)
    assert "000008" in summary.format()


def test_instance_size_must_match_class(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame, sequences=("8",), n=1)
    path = tmp_path / "video_sequence/val/000008_000000_gtFine_instance.png"
    write_png(path, np.zeros((48, 60), np.uint16))
    with pytest.raises(
        DatasetError, match=f"{re.escape(str(path))}: is 60x48 but 000008_000000_gtFine_class.png is 64x48"
    ):
        SemKittiDvpsDataset(tmp_path, "val").scan()
