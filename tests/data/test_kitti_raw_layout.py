import numpy as np
import pytest

from vkstream.data import (
    DatasetError,
    Intrinsics,
    KittiRawDataset,
    open_dataset,
    read_kitti_timestamps,
    write_kitti_calib,
    write_png,
)

K = Intrinsics(721.5377, 721.5377, 609.5593, 172.854)


def image(seed):
    return np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)


def make_tracking(training):
    for seq, n in (("0001", 2), ("0000", 3)):
        for i in range(n):
            write_png(training / "image_02" / seq / f"{i:06d}.png", image(10 * int(seq) + i))
    write_kitti_calib(training / "calib/0000.txt", K)


@pytest.mark.parametrize("use_parent", [False, True])
def test_tracking_layout(tmp_path, use_parent):
    make_tracking(tmp_path / "training")
    dataset = (
        open_dataset(tmp_path, split="training")
        if use_parent
        else KittiRawDataset(tmp_path / "training", split="ignored")
    )
    assert dataset.layout == "kitti-raw" and dataset.sequences == ["0000", "0001"]
    frames = list(dataset)
    assert [(f.sequence, f.index, f.timestamp) for f in frames] == [
        ("0000", 0, 0.0),
        ("0000", 1, 0.1),
        ("0000", 2, 0.2),
        ("0001", 0, 0.0),
        ("0001", 1, 0.1),
    ]
    np.testing.assert_array_equal(frames[4].image, image(11))
    assert frames[0].intrinsics == K and frames[3].intrinsics is None
    assert frames[0].semantic is None and frames[0].depth is None


TIMESTAMPS = """\
2011-09-26 23:59:59.900000001
2011-09-26 23:59:59.999999999
2011-09-27 00:00:00.103651622
"""


def make_drive(tmp_path):
    drive = tmp_path / "2011_09_26" / "2011_09_26_drive_0001_sync"
    for i in range(3):
        write_png(drive / "image_02/data" / f"{i:010d}.png", image(i))
    (drive / "image_02/timestamps.txt").write_text(TIMESTAMPS)
    (tmp_path / "2011_09_26/calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\n"
        "P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 "
        "1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03\n"
    )
    return drive


def test_timestamps_are_nanosecond_precise(tmp_path):
    path = tmp_path / "timestamps.txt"
    path.write_text(TIMESTAMPS)
    times = read_kitti_timestamps(path)
    assert times[0] == 0.0
    assert times[1] == pytest.approx(0.099999998, abs=1e-12)
    assert times[2] == pytest.approx(0.203651621, abs=1e-12)
    path.write_text("2011-09-26 13:02:25.964389445\nyesterday\n")
    with pytest.raises(DatasetError, match=r"timestamps.txt: line 2: not a"):
        read_kitti_timestamps(path)


def test_raw_drive(tmp_path):
    drive = make_drive(tmp_path)
    dataset = open_dataset(drive)
    assert dataset.layout == "kitti-raw" and dataset.sequences == ["2011_09_26_drive_0001_sync"]
    frames = list(dataset)
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.099999998, 0.203651621], abs=1e-12)
    assert all(f.intrinsics == K for f in frames)
    np.testing.assert_array_equal(frames[2].image, image(2))
    summary = dataset.scan()
    assert summary.sequences[0].num_frames == 3 and not summary.sequences[0].has_labels


def test_raw_drive_with_short_timestamps(tmp_path, caplog):
    drive = make_drive(tmp_path)
    (drive / "image_02/timestamps.txt").write_text(TIMESTAMPS.splitlines()[0] + "\n")
    with pytest.raises(DatasetError, match=r"timestamps.txt: 1 timestamps for frame numbers up to 2"):
        KittiRawDataset(drive)
    dataset = KittiRawDataset(drive, on_error="skip")
    assert [f.timestamp for f in dataset] == [0.0, 0.1, 0.2]
    assert "timestamps.txt" in caplog.text


def test_missing_image_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"image_02: folder not found"):
        KittiRawDataset(tmp_path)
