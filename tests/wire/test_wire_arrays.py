"""Array codecs: lossless round trips, the documented byte formats, and corrupt data rejected cleanly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zstandard

from vkstream.client import CODECS, MalformedMessage, decode_array, encode_array

RNG = np.random.default_rng(0)
PANOPTIC = (RNG.integers(0, 19, (37, 53)).astype(np.uint32) << 16) | RNG.integers(0, 70000, (37, 53)).astype(
    np.uint32
)
DEPTH = np.concatenate(
    [
        np.array([0.0, 6e-8, 1e-5, 0.5, 80.0, 255.9, 65504.0], np.float16),
        (RNG.random(1954) * 100).astype(np.float16),
    ]
).reshape(37, 53)
ARRAYS = {
    "panoptic_u4": PANOPTIC,
    "depth_f2": DEPTH,
    "u1": RNG.integers(0, 256, (20, 30), dtype=np.uint8),
    "u2": RNG.integers(0, 65536, (20, 30), dtype=np.uint16),
    "rgb_u1": RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8),
    "rgba_u2": RNG.integers(0, 65536, (20, 30, 4), dtype=np.uint16),
}
OTHER = {
    "f4": RNG.random((5, 6, 7)).astype(np.float32),
    "i8": RNG.integers(-(2**60), 2**60, (9,)),
    "bool": RNG.random((4, 4)) > 0.5,
    "big_endian_u4": PANOPTIC.astype(">u4"),
    "empty": np.zeros((0, 5), np.float32),
}


def _bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).view(np.uint8)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_every_codec_round_trips_bit_exactly(codec: str, name: str) -> None:
    array = ARRAYS[name]
    wire = encode_array(array, codec)
    decoded = decode_array(wire)
    assert decoded.dtype == array.dtype and decoded.shape == array.shape
    assert np.array_equal(_bits(decoded), _bits(array))


@pytest.mark.parametrize("codec", ["raw", "zstd", "lz4"])
@pytest.mark.parametrize("name", sorted(OTHER))
def test_general_codecs_take_any_numeric_dtype_and_send_little_endian(codec: str, name: str) -> None:
    array = OTHER[name]
    wire = encode_array(array, codec)
    assert wire["dtype"][0] in "<|"
    decoded = decode_array(wire)
    assert decoded.dtype.str == wire["dtype"] and np.array_equal(decoded, array)


def test_png_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="use zstd or lz4"):
        encode_array(OTHER["f4"], "png")
    with pytest.raises(ValueError, match="unknown codec"):
        encode_array(PANOPTIC, "jpeg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be sent"):
        encode_array(np.array(["a"]), "raw")


def test_byte_formats_are_the_documented_ones() -> None:
    raw = encode_array(PANOPTIC, "raw")
    assert (
        raw["dtype"] == "<u4" and raw["shape"] == [37, 53] and raw["data"] == PANOPTIC.astype("<u4").tobytes()
    )
    zst = encode_array(PANOPTIC, "zstd")["data"]
    assert zst[:4] == b"\x28\xb5\x2f\xfd" and zstandard.frame_content_size(zst) == PANOPTIC.nbytes
    assert encode_array(PANOPTIC, "lz4")["data"][:4] == b"\x04\x22\x4d\x18"  # LZ4 frame magic
    # png, uint32: 8-bit RGBA, R = most significant byte ... A = least significant byte
    rgba = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(encode_array(PANOPTIC, "png")["data"], np.uint8), -1), cv2.COLOR_BGRA2RGBA
    )
    assert rgba.dtype == np.uint8 and rgba.shape == (37, 53, 4)
    value = (rgba.astype(np.uint32) << np.array([24, 16, 8, 0], np.uint32)).sum(-1, dtype=np.uint32)
    assert np.array_equal(value, PANOPTIC)
    # png, float16: 16-bit grey holding the binary16 bit patterns
    grey = cv2.imdecode(np.frombuffer(encode_array(DEPTH, "png")["data"], np.uint8), -1)
    assert grey.dtype == np.uint16 and np.array_equal(grey, DEPTH.view(np.uint16))


@pytest.mark.parametrize("codec", CODECS)
def test_truncated_or_corrupt_data_raises_malformed(codec: str) -> None:
    wire = encode_array(PANOPTIC, codec)
    for data in (wire["data"][: len(wire["data"]) // 2], b"\x00garbage" * 3, b""):
        with pytest.raises(MalformedMessage, match="panoptic"):
            decode_array({**wire, "data": data}, "panoptic")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"dtype": ">u4"}, "little-endian"),
        ({"dtype": "|O"}, "little-endian"),
        ({"dtype": "<U4"}, "little-endian"),
        ({"dtype": 4}, "little-endian"),
        ({"shape": [37, -53]}, "shape"),
        ({"shape": "37x53"}, "shape"),
        ({"shape": [37, 54]}, "bytes|holds|decodes to"),
        ({"shape": [1 << 20, 1 << 20]}, "exceeds"),
        ({"codec": "brotli"}, "unknown codec"),
        ({"data": "text"}, "bin"),
    ],
)
def test_inconsistent_array_maps_raise_malformed(change: dict, match: str) -> None:
    for codec in CODECS:
        wire = {**encode_array(PANOPTIC, codec), **change}
        with pytest.raises(MalformedMessage, match=match):
            decode_array(wire)


def test_missing_keys_and_decompression_bombs_are_refused() -> None:
    with pytest.raises(MalformedMessage, match="lacks data"):
        decode_array({"dtype": "<u4", "shape": [1], "codec": "raw"})
    bomb = zstandard.ZstdCompressor().compress(bytes(50_000_000))
    with pytest.raises(MalformedMessage, match="holds 50000000 bytes"):
        decode_array({"dtype": "<u4", "shape": [10], "codec": "zstd", "data": bomb})
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(50_000_000))
    with pytest.raises(MalformedMessage, match="zstd"):
        decode_array({"dtype": "<u4", "shape": [10], "codec": "zstd", "data": unsized})
