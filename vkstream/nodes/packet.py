"""The message that travels between the graph's nodes: one frame of one stream and what is known of it.

A packet is created by a stream's ingest, enriched by every node it passes (``data``) and finally
published. ``meta`` travels unchanged from the ingest to the end (intrinsics, the ground-truth frame
of a replay); ``timings`` collects every node's queue wait and compute time for telemetry.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StageTiming:
    """Where one packet spent its time at one node, in milliseconds."""

    node: str
    wait_ms: float
    """From leaving the previous node (or capture) to this node starting on it; 0 inside a fused actor."""
    compute_ms: float
    """The node's processing time for the batch the packet was in."""


@dataclass
class Packet:
    stream: str
    seq: int
    """The stream's frame counter from 0, counting every captured frame, dropped or not."""
    stamp_ns: int
    """Capture time, Unix nanoseconds."""
    epoch: int = 0
    """Which run of the stream's ingest numbered the frame (its start time): after the ingest is
    restarted, seq counts from 0 again under a larger epoch."""
    data: dict[str, Any] = field(default_factory=dict)
    """The payload for the next node: ``image`` (HxWx3 uint8 RGB) from the ingest, then each node's output."""
    meta: dict[str, Any] = field(default_factory=dict)
    restart: bool = False
    """The stream is discontinuous before this frame (first frame, reconnect, loop): reset its state."""
    state_reset: bool = False
    """Set by a stateful node that started the stream's state afresh at this frame (published as is)."""
    lossless: bool = False
    """Never dropped for being old: its ingest bounds its frames in flight itself (replays at speed 0)."""
    batch_key: Hashable = None
    """Packets with equal keys may share a batch (the ingest sets the image size)."""
    sent_ns: int = 0
    """When the packet left its previous node (or the camera); queue waits are measured from it."""
    timings: list[StageTiming] = field(default_factory=list)

    def mark_sent(self) -> None:
        self.sent_ns = time.time_ns()
