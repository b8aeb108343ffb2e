"""Client library for planners: receive vkstream results over ZeroMQ as typed numpy data.

Imports numpy, msgpack and pyzmq only (zstandard, lz4 and OpenCV on first use of their codec),
never torch or Ray, so it runs inside a planner process of its own. The wire format it reads is
specified in docs/wire-format.md.

    from vkstream.client import Subscriber

    with Subscriber("tcp://127.0.0.1:5560", streams=["front"]) as sub:
        for result in sub:
            for seg in result.segments:
                print(result.class_name(seg), seg.track, seg.depth_m, seg.xyz)

The message format itself (:mod:`~vkstream.client.message`) needs only numpy and msgpack; the
socket side (subscriber, CURVE keys, the control client) loads pyzmq on first use, so producers
that only build messages run where pyzmq is not installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vkstream.client.arrays import CODECS, Codec, decode_array, encode_array
from vkstream.client.errors import MalformedMessage, SchemaVersionError, WireFormatError
from vkstream.client.message import (
    DEFAULT_TOPIC_PREFIX,
    SCHEMA,
    Segment,
    StreamResult,
    decode_message,
    encode_message,
    topic_of,
)

if TYPE_CHECKING:
    from vkstream.client.control import ControlClient, ControlError
    from vkstream.client.curve import CurveClientKeys, create_keys, load_key, load_key_pair
    from vkstream.client.subscriber import Subscriber, SubscriberStats

_ON_USE = {
    "ControlClient": "control",
    "ControlError": "control",
    "CurveClientKeys": "curve",
    "create_keys": "curve",
    "load_key": "curve",
    "load_key_pair": "curve",
    "Subscriber": "subscriber",
    "SubscriberStats": "subscriber",
}

__all__ = [
    "CODECS",
    "DEFAULT_TOPIC_PREFIX",
    "SCHEMA",
    "Codec",
    "ControlClient",
    "ControlError",
    "CurveClientKeys",
    "MalformedMessage",
    "SchemaVersionError",
    "Segment",
    "StreamResult",
    "Subscriber",
    "SubscriberStats",
    "WireFormatError",
    "create_keys",
    "decode_array",
    "decode_message",
    "encode_array",
    "encode_message",
    "load_key",
    "load_key_pair",
    "topic_of",
]


def __getattr__(name: str) -> Any:
    module = _ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'vkstream.client' has no attribute {name!r}")
    return getattr(importlib.import_module(f"vkstream.client.{module}"), name)
