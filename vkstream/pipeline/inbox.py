"""An actor's inbox: joining a frame's parts, per-stream bounded queues that drop the oldest frame,
and batch formation.

An actor fed by several senders (fan-in: the model's results and the ingest's ground truth, say) gets
each frame in parts; a frame joins the queue once every sender's part is there. Parts of frames that
cannot complete (a sender dropped its part) are let go when a later frame completes, and at most
:data:`MAX_PARTIAL` incomplete frames are kept per stream.

Latest frame wins: when a stream already has ``max_pending`` frames waiting, the oldest is dropped and
counted, so a slow stage bounds both memory and latency instead of building a backlog (ROS 2's
sensor-data QoS behaves the same). A batch holds at most one frame per stream (a stream's frames
depend on each other through its state) and is released when ``max_batch`` streams have a frame or
the first waiting frame has waited ``max_wait`` (DeepStream's batched-push timeout).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import replace

from vkstream.nodes.node import INGEST, Packet

REORDER_WAIT_S = 2.0
"""How long a lossless stream's frame waits for an earlier one that is still on its way (Ray may run
two calls of one caller out of order); after that the earlier frame counts as lost."""
MAX_PARTIAL = 64
"""Incomplete frames kept per stream at most, while waiting for their other parts."""
KEEP_NEWER = 8
"""Incomplete frames newer than a completed one that are kept: enough for the frames a few actors in a
row can hold (one in work and ``max_pending`` waiting at each)."""


def _merged(parts: list[Packet]) -> Packet:
    """One packet of a frame's parts: their data together, any part's flags, every node's timing once."""
    timings = {t.node: t for p in parts for t in p.timings}
    return replace(
        parts[0],
        data={k: v for p in parts for k, v in p.data.items()},
        meta={k: v for p in parts for k, v in p.meta.items()},
        restart=any(p.restart for p in parts),
        state_reset=any(p.state_reset for p in parts),
        sent_ns=max(p.sent_ns for p in parts),
        timings=list(timings.values()),
    )


class Inbox:
    def __init__(self, max_pending: int, sources: Collection[str] = (INGEST,)) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.max_pending = max_pending
        self.sources = frozenset(sources)
        self._partial: dict[str, dict[tuple[int, int], tuple[float, dict[str, Packet]]]] = {}
        """Per stream, (epoch, seq) -> (when the first part arrived, the parts by sender)."""
        self._cond = threading.Condition()
        self._queues: dict[str, list[tuple[int, float, Packet]]] = {}
        self._last_taken: dict[str, int] = {}
        self._epochs: dict[str, int] = {}
        self._late: dict[str, int] = defaultdict(int)
        self._served: dict[str, float] = {}
        self._dropped: dict[str, int] = defaultdict(int)
        self._retired: dict[str, int] = {}
        """Per detached stream, the latest ingest epoch of its detached attachments."""
        self._closed = False

    def put(self, packets: list[Packet]) -> None:
        """Queue packets in seq order per stream (calls may arrive out of order); late ones are dropped."""
        now = time.monotonic()
        with self._cond:
            for part in packets:
                if part.epoch <= self._retired.get(part.stream, -1):
                    continue  # a straggler of a detached attachment: not a drop, the stream is gone
                packet = self._joined(part, now) if len(self.sources) > 1 else part
                if packet is None:
                    continue
                stream = packet.stream
                epoch = self._epochs.setdefault(stream, packet.epoch)
                if packet.epoch > epoch:
                    # The ingest restarted and numbers from 0 again: what waits is from before.
                    self._epochs[stream] = packet.epoch
                    self._last_taken.pop(stream, None)
                    self._dropped[stream] += len(self._queues.pop(stream, []))
                elif packet.epoch < epoch or packet.seq <= self._last_taken.get(stream, -1):
                    self._dropped[stream] += 1  # older than a frame already passed on
                    self._late[stream] += 1
                    continue
                queue = self._queues.setdefault(stream, [])
                bisect.insort(queue, (packet.seq, now, packet), key=lambda item: item[0])
                while len(queue) > self.max_pending and not queue[0][2].lossless:
                    _, _, old = queue.pop(0)
                    self._dropped[stream] += 1
                    # A discontinuity must not vanish with the frame that carried it.
                    queue[0][2].restart |= old.restart
                    queue[0][2].state_reset |= old.state_reset
            self._cond.notify_all()

    def _joined(self, part: Packet, now: float) -> Packet | None:
        """The whole frame once ``part`` completes it, else None (the part waits for the others).

        Once a frame completes, older incomplete ones cannot (their other part was dropped upstream,
        where it was counted), nor can newer ones but the newest: every sender passes on its newest.
        """
        frames = self._partial.setdefault(part.stream, {})
        key = (part.epoch, part.seq)
        _, parts = frames.setdefault(key, (now, {}))
        parts[part.source] = part
        if not self.sources <= parts.keys():
            while len(frames) > MAX_PARTIAL:  # bounded memory: the oldest are let go, and counted
                del frames[min(frames)]
                self._dropped[part.stream] += 1
            return None
        del frames[key]
        newer = sorted(k for k in frames if k > key)
        for k in [k for k in frames if k < key] + newer[: -KEEP_NEWER or None]:
            if not part.lossless or now - frames[k][0] >= REORDER_WAIT_S:
                del frames[k]
        return _merged(list(parts.values()))

    def take_batch(self, max_batch: int, max_wait_s: float, timeout_s: float = 0.1) -> list[Packet]:
        """The next batch, or [] if nothing arrived within ``timeout_s`` (so callers can check for stop)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or self._waiting(), timeout_s):
                return []
            if self._closed:
                return []
            first = min(q[0][1] for s, q in self._queues.items() if self._ready(s, q))
            deadline = first + max_wait_s
            want = min(max_batch, len(self._queues))
            while not self._closed and self._waiting() < want:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._pop_batch(max_batch)

    def _waiting(self) -> int:
        return sum(1 for s, q in self._queues.items() if self._ready(s, q))

    def _ready(self, stream: str, queue: list[tuple[int, float, Packet]]) -> bool:
        """A stream can go into a batch: it has a frame, and a lossless one is not ahead of its turn."""
        if not queue:
            return False
        seq, arrived, packet = queue[0]
        if packet.lossless and seq != self._last_taken.get(stream, -1) + 1:  # each run counts from 0
            return time.monotonic() - arrived >= REORDER_WAIT_S
        return True

    def _pop_batch(self, max_batch: int) -> list[Packet]:
        # Streams served longest ago go first, so that streams share a model that cannot keep up
        # evenly (each stream's waiting frame is its newest, so arrival order alone would favour one).
        heads = sorted(
            (self._served.get(stream, 0.0), q[0][1], stream)
            for stream, q in self._queues.items()
            if self._ready(stream, q)
        )
        if not heads:
            return []
        key = self._queues[heads[0][2]][0][2].batch_key
        batch = []
        now = time.monotonic()
        for _, _, stream in heads:
            if len(batch) == max_batch:
                break
            queue = self._queues[stream]
            if queue[0][2].batch_key != key:
                continue  # another frame size: its own batch, next round
            seq, _, packet = queue.pop(0)
            self._last_taken[stream] = seq
            self._served[stream] = now
            batch.append(packet)
        return batch

    def forget(self, stream: str, epoch: int | None = None) -> None:
        """Let go of a detached stream. Its frames still on their way (from an actor upstream that
        had not yet heard of the detachment) are discarded when they arrive: those of its ingest's
        ``epoch`` or earlier (default: the latest epoch seen here). A stream attached again gets a new
        ingest with a later epoch, so its frames pass; a straggler would otherwise be taken for them.
        """
        with self._cond:
            known = (epoch, self._epochs.get(stream), self._retired.get(stream))
            retired = max((e for e in known if e is not None), default=None)
            if retired is not None:
                self._retired[stream] = retired
            for table in (self._partial, self._queues, self._last_taken, self._epochs, self._served):
                table.pop(stream, None)
            self._dropped.pop(stream, None)
            self._late.pop(stream, None)

    def retired(self, packet: Packet) -> bool:
        """Whether ``packet`` belongs to an attachment of its stream that has been detached."""
        with self._cond:
            return packet.epoch <= self._retired.get(packet.stream, -1)

    def pending(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def dropped(self) -> dict[str, int]:
        with self._cond:
            return {k: v for k, v in self._dropped.items() if v}

    def late(self) -> dict[str, int]:
        """Of the drops, frames that arrived after a later frame of their stream had been passed on."""
        with self._cond:
            return {k: v for k, v in self._late.items() if v}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
