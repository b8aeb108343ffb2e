import numpy as np
import pytest

from vkstream.data import DatasetError, Intrinsics, read_kitti_calib, read_kitti_raw_calib, write_kitti_calib

OFFICIAL_0000 = """\
P0: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 0.000000000000e+00 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P1: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 -3.875744000000e+02 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P2: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 4.485728000000e+01 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 2.163791000000e-01 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 2.745884000000e-03
P3: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 -3.395242000000e+02 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 2.199936000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 2.729905000000e-03
R_rect 9.999239000000e-01 9.837760000000e-03 -7.445048000000e-03 -9.869795000000e-03 9.999421000000e-01 -4.278459000000e-03 7.402527000000e-03 4.351614000000e-03 9.999631000000e-01
Tr_velo_cam 7.533745000000e-03 -9.999714000000e-01 -6.166020000000e-04 -4.069766000000e-03 1.480249000000e-02 7.280733000000e-04 -9.998902000000e-01 -7.631618000000e-02 9.998621000000e-01 7.523790000000e-03 1.480755000000e-02 -2.717806000000e-01
Tr_imu_velo 9.999976000000e-01 7.553071000000e-04 -2.035826000000e-03 -8.086759000000e-01 -7.854027000000e-04 9.998898000000e-01 -1.482298000000e-02 3.195559000000e-01 2.024406000000e-03 1.482454000000e-02 9.998881000000e-01 -7.997231000000e-01
"""  # noqa: E501


def test_reads_official_tracking_calib(tmp_path):
    path = tmp_path / "0000.txt"
    path.write_text(OFFICIAL_0000)
    assert read_kitti_calib(path) == Intrinsics(721.5377, 721.5377, 609.5593, 172.854)


def test_round_trip_is_exact_and_official_style(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(20):
        k = Intrinsics(*(float(v) for v in rng.uniform(1.0, 2000.0, 4)))
        path = tmp_path / f"{i:04d}.txt"
        write_kitti_calib(path, k)
        assert read_kitti_calib(path) == k
    lines = path.read_text().splitlines()
    assert [line.split()[0] for line in lines] == [
        "P0:",
        "P1:",
        "P2:",
        "P3:",
        "R_rect",
        "Tr_velo_cam",
        "Tr_imu_velo",
    ]
    assert [len(line.split()) - 1 for line in lines] == [12, 12, 12, 12, 9, 12, 12]
    write_kitti_calib(path, Intrinsics(721.5377, 721.5377, 609.5593, 172.854))
    assert path.read_text().split()[1] == "7.215377000000e+02"


def test_malformed_calib_names_file_and_line(tmp_path):
    path = tmp_path / "0001.txt"
    path.write_text(OFFICIAL_0000.replace("P2: 7.215377000000e+02", "P2: seven"))
    with pytest.raises(DatasetError, match=r"0001.txt: line 3: P2 holds a value that is not a number"):
        read_kitti_calib(path)
    path.write_text("P0: 1 2 3\n")
    with pytest.raises(DatasetError, match=r"0001.txt: line 1: P0 needs 12 numbers, found 3"):
        read_kitti_calib(path)
    path.write_text(OFFICIAL_0000.splitlines()[0] + "\n")
    with pytest.raises(DatasetError, match=r"0001.txt: no P2 line"):
        read_kitti_calib(path)
    with pytest.raises(DatasetError, match=r"missing.txt: calibration file not found"):
        read_kitti_calib(tmp_path / "missing.txt")


def test_write_rejects_bad_intrinsics(tmp_path):
    with pytest.raises(ValueError, match=r"positive focal"):
        write_kitti_calib(tmp_path / "c.txt", Intrinsics(0.0, 1.0, 1.0, 1.0))


def test_reads_raw_cam_to_cam(tmp_path):
    path = tmp_path / "calib_cam_to_cam.txt"
    path.write_text(
        "calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\n"
        "S_02: 1.392000e+03 5.120000e+02\n"
        "P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 "
        "1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03\n"
    )
    assert read_kitti_raw_calib(path) == Intrinsics(721.5377, 721.5377, 609.5593, 172.854)
    with pytest.raises(DatasetError, match=r"no P_rect_03 line"):
        read_kitti_raw_calib(path, camera=3)
