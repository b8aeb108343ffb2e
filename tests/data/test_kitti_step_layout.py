import cv2
import numpy as np
import pytest

from vkstream.data import (
    DatasetError,
    Intrinsics,
    KittiStepDataset,
    KittiStepWriter,
    open_dataset,
    write_png,
)

K = Intrinsics(fx=721.5377, fy=719.25, cx=31.75, cy=23.5)


def write_dataset(root, make_frame, sequences=("0003", "0001"), n=3, **kwargs):
    writer = KittiStepWriter(root, "val")
    frames = {}
    for s, seq in enumerate(sequences):
        frames[seq] = [make_frame(100 * s + i, seq, i, intrinsics=K, **kwargs) for i in range(n)]
        for frame in reversed(frames[seq]):  # write order must not matter
            writer.write(frame)
    return frames


def test_round_trip(tmp_path, make_frame, frames_equal):
    written = write_dataset(tmp_path, make_frame)
    assert (tmp_path / "images/val/0003/000002.png").is_file()
    assert (tmp_path / "panoptic_maps/val/0001/000000.png").is_file()
    assert (tmp_path / "calib/val/0003.txt").is_file()
    dataset = KittiStepDataset(tmp_path, "val")
    assert dataset.sequences == ["0001", "0003"]
    assert dataset.num_frames("0003") == 3 and len(dataset) == 6
    frames = list(dataset)
    assert [(f.sequence, f.index) for f in frames] == [(s, i) for s in ("0001", "0003") for i in range(3)]
    for frame in frames:
        frames_equal(frame, written[frame.sequence][frame.index], intrinsics=K)
    assert [f.timestamp for f in dataset.frames("0001")] == [0.0, 0.1, 0.2]


def test_panoptic_map_encoding_is_official(tmp_path, make_frame):
    frame = write_dataset(tmp_path, make_frame, sequences=("7",), n=1)["7"][0]
    bgr = cv2.imread(str(tmp_path / "panoptic_maps/val/0007/000000.png"), cv2.IMREAD_UNCHANGED)
    rgb = bgr[..., ::-1].astype(np.int64)
    np.testing.assert_array_equal(rgb[..., 0], frame.semantic)
    np.testing.assert_array_equal(rgb[..., 1] * 256 + rgb[..., 2], frame.instance)


def test_prediction_folder_without_images(tmp_path, make_frame, frames_equal):
    writer = KittiStepWriter(tmp_path, "val")
    written = [make_frame(i, "0002", i, image=False, depth=False) for i in range(2)]
    for frame in written:
        writer.write(frame)
    assert open_dataset(tmp_path, split="val").layout == "kitti-step"
    frames = list(KittiStepDataset(tmp_path, "val"))
    assert len(frames) == 2
    for read, frame in zip(frames, written, strict=True):
        frames_equal(read, frame, intrinsics=None)


def test_images_only_split_has_no_labels(tmp_path, make_frame, frames_equal):
    writer = KittiStepWriter(tmp_path, "test")
    written = make_frame(1, "0000", 0, labels=False, depth=False)
    writer.write(written)
    (frame,) = KittiStepDataset(tmp_path, "test")
    frames_equal(frame, written, intrinsics=None)


def test_scan_summarises(tmp_path, make_frame):
    written = write_dataset(tmp_path, make_frame)
    summary = KittiStepDataset(tmp_path, "val").scan()
    assert (summary.layout, summary.split, summary.num_frames) == ("kitti-step", "val", 6)
    seq = summary.sequences[1]
    assert (seq.name, seq.num_frames, seq.sizes) == ("0003", 3, ((48, 64),))
    assert seq.has_images and seq.has_labels and seq.has_depth and seq.has_intrinsics
    frames = written["0003"]
    assert seq.class_ids == frozenset(int(c) for f in frames for c in np.unique(f.semantic) if c != 255)
    tracks = {
        (int(c), int(i)) for f in frames for c, i in zip(f.semantic.ravel(), f.instance.ravel(), strict=True)
    }
    assert seq.num_tracks == len({t for t in tracks if t[1] > 0})
    depths = np.concatenate([f.depth[f.depth > 0] for f in frames])
    assert seq.depth_range == (float(depths.min()), float(depths.max()))
    text = summary.format()
    assert "0003" in text and "64x48" in text and "kitti-step" in text and len(text.splitlines()) >= 4


def test_partial_depth_folder_requires_every_frame(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame, sequences=("0000",))
    (tmp_path / "depth/val/0000/000001.png").unlink()
    with pytest.raises(DatasetError, match=r"depth/val/0000/000001.png: file not found"):
        KittiStepDataset(tmp_path, "val").scan()


def test_orphan_label_is_reported(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame, sequences=("0000",), n=2)
    (tmp_path / "images/val/0000/000001.png").unlink()
    with pytest.raises(DatasetError, match=r"panoptic_maps/val/0000/000001.png: label has no matching image"):
        KittiStepDataset(tmp_path, "val")
    dataset = KittiStepDataset(tmp_path, "val", on_error="skip")
    assert len(list(dataset)) == 1
    with pytest.raises(DatasetError, match="label has no matching image"):
        dataset.scan()


def test_broken_calib(tmp_path, make_frame, caplog):
    write_dataset(tmp_path, make_frame, sequences=("0000",), n=2)
    (tmp_path / "calib/val/0000.txt").write_text("P2: 1 2\n")
    with pytest.raises(DatasetError, match=r"calib/val/0000.txt: line 1: P2 needs 12 numbers"):
        list(KittiStepDataset(tmp_path, "val"))
    frames = list(KittiStepDataset(tmp_path, "val", on_error="skip"))
    assert [f.intrinsics for f in frames] == [None, None]
    assert "0000.txt" in caplog.text


def test_unknown_sequence(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame, sequences=("0000",), n=1)
    with pytest.raises(KeyError, match="0009"):
        KittiStepDataset(tmp_path, "val").num_frames("0009")


def test_ignores_unrelated_files(tmp_path, make_frame):
    write_dataset(tmp_path, make_frame, sequences=("0000",), n=2)
    (tmp_path / "images/val/0000/notes.txt").write_text("x")
    write_png(tmp_path / "images/val/0000/thumb.png", np.zeros((4, 4, 3), np.uint8))
    assert KittiStepDataset(tmp_path, "val").num_frames("0000") == 2
