"""Array encoding of the wire format: ``{dtype, shape, codec, data}`` maps with four codecs.

Every codec is lossless. Decoding checks sizes before allocating, so a hostile or corrupt message
cannot make a subscriber decompress more than its declared shape.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Literal, get_args

import numpy as np

from vkstream.client.errors import MalformedMessage

Codec = Literal["raw", "zstd", "lz4", "png"]
CODECS: tuple[str, ...] = get_args(Codec)
DEFAULT_LEVELS: dict[str, int] = {"raw": 0, "zstd": 1, "lz4": 0, "png": 1}
"""Compression level per codec when none is given: the fast end, since latency matters more than bytes."""

MAX_ARRAY_BYTES = 1 << 30
"""Largest decoded array a subscriber accepts (1 GiB), whatever a message declares."""
_DTYPE_KINDS = frozenset("biuf")
_PNG_DTYPES = {"|u1", "<u2", "<u4", "<f2"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}
"""PNG colour type (IHDR) per channel count: grey, RGB, RGBA."""


def encode_array(array: np.ndarray, codec: Codec = "raw", level: int | None = None) -> dict[str, Any]:
    """The wire map of ``array``: little-endian C-order bytes, compressed by ``codec``."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: expected one of {', '.join(CODECS)}")
    if array.dtype.kind not in _DTYPE_KINDS:
        raise ValueError(f"arrays of dtype {array.dtype} cannot be sent: use bool, int, uint or float")
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    dtype = little.dtype.str
    level = DEFAULT_LEVELS[codec] if level is None else level
    if codec == "raw":
        data: bytes = little.tobytes()
    elif codec == "zstd":
        data = _zstd().ZstdCompressor(level=level, write_content_size=True).compress(little)
    elif codec == "lz4":
        data = _lz4_frame().compress(little, compression_level=level, store_size=True)
    else:
        data = _png_encode(little, level)
    return {"dtype": dtype, "shape": list(little.shape), "codec": codec, "data": data}


def decode_array(obj: object, name: str = "array") -> np.ndarray:
    """The array of a wire map; every problem raises :class:`MalformedMessage` naming ``name``."""
    if not isinstance(obj, dict):
        raise MalformedMessage(f"{name}: expected an array map, got {type(obj).__name__}")
    missing = [key for key in ("dtype", "shape", "codec", "data") if key not in obj]
    if missing:
        raise MalformedMessage(f"{name}: array map lacks {', '.join(missing)}")
    dtype = _dtype(obj["dtype"], name)
    shape = _shape(obj["shape"], name)
    codec, data = obj["codec"], obj["data"]
    if not isinstance(data, bytes):
        raise MalformedMessage(f"{name}: data must be bin, got {type(data).__name__}")
    expected = dtype.itemsize * math.prod(shape)  # Python ints: a hostile shape cannot overflow
    if expected > MAX_ARRAY_BYTES:
        raise MalformedMessage(f"{name}: declared size {expected} bytes exceeds {MAX_ARRAY_BYTES}")
    if codec == "raw":
        raw = data
    elif codec == "zstd":
        raw = _zstd_decode(data, expected, name)
    elif codec == "lz4":
        raw = _lz4_decode(data, expected, name)
    elif codec == "png":
        return _png_decode(data, dtype, shape, name)
    else:
        raise MalformedMessage(f"{name}: unknown codec {codec!r} (expected one of {', '.join(CODECS)})")
    if len(raw) != expected:
        raise MalformedMessage(
            f"{name}: {len(raw)} bytes of data for shape {list(shape)} of {dtype.str} ({expected} bytes)"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _dtype(text: object, name: str) -> np.dtype:
    if not isinstance(text, str) or len(text) < 3 or text[0] not in "<|" or text[1] not in _DTYPE_KINDS:
        raise MalformedMessage(f"{name}: dtype {text!r} is not a little-endian numeric dtype such as '<u4'")
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise MalformedMessage(f"{name}: dtype {text!r} is not a numpy dtype") from None
    if dtype.str != text:
        raise MalformedMessage(f"{name}: dtype {text!r} is not in canonical form ({dtype.str!r})")
    return dtype


def _shape(shape: object, name: str) -> tuple[int, ...]:
    if (
        not isinstance(shape, list)
        or len(shape) > 8
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise MalformedMessage(f"{name}: shape must be a list of at most 8 non-negative ints, got {shape!r}")
    if any(n > MAX_ARRAY_BYTES for n in shape):  # an empty array may not declare one either
        raise MalformedMessage(f"{name}: shape {shape!r} has a dimension over {MAX_ARRAY_BYTES}")
    return tuple(shape)


def _zstd():  # imported on first use: a planner using only raw or lz4 never loads it
    import zstandard

    return zstandard


def _lz4_frame():
    import lz4.frame

    return lz4.frame


def _zstd_decode(data: bytes, expected: int, name: str) -> bytes:
    zstandard = _zstd()
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError:
        raise MalformedMessage(f"{name}: data is not a zstd frame") from None
    if declared not in (expected, zstandard.CONTENTSIZE_UNKNOWN):
        raise MalformedMessage(f"{name}: zstd frame holds {declared} bytes, the shape needs {expected}")
    try:
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=expected)
    except zstandard.ZstdError as exc:
        raise MalformedMessage(f"{name}: zstd data does not decompress ({exc})") from None


def _lz4_decode(data: bytes, expected: int, name: str) -> bytes:
    lz4_frame = _lz4_frame()
    decompressor = lz4_frame.LZ4FrameDecompressor()
    try:
        raw = decompressor.decompress(data, max_length=expected)
    except RuntimeError as exc:  # lz4 reports corrupt frames as RuntimeError
        raise MalformedMessage(f"{name}: lz4 data does not decompress ({exc})") from None
    if not decompressor.eof:
        raise MalformedMessage(f"{name}: lz4 frame is truncated or larger than the shape's {expected} bytes")
    return raw


def _png_encode(array: np.ndarray, level: int) -> bytes:
    """PNG layouts: u1 -> 8-bit grey, u2 -> 16-bit grey, f2 -> 16-bit grey of the binary16 bit patterns,
    u4 -> 8-bit RGBA holding the value's bytes most significant first (R = bits 31-24 ... A = bits 7-0).
    A trailing axis of 3 or 4 on u1/u2 is RGB/RGBA.
    """
    import cv2

    dtype = array.dtype.str
    if dtype not in _PNG_DTYPES or not _png_shape_ok(array.shape, dtype):
        raise ValueError(
            f"the png codec cannot hold a {dtype} array of shape {list(array.shape)}: it takes HxW "
            "uint8/uint16/uint32/float16 or HxWx3/HxWx4 uint8/uint16; use zstd or lz4"
        )
    if dtype == "<u4":
        image = array.astype(">u4").view(np.uint8).reshape(*array.shape, 4)[..., [2, 1, 0, 3]]
    elif dtype == "<f2":
        image = array.view(np.uint16)
    elif array.ndim == 3:
        image = array[..., [2, 1, 0, 3][: array.shape[2]]]  # OpenCV writes BGR(A)
    else:
        image = array
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image), [cv2.IMWRITE_PNG_COMPRESSION, level])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {dtype} array of shape {list(array.shape)} as PNG")
    return encoded.tobytes()


def _png_shape_ok(shape: tuple[int, ...], dtype: str) -> bool:
    if len(shape) == 2:
        return shape[0] > 0 and shape[1] > 0
    return len(shape) == 3 and dtype in ("|u1", "<u2") and shape[2] in (3, 4) and shape[0] * shape[1] > 0


def _check_png_header(data: bytes, dtype: np.dtype, shape: tuple[int, ...], name: str) -> None:
    """The PNG's IHDR chunk must declare exactly the layout of ``dtype`` and ``shape``."""
    if len(data) < 33 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise MalformedMessage(f"{name}: PNG does not start with its IHDR header")
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", data[16:26])
    if dtype.str == "<u4":
        wanted = (8, _PNG_COLOUR_TYPES[4])
    else:
        channels = shape[2] if len(shape) == 3 else 1
        wanted = (16 if dtype.itemsize == 2 else 8, _PNG_COLOUR_TYPES[channels])
    if (height, width) != shape[:2] or (bit_depth, colour_type) != wanted:
        raise MalformedMessage(
            f"{name}: the PNG's header holds a {width}x{height} {bit_depth}-bit image of colour type "
            f"{colour_type}; "
            f"{dtype.str} {list(shape)} needs {shape[1]}x{shape[0]}, {wanted[0]}-bit colour type {wanted[1]}"
        )


def _png_decode(data: bytes, dtype: np.dtype, shape: tuple[int, ...], name: str) -> np.ndarray:
    import cv2

    if dtype.str not in _PNG_DTYPES or not _png_shape_ok(shape, dtype.str):
        raise MalformedMessage(f"{name}: the png codec cannot hold {dtype.str} of shape {list(shape)}")
    if not data.startswith(_PNG_SIGNATURE) or data.rfind(b"IEND\xaeB`\x82") < 0:
        raise MalformedMessage(f"{name}: data is not a complete PNG")
    _check_png_header(data, dtype, shape, name)  # before decoding: the header decides what is allocated
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    layout = {"<u4": (np.uint8, (*shape, 4)), "<f2": (np.uint16, shape)}.get(dtype.str, (dtype, shape))
    if image is None or image.dtype != layout[0] or image.shape != layout[1]:
        found = "nothing" if image is None else f"{image.dtype} {list(image.shape)}"
        raise MalformedMessage(f"{name}: PNG decodes to {found}, expected {dtype.str} {list(shape)}")
    if dtype.str == "<u4":
        big_endian = np.ascontiguousarray(image[..., [2, 1, 0, 3]])
        return big_endian.view(">u4").reshape(shape).astype("<u4")
    if dtype.str == "<f2":
        return image.astype("<u2", copy=False).view("<f2")
    if len(shape) == 3:
        return np.ascontiguousarray(image[..., [2, 1, 0, 3][: shape[2]]])
    return image.astype(dtype, copy=False)
