"""Strict PNG reading and atomic PNG writing.

Datasets copied from robots or half-synced disks hold truncated and mislabelled files; OpenCV
sometimes decodes a truncated PNG partially without error, so the bytes are checked first.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from vkstream.data.errors import DatasetError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IEND = b"IEND\xaeB`\x82"  # chunk type + its fixed CRC; the last chunk of every complete PNG
_EXPECT = {
    "rgb": (3, np.uint8, "an 8-bit RGB image"),
    "gray8": (2, np.uint8, "an 8-bit single-channel image"),
    "gray16": (2, np.uint16, "a 16-bit single-channel image"),
}
PngKind = Literal["rgb", "gray8", "gray16", "any"]


def _describe(array: np.ndarray) -> str:
    channels = 1 if array.ndim == 2 else array.shape[2]
    return f"{channels}-channel {array.dtype.itemsize * 8}-bit"


def read_png(path: str | os.PathLike[str], *, expect: PngKind) -> np.ndarray:
    """Read a PNG and check it is complete and of the expected kind.

    ``expect`` is "rgb" (HxWx3 uint8, returned in RGB order), "gray8" (HxW uint8), "gray16" (HxW
    uint16) or "any" (as stored; colour images in RGB/RGBA order). Any problem raises a DatasetError
    naming the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(path, "file not found") from None
    except OSError as exc:
        raise DatasetError(path, f"cannot read file ({exc.strerror or exc})") from None
    if not data.startswith(PNG_SIGNATURE):
        raise DatasetError(path, "not a PNG file (bad signature)")
    if data.rfind(_IEND) < 0:
        raise DatasetError(path, f"truncated PNG (no IEND chunk; {len(data)} bytes)")
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise DatasetError(path, "PNG data cannot be decoded")
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    if expect == "any":
        return array
    ndim, dtype, wanted = _EXPECT[expect]
    if array.ndim != ndim or array.dtype != dtype:
        raise DatasetError(path, f"expected {wanted}, found a {_describe(array)} image")
    return array


def write_png(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write an HxW or HxWx{3,4} uint8/uint16 array (colour in RGB order) as PNG.

    Creates parent folders and writes through a temporary file renamed into place, so a reader
    never sees a half-written file. Compression level 1: PNG size barely improves above it while
    encoding time grows several-fold.
    """
    path = Path(path)
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: PNG arrays must be uint8 or uint16, got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))) or array.size == 0:
        raise ValueError(f"{path}: PNG arrays must be HxW, HxWx3 or HxWx4, got shape {array.shape}")
    if array.ndim == 3:
        code = cv2.COLOR_RGB2BGR if array.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        array = cv2.cvtColor(np.ascontiguousarray(array), code)
    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write(path, encoded.tobytes())


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a hidden temporary file in the same folder and rename it into place (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
