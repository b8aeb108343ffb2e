"""The graph's sink: publishes each frame over ZeroMQ and scores replays that carry ground truth.

Sequence numbers published per stream stay increasing even when the stream's ingest restarts and
numbers from 0 again: the node continues the count and flags ``state_reset``. ``dropped`` is how many
of the stream's captured frames never reached this node (seq gaps), plus the publisher's own drops.
Online evaluation (STQ/DSTQ by default) runs on the frames actually published, as they are published.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from vkstream.client.message import TRACK_BITS
from vkstream.data.frame import Frame
from vkstream.eval import EvalError, Evaluator
from vkstream.nodes.packet import Packet
from vkstream.nodes.publisher import FrameOutput, Publisher, PublisherConfig

log = logging.getLogger(__name__)


@dataclass
class _StreamCount:
    offset: int = 0
    """Added to incoming seqs after the ingest restarted its numbering."""
    epoch: int | None = None
    last_in: int = -1
    last_out: int = -1
    published: int = 0
    run: int = 0
    """Evaluation runs: a replay's loop or restart starts a new sequence for the metrics."""


class PublishNode:
    """Options: every :class:`PublisherConfig` key, plus ``evaluate`` and ``metrics``."""

    def __init__(
        self,
        *,
        evaluate: bool = True,
        metrics: list[str] | tuple[str, ...] = ("stq", "dstq"),
        flush_timeout_s: float = 1.0,
        **publisher: Any,
    ) -> None:
        self.config = PublisherConfig.model_validate(publisher)
        self.flush_timeout_s = flush_timeout_s
        self._evaluator: Evaluator | None = Evaluator(metrics) if evaluate else None
        self._counts: dict[str, _StreamCount] = {}
        self._eval_errors = 0
        self._publisher = Publisher(self.config)
        self.endpoint = self._publisher.endpoint

    def process(self, packets: list[Packet]) -> list[Packet]:
        out = []
        for p in packets:
            try:
                self._publish(p)
            except KeyError as exc:
                log.error(
                    "stream %r frame %d not published: it has no %s from the model", p.stream, p.seq, exc
                )
                continue
            except ValueError as exc:
                log.error("stream %r frame %d not published: %s", p.stream, p.seq, exc)
                continue
            out.append(p)
        # Hand every frame to ZeroMQ before returning, so the caller's timing covers encoding and sending.
        self._publisher.flush(self.flush_timeout_s)
        for p in out:
            self._score(p)
            p.data.clear()
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
        if p.restart or reset:
            count.run += 1
        latency = {}
        for t in p.timings:
            latency[f"{t.node}.wait"] = t.wait_ms
            latency[f"{t.node}.compute"] = t.compute_ms
        self._publisher.publish(
            FrameOutput(
                stream=p.stream,
                seq=seq,
                stamp_ns=p.stamp_ns,
                panoptic=p.data["panoptic"],
                depth=p.data["depth"],
                scores=p.data.get("scores"),
                intrinsics=p.meta.get("intrinsics"),
                latency_ms=latency,
                dropped=seq - count.published,
                state_reset=reset,
            )
        )
        count.last_in, count.last_out = p.seq, seq
        count.published += 1

    def _score(self, p: Packet) -> None:
        gt: Frame | None = p.meta.get("ground_truth")
        if self._evaluator is None or gt is None:
            return
        panoptic = np.asarray(p.data["panoptic"])
        pred = Frame(
            sequence=gt.sequence,
            index=gt.index,
            timestamp=gt.timestamp,
            semantic=(panoptic >> TRACK_BITS).astype(np.uint8),
            instance=(panoptic & ((1 << TRACK_BITS) - 1)).astype(np.uint16),
            depth=np.asarray(p.data["depth"], np.float32),
        )
        count = self._counts[p.stream]
        try:
            self._evaluator.update(gt, pred, f"{p.stream}#{count.run}")
        except EvalError as exc:
            self._eval_errors += 1
            # Once, not per frame: a replay without depth, say, fails every frame the same way.
            level = logging.ERROR if self._eval_errors == 1 else logging.DEBUG
            log.log(level, "stream %r frame %d not scored: %s", p.stream, p.seq, exc)

    def forget(self, stream: str) -> None:
        self._counts.pop(stream, None)

    def report(self) -> dict[str, Any]:
        stats = self._publisher.stats
        report: dict[str, Any] = {
            "endpoint": self.endpoint,
            "sent": dict(stats.sent),
            "publisher_dropped": dict(stats.dropped),
            "failed": dict(stats.failed),
            "bytes_sent": stats.bytes_sent,
        }
        if self._evaluator is not None and self._evaluator.frames:
            result = self._evaluator.result()
            report["evaluation"] = {
                "frames": self._evaluator.frames,
                "table": result.format_table(),
                **result.to_json(),
            }
        if self._eval_errors:
            report["evaluation_errors"] = self._eval_errors
        return report

    def close(self) -> None:
        self._publisher.close()
