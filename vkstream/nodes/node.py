"""What a node of the graph is: typed ports, typed options, and the packets that carry a frame.

A node, in the spirit of a Holoscan operator or an rclpy node, declares what it consumes and produces
(``inputs`` and ``outputs``: port name -> :class:`Port`) and its options (a pydantic model), so the
runtime can check a whole graph before anything starts. ``process`` gets a batch of packets (at most
one per stream, all of one frame size) whose ``inputs`` hold the wired values, sets each packet's
``outputs`` and returns the packets to pass on, in order; a packet it cannot handle it logs and leaves
out, so one bad frame never fails the others.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from vkstream.nodes.model_spec import ModelSpec

IMAGE = "image/rgb8"
"""HxWx3 uint8 RGB, C-contiguous."""
TRUTH = "truth/frame"
"""A replay's ground truth (:class:`vkstream.data.Frame` with labels and depth), None where there is none."""
PANOPTIC = "panoptic"
"""A :class:`vkstream.wire.Panoptic`: class and track maps, label space, the producer's segment table."""
DEPTH = "depth/metres"
"""HxW float32 depth in metres, 0 = no estimate."""


@dataclass(frozen=True)
class Port:
    """A named input or output: payloads of one ``type`` (a name such as :data:`IMAGE`)."""

    type: str
    doc: str = ""
    optional: bool = False
    """Inputs only: the node runs without it (the value is then None)."""


def ports(**declared: Port) -> Mapping[str, Port]:
    """A node's ``inputs`` or ``outputs``: port name -> Port, read-only."""
    return MappingProxyType(declared)


INGEST = "ingest"
"""The producer name of every stream's ingest in port references (``ingest.image``)."""
INGEST_OUTPUTS = ports(
    image=Port(IMAGE, "the camera frame"),
    truth=Port(TRUTH, "labels and depth of a replay with ground_truth: true (else None)"),
)


@dataclass(frozen=True)
class StageTiming:
    """Where one packet spent its time at one node, in milliseconds."""

    node: str
    wait_ms: float
    """From leaving the previous actor (or capture) to this node starting on it; 0 inside an actor."""
    compute_ms: float
    """The node's processing time for the batch the packet was in."""


@dataclass
class Packet:
    """One frame of one stream on its way through the graph.

    Between actors ``data`` holds the outputs one actor sends another, keyed ``node.port``; at a node,
    ``inputs`` holds what its input ports are wired to and ``outputs`` receives what it produces.
    ``meta`` holds small facts of the frame that travel everywhere (``intrinsics``, a replay's
    ``sequence`` and ``index``), never large arrays.
    """

    stream: str
    seq: int
    """The stream's frame counter from 0, counting every captured frame, dropped or not."""
    stamp_ns: int
    """Capture time, Unix nanoseconds."""
    epoch: int = 0
    """Which run of the stream's ingest numbered the frame (its start time): after the ingest is
    restarted, seq counts from 0 again under a larger epoch."""
    data: dict[str, Any] = field(default_factory=dict)
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
    """When the packet left its previous actor (or the camera); queue waits are measured from it."""
    timings: list[StageTiming] = field(default_factory=list)
    source: str = INGEST
    """The actor that sent this part of the frame (an actor may wait for parts from several)."""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def mark_sent(self) -> None:
        self.sent_ns = time.time_ns()

    def latency_ms(self) -> dict[str, float]:
        """Each node's queue wait and compute time so far, as ``NODE.wait`` and ``NODE.compute``."""
        return {
            f"{t.node}.{k}": v
            for t in self.timings
            for k, v in (("wait", t.wait_ms), ("compute", t.compute_ms))
        }


class NoOptions(BaseModel):
    """A node without options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeState:
    """Where a node keeps what must outlive its process: a restarted actor's node loads it back.

    ``save`` keeps a copy of the value as it is now (the latest save wins); ``load`` returns it, or None
    when nothing was saved or the node is not being restarted. This one keeps the copy in memory, for a
    node run on its own; the runtime gives every node one kept outside its actor's process.
    """

    def __init__(self) -> None:
        self._value: Any = None

    def load(self) -> Any:
        return copy.deepcopy(self._value)

    def save(self, value: Any) -> None:
        self._value = copy.deepcopy(value)


@dataclass
class NodeContext:
    """What the runtime tells a node about where it runs."""

    name: str
    """The node's name in the config (telemetry, logs, reports)."""
    device: str | None = None
    """The device the node computes on (``cpu``, ``cuda``, ``cuda:N``) for nodes that use one."""
    model: ModelSpec | None = None
    """The pipeline's ``model:`` block, for nodes that compute with the model."""
    shared: dict[str, Any] = field(default_factory=dict)
    """One per actor: what its nodes share (the loaded model, so fused stages hold it once)."""
    state: NodeState = field(default_factory=NodeState)
    """What the node saves to be restored after its actor restarts (a publisher's port and counts)."""
    max_batch: int = 8
    """The largest batch the actor runs: compiled stages warm up for the batch sizes up to it."""


class Node:
    """Base of every node: declare ``inputs``, ``outputs`` and ``Options``; implement ``process``.

    ``uses_model`` nodes compute with the pipeline's model block; their device defaults to its device.
    ``forget`` frees a detached stream's state; ``report`` returns JSON-able figures (``vkstream ctl
    stats``); ``close`` releases what the node holds.
    """

    inputs: ClassVar[Mapping[str, Port]] = ports()
    outputs: ClassVar[Mapping[str, Port]] = ports()
    Options: ClassVar[type[BaseModel]] = NoOptions
    uses_model: ClassVar[bool] = False

    def __init__(self, options: Any, context: NodeContext) -> None:
        self.options = options
        self.context = context

    def process(self, packets: list[Packet]) -> list[Packet]:
        raise NotImplementedError

    def forget(self, stream: str) -> None:
        """Free the stream's state; stateless nodes have none."""

    def report(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Release what the node holds."""
