"""The producer's side of the result wire format (docs/wire-format.md): one place for its rules.

Segment ids (``class << 16 | track``) and track-id wrapping (:mod:`~vkstream.wire.ids`), a
producer's neutral frame and how it becomes a result (:mod:`~vkstream.wire.frame`), segment lists
from a producer's table (:mod:`~vkstream.wire.segments`) or measured from the maps
(:mod:`~vkstream.wire.derive`), and which endpoints a publisher may bind
(:mod:`~vkstream.wire.transport`). Encoding and decoding of messages is :mod:`vkstream.client`'s, so a
planner needs nothing else; numpy only, never torch or Ray.
"""

from vkstream.client.message import TRACK_BITS, check_name, encode_message
from vkstream.wire.derive import derive_segments
from vkstream.wire.frame import FLOAT16_MAX, FrameOutput, Panoptic, checked_output, stream_result
from vkstream.wire.ids import MAX_TRACK_ID, panoptic_map, segment_key, wrap_track_id, wrap_track_ids
from vkstream.wire.segments import SegmentStats, back_project, wire_segments
from vkstream.wire.transport import DEFAULT_ENDPOINT, check_endpoint, is_loopback_endpoint

__all__ = [
    "DEFAULT_ENDPOINT",
    "FLOAT16_MAX",
    "MAX_TRACK_ID",
    "TRACK_BITS",
    "FrameOutput",
    "Panoptic",
    "SegmentStats",
    "back_project",
    "check_endpoint",
    "check_name",
    "checked_output",
    "derive_segments",
    "encode_message",
    "is_loopback_endpoint",
    "panoptic_map",
    "segment_key",
    "stream_result",
    "wire_segments",
    "wrap_track_id",
    "wrap_track_ids",
]
