"""Segment ids on the wire: ``class_id << 16 | track_id``, with track ids wrapped into 16 bits.

A producer numbers its tracks as it likes (a stream running for hours passes 65535); on the wire a
track id is 1..65535 and 0 means "no track". Ids above 65535 wrap round to 1, never to 0.
"""

from __future__ import annotations

import numpy as np

from vkstream.client.message import TRACK_BITS

MAX_TRACK_ID = (1 << TRACK_BITS) - 1


def wrap_track_id(track: int) -> int:
    """The track id as published: 0 stays 0, 1..65535 as they are, then 65536 -> 1, 65537 -> 2, ..."""
    return (track - 1) % MAX_TRACK_ID + 1 if track > MAX_TRACK_ID else track


def wrap_track_ids(tracks: np.ndarray) -> np.ndarray:
    """:func:`wrap_track_id` over a map of non-negative track ids, as uint16."""
    if tracks.size and int(tracks.max()) > MAX_TRACK_ID:
        wide = tracks.astype(np.int64)
        tracks = np.where(wide > MAX_TRACK_ID, (wide - 1) % MAX_TRACK_ID + 1, wide)
    return tracks.astype(np.uint16)


def segment_key(class_id: int, track: int) -> int:
    """A segment's wire id (its value in the panoptic map) from its class and its producer's track id."""
    return (class_id << TRACK_BITS) | wrap_track_id(track)


def panoptic_map(classes: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """HxW uint32 wire panoptic map from a class map and a track map (track ids wrapped)."""
    if classes.shape != tracks.shape or classes.ndim != 2:
        raise ValueError(f"class map {classes.shape} and track map {tracks.shape} must be the same HxW")
    return (classes.astype(np.uint32) << TRACK_BITS) | wrap_track_ids(tracks).astype(np.uint32)
