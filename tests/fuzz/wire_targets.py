"""Fuzz inputs for the wire decoder: random bytes, random msgpack, and valid messages mutated.

Shared by the tests (hundreds of cases) and ``benchmarks/fuzz.py`` (tens of thousands). The property:
whatever arrives, :func:`vkstream.client.decode_message` returns a result or raises a
:class:`~vkstream.client.WireFormatError` (``MalformedMessage``, ``SchemaVersionError``), nothing else.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import msgpack
import numpy as np
from hypothesis import strategies as st

from tests.wire.wire_samples import make_output
from vkstream.client import CODECS, WireFormatError, decode_message, encode_array
from vkstream.wire import encode_message, stream_result

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=64),
)
"""Every msgpack scalar: nil, bool, the whole int range, float, str, bin."""
HOSTILE_INTS = st.sampled_from([0, 1, -1, 2**31, 2**32, 2**32 - 1, 2**62, 2**63 - 1, 2**64 - 1, -(2**63)])
VALUES = st.recursive(
    st.one_of(SCALARS, HOSTILE_INTS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=6,
)
"""Any msgpack value, nested a few levels."""


@cache
def valid_payloads() -> tuple[tuple[bytes, dict[str, Any]], ...]:
    """(topic, decoded payload) of small real results, one per codec, with and without intrinsics."""
    out = []
    for i, codec in enumerate(CODECS):
        sent = make_output(seq=i, size=(6, 8), intrinsics=None if i % 2 else make_output().intrinsics)
        topic, payload = encode_message(stream_result(sent, 1, 1, 0), codec)
        out.append((topic, msgpack.unpackb(payload, raw=False)))
    return tuple(out)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path into a decoded payload."""
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found += _paths(value, (*prefix, index))
    return found


def _set(obj: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


@st.composite
def mutated_messages(draw: st.DrawFn) -> list[bytes]:
    """A valid message with some of its keys replaced, deleted or added, re-packed as msgpack."""
    topic, payload = draw(st.sampled_from(valid_payloads()))
    obj = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(obj)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add", "hostile"]))
        if action == "delete" and path:
            obj = _set(obj, path, None, delete=True)
        elif action == "add" and isinstance(obj, dict):
            obj[draw(st.text(max_size=8))] = draw(VALUES)
        elif action == "hostile":
            obj = _set(obj, path, draw(HOSTILE_INTS | st.lists(HOSTILE_INTS, max_size=3)), delete=False)
        else:
            obj = _set(obj, path, draw(VALUES), delete=False)
    try:
        payload_bytes = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):  # a value msgpack cannot hold: send it raw instead
        payload_bytes = draw(st.binary(max_size=200))
    if draw(st.booleans()):
        topic = draw(st.sampled_from([topic, b"", b"vkstream/other", draw(st.binary(max_size=20))]))
    return [topic, payload_bytes]


@st.composite
def flipped_messages(draw: st.DrawFn) -> list[bytes]:
    """A valid encoded message with some bytes changed, cut short or extended."""
    topic, payload = draw(st.sampled_from(valid_payloads()))
    data = bytearray(msgpack.packb(payload, use_bin_type=True))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
            if not data:
                break
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return [topic, bytes(data)]


def random_messages() -> st.SearchStrategy[list[bytes]]:
    """Any number of frames of random bytes, or random msgpack values as the payload."""
    packed = VALUES.map(lambda v: msgpack.packb(v, use_bin_type=True))
    return st.one_of(
        st.lists(st.binary(max_size=64), max_size=4),
        st.tuples(st.binary(max_size=20), packed).map(list),
    )


DTYPES = st.sampled_from(
    ["<u4", "<f2", "|u1", "<u2", "<i8", "<f8", "|b1", ">u4", "<U4", "|O", "<u", "", "<c8"]
)
OVERFLOWING_SHAPES = st.lists(
    st.sampled_from([0, 1, 2**16, 2**32, 2**48, 2**63, 2**64 - 1]), min_size=2, max_size=3
)
"""Dimensions whose product wraps round in 64-bit arithmetic (2**32 x 2**32 = 0 mod 2**64)."""
SHAPES = st.lists(HOSTILE_INTS | st.integers(0, 70), max_size=9) | st.lists(
    HOSTILE_INTS, min_size=1, max_size=3
)


@st.composite
def arrays_in_messages(draw: st.DrawFn) -> list[bytes]:
    """A valid message whose panoptic or depth array map has a hostile dtype, shape, codec or data.

    Shapes whose product overflows 64 bits, empty or random data, another codec's encoding, or an
    encoding of an array of another size (a small PNG or zstd frame that would decode to a large
    image: a decompression bomb).
    """
    topic, payload = draw(st.sampled_from(valid_payloads()))
    obj = copy.deepcopy(payload)
    array = obj[draw(st.sampled_from(["panoptic", "depth"]))]
    if draw(st.booleans()):
        array["shape"] = draw(OVERFLOWING_SHAPES | SHAPES | VALUES)
        if draw(st.booleans()):  # nothing to decompress: only the declared size can be wrong
            array["codec"], array["data"] = "raw", b""
            return [topic, msgpack.packb(obj, use_bin_type=True)]
    if draw(st.booleans()):
        array["codec"] = draw(st.sampled_from([*CODECS, "raw", "gzip", "", "PNG"]))
    if draw(st.booleans()):
        array["data"] = draw(st.just(b"") | st.binary(max_size=64) | other_encodings(array["codec"]))
    if draw(st.integers(0, 3)) == 0:
        array["dtype"] = draw(DTYPES | st.text(max_size=5))
    return [topic, msgpack.packb(obj, use_bin_type=True)]


@cache
def _encoded(codec: str, shape: tuple[int, ...], dtype: str) -> bytes:
    return encode_array(np.zeros(shape, dtype), codec)["data"]


def other_encodings(codec: str) -> st.SearchStrategy[bytes]:
    """``codec``'s encoding of an array of another dtype or size, up to 1000x2000."""
    shapes = st.sampled_from([(1, 1), (2, 3), (6, 8), (8, 6), (1000, 2000), (5, 4, 3), (4, 4, 4)])
    dtypes = st.sampled_from(["|u1", "<u2", "<u4", "<f2"])
    pairs = st.tuples(shapes, dtypes).filter(
        lambda p: codec != "png" or len(p[0]) == 2 or p[1] in ("|u1", "<u2")
    )
    return pairs.map(lambda p: _encoded(codec if codec in CODECS else "raw", *p))


def wire_messages() -> st.SearchStrategy[list[bytes]]:
    return st.one_of(mutated_messages(), arrays_in_messages(), flipped_messages(), random_messages())


def check_decoder(frames: list[bytes]) -> str:
    """Decode ``frames``: 'ok', or the name of the WireFormatError; anything else propagates."""
    try:
        decode_message(frames)
    except WireFormatError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        return type(exc).__name__
    return "ok"
