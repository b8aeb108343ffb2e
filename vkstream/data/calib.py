"""KITTI calibration files: tracking ``calib/NNNN.txt`` and raw ``calib_cam_to_cam.txt``.

Only the left colour camera's intrinsics matter to vkstream (P2 / P_rect_02); the other entries are
written so that KITTI tools accept the files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from vkstream.data.errors import DatasetError
from vkstream.data.frame import Intrinsics
from vkstream.data.pngio import atomic_write

_TRACKING_SIZES = {"P0": 12, "P1": 12, "P2": 12, "P3": 12, "R_rect": 9, "Tr_velo_cam": 12, "Tr_imu_velo": 12}
# Nominal KITTI rig extrinsics (the tracking sequences vary by millimetres): velodyne -> camera 0 swaps
# axes (x fwd/y left/z up -> x right/y down/z fwd); imu -> velodyne is a translation.
_TR_VELO_CAM = ((0.0, -1.0, 0.0, -0.004069766), (0.0, 0.0, -1.0, -0.07631618), (1.0, 0.0, 0.0, -0.2717806))
_TR_IMU_VELO = ((1.0, 0.0, 0.0, -0.8086759), (0.0, 1.0, 0.0, 0.3195559), (0.0, 0.0, 1.0, -0.7997231))


def _read_lines(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line number, key without colon, value tokens) for every non-blank line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(path, "calibration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(path, f"cannot read calibration file ({exc})") from None
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if tokens:
            rows.append((lineno, tokens[0].rstrip(":"), tokens[1:]))
    return rows


def _numbers(path: Path, lineno: int, key: str, tokens: list[str], count: int | None) -> np.ndarray:
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise DatasetError(path, f"line {lineno}: {key} holds a value that is not a number") from None
    if count is not None and values.size != count:
        raise DatasetError(path, f"line {lineno}: {key} needs {count} numbers, found {values.size}")
    if not np.isfinite(values).all():
        raise DatasetError(path, f"line {lineno}: {key} holds a non-finite value")
    return values


def _intrinsics_from_projection(path: Path, lineno: int, key: str, values: np.ndarray) -> Intrinsics:
    p = values.reshape(3, 4)
    if p[0, 0] <= 0 or p[1, 1] <= 0:
        raise DatasetError(path, f"line {lineno}: {key} has a non-positive focal length")
    return Intrinsics(fx=float(p[0, 0]), fy=float(p[1, 1]), cx=float(p[0, 2]), cy=float(p[1, 2]))


def read_kitti_calib(path: str | os.PathLike[str]) -> Intrinsics:
    """Left colour camera intrinsics from a KITTI tracking calib file (its P2 line).

    Every line must be a key and numbers; the known keys must hold the right count.
    """
    path = Path(path)
    p2: Intrinsics | None = None
    for lineno, key, tokens in _read_lines(path):
        values = _numbers(path, lineno, key, tokens, _TRACKING_SIZES.get(key))
        if key == "P2":
            p2 = _intrinsics_from_projection(path, lineno, key, values)
    if p2 is None:
        raise DatasetError(path, "no P2 line (left colour camera projection)")
    return p2


def read_kitti_raw_calib(path: str | os.PathLike[str], camera: int = 2) -> Intrinsics:
    """Intrinsics of one camera (default: 2, left colour) from a KITTI raw ``calib_cam_to_cam.txt``."""
    path = Path(path)
    wanted = f"P_rect_{camera:02d}"
    for lineno, key, tokens in _read_lines(path):
        if key == wanted:
            return _intrinsics_from_projection(path, lineno, key, _numbers(path, lineno, key, tokens, 12))
    raise DatasetError(path, f"no {wanted} line")


def _fmt(value: float) -> str:
    """KITTI's ``%.12e`` style, with more digits only where needed to read back the same float."""
    text = f"{value:.12e}"
    return text if float(text) == value else f"{value:.16e}"


def write_kitti_calib(path: str | os.PathLike[str], intrinsics: Intrinsics) -> None:
    """Write a KITTI tracking calib file whose P2 holds ``intrinsics`` exactly.

    P0-P3 all get K with zero translation (vkstream uses one camera); R_rect is identity and the
    velodyne/IMU extrinsics are KITTI's nominal rig, so third-party KITTI tools can parse the file.
    """
    path = Path(path)
    values = [float(v) for v in (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy)]
    if not all(math.isfinite(v) for v in values) or values[0] <= 0 or values[1] <= 0:
        raise ValueError(f"{path}: intrinsics must be finite with positive focal lengths, got {intrinsics}")
    fx, fy, cx, cy = values
    projection = (fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0)
    rows = [(f"P{i}:", projection) for i in range(4)]
    rows.append(("R_rect", (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)))
    rows.append(("Tr_velo_cam", tuple(v for row in _TR_VELO_CAM for v in row)))
    rows.append(("Tr_imu_velo", tuple(v for row in _TR_IMU_VELO for v in row)))
    text = "".join(f"{key} {' '.join(_fmt(v) for v in nums)}\n" for key, nums in rows)
    atomic_write(path, text.encode("utf-8"))
