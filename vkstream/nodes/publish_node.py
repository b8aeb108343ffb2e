"""The graph's publishing sink: each frame's panoptic result and depth over ZeroMQ (wire format v1).

Sequence numbers published per stream stay increasing even when the stream's ingest restarts and
numbers from 0 again: the node continues the count and flags ``state_reset``. ``dropped`` is how many
of the stream's captured frames never reached this node (seq gaps), plus the publisher's own drops.

After every batch the node saves its bound endpoint and its counts (:class:`NodeState`): a node
restarted with its actor binds the same port again, even when the config says ``tcp://HOST:*``, so
subscribers keep receiving on the endpoint they connected to, and each stream's seq and drop counts go
on where they were.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import Field

from vkstream.nodes.node import DEPTH, PANOPTIC, Node, NodeContext, Packet, Port, ports
from vkstream.nodes.publisher import Publisher, PublisherConfig
from vkstream.wire import FrameOutput

log = logging.getLogger(__name__)

REBIND_S = 5.0
"""How long a restarted publisher tries to bind its previous port again (the dead process may still
hold it for a moment)."""


class PublishOptions(PublisherConfig):
    flush_timeout_s: float = Field(
        default=1.0, gt=0, description="longest wait for a batch's messages to reach ZeroMQ"
    )


@dataclass
class _StreamCount:
    offset: int = 0
    """Added to incoming seqs after the ingest restarted its numbering."""
    epoch: int | None = None
    last_in: int = -1
    last_out: int = -1
    published: int = 0


class PublishNode(Node):
    """Publishes every frame it gets; its options are the :class:`PublisherConfig` keys."""

    inputs = ports(panoptic=Port(PANOPTIC), depth=Port(DEPTH))
    Options = PublishOptions

    def __init__(self, options: PublishOptions, context: NodeContext) -> None:
        super().__init__(options, context)
        saved = context.state.load() or {}
        self._counts = {stream: _StreamCount(**c) for stream, c in saved.get("counts", {}).items()}
        config = PublisherConfig.model_validate(options.model_dump(exclude={"flush_timeout_s"}))
        if saved.get("endpoint"):
            config = config.model_copy(update={"endpoint": saved["endpoint"]})
        self._publisher = self._bind(config, REBIND_S if saved.get("endpoint") else 0.0)
        self.endpoint = self._publisher.endpoint
        if saved:
            log.warning(
                "publisher restarted on %s with the counts of %d stream(s)", self.endpoint, len(self._counts)
            )
        self._save()

    @staticmethod
    def _bind(config: PublisherConfig, patience_s: float) -> Publisher:
        deadline = time.monotonic() + patience_s
        while True:
            try:
                return Publisher(config)
            except ValueError:  # address in use: the dead process's socket may not be gone yet
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _save(self) -> None:
        counts = {stream: asdict(c) for stream, c in self._counts.items()}
        self.context.state.save({"endpoint": self.endpoint, "counts": counts})

    def process(self, packets: list[Packet]) -> list[Packet]:
        out = []
        for p in packets:
            try:
                self._publish(p)
            except ValueError as exc:
                log.error("stream %r frame %d not published: %s", p.stream, p.seq, exc)
                continue
            out.append(p)
        # Hand every frame to ZeroMQ before returning, so the caller's timing covers encoding and sending.
        self._publisher.flush(self.options.flush_timeout_s)
        self._save()
        return out

    def _publish(self, p: Packet) -> None:
        count = self._counts.setdefault(p.stream, _StreamCount())
        reset = p.state_reset
        if count.epoch is not None and p.epoch != count.epoch:  # the ingest restarted: seq from 0 again
            count.offset = count.last_out + 1
            reset = True
        count.epoch = p.epoch
        if p.seq + count.offset <= count.last_out:
            raise ValueError(f"seq {p.seq} arrived after seq {count.last_in}")
        seq = p.seq + count.offset
        self._publisher.publish(
            FrameOutput(
                stream=p.stream,
                seq=seq,
                stamp_ns=p.stamp_ns,
                panoptic=p.inputs["panoptic"],
                depth=p.inputs["depth"],
                intrinsics=p.meta.get("intrinsics"),
                latency_ms=p.latency_ms(),
                dropped=seq - count.published,
                state_reset=reset,
            )
        )
        count.last_in, count.last_out = p.seq, seq
        count.published += 1

    def forget(self, stream: str) -> None:
        """A stream attached again under this id starts afresh: seq from 0, no drops."""
        self._counts.pop(stream, None)
        self._publisher.forget(stream)
        self._save()

    def report(self) -> dict[str, Any]:
        stats = self._publisher.stats
        return {
            "endpoint": self.endpoint,
            "sent": dict(stats.sent),
            "publisher_dropped": dict(stats.dropped),
            "failed": dict(stats.failed),
            "bytes_sent": stats.bytes_sent,
        }

    def close(self) -> None:
        self._publisher.close()
